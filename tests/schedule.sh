#!/bin/bash
# tests/schedule.sh: training windows (a job queued outside one waits,
# "waiting: window", and starts when it opens; skip; window_stop), time
# zones, and max_runs_per_day (ignored past it, retry bypasses it, runs of
# superseded jobs given back, a new day, parallel pushes).  The clock is
# set with tests/swift-webhook-clock, the same program with a clock the
# tests can move (SWIFT_WEBHOOK_TEST_CLOCK seconds ahead).
. "$(dirname "$0")/lib.sh"
plan 53
mktestdir schedule
BIN=$TOP/tests/swift-webhook-clock

WORK=$T/work
mkworkdir "$WORK" 0
c() { printf 'model: Qwen/Qwen2.5-0.5B-Instruct\n%s\n' "$2" > "$WORK/configs/$1.yaml"; }
c quick 'fake_sleep: 0'
c long 'fake_sleep: 60'

# at ZONE "DATE TIME": the clock offset that makes now that local time.
at() { echo $(( $(TZ=$1 date -d "$2" +%s) - $(date +%s) )); }
# holders FILE: how many processes have FILE open.
holders() {
	local p n=0
	for p in /proc/[0-9]*; do
		ls -l "$p/fd" 2>/dev/null | grep -qF -- "$1" && n=$((n + 1))
	done
	echo $n
}
state() { CLK=$2 bash -c "SWIFT_WEBHOOK_TEST_CLOCK=\$CLK '$BIN' -c '$1' show '$3' 2>/dev/null | jq -r .state"; }
until_state() { wait_for "${5:-15}" bash -c "[ \"\$(SWIFT_WEBHOOK_TEST_CLOCK='$2' '$BIN' -c '$1' show '$3' 2>/dev/null | jq -r .state)\" = '$4' ]"; }

# --- a push outside the window waits, and starts when the window opens ------
R=$T/runs1
mkdir -p "$R"
writeconf "$T/c1" "$R" "$WORK" "run_window = Mon-Fri 09:00-19:00" \
    "timezone = Asia/Shanghai"
export CGI_CLOCK
CGI_CLOCK=$(at Asia/Shanghai "2026-11-30 08:59:35")	# a Monday
OPENS=$(( $(TZ=Asia/Shanghai date -d "2026-11-30 09:00:00" +%s) - CGI_CLOCK ))
deliver early "$T/c1" configs/quick.yaml
expect early 202 '.status == "started" and .jobs[0].state == "queued"'
J=$(idof early)
SWIFT_WEBHOOK_TEST_CLOCK=$CGI_CLOCK "$BIN" -c "$T/c1" jobs > "$T/jobs.txt"
check "jobs says why it waits and until when" "$(cat "$T/jobs.txt")" \
    grep -q "waiting: window (opens Mon 2026-11-30 09:00)" "$T/jobs.txt"
SWIFT_WEBHOOK_TEST_CLOCK=$CGI_CLOCK "$BIN" -c "$T/c1" jobs --json > "$T/jobs.json"
check "jobs --json: waiting" "$(cat "$T/jobs.json")" \
    jq -e '.[0].waiting == "window (opens Mon 2026-11-30 09:00)"' "$T/jobs.json"
H=$(holders "$R/.window.lock")
check "one waiter holds the window lock" "$H" \
    bash -c "[ $H -eq 1 ] && ! flock -n '$R/.window.lock' true"
env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/ \
    SWIFT_WEBHOOK_TEST_CLOCK="$CGI_CLOCK" SWIFT_WEBHOOK_CONFIG="$T/c1" "$BIN" > "$T/page.html" 2>&1
check "the status page says the window is closed, and until when" "$(cat "$T/page.html")" \
    grep -q '<p id="window">Outside every training window (run_window): queued jobs start when the next opens, Mon 2026-11-30 09:00.</p>' "$T/page.html"
deliver early2 "$T/c1" configs/long.yaml
J2=$(idof early2)
H=$(holders "$R/.window.lock")
check "a second queued job: still one waiter" "$H" test "$H" -eq 1
sleep 2
check "before 09:00 it still waits" "$(state "$T/c1" "$CGI_CLOCK" "$J")" \
    test "$(state "$T/c1" "$CGI_CLOCK" "$J")" = queued
until_state "$T/c1" "$CGI_CLOCK" "$J" succeeded 40
check "after 09:00 it ran" "$(cat "$R/$J/job.json")" \
    test "$(date -d "$(jq -r .started "$R/$J/job.json")" +%s)" -ge "$OPENS"
until_state "$T/c1" "$CGI_CLOCK" "$J2" running 10
check "every waiting job started when the window opened" "$(state "$T/c1" "$CGI_CLOCK" "$J2")" \
    test "$(state "$T/c1" "$CGI_CLOCK" "$J2")" = running
wait_for 5 flock -n "$R/.window.lock" true
H=$(holders "$R/.window.lock")
check "the waiter is gone once it kicked" "$H" test "$H" -eq 0
SWIFT_WEBHOOK_TEST_CLOCK=$CGI_CLOCK "$BIN" -c "$T/c1" cancel "$J2" > /dev/null 2>&1

# Inside the window: at once, and the job is not stopped when it closes.
CGI_CLOCK=$(at Asia/Shanghai "2026-11-30 18:59:57")
deliver late "$T/c1" configs/long.yaml
expect late 202 '.jobs[0].state == "running"'
J=$(idof late)
sleep 5
check "past 19:00 without window_stop: still running" "$(state "$T/c1" "$CGI_CLOCK" "$J")" \
    test "$(state "$T/c1" "$CGI_CLOCK" "$J")" = running
SWIFT_WEBHOOK_TEST_CLOCK=$CGI_CLOCK "$BIN" -c "$T/c1" cancel "$J" > /dev/null 2>&1

# --- window_stop: a running job ends when its window closes ---------------------
R=$T/runs2
mkdir -p "$R"
writeconf "$T/c2" "$R" "$WORK" "run_window = Mon-Fri 09:00-19:00" \
    "timezone = Asia/Shanghai" "window_stop = yes" "kill_grace = 1"
CGI_CLOCK=$(at Asia/Shanghai "2026-11-30 18:59:57")
deliver stop "$T/c2" configs/long.yaml
expect stop 202 '.jobs[0].state == "running"'
J=$(idof stop)
until_state "$T/c2" "$CGI_CLOCK" "$J" timeout 15
check "window_stop: timeout, and why" "$(cat "$R/$J/job.json")" \
    jq -e '.state == "timeout" and (.error | test("run window closed"))' "$R/$J/job.json"
check "window_stop: its trainer is gone" "" bash -c "! kill -0 -- -$(jq -r .pid "$R/$J/job.json") 2>/dev/null"

# --- window_action = skip: ignored, with the reason ------------------------------
R=$T/runs3
mkdir -p "$R"
writeconf "$T/c3" "$R" "$WORK" "run_window = Mon-Fri 09:00-19:00" \
    "timezone = Asia/Shanghai" "window_action = skip"
CGI_CLOCK=$(at Asia/Shanghai "2026-12-05 12:00:00")	# a Saturday
deliver skip "$T/c3" configs/quick.yaml
expect skip 200 '.status == "ignored" and (.reason | test("outside run_window.*Mon 2026-12-07 09:00"))'
check "skip: no job made" "$(ls "$R")" test -z "$(ls "$R" | grep -v '^\.')"
CGI_CLOCK=$(at Asia/Shanghai "2026-12-07 09:00:01")
deliver skip2 "$T/c3" configs/quick.yaml
expect skip2 202 '.status == "started"'

# --- outside a window every job waits: max_queued counts them all --------------------
R=$T/runs3q
mkdir -p "$R"
writeconf "$T/c3q" "$R" "$WORK" "run_window = Mon-Fri 09:00-19:00" \
    "timezone = Asia/Shanghai" "max_queued = 1"
CGI_CLOCK=$(at Asia/Shanghai "2026-12-05 12:00:00")	# a Saturday
deliver q1 "$T/c3q" configs/quick.yaml
expect q1 202 '.jobs[0].state == "queued"'
deliver q2 "$T/c3q" configs/quick.yaml
expect q2 503 '.reason | test("queue full: 1 job\\(s\\) waiting, max_queued is 1")'

# --- another zone, a window over midnight ----------------------------------------
R=$T/runs4
mkdir -p "$R"
writeconf "$T/c4" "$R" "$WORK" "run_window = Fri-Sat 22:00-06:00" \
    "timezone = America/New_York" "window_action = skip"
CGI_CLOCK=$(at America/New_York "2026-12-05 05:59:30")	# Sat, from Fri 22:00
deliver night "$T/c4" configs/quick.yaml
expect night 202 '.status == "started"'
CGI_CLOCK=$(at America/New_York "2026-12-06 05:59:30")	# Sun, from Sat 22:00
deliver night2 "$T/c4" configs/quick.yaml
expect night2 202 '.status == "started"'
CGI_CLOCK=$(at America/New_York "2026-12-07 05:59:30")	# Mon: no window
deliver night3 "$T/c4" configs/quick.yaml
expect night3 200 '.status == "ignored" and (.reason | test("Fri 2026-12-11 22:00"))'

# --- max_runs_per_day ----------------------------------------------------------------
R=$T/runs5
mkdir -p "$R"
writeconf "$T/c5" "$R" "$WORK" "max_runs_per_day = 2" \
    "timezone = Asia/Shanghai" "run_window = 00:00-24:00"
sed -i 's/^slots = 8$/slots = 1/' "$T/c5"
CGI_CLOCK=$(at Asia/Shanghai "2026-11-30 12:00:00")
deliver b1 "$T/c5" configs/long.yaml
expect b1 202 '.jobs[0].state == "running"'
B1=$(idof b1)
deliver b2 "$T/c5" configs/quick.yaml
expect b2 202 '.jobs[0].state == "queued"'
B2=$(idof b2)
check "two runs taken today, each a file naming its job" "$(ls -l "$R/.runs/2026-11-30" 2>&1)" \
    bash -c "[ \$(ls '$R/.runs/2026-11-30' | wc -l) -eq 2 ] && grep -qx '$B1' '$R'/.runs/2026-11-30/*-1"
check "job.json names its run" "$(cat "$R/$B2/job.json")" \
    jq -e '.run_ticket | test("^2026-11-30/[0-9a-f]{12}-2$")' "$R/$B2/job.json"
deliver b3 "$T/c5" configs/quick.yaml
expect b3 200 '.status == "ignored" and .reason == "max_runs_per_day (2) reached on 2026-11-30"'
check "past the limit: no job made" "$(ls "$R")" test "$(ls "$R" | wc -l)" -eq 2
# A signed body that names another repository gets no budget of its own.
push "$T/b4.json" "$(sha 9900)" refs/heads/main configs/quick.yaml
jq -c '.repository.full_name = "mallory/fresh-budget"' "$T/b4.json" > "$T/b4b.json"
CGI_CONF=$T/c5 cgi b4 POST application/json push d-b4 "$(sign "$T/b4b.json")" "$T/b4b.json"
expect b4 200 '.status == "ignored" and (.reason | test("max_runs_per_day \\(2\\) reached"))'
D=d-b1 deliver b1again "$T/c5" configs/long.yaml
expect b1again 200 '.status == "duplicate"'
check "a redelivery takes no run" "$(ls "$R/.runs/2026-11-30")" \
    test "$(ls "$R/.runs/2026-11-30" | wc -l)" -eq 2
SWIFT_WEBHOOK_TEST_CLOCK=$CGI_CLOCK "$BIN" -c "$T/c5" retry "$B1" > "$T/retry.txt" 2>&1
check "a person's retry is not held to the limit" "$(cat "$T/retry.txt")" \
    grep -Eq " (queued|running)$" "$T/retry.txt"
RETRY=$(awk '{print $1}' "$T/retry.txt")
check "the retry took no run" "$(ls "$R/.runs/2026-11-30")" \
    test "$(ls "$R/.runs/2026-11-30" | wc -l)" -eq 2
SWIFT_WEBHOOK_TEST_CLOCK=$CGI_CLOCK "$BIN" -c "$T/c5" cancel "$B2" > /dev/null 2>&1
check "a job cancelled before it ran gives its run back" "$(ls "$R/.runs/2026-11-30")" \
    test "$(ls "$R/.runs/2026-11-30" | wc -l)" -eq 1
deliver b4 "$T/c5" configs/quick.yaml
expect b4 202 '.status == "started"'
B4=$(idof b4)
deliver b5 "$T/c5" configs/quick.yaml
expect b5 200 '.status == "ignored"'
for id in "$B1" "$RETRY" "$B4"; do
	SWIFT_WEBHOOK_TEST_CLOCK=$CGI_CLOCK "$BIN" -c "$T/c5" cancel "$id" > /dev/null 2>&1
done

# After midnight in Shanghai: a new day, a new budget.
R=$T/runs8
mkdir -p "$R"
writeconf "$T/c8" "$R" "$WORK" "max_runs_per_day = 1" "timezone = Asia/Shanghai"
CGI_CLOCK=$(at Asia/Shanghai "2026-11-30 23:59:56")
deliver r1 "$T/c8" configs/quick.yaml
expect r1 202 '.status == "started"'
deliver r2 "$T/c8" configs/quick.yaml
expect r2 200 '.status == "ignored" and (.reason | test("on 2026-11-30"))'
left=$(( $(TZ=Asia/Shanghai date -d "2026-12-01 00:00:01" +%s) - CGI_CLOCK - $(date +%s) ))
[ "$left" -gt 0 ] && sleep "$left"
# A push of two configs with one run left: one starts, the reason names
# the other.
deliver r3 "$T/c8" configs/a.yaml configs/b.yaml
expect r3 202 '(.jobs | length) == 1 and (.reason | test("max_runs_per_day \\(1\\) reached on 2026-12-01; not started: configs/b.yaml"))'
check "the new day's run is counted on its own" "$(ls -R "$R/.runs")" \
    test "$(ls "$R/.runs/2026-12-01" | wc -l)" -eq 1

# Ten parallel pushes with three runs a day: exactly three start.
R=$T/runs6
mkdir -p "$R"
writeconf "$T/c6" "$R" "$WORK" "max_runs_per_day = 3"
for i in $(seq 10); do
	SHA_BASE=$((20000 + i * 10)) deliver "p$i" "$T/c6" configs/quick.yaml &
done
wait
started=0 ignored=0
for i in $(seq 10); do
	case $(body_of "$T/p$i.out" | jq -r .status) in
	started) started=$((started + 1)) ;;
	ignored) ignored=$((ignored + 1)) ;;
	esac
done
check "10 parallel pushes, 3 a day: 3 started, 7 ignored" "$started $ignored" \
    test "$started $ignored" = "3 7"
check "3 runs recorded" "$(ls -R "$R/.runs")" test "$(ls "$R"/.runs/*/ | wc -l)" -eq 3

# --- the run directory is hostile: planted .runs ----------------------------------
R=$T/runs7
CGI_CLOCK=0
mkdir -p "$R/.runs"
writeconf "$T/c7" "$R" "$WORK" "max_runs_per_day = 1" "timezone = UTC" \
    "run_window = 00:00-24:00"
DAY=$(TZ=UTC date +%Y-%m-%d)
ln -s /etc "$R/.runs/$DAY"
deliver planted "$T/c7" configs/quick.yaml
expect planted 500 '.status == "error"'
check "a symlinked day folder is refused, nothing written through it" "$(cat "$T/planted.err")" \
    test -z "$(ls /etc | grep -E '^[0-9a-f]{12}-1$')"
rm "$R/.runs/$DAY"

# --- config errors -------------------------------------------------------------------
bad() {
	printf 'secret = x\nrun_dir = %s\n%s\n' "$T" "$2" > "$T/bad.conf"
	"$BIN" -c "$T/bad.conf" jobs > "$T/bad.txt" 2>&1
	check "config: $1" "$(cat "$T/bad.txt")" grep -q "$3" "$T/bad.txt"
}
bad "a window without a time" "run_window = Mon-Fri" "is not a window like"
bad "a day that is none" "run_window = Mox 09:00-10:00" "is not a window like"
bad "25:00" "run_window = 09:00-25:00" "is not a window like"
bad "an empty window" "run_window = 09:00-09:00" "is not a window like"
bad "an unknown zone" "$(printf 'run_window = 09:00-10:00\ntimezone = Mars/Olympus')" "not a zone in /usr/share/zoneinfo"
bad "a zone that climbs out" "$(printf 'run_window = 09:00-10:00\ntimezone = ../../etc/passwd')" "not a zone"
bad "window_stop without run_window" "window_stop = yes" "window_stop is for run_window"
bad "window_action neither" "$(printf 'run_window = 09:00-10:00\nwindow_action = later')" "is not queue or skip"
