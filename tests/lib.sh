# tests/lib.sh: helpers for the shell tests (sourced, bash).
#
# A check prints "ok NAME" or "FAIL NAME: why"; tests/run counts them.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BIN=$TOP/swift-webhook
# Under tests/run VALGRIND=1: the command that runs the binary in memcheck.
VG=${VALGRIND_CMD:-}
FAKE=$TOP/tests/fake-swift
SECRET="It's a Secret to Everybody"

pass() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
# plan N: the number of checks this suite runs (tests/run holds it to it).
plan() { echo "plan $1"; }
# skip NAME WHY: a check this machine cannot run, said, not passed.
skip() { echo "skip $1: $2"; }

# check NAME WHY CMD...: ok if CMD succeeds.
check() {
	local name=$1 why=$2
	shift 2
	if "$@" > /dev/null 2>&1; then pass "$name"; else fail "$name" "$why"; fi
}

# A fresh folder for one test file, removed at exit unless KEEP is set.
mktestdir() {
	T=$(mktemp -d "/tmp/swh-${1:-test}-XXXXXX")
	chmod 755 "$T"
	[ -n "${KEEP:-}" ] || trap 'cleanup_testdir' EXIT
}
cleanup_testdir() {
	# Stop any trainer still sleeping in our run directories.
	local f
	for f in "$T"/runs*/*/pid; do
		[ -f "$f" ] && kill -9 -- "-$(cat "$f")" 2>/dev/null
	done
	rm -rf "$T"
}

# sign FILE: the X-Hub-Signature-256 value of FILE under $SECRET.
sign() {
	echo "sha256=$(openssl dgst -sha256 -hmac "$SECRET" < "$1" | awk '{print $NF}')"
}

# sha N: a commit id made from N, its short form unique too.
sha() { printf '%07x%033x' "$1" "$1"; }

# push FILE SHA REF [added-files...]: writes a push event with one commit.
push() {
	local file=$1 sha=$2 ref=$3 added="" f
	shift 3
	for f in "$@"; do added="$added${added:+,}\"$f\""; done
	printf '{"ref":"%s","before":"%s","after":"%s","created":false,"deleted":false,"repository":{"full_name":"acme/train"},"commits":[{"id":"%s","added":[%s],"removed":[],"modified":[]}],"head_commit":{"id":"%s"}}' \
	    "$ref" "$(sha 0)" "$sha" "$sha" "$added" "$sha" > "$file"
}

# bigpush FILE SHA BYTES: a push padded to BYTES bytes.
bigpush() {
	local file=$1 sha=$2 bytes=$3 head tail
	head=$(printf '{"ref":"refs/heads/main","after":"%s","repository":{"full_name":"acme/train"},"commits":[{"added":["train.py"],"removed":[],"modified":[]}],"padding":"' "$sha")
	tail='"}'
	{
		printf '%s' "$head"
		head -c $((bytes - ${#head} - ${#tail})) /dev/zero | tr '\0' 'x'
		printf '%s' "$tail"
	} > "$file"
}

# writeconf FILE RUN_DIR WORKDIR [extra lines]: a config for the tests
# (WORKDIR -: none).
writeconf() {
	local file=$1 run=$2 work=$3
	local cmd="$FAKE sft {config} --output_dir {job_dir}/output --add_version false"
	[ -n "${COMMAND:-}" ] && cmd=$COMMAND
	shift 3
	printf '%s' "$SECRET" > "$file.secret"
	chmod 640 "$file.secret"
	{
		echo "secret_file = $file.secret"
		echo "run_dir = $run"
		[ "$work" = - ] || echo "workdir = $work"
		echo "command = $cmd"
		# Most tests run jobs side by side; tests/lifecycle.sh sets SLOTS.
		echo "slots = ${SLOTS:-8}"
		printf '%s\n' "$@"
	} > "$file"
}

# workdir DIR: a training checkout with configs the fake trainer reads.
mkworkdir() {
	mkdir -p "$1/configs"
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_sleep: %s\n' "${2:-0}" > "$1/configs/sft.yaml"
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_sleep: %s\n' "${2:-0}" > "$1/configs/a.yaml"
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_sleep: %s\n' "${2:-0}" > "$1/configs/b.yaml"
}

# deliver NAME CONF FILE...: a signed push to main adding FILEs, each a
# new commit (from SHA_BASE on), as CGI with config CONF; the delivery id
# is D, or d-NAME.  Answer in $T/NAME.out.
N=0
deliver() {
	local name=$1 conf=$2
	shift 2
	N=$((N + 1))
	push "$T/$name.json" "$(sha $((${SHA_BASE:-9000} + N)))" refs/heads/main "$@"
	CGI_CONF=$conf cgi "$name" POST application/json push "${D:-d-$name}" "$(sign "$T/$name.json")" "$T/$name.json"
}

# idof NAME [I]: the id of job I (0) in the CGI answer NAME.
idof() { body_of "$T/$1.out" | jq -r ".jobs[${2:-0}].id // empty"; }

# status_of FILE: the status code of a CGI response.
status_of() { sed -n '1s/^Status: \([0-9]*\).*/\1/p' "$1"; }

# body_of FILE: the JSON body of a CGI or HTTP response.
body_of() { sed '1,/^\r*$/d' "$1"; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# alive PID: PID exists and is no zombie.
alive() {
	[ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat")" != Z ]
}

# apache_copy DIR PORT: a copy of Debian's own /etc/apache2 in DIR/etc,
# as the package left it, changed only in where it listens (127.0.0.1:PORT)
# and keeps its pid, run, lock and log files (under DIR).
apache_copy() {
	local a=$1 port=$2
	mkdir -p "$a/run" "$a/lock" "$a/log"
	cp -a /etc/apache2 "$a/etc"
	sed -i -e "s/^Listen 80\$/Listen 127.0.0.1:$port/" -e '/Listen 443/d' "$a/etc/ports.conf"
	{
		echo "# the tests' copy: its own places"
		echo "export APACHE_PID_FILE=$a/run/apache2.pid"
		echo "export APACHE_RUN_DIR=$a/run"
		echo "export APACHE_LOCK_DIR=$a/lock"
		echo "export APACHE_LOG_DIR=$a/log"
	} >> "$a/etc/envvars"
	chown www-data:www-data "$a/run"
}

# free_port: a TCP port nothing listens on.
free_port() {
	local p
	for _ in $(seq 50); do
		# below the kernel's ephemeral range (32768-60999), which
		# any outgoing connection may take a port from
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}

# Running the binary as a CGI program (RFC 3875): CONF is its config,
# CGI_CONF overrides it for one call, CGI_AS runs it as another user,
# CGI_HOME gives it a HOME, CGI_PATH its PATH, CGI_CLOCK sets the clock of
# tests/swift-webhook-clock (seconds added to the time), and
# SWIFT_WEBHOOK_TEST_BOOT_ID its boot id.
# cgi NAME METHOD CTYPE EVENT DELIVERY SIG BODY [CONTENT_LENGTH]
# "-" leaves a variable out.  Response in $T/NAME.out, log in $T/NAME.err.
cgi() {
	local name=$1 method=$2 ctype=$3 event=$4 delivery=$5 sig=$6 body=$7
	local cl=${8:-$(stat -c %s "$7")}
	local -a env=(PATH=${CGI_PATH:-/usr/local/bin:/usr/bin:/bin} GATEWAY_INTERFACE=CGI/1.1
	    SERVER_PROTOCOL=HTTP/1.1 REQUEST_METHOD="$method"
	    SWIFT_WEBHOOK_CONFIG="${CGI_CONF:-$CONF}" HF_HOME=/data/hf
	    HTTP_USER_AGENT=GitHub-Hookshot/test)
	[ -n "${CGI_HOME:-}" ] && env+=(HOME="$CGI_HOME")
	[ -n "${CGI_CLOCK:-}" ] && env+=(SWIFT_WEBHOOK_TEST_CLOCK="$CGI_CLOCK")
	[ -n "${SWIFT_WEBHOOK_TEST_BOOT_ID:-}" ] && env+=(SWIFT_WEBHOOK_TEST_BOOT_ID="$SWIFT_WEBHOOK_TEST_BOOT_ID")
	[ "$ctype" != - ] && env+=(CONTENT_TYPE="$ctype")
	[ "$cl" != - ] && env+=(CONTENT_LENGTH="$cl")
	[ "$event" != - ] && env+=(HTTP_X_GITHUB_EVENT="$event")
	[ "$delivery" != - ] && env+=(HTTP_X_GITHUB_DELIVERY="$delivery")
	[ "$sig" != - ] && env+=(HTTP_X_HUB_SIGNATURE_256="$sig")
	# shellcheck disable=SC2086
	${CGI_AS:-} env -i "${env[@]}" $VG "$BIN" < "$body" > "$T/$name.out" 2> "$T/$name.err"
}

# expect NAME STATUS JQ-EXPR: the status, and a jq test on the body.
expect() {
	local name=$1 want=$2 test=${3:-true} got
	got=$(status_of "$T/$name.out")
	if [ "$got" != "$want" ]; then
		fail "$name" "status $got, want $want: $(body_of "$T/$name.out") $(cat "$T/$name.err")"
	elif ! body_of "$T/$name.out" | jq -e "$test" > /dev/null 2>&1; then
		fail "$name" "body fails '$test': $(body_of "$T/$name.out")"
	else
		pass "$name"
	fi
}

# chrome URL OUT: the DOM headless Chromium builds for URL, in OUT (its
# stderr in OUT.err).  shot URL PNG: its screenshot, 1400x1000.
chrome() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
	    --user-data-dir="$T/chrome" --dump-dom "$1" > "$2" 2> "$2.err"
}
shot() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
	    --user-data-dir="$T/chrome" --window-size=1400,1000 --screenshot="$2" "$1" > /dev/null 2>&1
}
