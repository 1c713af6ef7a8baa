#!/bin/bash
# tests/torchrun.sh: a job is its whole process tree.  Jobs in torchrun's
# shape (the swift wrapper, a launcher, a worker per GPU, each in a
# session of its own, each taking seconds to save after SIGTERM) are
# stopped by cancel, supersede, max_runtime and window_stop: every
# worker gets SIGTERM and its grace, the job's end is recorded and the
# next job starts only once the last of them is gone, and nothing of the
# job survives.  A trainer that exits leaving a process behind has it
# stopped, and says so.  First with the stand-in (tests/fake-swift), then
# all four stops again with Debian's real torchrun (python3-torch, CPU,
# gloo) running a tiny DDP loop (tests/swift-torchrun, tests/ddp-train.py),
# two configurations at once on ports of their own (master_port), and a
# loss diverging as ms-swift would write it: a bare Infinity or NaN.
. "$(dirname "$0")/lib.sh"
plan 54
mktestdir torchrun
CLOCK_BIN=$TOP/tests/swift-webhook-clock

WORK=$T/work
mkworkdir "$WORK" 0
c() { printf 'model: m\n%s\n' "$2" > "$WORK/configs/$1.yaml"; }
c long 'fake_sleep: 60
fake_steps: 60
fake_term_delay: 3'
c quick 'fake_sleep: 0'
c orphan 'fake_sleep: 0
fake_orphan: 30'
c ddp 'lr: 0.01
steps: 1000
step_sleep: 0.2
term_delay: 2'
c diverge 'lr: 1000
steps: 14
step_sleep: 0'

state() { "$BIN" -c "$1" show "$2" 2>/dev/null | jq -r .state; }
until_state() { wait_for "${4:-20}" bash -c "[ \"\$('$BIN' -c '$1' show '$2' 2>/dev/null | jq -r .state)\" = '$3' ]"; }
# conf NAME [lines]: two GPUs, one job of two at a time.
conf() {
	local name=$1
	shift
	mkdir -p "$T/runs-$name"
	writeconf "$T/$name" "$T/runs-$name" "$WORK" "gpus = 0 1" \
	    "gpus_per_job = 2" "kill_grace = 10" "$@"
	sed -i '/^slots = /d' "$T/$name"
}
out() { echo "$T/runs-$1/$2/output"; }
# workers NAME JOB: the pids of the job's workers (and orphans).
workers() { awk '{print $4}' "$(out "$1" "$2")/workers" 2>/dev/null; }
# gone NAME JOB: none of them is alive.
gone() {
	local p
	for p in $(workers "$1" "$2"); do
		alive "$p" && return 1
	done
	return 0
}
# two NAME JOB: both workers have started.
two() { [ "$(workers "$1" "$2" | wc -l)" = 2 ]; }
# ended_after NAME A B: A's last worker exited before B's trainer began.
ended_after() {
	local a b
	a=$(stat -c %.9Y "$(out "$1" "$2")/exits") || return 1
	b=$(stat -c %.9Y "$(out "$1" "$3")/info" 2> /dev/null ||
	    stat -c %.9Y "$(out "$1" "$3")/began") || return 1
	[ "$(wc -l < "$(out "$1" "$2")/exits")" = 2 ] && [ "$a" \< "$b" ]
}
# stopped_shape NAME JOB STATE WHAT: the checks every stop makes.
stopped_shape() {
	local n=$1 j=$2 want=$3 what=$4 log=$T/runs-$1/$2/log
	check "$what: recorded $want only once both workers had saved and exited" \
	    "$(cat "$(out "$n" "$j")/exits" 2>&1) $(state "$T/$n" "$j")" \
	    bash -c "[ \"\$('$BIN' -c '$T/$n' show '$j' | jq -r .state)\" = '$want' ] && [ \"\$(wc -l < '$(out "$n" "$j")/exits')\" = 2 ]"
	check "$what: each worker got SIGTERM and its grace" "$(cat "$log")" \
	    bash -c "grep -q 'rank 0 got SIGTERM, saving' '$log' && grep -q 'rank 1 got SIGTERM, saving' '$log'"
	check "$what: nothing of the job is left" "$(workers "$n" "$j" | tr '\n' ' ')" gone "$n" "$j"
}

# --- the stand-in in torchrun's shape: cancel ----------------------------------------
conf c1
deliver a "$T/c1" configs/long.yaml
A=$(idof a)
D=d-b deliver b "$T/c1" configs/quick.yaml
B=$(idof b)
wait_for 10 two c1 "$A"
check "gpus_per_job = 2: the trainer has NPROC_PER_NODE=2" "$(grep NPROC "$(out c1 "$A")/env")" \
    grep -qx 'NPROC_PER_NODE=2' "$(out c1 "$A")/env"
check "torchrun's shape: two workers, each in a session of its own" "$(cat "$(out c1 "$A")/workers")" \
    awk '$4 != $6 { exit 1 } END { exit NR != 2 }' "$(out c1 "$A")/workers"
check "the next job waits for the GPUs" "$(state "$T/c1" "$B")" test "$(state "$T/c1" "$B")" = queued
"$BIN" -c "$T/c1" cancel "$A" > "$T/cancel.txt" 2>&1
stopped_shape c1 "$A" cancelled cancel
until_state "$T/c1" "$B" succeeded
check "cancel: the next job's trainer began after the last worker had gone" \
    "$(stat -c '%.9Y %n' "$(out c1 "$A")/exits" "$(out c1 "$B")/info")" ended_after c1 "$A" "$B"

# --- supersede (cancel-in-progress) --------------------------------------------------
conf c2 "concurrency = cancel-in-progress"
deliver s1 "$T/c2" configs/long.yaml
S1=$(idof s1)
wait_for 10 two c2 "$S1"
deliver s2 "$T/c2" configs/quick.yaml
S2=$(idof s2)
until_state "$T/c2" "$S1" cancelled
stopped_shape c2 "$S1" cancelled supersede
until_state "$T/c2" "$S2" succeeded
check "supersede: the newer push's trainer began after the last worker had gone" \
    "$(stat -c '%.9Y %n' "$(out c2 "$S1")/exits" "$(out c2 "$S2")/info")" ended_after c2 "$S1" "$S2"

# --- max_runtime ---------------------------------------------------------------------
conf c3 "max_runtime = 2s"
deliver m "$T/c3" configs/long.yaml
M=$(idof m)
deliver m2 "$T/c3" configs/quick.yaml
M2=$(idof m2)
until_state "$T/c3" "$M" timeout 25
stopped_shape c3 "$M" timeout max_runtime
until_state "$T/c3" "$M2" succeeded
check "max_runtime: the next job's trainer began after the last worker had gone" \
    "$(stat -c '%.9Y %n' "$(out c3 "$M")/exits" "$(out c3 "$M2")/info")" ended_after c3 "$M" "$M2"
check "max_runtime: its duration counts the workers' grace" "$(jq .duration "$T/runs-c3/$M/job.json")" \
    jq -e '.duration >= 4' "$T/runs-c3/$M/job.json"

# --- window_stop -----------------------------------------------------------------------
conf c4 "run_window = Mon-Fri 09:00-19:00" "timezone = Asia/Shanghai" "window_stop = yes"
CLK=$(( $(TZ=Asia/Shanghai date -d "2026-11-30 18:59:57" +%s) - $(date +%s) ))
BIN=$CLOCK_BIN CGI_CLOCK=$CLK deliver w "$T/c4" configs/long.yaml
W=$(idof w)
until_state "$T/c4" "$W" timeout 25
stopped_shape c4 "$W" timeout window_stop
check "window_stop: why it ended" "$(jq .error "$T/runs-c4/$W/job.json")" \
    jq -e '.error | test("run window closed")' "$T/runs-c4/$W/job.json"

# --- a trainer that exits and leaves a process in another session ----------------
conf c5 "nproc_per_node = none"
deliver o "$T/c5" configs/orphan.yaml
O=$(idof o)
until_state "$T/c5" "$O" succeeded
check "nproc_per_node = none: no NPROC_PER_NODE, one process" "$(grep NPROC "$(out c5 "$O")/env")" \
    bash -c "! grep -q NPROC_PER_NODE '$(out c5 "$O")/env'"
check "what the trainer left behind is stopped before the job ends" "$(workers c5 "$O")" gone c5 "$O"
check "and the record says so" "$(jq .note "$T/runs-c5/$O/job.json")" \
    jq -e '.note == "the trainer left 1 process running; stopped"' "$T/runs-c5/$O/job.json"
check "the log too" "$(cat "$T/runs-c5/$O/log")" grep -q 'the trainer left 1 process(es) running: SIGTERM to each' "$T/runs-c5/$O/log"

# --- after_success that leaves a process in another session ------------------------
# (It waits a moment after starting it: setsid(1) run by a group leader
# forks and exits at once, and its child, killed with the group it has not
# left yet, would leave nothing behind to see.)
printf '#!/bin/sh\n/usr/bin/setsid /bin/sleep 31.5 &\nsleep 0.5\n' > "$T/leave.sh"
chmod 755 "$T/leave.sh"
conf c6 "nproc_per_node = none" "after_success = $T/leave.sh"
deliver x "$T/c6" configs/quick.yaml
X=$(idof x)
until_state "$T/c6" "$X" succeeded
wait_for 10 bash -c "jq -e '.after_success != null' '$T/runs-c6/$X/job.json' > /dev/null 2>&1"
check "after_success: what it left in another session is stopped, and said" "$(jq '{note, after_success}' "$T/runs-c6/$X/job.json")" \
    jq -e '.note == "after_success left 1 process running; stopped" and .after_success.state == "succeeded"' "$T/runs-c6/$X/job.json"
check "after_success: nothing of it is left" "$(pgrep -af '[s]leep 31.5' || true)" \
    bash -c "! pgrep -f '[s]leep 31.5' > /dev/null"

# --- Debian's torchrun: cancel --------------------------------------------------------
if ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
	fail "Debian's torchrun" "python3-torch is not installed (tests/deps.sh installs it)"
	exit 1
fi
COMMAND="$TOP/tests/swift-torchrun sft {config} --output_dir {output_dir}" conf t1
deliver t1 "$T/t1" configs/ddp.yaml
T1=$(idof t1)
check "torchrun: two DDP workers run" "$(cat "$(out t1 "$T1")/workers" "$T/runs-t1/$T1/log" 2>&1 | tail -5)" \
    wait_for 40 two t1 "$T1"
check "torchrun: swift's wrapper started it with --nproc_per_node 2" "$(head -3 "$T/runs-t1/$T1/log")" \
    grep -q 'torch.distributed.run --redirects 2 --tee 1 --nproc_per_node 2' "$T/runs-t1/$T1/log"
wait_for 20 test -s "$(out t1 "$T1")/logging.jsonl"
deliver t2 "$T/t1" configs/diverge.yaml
T2=$(idof t2)
"$BIN" -c "$T/t1" cancel "$T1" > "$T/cancel-t1.txt" 2>&1
check "torchrun: cancelled once both workers had saved and exited" \
    "$(cat "$T/cancel-t1.txt") $(cat "$(out t1 "$T1")/exits" 2>&1)" \
    bash -c "[ \"\$('$BIN' -c '$T/t1' show '$T1' | jq -r .state)\" = cancelled ] && [ \"\$(wc -l < '$(out t1 "$T1")/exits')\" = 2 ]"
check "torchrun: each worker got SIGTERM and its grace" "$(tail -20 "$T/runs-t1/$T1/log")" \
    bash -c "grep -q 'rank 0 got SIGTERM, saving for 2' '$T/runs-t1/$T1/log' && grep -q 'rank 1 got SIGTERM, saving for 2' '$T/runs-t1/$T1/log'"
check "torchrun: nothing of the job is left" "$(workers t1 "$T1" | tr '\n' ' ')" gone t1 "$T1"
check "torchrun: no python of it either" "$(pgrep -af "[d]dp-train.py.*$T1" || true)" \
    bash -c "! pgrep -f '[d]dp-train.py.*$T1' > /dev/null"

until_state "$T/t1" "$T2" succeeded 60
check "torchrun cancel: the next job's trainer began after the last worker had gone" \
    "$(stat -c '%.9Y %n' "$(out t1 "$T1")/exits" "$(out t1 "$T2")/began" 2>&1)" ended_after t1 "$T1" "$T2"

# --- Debian's torchrun: supersede, max_runtime and window_stop -------------------
# no_python JOB: no python process of the job is left.
no_python() { ! pgrep -f "[d]dp-train.py.*$1" > /dev/null; }
COMMAND="$TOP/tests/swift-torchrun sft {config} --output_dir {output_dir}" conf t2 "concurrency = cancel-in-progress"
deliver t2a "$T/t2" configs/ddp.yaml
T2A=$(idof t2a)
wait_for 40 two t2 "$T2A"
deliver t2b "$T/t2" configs/diverge.yaml
T2B=$(idof t2b)
until_state "$T/t2" "$T2A" cancelled 30
stopped_shape t2 "$T2A" cancelled "torchrun supersede"
until_state "$T/t2" "$T2B" succeeded 60
check "torchrun supersede: the newer push's trainer began after the last worker had gone" \
    "$(stat -c '%.9Y %n' "$(out t2 "$T2A")/exits" "$(out t2 "$T2B")/began" 2>&1)" ended_after t2 "$T2A" "$T2B"
check "torchrun supersede: no python of the old job is left" "$(pgrep -af "[d]dp-train.py.*$T2A" || true)" no_python "$T2A"

# max_runtime and window_stop at once (40 s in: importing torch under load
# and the sanitizers takes a worker long before its SIGTERM handler is in
# place): each ends its torchrun job by the
# clock.  Two configurations on one machine: master_port keeps their
# rendezvous ports apart.
COMMAND="$TOP/tests/swift-torchrun sft {config} --output_dir {output_dir}" conf t3 "max_runtime = 40s"
COMMAND="$TOP/tests/swift-torchrun sft {config} --output_dir {output_dir}" conf t4 \
    "run_window = Mon-Fri 09:00-19:00" "timezone = Asia/Shanghai" "window_stop = yes" \
    "master_port = 29600"
deliver t3 "$T/t3" configs/ddp.yaml
T3=$(idof t3)
deliver t3b "$T/t3" configs/diverge.yaml
T3B=$(idof t3b)
CLK=$(( $(TZ=Asia/Shanghai date -d "2026-11-30 18:59:20" +%s) - $(date +%s) ))
BIN=$CLOCK_BIN CGI_CLOCK=$CLK deliver t4 "$T/t4" configs/ddp.yaml
T4=$(idof t4)
check "torchrun max_runtime: both workers ran" "$(tail -5 "$T/runs-t3/$T3/log" 2>&1)" wait_for 40 two t3 "$T3"
check "torchrun window_stop: both workers ran" "$(tail -5 "$T/runs-t4/$T4/log" 2>&1)" wait_for 40 two t4 "$T4"
until_state "$T/t3" "$T3" timeout 90
until_state "$T/t4" "$T4" timeout 90
stopped_shape t3 "$T3" timeout "torchrun max_runtime"
stopped_shape t4 "$T4" timeout "torchrun window_stop"
until_state "$T/t3" "$T3B" succeeded 60
check "torchrun max_runtime: the next job's trainer began after the last worker had gone" \
    "$(stat -c '%.9Y %n' "$(out t3 "$T3")/exits" "$(out t3 "$T3B")/began" 2>&1)" ended_after t3 "$T3" "$T3B"
check "torchrun max_runtime: why it ended" "$(jq .error "$T/runs-t3/$T3/job.json")" \
    jq -e '.error == "stopped: max_runtime (40s) passed"' "$T/runs-t3/$T3/job.json"
check "master_port: each configuration's job had its own port" \
    "$(grep -h 'master_port' "$T/runs-t3/$T3/log" "$T/runs-t4/$T4/log" | head -2)" \
    bash -c "grep -q -- '--master_port 29500 ' '$T/runs-t3/$T3/log' && grep -q -- '--master_port 29600 ' '$T/runs-t4/$T4/log'"
check "torchrun window_stop: why it ended" "$(jq .error "$T/runs-t4/$T4/job.json")" \
    jq -e '.error | test("run window closed")' "$T/runs-t4/$T4/job.json"
check "torchrun max_runtime, window_stop: no python of either is left" \
    "$(pgrep -af "[d]dp-train.py" || true)" bash -c "! pgrep -f '[d]dp-train.py.*($T3|$T4)' > /dev/null"

# --- Debian's torchrun: a loss that diverges to a real Infinity, then NaN ------------
# (the job that waited for the cancelled one above)
L=$(out t1 "$T2")/logging.jsonl
check "torchrun: json.dumps wrote a bare Infinity or NaN" "$(tail -3 "$L")" grep -Eq '"loss": (Infinity|NaN)' "$L"
check "the results are read all the same: the step, the checkpoint, the loss as it was" \
    "$(jq '{global_step, checkpoint, loss}' "$T/runs-t1/$T2/job.json")" \
    jq -e '.global_step == 14 and (.checkpoint | endswith("checkpoint-14")) and (.loss == "Infinity" or .loss == "NaN")' "$T/runs-t1/$T2/job.json"
"$BIN" -c "$T/t1" jobs > "$T/jobs.txt"
check "jobs shows the loss as it was" "$(cat "$T/jobs.txt")" grep -Eq "^$T2 .*loss (Infinity|NaN)" "$T/jobs.txt"
