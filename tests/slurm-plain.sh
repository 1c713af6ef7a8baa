#!/bin/bash
# tests/slurm-plain.sh: backend = slurm against a real Slurm set up as
# many small labs run it (tests/slurm-cluster.sh with SLURM_PLAIN=1): no
# accounting (sacct cannot answer: the end comes from the controller,
# scontrol) and no GPU gres (slurm_gpus = none).  check notes the missing
# accounting; slurm_gpus = gres is refused by this cluster's sbatch; a job
# succeeds, one fails with its exit code, one is cancelled, one passes
# its time limit; a job whose supervisor is killed while it runs ends
# right when the next look takes it over, with notify once; and the
# scenarios of tests/slurm-scenarios.sh, as slurm.sh runs them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slurm-cluster.sh"
. "$(dirname "$0")/slurm-scenarios.sh"
plan $((13 + $(slurm_scenarios_plan)))
mktestdir slurmplain
trap 'stop_supervisors; slurm_down; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT

if [ "$(id -u)" != 0 ]; then
	fail "slurm-plain: the test cluster" "needs root (munged, slurmctld and slurmd run as root)"
	exit 1
fi
export SLURM_PLAIN=1
if ! slurm_up; then
	fail "slurm-plain: the test cluster" "did not start: $(tail -n 3 "$S"/log/*.log 2>/dev/null | tr '\n' ' ')"
	exit 1
fi
echo "# a one-machine Slurm cluster without accounting or gres runs (slurmctld, 3 x slurmd)"
SLURMCONF=$SLURM_CONF
unset SLURM_CONF

WORK=$T/work
mkworkdir "$WORK" 1
printf 'model: m\nfake_exit: 3\n' > "$WORK/configs/fail.yaml"
printf 'model: m\nfake_sleep: 300\n' > "$WORK/configs/long.yaml"
printf 'model: m\nfake_sleep: 8\n' > "$WORK/configs/mid.yaml"
cat > "$T/notify.sh" <<EOF
#!/bin/sh
echo "\$JOB_ID \$JOB_STATE \$JOB_EXIT" >> $T/notified
EOF
chmod 755 "$T/notify.sh"

slurmconf() {
	local file=$1 run=$2
	shift 2
	mkdir -p "$run"
	writeconf "$file" "$run" "$WORK" "backend = slurm" \
	    "slurm_conf = $SLURMCONF" "slurm_poll = 2" "$@"
	sed -i '0,/^slots = /{/^slots = /d}' "$file"
}
R=$T/runs
slurmconf "$T/conf" "$R" "notify = $T/notify.sh" "slurm_gpus = none"
state() { "$BIN" -c "${2:-$T/conf}" show "$1" 2>/dev/null | jq -r .state; }
until_state() {
	wait_for "${3:-30}" bash -c "[ \"\$('$BIN' -c '${4:-$T/conf}' show '$1' 2>/dev/null | jq -r .state)\" = '$2' ]"
}
push_to() {
	deliver "$1" "$2" "$3"
	J=$(idof "$1")
	until_state "$J" "$4" "$5" "$2"
}

"$BIN" -c "$T/conf" check --user root > "$T/check.out" 2>&1
check "check: ok, and notes that there is no accounting" "$(cat "$T/check.out")" \
    bash -c "grep -q ': ok (as root)' '$T/check.out' && grep -q '^note: Slurm: no accounting to ask' '$T/check.out'"

# The time limit first, on its own node: it takes a minute.
slurmconf "$T/timeout.conf" "$T/runs-timeout" "max_runtime = 1m" \
    "slurm_args = --partition=slow" "slurm_gpus = none"
deliver tmo "$T/timeout.conf" configs/long.yaml
TMO=$(idof tmo)

# --- GPUs asked for as the cluster has them ---------------------------------------
slurmconf "$T/gres.conf" "$T/runs-gres"
push_to gres "$T/gres.conf" configs/sft.yaml failed 30
check "slurm_gpus = gres on a cluster without gres: sbatch refuses, said" \
    "$(cat "$T/runs-gres/$J/job.json")" \
    jq -e '.state == "failed" and (.error | test("^sbatch failed: .*gres"; "i"))' "$T/runs-gres/$J/job.json"
push_to ok "$T/conf" configs/sft.yaml succeeded 40
check "slurm_gpus = none: it runs and succeeds, its end from the controller" "$(cat "$R/$J/job.json")" \
    jq -e '.state == "succeeded" and .exit_code == 0 and .slurm_job_id > 0 and .duration != null' "$R/$J/job.json"
check "no --gres in its sbatch" "$(grep -h "sbatch" "$R/$J/log")" \
    bash -c "! grep -q -- '--gres' '$R/$J/log'"
check "sacct cannot answer here (a test of this test)" "" \
    bash -c "! SLURM_CONF=$SLURMCONF sacct -n -X > /dev/null 2>&1"

# --- failed, with its exit code ---------------------------------------------------
push_to bad "$T/conf" configs/fail.yaml failed 40
check "exit 3: failed with exit code 3, from the controller" "$(cat "$R/$J/job.json")" \
    jq -e '.state == "failed" and .exit_code == 3' "$R/$J/job.json"

# --- cancelled --------------------------------------------------------------------
push_to long "$T/conf" configs/long.yaml running 30
"$BIN" -c "$T/conf" cancel "$J" > "$T/cancel.out" 2>&1
check "cancel: ends cancelled" "$(cat "$T/cancel.out") $(state "$J")" test "$(state "$J")" = cancelled

# --- a supervisor killed while its job runs ---------------------------------------
push_to mid "$T/conf" configs/mid.yaml running 30
SUP=$(jq -r .supervisor "$R/$J/job.json")
SID=$(jq -r .slurm_job_id "$R/$J/job.json")
kill -9 "$SUP"
wait_for 5 bash -c "$(declare -f alive); ! alive $SUP"
check "the supervisor is gone, the Slurm job runs on" "$(ps -o pid,stat,args -p "$SUP"; SLURM_CONF=$SLURMCONF squeue -h -j "$SID" 2>&1)" \
    bash -c "$(declare -f alive); ! alive $SUP && SLURM_CONF=$SLURMCONF squeue -h -t running -j $SID | grep -q ."
sleep 12	# its job ends meanwhile, unwatched
check "the next look takes it over and records its end from the controller" "$(cat "$R/$J/job.json")" \
    wait_for 30 bash -c "'$BIN' -c '$T/conf' jobs > /dev/null 2>&1; jq -e '.state == \"succeeded\" and .exit_code == 0' '$R/$J/job.json' > /dev/null"
wait_for 10 grep -q "^$J " "$T/notified"
sleep 1
check "notify ran once for it" "$(cat "$T/notified")" test "$(grep -c "^$J succeeded 0$" "$T/notified")" = 1

slurm_scenarios "slurm_gpus = none"

# --- the time limit ----------------------------------------------------------------
check "max_runtime: ends timeout" "$(cat "$T/runs-timeout/$TMO/job.json" 2>&1)" \
    until_state "$TMO" timeout 120 "$T/timeout.conf"
check "its log says so" "$(tail -3 "$T/runs-timeout/$TMO/log")" \
    grep -q "TIMEOUT\|time limit\|timeout" "$T/runs-timeout/$TMO/log"
check "nothing of ours is left in Slurm" "$(SLURM_CONF=$SLURMCONF squeue -h 2>&1)" \
    wait_for 15 bash -c "[ -z \"\$(SLURM_CONF=$SLURMCONF squeue -h 2>/dev/null)\" ]"
