#!/bin/bash
# tests/faults.sh: faults survived.  30 pushes on 2 slots while a killer
# SIGKILLs supervisors in every phase of a job (its checkout, its
# trainer, after_success, a commit status post, notify) and reapers,
# with `tick` running as the systemd timer would; then the same, slower,
# with only `jobs` looking; then a reboot (every process of ours killed,
# a new boot id through tests/swift-webhook-clock's test hook); then a
# run directory on a full tmpfs.
. "$(dirname "$0")/lib.sh"
plan 30
mktestdir faults
BIN=$TOP/tests/swift-webhook-clock	# the boot id hook, never installed
export SWIFT_WEBHOOK_TEST_BOOT_ID=boot-one

API_LOG=$T/api.log
: > "$T/control"
# Every commit status answer takes 0.3 s: a window to be killed in.
tests/github-api "$T/port" "$API_LOG" "$T/control" 0.3 &
API_PID=$!
TICKER= KILLER=
trap 'kill $API_PID $TICKER $KILLER 2>/dev/null; umount "$T/full" 2>/dev/null; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT
wait_for 10 test -s "$T/port" || fail "stand-in" "no port"
printf 'ghp_0123456789abcdefTESTTOKENxyz\n' > "$T/token"
chmod 600 "$T/token"

# A repository to check out from, one commit per push.
ORIGIN=$T/origin.git DEV=$T/dev
export GIT_AUTHOR_NAME=dev GIT_AUTHOR_EMAIL=dev@example.com
export GIT_COMMITTER_NAME=dev GIT_COMMITTER_EMAIL=dev@example.com
git init -q --bare -b main "$ORIGIN"
git init -q -b main "$DEV"
mkdir -p "$DEV/configs"
printf 'model: m\nfake_sleep: 2\nfake_steps: 4\n' > "$DEV/configs/f.yaml"
printf 'model: m\nfake_sleep: 600\n' > "$DEV/configs/hold.yaml"
git -C "$DEV" add -A && git -C "$DEV" commit -q -m one
git -C "$DEV" push -q "$ORIGIN" main

# gpush NAME CONF FILE: a commit changing FILE, pushed and delivered.
gpush() {
	local before after
	before=$(git -C "$DEV" rev-parse HEAD)
	printf '# %s\n' "$1" >> "$DEV/$3"
	git -C "$DEV" commit -q -am "$1"
	after=$(git -C "$DEV" rev-parse HEAD)
	git -C "$DEV" push -q "$ORIGIN" main
	jq -n --arg b "$before" --arg a "$after" --arg f "$3" \
	    '{ref: "refs/heads/main", before: $b, after: $a, created: false, deleted: false,
	      repository: {full_name: "acme/train"}, head_commit: {id: $a},
	      commits: [{id: $a, added: [], removed: [], modified: [$f]}]}' > "$T/$1.json"
	CGI_CONF=$2 cgi "$1" POST application/json push "d-$1" "$(sign "$T/$1.json")" "$T/$1.json"
}

# Stand-ins that log each run: the trainer (then fake-swift), after_success
# and notify, each taking a while to be killed in.
cat > "$T/trainer.sh" <<EOF
#!/bin/sh
echo "\$JOB_ID" >> "$T/trainer.log"
exec "$FAKE" "\$@"
EOF
cat > "$T/after.sh" <<EOF
#!/bin/sh
sleep 0.5
echo "\$JOB_ID" >> "$T/after.log"
EOF
cat > "$T/notify.sh" <<EOF
#!/bin/sh
sleep 0.3
echo "\$JOB_ID \$JOB_STATE" >> "$T/notify.log"
EOF
# git as the supervisors find it on their PATH: a checkout's "worktree
# add" takes 0.3 s, so that the killer always finds a checkout to kill in
# (from a local bare repository it is otherwise over in milliseconds).
mkdir -p "$T/bin"
cat > "$T/bin/git" <<'EOF'
#!/bin/sh
case " $* " in *" worktree add "*) sleep 0.3 ;; esac
exec /usr/bin/git "$@"
EOF
chmod 755 "$T/trainer.sh" "$T/after.sh" "$T/notify.sh" "$T/bin/git"
export PATH=$T/bin:$PATH CGI_PATH=$T/bin:/usr/local/bin:/usr/bin:/bin
: > "$T/trainer.log"; : > "$T/after.log"; : > "$T/notify.log"

conf() {	# conf FILE RUN_DIR: 2 slots, a checkout, and every end's work
	COMMAND="$T/trainer.sh sft {config} --output_dir {job_dir}/output" \
	    SLOTS=2 writeconf "$1" "$2" - "repository = $ORIGIN" \
	    "after_success = $T/after.sh" "notify = $T/notify.sh" \
	    "github_token_file = $T/token" \
	    "api_url = http://127.0.0.1:$(cat "$T/port")/api/v3/" \
	    "kill_grace = 1" "max_queued = 100"
}

# ours: the pids of every process whose environment names config $1 (the
# responder's, and so every supervisor's and reaper's), or whose command
# line names $T (trainers, their tools).
ours() {
	local p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		if grep -qsz "^SWIFT_WEBHOOK_CONFIG=$1\$" "$p/environ" ||
		    { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -q "$T/\(runs\|trainer\|after\|notify\)"; then
			[ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = Z ] || echo "${p#/proc/}"
		fi
	done
}
ppid_of() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null; }
comm_of() { cat "/proc/$1/comm" 2>/dev/null; }
state_of() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }
# a supervisor of config $1 whose child is named $2 (pgrep -x), not a
# zombie (a reaper just killed, its supervisor not yet told)
parent_of() {
	local p pp
	for p in $(pgrep -x "$2"); do
		[ "$(state_of "$p")" = Z ] && continue
		pp=$(ppid_of "$p")
		[ -n "$pp" ] && grep -qsz "^SWIFT_WEBHOOK_CONFIG=$1\$" "/proc/$pp/environ" &&
		    [ "$(comm_of "$pp")" != swh-reaper ] && { echo "$pp"; return 0; }
	done
	return 1
}

# target CONF PHASE: a process to kill in that phase, or nothing.  Never
# both a supervisor and its reaper: killing both loses the trainer's end
# (it goes to init), by design: the job ends lost, "its end is not known".
# The killer's $spared lists the supervisors whose reaper it killed, its
# $killed the supervisors it killed (their reapers' parent for a moment
# still).
target() {
	local conf=$1 pid=
	case $2 in
	checkout) pid=$(parent_of "$conf" git) ;;
	trainer) pid=$(parent_of "$conf" swh-reaper) ;;
	reaper) pid=$(pgrep -x swh-reaper | while read -r r; do
		pp=$(ppid_of "$r")
		case $killed in *" $pp "*) continue ;; esac
		[ "$(state_of "$r")" != Z ] &&
		    grep -qsz "^SWIFT_WEBHOOK_CONFIG=$conf\$" "/proc/$r/environ" &&
		    [ -n "$pp" ] && [ "$pp" -gt 1 ] &&
		    grep -qsz "^SWIFT_WEBHOOK_CONFIG=$conf\$" "/proc/$pp/environ" &&
		    pgrep -P "$r" > /dev/null && { echo "$r"; break; }
		done) ;;
	after) pid=$(pgrep -f "^/bin/sh $T/after.sh" | head -1)
		[ -n "$pid" ] && pid=$(ppid_of "$pid") && [ -n "$pid" ] &&
		    pid=$(ppid_of "$pid") ;;
	post) pid=$(parent_of "$conf" curl) ;;
	notify) pid=$(parent_of "$conf" notify.sh) ;;
	esac
	case $2 in reaper) ;; *) case $spared in *" $pid "*) return ;; esac ;; esac
	[ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null &&
	    grep -qsz "^SWIFT_WEBHOOK_CONFIG=$conf\$" "/proc/$pid/environ" &&
	    echo "$pid"
}

# The killer: looks at every phase all the time and kills, a phase not
# hit yet first (then any, now and then); each kill said in
# $T/kills.log ("phase pid").
killer() {
	local conf=$1 phases=$2 ph pid hit=" " all spared=" " killed=" "
	while :; do
		all=1
		for ph in $phases; do
			case $hit in *" $ph "*) ;; *) all=0 ;; esac
		done
		for ph in $phases; do
			case $hit in *" $ph "*) [ $all = 1 ] || continue ;; esac
			pid=$(target "$conf" "$ph")
			[ "$ph" = reaper ] && [ -n "$pid" ] && spared="$spared$(ppid_of "$pid") "
			if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
				echo "$ph $pid" >> "$T/kills.log"
				[ "$ph" = reaper ] || killed="$killed$pid "
				hit="$hit$ph "
				[ $all = 1 ] && sleep 1
				break
			fi
		done
		sleep 0.02
	done
}

# ended_all CONF N: N jobs, every one of them in a final state.
final='succeeded|failed|killed|cancelled|superseded|timeout|lost'
ended_all() {
	"$BIN" -c "$1" jobs --json 2>/dev/null |
	    jq -e --argjson n "$2" --arg f "^($final)\$" 'length == $n and all(.[]; .state | test($f))' > /dev/null
}
count_each() { sort "$1" | uniq -c | awk -v n="$2" '$1 != n' | wc -l; }

# --- 30 pushes, 2 slots, supervisors killed, tick every second --------------
R=$T/runs
mkdir -p "$R"
conf "$T/c" "$R"
: > "$T/kills.log"
( while :; do "$BIN" -c "$T/c" tick 2>> "$T/tick.err"; sleep 1; done ) &
TICKER=$!
killer "$T/c" "checkout trainer after post notify reaper" &
KILLER=$!
accepted=0
for i in $(seq 1 30); do
	gpush "p$i" "$T/c" configs/f.yaml
	[ "$(status_of "$T/p$i.out")" = 202 ] && accepted=$((accepted + 1))
	sleep 0.2
done
check "30 pushes accepted" "$accepted" test "$accepted" = 30
wait_for 240 ended_all "$T/c" 30
check "every job reaches a final state, with tick running" "$("$BIN" -c "$T/c" jobs)" ended_all "$T/c" 30
kill $KILLER; wait $KILLER 2>/dev/null; KILLER=
for ph in checkout trainer after post notify reaper; do
	check "a supervisor (or reaper) was killed: $ph" "$(cat "$T/kills.log")" grep -q "^$ph " "$T/kills.log"
done
check "every job succeeded, its trainer's end kept through its supervisor's death" \
    "$("$BIN" -c "$T/c" jobs)" bash -c "'$BIN' -c '$T/c' jobs --json | jq -e 'all(.[]; .state == \"succeeded\")'"
check "with its results" "" bash -c "'$BIN' -c '$T/c' jobs --json | jq -e 'all(.[]; .global_step == 4)'"
check "no trainer started twice" "$(sort "$T/trainer.log" | uniq -d)" test "$(count_each "$T/trainer.log" 1)$(wc -l < "$T/trainer.log")" = 030
check "after_success ran once per job" "$(sort "$T/after.log" | uniq -d)" test "$(count_each "$T/after.log" 1)$(wc -l < "$T/after.log")" = 030
wait_for 10 test "$(wc -l < "$T/notify.log")" -ge 30
sleep 1		# a while, for a second notify that must not come
check "notify exactly once per job" "$(sort "$T/notify.log" | uniq -d)" test "$(count_each "$T/notify.log" 1)$(wc -l < "$T/notify.log")" = 030
check "the last commit status of every job is success" "" bash -c "
	for s in \$(jq -r '.[].sha' <('$BIN' -c '$T/c' jobs --json)); do
		jq -r --arg s \$s 'select(.path | endswith(\"/statuses/\" + \$s)) | .body | fromjson | .state' '$API_LOG' | tail -1 | grep -qx success || exit 1
	done"
kill $TICKER; wait $TICKER 2>/dev/null; TICKER=
wait_for 10 test -z "$(ours "$T/c")"
check "nothing of ours is left running" "$(ps -o pid,args -p "$(ours "$T/c" | tr '\n' ',')0" 2>&1)" test -z "$(ours "$T/c")"
check "no job is left live" "$(ls "$R/.live")" test -z "$(ls "$R/.live")"

# --- slower: no tick, only jobs looking every 2 s ------------------------
R2=$T/runs2
mkdir -p "$R2"
conf "$T/c2" "$R2"
cp "$T/kills.log" "$T/kills1.log"; : > "$T/trainer.log"; : > "$T/notify.log"; : > "$T/kills.log"
killer "$T/c2" "trainer checkout" &
KILLER=$!
for i in $(seq 1 8); do gpush "q$i" "$T/c2" configs/f.yaml; sleep 0.3; done
n=0
while [ $n -lt 90 ] && ! ended_all "$T/c2" 8; do
	"$BIN" -c "$T/c2" jobs --json > /dev/null 2>&1
	sleep 2
	n=$((n + 1))
done
kill $KILLER; wait $KILLER 2>/dev/null; KILLER=
check "without tick, jobs alone brings every job to its end" "$("$BIN" -c "$T/c2" jobs; cat "$T/kills.log")" \
    bash -c "ended_all() { '$BIN' -c '$T/c2' jobs --json | jq -e 'length == 8 and all(.[]; .state == \"succeeded\")'; }; ended_all"
check "supervisors were killed meanwhile" "$(cat "$T/kills.log")" test -s "$T/kills.log"
check "no trainer started twice there either" "$(sort "$T/trainer.log" | uniq -d)" test "$(count_each "$T/trainer.log" 1)$(wc -l < "$T/trainer.log")" = 08
wait_for 10 test -z "$(ours "$T/c2")"

# --- a reboot: everything of ours killed, a new boot id -------------------
R3=$T/runs3
mkdir -p "$R3"
conf "$T/c3" "$R3"
: > "$T/notify.log"
gpush b1 "$T/c3" configs/hold.yaml
gpush b2 "$T/c3" configs/hold.yaml
gpush b3 "$T/c3" configs/f.yaml
gpush b4 "$T/c3" configs/f.yaml
gpush b5 "$T/c3" configs/f.yaml
B1=$(idof b1) B2=$(idof b2) B3=$(idof b3) B4=$(idof b4) B5=$(idof b5)
wait_for 20 bash -c "[ \"\$(jq -r .state '$R3/$B1/job.json')\$(jq -r .state '$R3/$B2/job.json')\" = runningrunning ]"
# The machine goes down: no process of ours survives it.
for p in $(ours "$T/c3"); do kill -9 "$p" 2>/dev/null; done
wait_for 10 test -z "$(ours "$T/c3")"
check "the crash left the running jobs' records saying running" "" \
    test "$(jq -r .state "$R3/$B1/job.json")$(jq -r .state "$R3/$B3/job.json")" = runningqueued
export SWIFT_WEBHOOK_TEST_BOOT_ID=boot-two
"$BIN" -c "$T/c3" tick	# what the timer does at boot
check "after a reboot, the jobs that were running end lost, once" "$(jq -c '{state, error}' "$R3/$B1/job.json")" \
    bash -c "jq -e '.state == \"lost\" and (.error | test(\"machine restarted\"))' '$R3/$B1/job.json' '$R3/$B2/job.json'"
# The two slots free at boot take the first two in the queue at once; the
# last waits for one of them to end.
wait_for 60 ended_all "$T/c3" 5
check "queued jobs start at boot, in order" "$("$BIN" -c "$T/c3" jobs)" \
    jq -se '.[0].started != null and .[1].started != null and
	.[2].started >= .[0].started and .[2].started >= .[1].started and
	.[2].started >= ([.[0].finished, .[1].finished] | min)' \
	"$R3/$B3/job.json" "$R3/$B4/job.json" "$R3/$B5/job.json"
wait_for 5 test "$(grep -c lost "$T/notify.log")" = 2
"$BIN" -c "$T/c3" tick
sleep 1
check "notify once for each lost job" "$(cat "$T/notify.log")" test "$(grep -c "lost$" "$T/notify.log")" = 2
check "their commit status says error" "$(grep lost "$API_LOG" | tail -2)" bash -c "
	for id in $B1 $B2; do s=\$(jq -r .sha '$R3/'\$id/job.json)
		jq -r --arg s \$s 'select(.path | endswith(\"/statuses/\" + \$s)) | .body | fromjson | .state' '$API_LOG' | tail -1 | grep -qx error || exit 1
	done"
wait_for 10 test -z "$(ours "$T/c3")"
check "nothing of ours is left after the reboot's jobs" "$(ours "$T/c3")" test -z "$(ours "$T/c3")"
export SWIFT_WEBHOOK_TEST_BOOT_ID=boot-one

# --- a full run directory ---------------------------------------------------
mkdir -p "$T/full"
if mount -t tmpfs -o size=3m,mode=0750 tmpfs "$T/full" 2>/dev/null; then
	R4=$T/full/runs
	mkdir -p "$R4"
	COMMAND="$FAKE sft {config} --output_dir {job_dir}/output" SLOTS=2 \
	    writeconf "$T/c4" "$R4" "$DEV" "kill_grace = 1"
	printf 'model: m\nfake_sleep: 3\nfake_steps: 3\n' > "$DEV/configs/slow.yaml"
	deliver full "$T/c4" configs/slow.yaml
	F=$(idof full)
	wait_for 10 bash -c "[ \"\$(jq -r .state '$R4/$F/job.json')\" = running ]"
	# The disk fills while the trainer runs (its checkpoints, say).
	dd if=/dev/zero of="$T/full/filler" bs=64k 2> /dev/null
	wait_for 15 grep -q "trying again" "$R4/$F/log"
	check "a supervisor that cannot write its end keeps trying" "$(tail -3 "$R4/$F/log")" grep -q "write job.json: No space left on device; trying again" "$R4/$F/log"
	for p in / /metrics; do
		env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
		    PATH_INFO=$p SWIFT_WEBHOOK_CONFIG="$T/c4" "$BIN" > "$T/full.out" 2>&1
		check "GET $p answers on a full disk" "$(head -3 "$T/full.out")" grep -q "^Status: 200" "$T/full.out"
	done
	check "jobs answers on a full disk" "" "$BIN" -c "$T/c4" jobs
	rm -f "$T/full/filler"
	check "once there is room, the end is recorded" "$(cat "$R4/$F/job.json")" \
	    wait_for 15 bash -c "jq -e '.state == \"succeeded\" and .ending != true' '$R4/$F/job.json' > /dev/null"
	umount "$T/full"
else
	for n in 1 2 3 4 5; do skip "full run directory $n" "cannot mount a tmpfs (not root?)"; done
fi
