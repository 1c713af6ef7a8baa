#!/bin/bash
# tests/lifecycle.sh: every job state reached for real, slots and the
# queue, concurrency, cancel, retry, jobs --json, and notifications
# (with contrib/notify-* against a local HTTP receiver).
. "$(dirname "$0")/lib.sh"
plan 69
mktestdir lifecycle

WORK=$T/work
mkworkdir "$WORK" 0
c() { printf 'model: Qwen/Qwen2.5-0.5B-Instruct\n%s\n' "$2" > "$WORK/configs/$1.yaml"; }
c ok 'fake_sleep: 1'
c exit3 'fake_exit: 3'
c kill9 'fake_signal: 9'
c sleep 'fake_sleep: 60
fake_fork: 1'
c hold 'fake_sleep: 600'	# holds the slot however slow the machine
# s2 a second longer: s1 and s2 do not end (and start s3 and s4) at once.
for i in 1 2 3 4 5; do c "s$i" "fake_sleep: $((i == 2 ? 3 : 2))"; done

# The notify stand-in: one line per call, with the environment it saw.
cat > "$T/notify.sh" <<'EOF'
#!/bin/sh
printf '%s %s exit=%s signal=%s sha=%s ref=%s branch=%s config=%s dur=%s log=%s dir=%s\n' \
    "$JOB_ID" "$JOB_STATE" "$JOB_EXIT" "$JOB_SIGNAL" "$JOB_SHA" "$JOB_REF" \
    "$JOB_BRANCH" "$JOB_CONFIG" "$JOB_DURATION" "$JOB_LOG" "$JOB_DIR" >> "$NOTIFY_LOG"
[ "$JOB_CONFIG" != configs/ok.yaml ]	# fails for ok.yaml: no state may change
EOF
chmod 755 "$T/notify.sh"

state() { "$BIN" -c "$1" show "$2" 2>/dev/null | jq -r .state; }
# until_state CONF ID STATE [SECONDS]
until_state() { wait_for "${4:-15}" bash -c "[ \"\$('$BIN' -c '$1' show '$2' 2>/dev/null | jq -r .state)\" = '$3' ]"; }
field() { jq -r ".$3" "$1/$2/job.json"; }
group_gone() { ! kill -0 -- "-$1" 2>/dev/null; }
group_members() { ps -eo pid=,pgid=,args= | awk -v g="$1" '$2 == g'; }

# --- every state ------------------------------------------------------------
R1=$T/runs1
mkdir -p "$R1"
writeconf "$T/c1" "$R1" "$WORK" "kill_grace = 1" "notify = $T/notify.sh" \
    "notify_env = NOTIFY_LOG=$T/notify.log"
deliver ok "$T/c1" configs/ok.yaml
deliver exit3 "$T/c1" configs/exit3.yaml
deliver kill9 "$T/c1" configs/kill9.yaml
deliver cancel "$T/c1" configs/sleep.yaml
deliver lost "$T/c1" configs/sleep.yaml
OK=$(idof ok) E3=$(idof exit3) K9=$(idof kill9) CA=$(idof cancel) LO=$(idof lost)
check "succeeded" "$(cat "$R1/$OK/job.json")" until_state "$T/c1" "$OK" succeeded
check "succeeded: exit 0, start, end, duration" "$(cat "$R1/$OK/job.json")" \
    jq -e '.exit_code == 0 and .started != null and .finished != null and .duration >= 1' "$R1/$OK/job.json"
check "failed with exit code 3" "$(cat "$R1/$E3/job.json")" until_state "$T/c1" "$E3" failed
check "failed: exit_code 3" "" jq -e '.exit_code == 3 and .signal == null' "$R1/$E3/job.json"
check "killed by SIGKILL" "$(cat "$R1/$K9/job.json")" until_state "$T/c1" "$K9" killed
check "killed: signal 9" "" jq -e '.signal == 9 and .exit_code == null' "$R1/$K9/job.json"

CAPID=$(cat "$R1/$CA/pid")
wait_for 5 test -s "$R1/$CA/output/info"
check "the trainer's child is in its group" "$(group_members "$CAPID")" \
    test "$(group_members "$CAPID" | wc -l)" -ge 2
"$BIN" -c "$T/c1" cancel "$CA" > "$T/cancel.txt" 2>&1
check "cancel ends cancelled" "$(cat "$T/cancel.txt")" grep -q "$CA cancelled" "$T/cancel.txt"
check "cancelled in job.json" "$(cat "$R1/$CA/job.json")" jq -e '.state == "cancelled"' "$R1/$CA/job.json"
check "cancel leaves no process of the group" "$(group_members "$CAPID")" group_gone "$CAPID"
check "cancel of an ended job fails" "" bash -c "! '$BIN' -c '$T/c1' cancel '$OK' 2>/dev/null"
check "cancel of an unknown job fails" "" bash -c "! '$BIN' -c '$T/c1' cancel nope 2>/dev/null"

# A supervisor killed: the next look (show, jobs) starts a new one, which
# follows the trainer it did not start.
LOPID=$(cat "$R1/$LO/pid")
LOSUP=$(field "$R1" "$LO" supervisor)
kill -9 "$LOSUP"
new_supervisor() {	# R id old: a live supervisor that is not old
	"$BIN" -c "$T/c1" show "$2" > /dev/null 2>&1
	s=$(jq -r '.supervisor // 0' "$1/$2/job.json")
	[ "$s" != "$3" ] && [ "$s" != 0 ] && kill -0 "$s" 2>/dev/null
}
check "a job whose supervisor died gets a new one at the next look" "$(cat "$R1/$LO/job.json")" \
    wait_for 5 new_supervisor "$R1" "$LO" "$LOSUP"
check "it still runs, its trainer untouched" "$("$BIN" -c "$T/c1" show "$LO")" \
    bash -c "test \"\$(jq -r .state '$R1/$LO/job.json')\" = running && kill -0 $LOPID"
"$BIN" -c "$T/c1" cancel "$LO" > /dev/null 2>&1
check "cancel through the new supervisor stops its trainer" "$(group_members "$LOPID")" group_gone "$LOPID"
check "and records it" "" jq -e '.state == "cancelled"' "$R1/$LO/job.json"

# The supervisor dies while cancel waits for it (stopped first, so that
# it holds its lock when cancel looks): cancel stops the job itself.
writeconf "$T/c1d" "$R1" "$WORK" "kill_grace = 1"
deliver dies "$T/c1d" configs/sleep.yaml
DI=$(idof dies)
until_state "$T/c1d" "$DI" running 10
DIPID=$(cat "$R1/$DI/pid")
DISUP=$(field "$R1" "$DI" supervisor)
kill -STOP "$DISUP"
"$BIN" -c "$T/c1d" cancel "$DI" > "$T/cancel-dies.txt" 2>&1 &
CANCEL=$!
sleep 1
kill -9 "$DISUP"
wait "$CANCEL"
check "a supervisor that dies while cancel waits: cancelled all the same" \
    "$(cat "$T/cancel-dies.txt"; jq -c '{state}' "$R1/$DI/job.json")" \
    bash -c "grep -q '$DI cancelled' '$T/cancel-dies.txt' && jq -e '.state == \"cancelled\"' '$R1/$DI/job.json' > /dev/null"
check "and its trainer is stopped" "$(group_members "$DIPID")" group_gone "$DIPID"

writeconf "$T/c1t" "$R1" "$WORK" "max_runtime = 2s" "kill_grace = 1"
deliver timeout "$T/c1t" configs/sleep.yaml
TO=$(idof timeout)
TOPID=$(body_of "$T/timeout.out" | jq -r '.jobs[0].pid')
check "past max_runtime: timeout" "$(cat "$R1/$TO/job.json")" until_state "$T/c1t" "$TO" timeout 10
check "timeout leaves no process of the group" "" group_gone "$TOPID"

# --- notify -------------------------------------------------------------------
for id in "$OK" "$E3" "$K9" "$CA" "$LO"; do
	wait_for 5 grep -q "^$id " "$T/notify.log"
done
check "notify once per finished job (a lost one cancelled too)" "$(cat "$T/notify.log")" \
    test "$(cut -d' ' -f1 "$T/notify.log" | sort | uniq -d | wc -l)$(grep -c . "$T/notify.log")" = 05
check "notify environment" "$(grep "^$E3 " "$T/notify.log")" \
    grep -Eqx "$E3 failed exit=3 signal= sha=$(field "$R1" "$E3" sha) ref=refs/heads/main branch=main config=configs/exit3.yaml dur=[01] log=$R1/$E3/log dir=$R1/$E3" "$T/notify.log"
check "notify sees signals" "$(grep "^$K9 " "$T/notify.log")" grep -q "^$K9 killed exit= signal=9 " "$T/notify.log"
check "notify after the state is recorded" "" grep -q "^$CA cancelled " "$T/notify.log"
check "a failing notify changes no state, and is logged" "$(cat "$R1/$OK/log")" \
    bash -c "jq -e '.state == \"succeeded\"' '$R1/$OK/job.json' && grep -q 'notify failed' '$R1/$OK/log'"

# --- retry ------------------------------------------------------------------
"$BIN" -c "$T/c1" retry "$E3" > "$T/retry.txt" 2>&1
RE=$(awk '{print $1}' "$T/retry.txt")
check "retry starts a new job" "$(cat "$T/retry.txt")" test -n "$RE" -a "$RE" != "$E3"
check "retry: same commit and config" "" \
    jq -e --arg s "$(field "$R1" "$E3" sha)" '.sha == $s and .config == "configs/exit3.yaml" and .retry_of == "'"$E3"'"' "$R1/$RE/job.json"
check "retry runs to its end" "" until_state "$T/c1" "$RE" failed

# --- logs -f follows a job to its end ------------------------------------------
deliver follow "$T/c1" configs/s1.yaml
timeout 20 "$BIN" -c "$T/c1" logs "$(idof follow)" -f > "$T/follow.txt" 2>&1
check "logs -f follows the log until the job ends" "$(cat "$T/follow.txt")" \
    bash -c "grep -q 'fake-swift: done' '$T/follow.txt' && grep -q 'exited with status 0' '$T/follow.txt'"

# --- jobs ---------------------------------------------------------------------
"$BIN" -c "$T/c1" jobs --json > "$T/all.json"
check "jobs --json matches the run directory" "$(jq -r '.[].id' "$T/all.json")" \
    test "$(jq -r '.[].id' "$T/all.json" | tr '\n' ' ')" = "$(cd "$R1" && ls -d */ | tr -d / | tr '\n' ' ')"
bad=
for id in $(jq -r '.[].id' "$T/all.json"); do
	[ "$(jq -r --arg i "$id" '.[] | select(.id == $i) | .state' "$T/all.json")" = "$(field "$R1" "$id" state)" ] ||
	    bad="$bad $id"
done
check "jobs --json states are the recorded ones" "$bad" test -z "$bad"
check "jobs --state filters" "$("$BIN" -c "$T/c1" jobs --state failed)" \
    test "$("$BIN" -c "$T/c1" jobs --json --state failed | jq length)" = 2
check "jobs table" "$("$BIN" -c "$T/c1" jobs)" \
    bash -c "'$BIN' -c '$T/c1' jobs | grep '$K9' | grep -q 'killed .* sig9'"
check "jobs --branch filters" "" \
    test "$("$BIN" -c "$T/c1" jobs --json --branch dev | jq length)" = 0
check "bad usage exits 2" "" bash -c "'$BIN' -c '$T/c1' jobs --bogus 2>/dev/null; [ \$? = 2 ]"
check "--help" "" bash -c "'$BIN' --help | grep -q cancel"

# --- two GPUs, five jobs --------------------------------------------------------
R2=$T/runs2
mkdir -p "$R2"
SLOTS=2 writeconf "$T/c2" "$R2" "$WORK"
sed -i 's/^slots = 2$/gpus = 0 1/' "$T/c2"
deliver five "$T/c2" configs/s1.yaml configs/s2.yaml configs/s3.yaml configs/s4.yaml configs/s5.yaml
check "five jobs: two run, three queue" "$(body_of "$T/five.out")" \
    bash -c "body_of() { sed '1,/^\r*\$/d' \"\$1\"; }; body_of '$T/five.out' | jq -e '[.jobs[].state] == [\"running\",\"running\",\"queued\",\"queued\",\"queued\"]'"
Q=$(idof five 4)
check "a queued job has no pid file" "" test ! -e "$R2/$Q/pid"
max=0
for _ in $(seq 150); do
	n=$("$BIN" -c "$T/c2" jobs --json --state running | jq length)
	[ "$n" -gt "$max" ] && max=$n
	[ "$("$BIN" -c "$T/c2" jobs --json | jq '[.[] | select(.state == "succeeded")] | length')" = 5 ] && break
	sleep 0.1
done
check "never more than two running" "max $max" test "$max" -le 2
check "all five succeeded" "$("$BIN" -c "$T/c2" jobs)" \
    test "$("$BIN" -c "$T/c2" jobs --json | jq '[.[] | select(.state == "succeeded")] | length')" = 5
# FIFO: in id order, each trainer started no earlier than the one before.
check "first in, first out" "$(jq -r '.[] | "\(.id) \(.pid_start)"' <("$BIN" -c "$T/c2" jobs --json))" \
    bash -c "'$BIN' -c '$T/c2' jobs --json | jq -e '[.[].pid_start] as \$s | [range(1; \$s | length) | \$s[.] >= \$s[. - 1]] | all'"
check "CUDA_VISIBLE_DEVICES distinct side by side" "$(grep -h CUDA "$R2"/*/output/env)" \
    bash -c "a=\$(grep -h ^CUDA_VISIBLE_DEVICES= '$R2/$(idof five 0)/output/env' '$R2/$(idof five 1)/output/env' | sort -u | wc -l); [ \$a = 2 ]"
check "gpus and MASTER_PORT in job.json and env" "" \
    bash -c "jq -e '.gpus == \"0\" or .gpus == \"1\"' '$R2/$Q/job.json' && grep -q '^MASTER_PORT=2950[01]$' '$R2/$Q/output/env'"

# --- max_queued, and an unusable trainer refused before queuing ----------------
R3=$T/runs3
mkdir -p "$R3"
SLOTS=1 writeconf "$T/c3" "$R3" "$WORK" "max_queued = 1" "kill_grace = 1"
deliver q1 "$T/c3" configs/sleep.yaml
deliver q2 "$T/c3" configs/sleep.yaml
deliver q3 "$T/c3" configs/sleep.yaml
expect q1 202 '.jobs[0].state == "running"'
expect q2 202 '.jobs[0].state == "queued"'
expect q3 503 '.reason | test("queue full")'
COMMAND="/nonexistent/swift sft {config}" SLOTS=1 writeconf "$T/c3x" "$R3" "$WORK"
deliver q4 "$T/c3x" configs/ok.yaml
expect q4 500 '.reason | test("cannot execute trainer")'
check "503 and 500 queued nothing" "$(ls "$R3/.queue")" test "$(ls "$R3/.queue" | wc -l)" = 1
"$BIN" -c "$T/c3" cancel "$(idof q2)" > /dev/null
check "cancel a queued job" "" jq -e '.state == "cancelled" and .pid == null' "$R3/$(idof q2)/job.json"
# A queued job is a file in the queue, with no process of its own.
deliver q5 "$T/c3" configs/ok.yaml
expect q5 202 '.jobs[0].state == "queued"'
check "a queued job has no supervisor process" "$(cat "$R3/$(idof q5)/job.json")" \
    jq -e '.supervisor == null and .pid == null' "$R3/$(idof q5)/job.json"
check "a queued job shows as queued" "" test "$(state "$T/c3" "$(idof q5)")" = queued
# The running job's supervisor dies: the kernel drops its lock, but the
# slot stays taken while its trainer lives, and frees when that ends.
Q1PID=$(cat "$R3/$(idof q1)/pid")
kill -9 "$(field "$R3" "$(idof q1)" supervisor)"
sleep 1		# a while, for what must not happen
check "its slot is not given away while its trainer runs" "$("$BIN" -c "$T/c3" jobs)" \
    test "$(state "$T/c3" "$(idof q5)")" = queued
check "the running job is still running, under a new supervisor" "$(cat "$R3/$(idof q1)/job.json")" \
    test "$(state "$T/c3" "$(idof q1)")" = running
"$BIN" -c "$T/c3" cancel "$(idof q1)" > /dev/null
check "cancel of the taken-over job stops its trainer" "" group_gone "$Q1PID"
check "then the slot goes to the next job" "$("$BIN" -c "$T/c3" jobs)" \
    until_state "$T/c3" "$(idof q5)" succeeded 10

# A notify that hangs is killed after notify_timeout; the state stands.
printf '#!/bin/sh\nsleep 30\n' > "$T/hang.sh"
chmod 755 "$T/hang.sh"
writeconf "$T/c8" "$R3" "$WORK" "notify = $T/hang.sh" "notify_timeout = 1s"
deliver hang "$T/c8" configs/ok.yaml
check "a hanging notify is killed after notify_timeout" "$(cat "$R3/$(idof hang)/log")" \
    wait_for 10 grep -q 'notify: killed after 1s' "$R3/$(idof hang)/log"
check "its job stays succeeded" "" jq -e '.state == "succeeded"' "$R3/$(idof hang)/job.json"

# --- concurrency ---------------------------------------------------------------
R4=$T/runs4
mkdir -p "$R4"
SLOTS=1 writeconf "$T/c4" "$R4" "$WORK" "concurrency = supersede" "kill_grace = 1"
deliver x1 "$T/c4" configs/sleep.yaml
deliver x2 "$T/c4" configs/sleep.yaml
deliver x3 "$T/c4" configs/sleep.yaml
check "supersede: the older queued run" "$(cat "$R4/$(idof x2)/job.json")" until_state "$T/c4" "$(idof x2)" superseded 5
check "supersede: the running one goes on" "" test "$(state "$T/c4" "$(idof x1)")" = running
check "supersede: the newest waits" "" test "$(state "$T/c4" "$(idof x3)")" = queued
"$BIN" -c "$T/c4" cancel "$(idof x3)" > /dev/null
"$BIN" -c "$T/c4" cancel "$(idof x1)" > /dev/null

R5=$T/runs5
mkdir -p "$R5"
SLOTS=1 writeconf "$T/c5" "$R5" "$WORK" "concurrency = cancel-in-progress" "kill_grace = 1"
deliver y1 "$T/c5" configs/sleep.yaml
Y1PID=$(body_of "$T/y1.out" | jq -r '.jobs[0].pid')
deliver y2 "$T/c5" configs/ok.yaml
check "cancel-in-progress: the running one is cancelled" "" until_state "$T/c5" "$(idof y1)" cancelled 10
check "cancel-in-progress: its group is gone" "" group_gone "$Y1PID"
check "cancel-in-progress: the new one runs" "" until_state "$T/c5" "$(idof y2)" succeeded 10

# Two pushes to one branch at once, 15 times: each may supersede only jobs
# created before its own, so the newer one always waits, never both gone.
R9=$T/runs9
mkdir -p "$R9"
SLOTS=1 writeconf "$T/c9" "$R9" "$WORK" "concurrency = supersede" "kill_grace = 1"
deliver hold "$T/c9" configs/hold.yaml
bad=
for round in $(seq 15); do
	for x in a b; do
		n=$((9500 + 2 * round))
		[ $x = b ] && n=$((n + 1))
		push "$T/r$x$round.json" "$(sha $n)" refs/heads/main configs/ok.yaml
	done
	CGI_CONF=$T/c9 cgi "ra$round" POST application/json push "d-ra$round" "$(sign "$T/ra$round.json")" "$T/ra$round.json" &
	CGI_CONF=$T/c9 cgi "rb$round" POST application/json push "d-rb$round" "$(sign "$T/rb$round.json")" "$T/rb$round.json" &
	wait
	a=$(state "$T/c9" "$(idof "ra$round")") b=$(state "$T/c9" "$(idof "rb$round")")
	case "$a $b" in
	"queued superseded"|"superseded queued") ;;
	*) bad="$bad $round:$a/$b" ;;
	esac
	for id in $(idof "ra$round") $(idof "rb$round"); do
		[ "$(state "$T/c9" "$id")" = queued ] && "$BIN" -c "$T/c9" cancel "$id" > /dev/null
	done
done
check "concurrent pushes: the newer waits, the older is superseded, 15 times" "$bad" test -z "$bad"
"$BIN" -c "$T/c9" cancel "$(idof hold)" > /dev/null

# A job.json without a state: cancel says so, and does not crash.
X=$(idof hold)
jq 'del(.state)' "$R9/$X/job.json" > "$R9/$X/job.json.new" && mv "$R9/$X/job.json.new" "$R9/$X/job.json"
"$BIN" -c "$T/c9" cancel "$X" > "$T/nostate.txt" 2>&1
rc=$?
check "cancel of a job.json without state: refused, no crash" "rc=$rc $(cat "$T/nostate.txt")" \
    bash -c "[ $rc = 1 ] && grep -q 'no state recorded' '$T/nostate.txt'"

# A notify that cannot be executed is reported as such, not as exit 127.
writeconf "$T/c10" "$R9" "$WORK" "notify = /nonexistent/notify"
deliver badnotify "$T/c10" configs/ok.yaml
check "a notify exec failure is reported as one" "$(cat "$R9/$(idof badnotify)/log" 2>&1)" \
    wait_for 10 grep -q 'notify: cannot exec /nonexistent/notify: No such file' "$R9/$(idof badnotify)/log"

# --- contrib/notify-* against a local HTTP receiver ----------------------------
python3 "$TOP/tests/http-receiver" "$T/port" "$T/robot.log" &
RECV=$!
wait_for 5 test -s "$T/port"
PORT=$(cat "$T/port")
R6=$T/runs6
mkdir -p "$R6"
writeconf "$T/c6" "$R6" "$WORK" "notify = $TOP/contrib/notify-dingtalk" \
    "notify_env = DINGTALK_WEBHOOK=http://127.0.0.1:$PORT/robot/send?access_token=t0k DINGTALK_SECRET=SECx"
deliver ding "$T/c6" configs/exit3.yaml
writeconf "$T/c7" "$R6" "$WORK" "notify = $TOP/contrib/notify-wecom" \
    "notify_env = WECOM_WEBHOOK=http://127.0.0.1:$PORT/cgi-bin/webhook/send?key=k3y"
deliver wecom "$T/c7" configs/ok.yaml
wait_for 10 bash -c "[ \"\$(grep -c . '$T/robot.log' 2>/dev/null)\" = 2 ]"
check "notify-dingtalk posts a signed text message" "$(cat "$T/robot.log")" \
    jq -se --arg id "$(idof ding)" '.[] | select(.path | startswith("/robot/send?access_token=t0k&timestamp=")) | (.path | test("&sign=[A-Za-z0-9%]+$")) and (.body | fromjson | .msgtype == "text" and (.text.content | contains($id) and contains("failed") and contains("exit 3") and contains("acme/train branch main")))' "$T/robot.log"
check "notify-wecom posts a markdown message" "$(cat "$T/robot.log")" \
    jq -se --arg id "$(idof wecom)" '.[] | select(.path == "/cgi-bin/webhook/send?key=k3y") | .body | fromjson | .msgtype == "markdown" and (.markdown.content | contains($id) and contains("succeeded") and contains("repository: acme/train"))' "$T/robot.log"
kill "$RECV" 2>/dev/null
