#!/bin/bash
# tests/checkout.sh: training exactly the pushed commit.  A local bare
# repository plays GitHub: real commits, real pushes, payloads with the
# real shas and file lists.  Also the deploy key through a real sshd on
# 127.0.0.1, progress and results from logging.jsonl, and prune.
. "$(dirname "$0")/lib.sh"
plan 74
mktestdir checkout
# The servers this file starts go with it, however it ends.
stop_servers() {
	local f
	for f in "$T/sshd/pid" "$T/http/pid"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
}
[ -n "${KEEP:-}" ] || trap 'stop_servers; cleanup_testdir' EXIT

ORIGIN=$T/origin.git
DEV=$T/dev
export GIT_AUTHOR_NAME=dev GIT_AUTHOR_EMAIL=dev@example.com
export GIT_COMMITTER_NAME=dev GIT_COMMITTER_EMAIL=dev@example.com
git init -q --bare -b main "$ORIGIN"
git init -q -b main "$DEV"
git -C "$DEV" remote add origin "$ORIGIN"
g() { git -C "$DEV" "$@"; }
mkdir -p "$DEV/configs"
printf 'print("train")\n' > "$DEV/train.py"
printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nversion: 1\n' > "$DEV/configs/sft.yaml"
g add -A && g commit -q -m one && g push -q origin main

# commit MSG FILE TEXT: a commit on the current branch changing FILE.
commit() { printf '%b' "$3" > "$DEV/$2"; g add -A; g commit -q -m "$1"; g rev-parse HEAD; }

# payload FILE BEFORE AFTER REF: GitHub's push event for BEFORE..AFTER.
payload() {
	local range=$2..$3 c
	[ "$2" = 0000000000000000000000000000000000000000 ] && range=$3
	for c in $(g rev-list --reverse "$range"); do
		g diff-tree --no-commit-id --name-status -r --root "$c" |
		    jq -R -s --arg id "$c" 'split("\n") | map(select(length > 0) | split("\t")) |
			{id: $id, added: map(select(.[0] == "A") | .[1]),
			 removed: map(select(.[0] == "D") | .[1]),
			 modified: map(select(.[0] != "A" and .[0] != "D") | .[-1])}'
	done | jq -s --arg ref "$4" --arg before "$2" --arg after "$3" \
	    '{ref: $ref, before: $before, after: $after, created: false, deleted: false,
	      repository: {full_name: "acme/train"}, commits: ., head_commit: {id: $after}}' > "$1"
}

# gpush NAME CONF [BRANCH]: pushes BRANCH (main) to origin, delivers it.
gpush() {
	local name=$1 conf=$2 br=${3:-main} before after
	before=$(git -C "$ORIGIN" rev-parse -q --verify "refs/heads/$br" || echo 0000000000000000000000000000000000000000)
	after=$(g rev-parse "$br")
	g push -q -f origin "$br:$br"
	payload "$T/$name.json" "$before" "$after" "refs/heads/$br"
	CGI_CONF=$conf cgi "$name" POST application/json push "d-$name" "$(sign "$T/$name.json")" "$T/$name.json"
}

state() { "$BIN" -c "$1" show "$2" 2>/dev/null | jq -r .state; }
until_state() { wait_for "${4:-20}" bash -c "[ \"\$('$BIN' -c '$1' show '$2' 2>/dev/null | jq -r .state)\" = '$3' ]"; }
ended() { wait_for "${3:-20}" bash -c "'$BIN' -c '$1' show '$2' 2>/dev/null | jq -e '.finished != null' > /dev/null"; }
mirror() { echo "$1"/.mirrors/*.git; }

# --- a checkout of the pushed commit ----------------------------------------
R=$T/runs
mkdir -p "$R"
writeconf "$T/c" "$R" - "repository = $ORIGIN"
A=$(commit two configs/sft.yaml 'model: Qwen/Qwen2.5-0.5B-Instruct\nversion: A\nfake_steps: 3\n')
gpush a "$T/c"
# answer NAME JQ: a jq test on the body of the answer NAME.
answer() { body_of "$T/$1.out" | jq -e "$2"; }
check "a push with a repository answers preparing" "$(cat "$T/a.out" "$T/a.err")" \
    answer a '.jobs[0].state == "preparing" and (.jobs[0].pid == null)'
ID=$(idof a)
check "the job ends succeeded" "$(cat "$R/$ID/job.json" "$R/$ID/log")" until_state "$T/c" "$ID" succeeded
check "job.json records the commit checked out" "$(cat "$R/$ID/job.json")" \
    jq -e --arg a "$A" '.commit == $a and .sha == $a' "$R/$ID/job.json"
check "the trainer ran in the checkout" "$(cat "$R/$ID/output/info")" \
    grep -qx "cwd=$R/$ID/src" "$R/$ID/output/info"
check "it trained the pushed config" "$(cat "$R/$ID/output/config")" grep -qx 'version: A' "$R/$ID/output/config"
check "JOB_SRC and JOB_COMMIT in the trainer's environment" "$(cat "$R/$ID/output/env")" \
    bash -c "grep -qx 'JOB_SRC=$R/$ID/src' '$R/$ID/output/env' && grep -qx 'JOB_COMMIT=$A' '$R/$ID/output/env'"
check "no GIT_ variable reaches the trainer" "$(grep ^GIT "$R/$ID/output/env")" \
    bash -c "! grep -q '^GIT' '$R/$ID/output/env'"
check "the checkout is removed when the job ends" "$(ls -la "$R/$ID")" test ! -e "$R/$ID/src"
check "job.json names no checkout once it is gone" "" jq -e '.src == null' "$R/$ID/job.json"
check "the mirror forgets the worktree" "$(git --git-dir="$(mirror "$R")" worktree list)" \
    test "$(git --git-dir="$(mirror "$R")" worktree list | wc -l)" -eq 1
check "the log says what was fetched and checked out" "$(cat "$R/$ID/log")" \
    bash -c "grep -q 'fetching $A' '$R/$ID/log' && grep -q 'checked out $A' '$R/$ID/log'"
check "results: loss, global_step, checkpoints in job.json" "$(cat "$R/$ID/job.json")" \
    jq -e --arg o "$R/$ID/output" '.global_step == 3 and .loss == 0.7675 and
	.last_model_checkpoint == ($o + "/checkpoint-3") and .best_model_checkpoint == null and
	.checkpoint == ($o + "/checkpoint-3") and .best_metric == null and .output_dir == $o' "$R/$ID/job.json"
check "jobs shows the last loss" "$("$BIN" -c "$T/c" jobs)" bash -c "'$BIN' -c '$T/c' jobs | grep '$ID' | grep -q 'loss 0.7675'"

# --- two queued runs, two trees ----------------------------------------------
R2=$T/runs2
mkdir -p "$R2"
SLOTS=1 writeconf "$T/c2" "$R2" - "repository = file://$ORIGIN"
B1=$(commit b1 configs/sft.yaml 'version: B1\nfake_sleep: 12\n')
gpush b1 "$T/c2"
B2=$(commit b2 configs/sft.yaml 'version: B2\n')
gpush b2 "$T/c2"
B3=$(commit b3 configs/sft.yaml 'version: B3\n')
gpush b3 "$T/c2"
J1=$(idof b1) J2=$(idof b2) J3=$(idof b3)
expect b2 202 '.jobs[0].state == "queued"'
for j in "$J1" "$J2" "$J3"; do ended "$T/c2" "$j" 30; done
check "each run trained its own commit's config (B1)" "$(cat "$R2/$J1/output/config")" grep -qx 'version: B1' "$R2/$J1/output/config"
check "a run queued behind a newer push trains its own commit (B2)" "$(cat "$R2/$J2/output/config" "$R2/$J2/log")" \
    grep -qx 'version: B2' "$R2/$J2/output/config"
check "and the newest its own (B3)" "$(cat "$R2/$J3/output/config")" grep -qx 'version: B3' "$R2/$J3/output/config"
check "each job.json names its own commit" "" \
    bash -c "jq -e '.commit == \"$B2\"' '$R2/$J2/job.json' && jq -e '.commit == \"$B3\"' '$R2/$J3/job.json'"

# --- a force-push took the commit away -----------------------------------------
F=$(commit gone configs/sft.yaml 'version: F\n')
g push -q origin main
g reset -q --hard HEAD~1
g push -q -f origin main
git -C "$ORIGIN" reflog expire --expire=now --all
git -C "$ORIGIN" gc -q --prune=now
payload "$T/gone.json" "$B3" "$F" refs/heads/main
CGI_CONF=$T/c2 cgi gone POST application/json push d-gone "$(sign "$T/gone.json")" "$T/gone.json"
GONE=$(idof gone)
check "a commit gone after a force-push ends failed" "$(cat "$R2/$GONE/job.json" 2>/dev/null; cat "$T/gone.err")" \
    until_state "$T/c2" "$GONE" failed 30
check "its error names the step and git's words" "$(jq -r .error "$R2/$GONE/job.json")" \
    jq -e --arg f "$F" '.error | test("^fetch: commit " + $f + " is not in .*(not our ref|upload-pack)")' "$R2/$GONE/job.json"
check "it never ran a trainer" "" jq -e '.pid == null and .started == null' "$R2/$GONE/job.json"
N1=$(commit next train.py 'print("next")\n')
gpush next "$T/c2"
check "its slot is free at once: the next push prepares" "$(cat "$T/next.out")" \
    answer next '.jobs[0].state == "preparing"'
ended "$T/c2" "$(idof next)" 20
CGI_CONF=$T/c2 cgi gone2 POST application/json push d-gone2 "$(sign "$T/gone.json")" "$T/gone.json"
check "its claim is given back: a redelivery starts it again" "$(cat "$T/gone2.out")" \
    answer gone2 '.status == "started"'
ended "$T/c2" "$(idof gone2)" 30

# --- a stop while preparing, and a lock held too long -------------------------
LOCK=$(echo "$R2"/.mirrors/*.lock)
flock "$LOCK" sleep 30 &
LOCKER=$!
sleep 0.2
S1=$(commit stop1 train.py 'print("s1")\n')
gpush stop1 "$T/c2"
SP=$(idof stop1)
check "waiting for the mirror: preparing" "" until_state "$T/c2" "$SP" preparing 5
"$BIN" -c "$T/c2" cancel "$SP" > "$T/cancel.txt" 2>&1
check "cancel while preparing ends cancelled" "$(cat "$T/cancel.txt" "$R2/$SP/log")" grep -q "$SP cancelled" "$T/cancel.txt"
check "a job stopped while preparing has no checkout" "$(ls "$R2/$SP")" test ! -e "$R2/$SP/src"
SLOTS=1 writeconf "$T/c2t" "$R2" - "repository = file://$ORIGIN" "fetch_timeout = 1s"
S2=$(commit stop2 train.py 'print("s2")\n')
gpush stop2 "$T/c2t"
TO=$(idof stop2)
check "a lock held past fetch_timeout fails the job" "$(cat "$R2/$TO/job.json")" until_state "$T/c2t" "$TO" failed 10
check "and says so" "$(jq -r .error "$R2/$TO/job.json")" \
    jq -e '.error | test("lock mirror: still held by another job after 1s")' "$R2/$TO/job.json"
kill "$LOCKER" 2>/dev/null; wait "$LOCKER" 2>/dev/null

# --- a remote that never answers ---------------------------------------------
HANG=$(free_port)
python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
c = []
while True: c.append(s.accept())' "$HANG" &
HANGER=$!
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HANG" 2>/dev/null
R9=$T/runs9
mkdir -p "$R9"
writeconf "$T/c9" "$R9" - "repository = http://127.0.0.1:$HANG/train.git" "fetch_timeout = 2s"
commit hang train.py 'print("hang")\n' > /dev/null
gpush hang "$T/c9"
HG=$(idof hang)
check "a fetch that hangs is killed after fetch_timeout: failed" "$(cat "$R9/$HG/job.json" 2>/dev/null)" \
    until_state "$T/c9" "$HG" failed 15
check "saying so" "$(jq -r .error "$R9/$HG/job.json")" \
    jq -e '.error | test("^fetch: git timed out after 2s \\(fetch_timeout\\)")' "$R9/$HG/job.json"
check "and no git of it is left running" "$(ps -eo pid,args | grep "[1]27.0.0.1:$HANG")" \
    bash -c "! ps -eo args | grep -q '[1]27.0.0.1:$HANG'"
kill "$HANGER" 2>/dev/null; wait "$HANGER" 2>/dev/null

# --- a planted mirror is not followed ----------------------------------------
R8=$T/runs8
mkdir -p "$R8" "$T/elsewhere"
ln -s "$T/elsewhere" "$R8/.mirrors"
writeconf "$T/c8" "$R8" - "repository = $ORIGIN"
commit planted train.py 'print("planted")\n' > /dev/null
gpush planted "$T/c8"
PL=$(idof planted)
check "a .mirrors symlink planted in the run directory: the job fails" "$(cat "$R8/$PL/job.json" 2>/dev/null)" \
    until_state "$T/c8" "$PL" failed 10
check "saying why, and nothing is written where it points" "$(jq -r .error "$R8/$PL/job.json"; ls -A "$T/elsewhere")" \
    bash -c "jq -e '.error | test(\"^mirror: .*/.mirrors: Too many levels of symbolic links\")' '$R8/$PL/job.json' && [ -z \"\$(ls -A '$T/elsewhere')\" ]"
rm "$R8/.mirrors"
mkdir -m 750 "$R8/.mirrors"
ln -s "$T/elsewhere/lock" "$R8/.mirrors/$(basename "$(mirror "$R")" .git).lock"
commit planted2 train.py 'print("planted2")\n' > /dev/null
gpush planted2 "$T/c8"
PL=$(idof planted2)
check "a planted lock symlink: the job fails" "$(cat "$R8/$PL/job.json" 2>/dev/null)" \
    until_state "$T/c8" "$PL" failed 10
check "saying why, and nothing is created where it points" "$(jq -r .error "$R8/$PL/job.json"; ls -A "$T/elsewhere")" \
    bash -c "jq -e '.error | test(\"^lock mirror: .*Too many levels of symbolic links\")' '$R8/$PL/job.json' && [ ! -e '$T/elsewhere/lock' ]"

# --- ten jobs fetching side by side -----------------------------------------
R3=$T/runs3
mkdir -p "$R3"
SLOTS=10 writeconf "$T/c3" "$R3" - "repository = $ORIGIN" "branches = p*"
for i in $(seq 1 10); do
	g checkout -q -b "p$i" "$A"
	head -c 200000 /dev/urandom | base64 > "$DEV/data$i.txt"	# objects of its own
	commit "p$i" configs/sft.yaml "version: p$i\\n" > /dev/null
	g push -q origin "p$i"
	payload "$T/p$i.json" "$A" "$(g rev-parse HEAD)" "refs/heads/p$i"
done
g checkout -q main
for i in $(seq 1 10); do
	CGI_CONF=$T/c3 cgi "p$i" POST application/json push "d-p$i" "$(sign "$T/p$i.json")" "$T/p$i.json" &
done
wait
bad=
for i in $(seq 1 10); do
	ended "$T/c3" "$(idof "p$i")" 60
	jq -e --arg v "p$i" '.state == "succeeded" and .commit == .sha' "$R3/$(idof "p$i")/job.json" > /dev/null &&
	    grep -qx "version: p$i" "$R3/$(idof "p$i")/output/config" || bad="$bad p$i"
done
check "ten jobs fetching at once each train their own commit" "failed:$bad" test -z "$bad"
check "and leave a consistent mirror (git fsck)" "$(git --git-dir="$(mirror "$R3")" fsck 2>&1 | tail -3)" \
    git --git-dir="$(mirror "$R3")" fsck --no-progress
check "with no worktree left behind" "$(git --git-dir="$(mirror "$R3")" worktree list)" \
    test "$(git --git-dir="$(mirror "$R3")" worktree list | wc -l)" -eq 1

# --- keep_src, submodules ----------------------------------------------------
SUB=$T/sub.git
git init -q --bare -b main "$SUB"
git clone -q "$SUB" "$T/subdev" 2>/dev/null
printf 'lib\n' > "$T/subdev/lib.txt"
git -C "$T/subdev" add -A && git -C "$T/subdev" commit -q -m lib && git -C "$T/subdev" push -q origin main
g -c protocol.file.allow=always submodule add -q "$SUB" vendor/lib
printf 'print("with lib")\n' > "$DEV/train.py"
g add -A
g commit -q -m "a submodule"
R4=$T/runs4
mkdir -p "$R4"
writeconf "$T/c4" "$R4" - "repository = $ORIGIN" "keep_src = yes" "submodules = yes"
# A submodule on the local file system needs protocol.file.allow (git >=
# 2.38.1): in the server user's ~/.gitconfig, as an admin would set it.
mkdir -p "$T/home"
git config --file "$T/home/.gitconfig" protocol.file.allow always
CGI_HOME=$T/home gpush keep "$T/c4"
K=$(idof keep)
check "keep_src: the job succeeds" "$(cat "$R4/$K/log" 2>/dev/null)" until_state "$T/c4" "$K" succeeded 30
check "keep_src: the checkout stays, at the sha" "$(ls -la "$R4/$K")" \
    test "$(git -C "$R4/$K/src" rev-parse HEAD)" = "$(g rev-parse HEAD)"
check "keep_src: job.json names it" "" jq -e --arg s "$R4/$K/src" '.src == $s' "$R4/$K/job.json"
check "submodules = yes: the submodule is checked out" "$(ls -R "$R4/$K/src/vendor" 2>&1)" \
    grep -qx lib "$R4/$K/src/vendor/lib/lib.txt"
# A later commit moves the submodule to another repository: its job
# fetches from there, not from the URL the first one left in the
# mirror's shared config.
SUB2=$T/sub2.git
git init -q --bare -b main "$SUB2"
git clone -q "$SUB2" "$T/sub2dev" 2>/dev/null
printf 'lib2\n' > "$T/sub2dev/lib2.txt"
git -C "$T/sub2dev" add -A && git -C "$T/sub2dev" commit -q -m lib2 && git -C "$T/sub2dev" push -q origin main
g config -f .gitmodules submodule.vendor/lib.url "$SUB2"
git -C "$DEV/vendor/lib" -c protocol.file.allow=always fetch -q "$SUB2" main
git -C "$DEV/vendor/lib" checkout -q FETCH_HEAD
printf 'print("with lib2")\n' > "$DEV/train.py"
g add -A
g commit -q -m "the submodule moves"
CGI_HOME=$T/home gpush moved "$T/c4"
M=$(idof moved)
check "a commit that moves a submodule is checked out from its new URL" "$(cat "$R4/$M/log" 2>/dev/null)" \
    bash -c "until_state() { for _ in \$(seq 300); do [ \"\$('$BIN' -c '$T/c4' show '$M' | jq -r .state)\" = succeeded ] && return 0; sleep 0.1; done; return 1; }; until_state && grep -qx lib2 '$R4/$M/src/vendor/lib/lib2.txt'"

# --- progress while it trains -----------------------------------------------
R5=$T/runs5
mkdir -p "$R5"
writeconf "$T/c5" "$R5" - "repository = $ORIGIN"
commit slow configs/sft.yaml 'version: slow\nfake_sleep: 8\nfake_steps: 20\n' > /dev/null
gpush slow "$T/c5"
SL=$(idof slow)
check "progress shows in jobs --json" "$("$BIN" -c "$T/c5" jobs --json)" \
    wait_for 10 bash -c "'$BIN' -c '$T/c5' jobs --json | jq -e '.[0].progress | .max_steps == 20 and .step >= 1 and .fraction > 0 and .remaining_seconds >= 0'"
check "progress shows in jobs: STEP/MAX PCT eta" "$("$BIN" -c "$T/c5" jobs)" \
    bash -c "'$BIN' -c '$T/c5' jobs | grep '$SL' | grep -Eq ' [0-9]+/20 [0-9]+% eta [0-9]+m[0-9]{2}s'"
check "show JOB prints the progress" "$("$BIN" -c "$T/c5" show "$SL")" \
    bash -c "'$BIN' -c '$T/c5' show '$SL' | jq -e '.progress.text | test(\"/20 \")'"
until_state "$T/c5" "$SL" succeeded 20
check "show JOB prints the last loss and checkpoints" "$("$BIN" -c "$T/c5" show "$SL")" \
    bash -c "'$BIN' -c '$T/c5' show '$SL' | jq -e '.loss > 0 and (.last_model_checkpoint | endswith(\"/checkpoint-20\")) and .global_step == 20'"

# --- a logging.jsonl of 100 MB with garbage lines -------------------------------
commit junk configs/sft.yaml 'version: junk\nfake_steps: 4\nfake_junk_mb: 100\n' > /dev/null
gpush junk "$T/c5"
JU=$(idof junk)
check "a 100 MB logging.jsonl of garbage: the job still ends" "$(cat "$R5/$JU/log")" until_state "$T/c5" "$JU" succeeded 60
check "and its results are read past the garbage" "$(cat "$R5/$JU/job.json")" \
    jq -e '.global_step == 4 and .loss == 0.5756' "$R5/$JU/job.json"

# --- the deploy key, through a real sshd ---------------------------------------
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ]; then
	SSHD=$T/sshd
	mkdir -p "$SSHD" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD/host_key"
	ssh-keygen -q -t ed25519 -N '' -C deploy -f "$T/deploy_key"
	cp "$T/deploy_key.pub" "$SSHD/authorized_keys"
	PORT=$(free_port)
	cat > "$SSHD/config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $SSHD/host_key
AuthorizedKeysFile $SSHD/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile $SSHD/pid
StrictModes no
EOF
	/usr/sbin/sshd -f "$SSHD/config" -E "$SSHD/log"
	wait_for 5 test -s "$SSHD/pid"
	echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$SSHD/host_key.pub")" > "$T/known_hosts"
	R6=$T/runs6
	mkdir -p "$R6"
	writeconf "$T/c6" "$R6" - "repository = ssh://root@127.0.0.1:$PORT$ORIGIN" \
	    "git_ssh_key = $T/deploy_key" "git_known_hosts = $T/known_hosts"
	KEYLINE=$(sed -n 2p "$T/deploy_key")	# a line of the private key
	commit ssh configs/sft.yaml 'version: ssh\nfake_sleep: 1\n' > /dev/null
	( while :; do ps -eo args; sleep 0.05; done ) > "$T/ps.txt" 2>/dev/null &
	PS=$!
	gpush ssh "$T/c6"
	SS=$(idof ssh)
	ended "$T/c6" "$SS" 30
	kill "$PS"; wait "$PS" 2>/dev/null
	check "a deploy key: the job fetches over ssh and succeeds" "$(cat "$R6/$SS/job.json" "$R6/$SS/log" "$SSHD/log")" \
	    jq -e '.state == "succeeded"' "$R6/$SS/job.json"
	check "ssh ran with the key (ps saw it)" "$(grep -c ssh "$T/ps.txt")" \
	    grep -q "ssh -F /dev/null -i $T/deploy_key -o IdentitiesOnly=yes" "$T/ps.txt"
	check "the key never shows in ps" "" bash -c "! grep -qF -- '$KEYLINE' '$T/ps.txt'"
	check "nor in job.json, the log or the output" "" bash -c "! grep -rqF -- '$KEYLINE' '$R6/$SS'"
	check "the trainer's environment has no key, no GIT_SSH_COMMAND" "$(cat "$R6/$SS/output/env")" \
	    bash -c "! grep -qE 'deploy_key|GIT_SSH|SSH_' '$R6/$SS/output/env'"
	check "check reads the repository with the key" "$("$BIN" -c "$T/c6" check --user root 2>&1)" \
	    bash -c "'$BIN' -c '$T/c6' check --user root | grep -q ok"
	writeconf "$T/c6b" "$R6" - "repository = ssh://root@127.0.0.1:$PORT$ORIGIN" \
	    "git_ssh_key = $T/known_hosts" "git_known_hosts = $T/known_hosts"
	"$BIN" -c "$T/c6b" check --user root > "$T/check6.txt" 2>&1
	check "check says when the key does not open the repository" "$(cat "$T/check6.txt")" \
	    grep -q "problem: cannot read the repository ssh://.*(as root): repository: git exited with status 128" "$T/check6.txt"
	check "quoting git and ssh, and advising a deploy key the repository accepts" "$(cat "$T/check6.txt")" \
	    bash -c "grep -q 'Permission denied' '$T/check6.txt' && grep -q 'the server refused the key: give root a deploy key (git_ssh_key) that the repository accepts' '$T/check6.txt'"
	kill "$(cat "$SSHD/pid")"
	rm -f "$SSHD/pid"
else
	for c in "a deploy key: the job fetches over ssh" "ssh ran with the key" \
	    "the key never shows in ps" "nor in job.json, the log or the output" \
	    "the trainer's environment has no key" "check reads the repository with the key" \
	    "check says when the key does not open the repository" \
	    "quoting git and ssh, and advising a deploy key the repository accepts"; do
		skip "$c" "sshd needs root and openssh-server"
	done
fi

# --- a token for HTTPS, through git's credential store -----------------------
# git-http-backend behind lighttpd with basic auth plays GitHub's HTTPS
# (plain HTTP on 127.0.0.1: what is tested is where the token goes).
HTTP=$T/http
mkdir -p "$HTTP"
TOKEN=ghp_$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'ci:%s\n' "$TOKEN" > "$HTTP/users"
HPORT=$(free_port)
cat > "$HTTP/lighttpd.conf" <<EOF
server.document-root = "$HTTP"
server.bind = "127.0.0.1"
server.port = $HPORT
server.pid-file = "$HTTP/pid"
server.errorlog = "$HTTP/error.log"
server.modules = ("mod_auth", "mod_authn_file", "mod_cgi", "mod_setenv", "mod_alias")
alias.url = ("/git" => "/usr/lib/git-core/git-http-backend")
\$HTTP["url"] =~ "^/git" {
	cgi.assign = ("" => "")
	setenv.add-environment = ("GIT_PROJECT_ROOT" => "$T", "GIT_HTTP_EXPORT_ALL" => "")
}
auth.backend = "plain"
auth.backend.plain.userfile = "$HTTP/users"
auth.require = ("/git" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
EOF
lighttpd -f "$HTTP/lighttpd.conf"
wait_for 5 test -s "$HTTP/pid"
R7=$T/runs7
mkdir -p "$R7"
printf 'http://ci:%s@127.0.0.1:%s\n' "$TOKEN" "$HPORT" > "$T/credentials"
chmod 600 "$T/credentials"
writeconf "$T/c7" "$R7" - "repository = http://127.0.0.1:$HPORT/git/origin.git" \
    "git_credentials = $T/credentials"
commit https configs/sft.yaml 'version: https\nfake_sleep: 1\n' > /dev/null
( while :; do ps -eo args; sleep 0.05; done ) > "$T/ps7.txt" 2>/dev/null &
PS=$!
gpush https "$T/c7"
HT=$(idof https)
ended "$T/c7" "$HT" 30
kill "$PS"; wait "$PS" 2>/dev/null
check "a credential file: the job fetches over HTTP with the token" "$(cat "$R7/$HT/job.json" "$R7/$HT/log" "$HTTP/error.log")" \
    jq -e '.state == "succeeded" and .commit == .sha' "$R7/$HT/job.json"
check "the token never shows in ps" "" bash -c "! grep -qF -- '$TOKEN' '$T/ps7.txt'"
check "nor in job.json, the log or the output" "" bash -c "! grep -rqF -- '$TOKEN' '$R7/$HT'"
check "the trainer's environment has no credential helper" "$(cat "$R7/$HT/output/env")" \
    bash -c "! grep -qE 'credential|GIT_CONFIG' '$R7/$HT/output/env'"
writeconf "$T/c7b" "$R7" - "repository = http://127.0.0.1:$HPORT/git/origin.git"
commit nocreds configs/sft.yaml 'version: nocreds\n' > /dev/null
gpush nocreds "$T/c7b"
NC=$(idof nocreds)
check "without the credential file: failed" "$(cat "$R7/$NC/job.json" 2>/dev/null)" \
    until_state "$T/c7b" "$NC" failed 20
check "and git says why" "$(jq -r .error "$R7/$NC/job.json")" \
    jq -e '.error | test("^fetch: .*could not read Username .*terminal prompts disabled")' "$R7/$NC/job.json"
"$BIN" -c "$T/c7b" check --user root > "$T/check7.txt" 2>&1
check "check over HTTPS without credentials: git's words and the credential file to give" "$(cat "$T/check7.txt")" \
    bash -c "grep -q 'fatal: could not read Username' '$T/check7.txt' && grep -q 'a credential file (git_credentials)' '$T/check7.txt'"
kill "$(cat "$HTTP/pid")"
rm -f "$HTTP/pid"

# --- prune ------------------------------------------------------------------
check "prune refuses a state jobs never end in" "" bash -c "! '$BIN' -c '$T/c2' prune --state running 2>/dev/null"
OLD=$J1
jq '.finished = "2020-01-01T00:00:00Z"' "$R2/$OLD/job.json" > "$T/old.json" && cp "$T/old.json" "$R2/$OLD/job.json"
touch -d 2020-01-01 "$R2/.deliveries/d-b1"
"$BIN" -c "$T/c2" prune --dry-run > "$T/prune1.txt" 2>&1
check "prune --dry-run lists the job ended 30 days ago" "$(cat "$T/prune1.txt")" \
    bash -c "grep -q 'would remove $OLD (succeeded' '$T/prune1.txt' && [ \$(grep -c '^would remove 2' '$T/prune1.txt') -eq 1 ]"
check "prune --dry-run counts the old delivery record" "$(cat "$T/prune1.txt")" \
    grep -q 'would remove 1 job(s), 1 delivery record(s)' "$T/prune1.txt"
check "prune --dry-run removes nothing" "" test -d "$R2/$OLD" -a -f "$R2/.deliveries/d-b1"
"$BIN" -c "$T/c2" prune > "$T/prune2.txt" 2>&1
check "prune removes the old job and record" "$(cat "$T/prune2.txt")" \
    bash -c "[ ! -e '$R2/$OLD' ] && [ ! -e '$R2/.deliveries/d-b1' ] && [ -d '$R2/$J2' ]"
check "and its claim, which named a job no more" "$(ls -l "$R2/.keys")" \
    bash -c "grep -q '1 stale claim' '$T/prune2.txt'"
check "prune says how much it freed" "$(cat "$T/prune2.txt")" grep -Eq 'MiB freed$' "$T/prune2.txt"
commit running configs/sft.yaml 'version: run\nfake_sleep: 30\n' > /dev/null
gpush running "$T/c2"
RU=$(idof running)
until_state "$T/c2" "$RU" running 20
"$BIN" -c "$T/c2" prune --older-than 0s --state failed > "$T/prune3.txt" 2>&1
check "prune --state failed removes only failed jobs" "$(cat "$T/prune3.txt")" \
    bash -c "[ ! -e '$R2/$GONE' ] && [ -d '$R2/$J2' ] && ! grep -q '(succeeded' '$T/prune3.txt'"
"$BIN" -c "$T/c2" prune --older-than 0s > "$T/prune4.txt" 2>&1
check "prune --older-than 0s leaves the running job alone" "$(cat "$T/prune4.txt")" \
    bash -c "[ -d '$R2/$RU/src' ] && [ ! -e '$R2/$J2' ] && [ \$('$BIN' -c '$T/c2' jobs --json | jq length) -eq 1 ]"
"$BIN" -c "$T/c2" cancel "$RU" > /dev/null 2>&1
check "a cancelled running job's checkout is removed" "" test ! -e "$R2/$RU/src"
