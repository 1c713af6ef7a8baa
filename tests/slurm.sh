#!/bin/bash
# tests/slurm.sh: backend = slurm against a real Slurm (tests/slurm-cluster.sh:
# munged, MariaDB + slurmdbd, slurmctld, three slurmd on this machine).
# A push submits a Slurm job that runs tests/fake-swift and ends succeeded;
# exit 3 ends failed with exit code 3; cancel ends cancelled and squeue no
# longer lists it; a job over its time limit ends timeout; five pushes on
# two node slots: Slurm queues three and jobs shows them queued; a killed
# supervisor loses nothing (the next jobs asks sacct); nodes = 2 starts one
# task per node with ms-swift's multi-node variables; supersede scancels a
# waiting job; check, the refused keys, notify and logs -f; and the
# scenarios of tests/slurm-scenarios.sh, which slurm-plain.sh runs too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slurm-cluster.sh"
. "$(dirname "$0")/slurm-scenarios.sh"
plan $((55 + $(slurm_scenarios_plan)))
mktestdir slurm
trap 'stop_supervisors; slurm_down; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT


if [ "$(id -u)" != 0 ]; then
	fail "slurm: the test cluster" "needs root (munged, slurmctld and slurmd run as root)"
	exit 1
fi
if ! slurm_up; then
	fail "slurm: the test cluster" "did not start: $(tail -n 3 "$S"/log/*.log 2>/dev/null | tr '\n' ' ')"
	exit 1
fi
echo "# a one-machine Slurm cluster runs (slurmctld, slurmdbd, 3 x slurmd)"
SLURMCONF=$SLURM_CONF
unset SLURM_CONF	# the webhook gets it from slurm_conf

WORK=$T/work
mkworkdir "$WORK" 1
printf 'model: m\nfake_exit: 3\n' > "$WORK/configs/fail.yaml"
printf 'model: m\nfake_sleep: 300\n' > "$WORK/configs/long.yaml"
printf 'model: m\nfake_sleep: 6\n' > "$WORK/configs/mid.yaml"
cat > "$T/notify.sh" <<EOF
#!/bin/sh
echo "\$JOB_ID \$JOB_STATE \$JOB_EXIT" >> $T/notified
EOF
chmod 755 "$T/notify.sh"

# slurmconf FILE RUN_DIR [lines]: a config for the Slurm backend.
slurmconf() {
	local file=$1 run=$2
	shift 2
	mkdir -p "$run"
	writeconf "$file" "$run" "$WORK" "backend = slurm" \
	    "slurm_conf = $SLURMCONF" "slurm_poll = 2" "$@"
	sed -i '0,/^slots = /{/^slots = /d}' "$file"	# writeconf's
}
R=$T/runs
slurmconf "$T/conf" "$R" "notify = $T/notify.sh"
sq() { SLURM_CONF=$SLURMCONF "$@"; }
show() { "$BIN" -c "${2:-$T/conf}" show "$1" 2>/dev/null; }
state() { show "$1" "${2:-}" | jq -r .state; }
until_state() {
	wait_for "${3:-30}" bash -c "[ \"\$('$BIN' -c '${4:-$T/conf}' show '$1' 2>/dev/null | jq -r .state)\" = '$2' ]"
}
slurm_id() { jq -r '.slurm_job_id // empty' "$1/$2/job.json"; }
# push_to NAME CONF CONFIG STATE SECS: a push of CONFIG, waited on until
# its job is STATE; sets J (the job) and ID (its Slurm job).
push_to() {
	deliver "$1" "$2" "$3"
	J=$(idof "$1")
	until_state "$J" "$4" "$5" "$2"
	ID=$(slurm_id "$(awk '$1 == "run_dir" {print $3}' "$2")" "$J")
}

# --- the keys ------------------------------------------------------------------
refused() {
	local name=$1 want=$2
	shift 2
	slurmconf "$T/bad.conf" "$T/runs-bad" "$@"
	"$BIN" -c "$T/bad.conf" jobs > "$T/bad.out" 2>&1
	check "refused: $name" "$(cat "$T/bad.out")" grep -q -- "$want" "$T/bad.out"
}
refused "gpus" "gpus: not with backend = slurm" "gpus = 0 1"
refused "slots" "slots: not with backend = slurm" "slots = 2"
refused "gpu_check" "gpu_check: not with backend = slurm" "gpu_check = yes"
refused "max_queued" "max_queued: not with backend = slurm" "max_queued = 3"
refused "run_window" "run_window: not with backend = slurm" "run_window = Mon-Fri 09:00-17:00"
refused "after_success" "after_success: not with backend = slurm" "after_success = /bin/true"
refused "slurm_args --output" "slurm_args: --output is set by swift-webhook" "slurm_args = --output=/tmp/x"
refused "slurm_args --time" "--time is set by swift-webhook from max_runtime" "slurm_args = --partition=debug --time=5"
refused "slurm_args --out (sbatch's prefix of --output)" "slurm_args: --output is set by swift-webhook" "slurm_args = --out=/tmp/x"
refused "slurm_args short form" 'slurm_args: "-p" is not one --option=value word' "slurm_args = -p debug"
writeconf "$T/local.conf" "$T/runs-bad" "$WORK" "nodes = 2"
"$BIN" -c "$T/local.conf" jobs > "$T/bad.out" 2>&1
check "refused: nodes without backend = slurm" "$(cat "$T/bad.out")" \
    grep -q "nodes is for backend = slurm" "$T/bad.out"
"$BIN" -c "$T/conf" check --user root > "$T/check.out" 2>&1
check "check: ok against the cluster (sbatch, squeue, sacct)" "$(cat "$T/check.out")" \
    grep -q ": ok (as root)" "$T/check.out"
# A cluster whose controller does not answer (port 9: discard, closed).
printf 'ClusterName=x\nSlurmctldHost=nohost(127.0.0.1)\nSlurmctldPort=9\nAuthType=auth/munge\nMessageTimeout=2\n' \
    > "$T/nowhere.conf"
writeconf "$T/nocluster.conf" "$T/runs-bad" "$WORK" "backend = slurm" \
    "slurm_conf = $T/nowhere.conf"
sed -i '/^slots = /d' "$T/nocluster.conf"
"$BIN" -c "$T/nocluster.conf" check --user root > "$T/check2.out" 2>&1
check "check: says when the controller cannot be reached" "$(cat "$T/check2.out")" \
    grep -q "problem: Slurm: squeue: .*Unable to contact slurm controller" "$T/check2.out"

# --- a job over its time limit (on its own node: it takes a minute) -------------
slurmconf "$T/timeout.conf" "$T/runs-timeout" "max_runtime = 1m" "slurm_args = --partition=slow"
deliver tmo "$T/timeout.conf" configs/long.yaml
TMO=$(idof tmo)

# --- succeeded -----------------------------------------------------------------
push_to ok "$T/conf" configs/sft.yaml succeeded 40
expect ok 202 '.status == "started" and .jobs[0].state == "queued"'
check "ok: succeeded, its Slurm job id in job.json" "$(cat "$R/$J/job.json")" \
    jq -e '.state == "succeeded" and .exit_code == 0 and .slurm_job_id > 0 and .slurm_nodes != null' "$R/$J/job.json"
check "ok: sacct has it COMPLETED" "$(sq sacct -X -n -P -j "$ID" -o State)" \
    test "$(sq sacct -X -n -P -j "$ID" -o State)" = "COMPLETED"
check "ok: the fake trainer ran on the cluster, output in the job's log" "$(cat "$R/$J/log")" \
    grep -q "fake-swift: done, exit 0" "$R/$J/log"
check "ok: the log says which Slurm job" "$(cat "$R/$J/log")" \
    grep -q "submitted as Slurm job $ID" "$R/$J/log"
check "ok: its results read from the shared run directory" "$(cat "$R/$J/job.json")" \
    jq -e '.loss > 0 and .global_step == 2' "$R/$J/job.json"
check "ok: the batch script quotes every word of the command" "$(cat "$R/$J/job.sbatch")" \
    grep -qF "exec '$FAKE' 'sft' 'configs/sft.yaml' '--output_dir'" "$R/$J/job.sbatch"
check "ok: it trained in workdir (--chdir)" "$(cat "$R/$J/output/info" 2>&1)" \
    grep -qx "cwd=$WORK" "$R/$J/output/info"
check "ok: the config it trained is kept in its folder (for compare), as it was submitted" "$(jq -c '{config_copy, config_copy_error}' "$R/$J/job.json")" \
    bash -c "jq -e '.config_copy == \"config.yaml\"' '$R/$J/job.json' > /dev/null && cmp -s '$R/$J/config.yaml' '$R/$J/output/config'"
check "ok: the trainer's environment is allow-listed: no secret, no CGI" "$(cat "$R/$J/output/env" 2>&1)" \
    bash -c "! grep -q -e GITHUB_WEBHOOK -e HTTP_X_HUB -e \"$SECRET\" -e SWIFT_WEBHOOK_CONFIG '$R/$J/output/env' && grep -q '^JOB_ID=$J$' '$R/$J/output/env' && grep -q '^SLURM_JOB_ID=$ID$' '$R/$J/output/env'"
check "ok: notify ran with its end" "$(cat "$T/notified" 2>&1)" grep -q "^$J succeeded 0$" "$T/notified"
"$BIN" -c "$T/conf" jobs > "$T/jobs.txt"
check "ok: jobs shows the Slurm job id" "$(cat "$T/jobs.txt")" grep -q "^$J  *succeeded  *s$ID " "$T/jobs.txt"

# --- exit 3 --------------------------------------------------------------------
push_to bad "$T/conf" configs/fail.yaml failed 40
check "exit 3: failed with exit code 3" "$(cat "$R/$J/job.json")" \
    jq -e '.state == "failed" and .exit_code == 3' "$R/$J/job.json"
check "exit 3: sacct says FAILED 3:0" "$(sq sacct -X -n -P -j "$ID" -o State,ExitCode)" \
    test "$(sq sacct -X -n -P -j "$ID" -o State,ExitCode)" = "FAILED|3:0"

# --- sbatch refuses the job: failed with its reason, the push may come again ---
slurmconf "$T/nopart.conf" "$T/runs-nopart" "slurm_args = --partition=nosuch"
push_to nopart "$T/nopart.conf" configs/sft.yaml failed 30
check "sbatch refused: the job ends failed, with sbatch's reason" \
    "$(cat "$T/runs-nopart/$J/job.json")" \
    jq -e '.state == "failed" and .slurm_job_id == null and (.error | test("^sbatch failed: .*[Ii]nvalid partition"))' \
    "$T/runs-nopart/$J/job.json"
CGI_CONF=$T/nopart.conf cgi nopart-again POST application/json push d-nopart-again \
    "$(sign "$T/nopart.json")" "$T/nopart.json"
expect nopart-again 202 '.status == "started"'

# --- commit statuses, as on one machine ----------------------------------------
API_LOG=$T/api.log
: > "$T/control"
tests/github-api "$T/port" "$API_LOG" "$T/control" &
API_PID=$!
trap 'kill $API_PID 2>/dev/null; stop_supervisors; slurm_down; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT
wait_for 10 test -s "$T/port"
printf 'ghp_0123456789abcdefTESTTOKENxyz\n' > "$T/token"
slurmconf "$T/cs.conf" "$T/runs-cs" "github_token_file = $T/token" \
    "api_url = http://127.0.0.1:$(cat "$T/port")/api/v3/" "github_timeout = 2"
push_to cs "$T/cs.conf" configs/mid.yaml succeeded 40
SHA=$(jq -r .sha "$T/runs-cs/$J/job.json")
posts() { jq -r --arg s "$SHA" 'select(.path | endswith("/statuses/" + $s)) | .body | fromjson | "\(.state): \(.description)"' "$API_LOG"; }
wait_for 10 bash -c "$(declare -f posts); SHA=$SHA API_LOG=$API_LOG; posts | grep -q '^success'"
check "commit status: pending (queued), running on its node, then success" "$(posts)" \
    bash -c "$(declare -f posts); SHA=$SHA API_LOG=$API_LOG; posts | head -1 | grep -q '^pending: queued' && posts | grep -q '^pending: running on n[12]$' && posts | tail -1 | grep -q '^success: succeeded in '"

# --- cancel, and logs -f while it runs -----------------------------------------
push_to long "$T/conf" configs/long.yaml running 30
check "running: Slurm's job name is swift-ID" "$(sq squeue -h -j "$ID" -o %j)" \
    test "$(sq squeue -h -j "$ID" -o %j)" = "swift-$J"
timeout 60 "$BIN" -c "$T/conf" logs "$J" -f > "$T/follow.txt" 2>&1 &
FOLLOW=$!
"$BIN" -c "$T/conf" cancel "$J" > "$T/cancel.out" 2>&1
check "cancel: ends cancelled" "$(cat "$T/cancel.out")" test "$(state "$J")" = cancelled
check "cancel: squeue no longer lists it" "$(sq squeue -h -j "$ID" 2>&1)" \
    wait_for 10 bash -c "[ -z \"\$(SLURM_CONF=$SLURMCONF squeue -h -j $ID 2>/dev/null)\" ]"
check "cancel: sacct says CANCELLED" "$(sq sacct -X -n -P -j "$ID" -o State)" \
    bash -c "SLURM_CONF=$SLURMCONF sacct -X -n -P -j $ID -o State | grep -q '^CANCELLED'"
check "cancel: the log says scancel" "$(cat "$R/$J/log")" grep -q "scancel $ID" "$R/$J/log"
wait "$FOLLOW"
check "logs -f: followed the Slurm output to the job's end" "$(cat "$T/follow.txt")" \
    grep -q "fake-swift: sft configs/long.yaml" "$T/follow.txt"

# --- five pushes, two node slots -------------------------------------------------
FIVE=
for i in 1 2 3 4 5; do
	deliver "five$i" "$T/conf" configs/mid.yaml
	FIVE="$FIVE $(idof "five$i")"
done
# counts_are "R Q": of the five, R run and Q wait queued in Slurm.
counts_are() {
	"$BIN" -c "$T/conf" jobs --json > "$T/five.json" 2>/dev/null
	[ "$(jq -r --arg ids "$FIVE" '[.[] | select(.id as $i | $ids |
	    split(" ") | index($i))] | "\([.[] | select(.state ==
	    "running")] | length) \([.[] | select(.state == "queued" and
	    ((.waiting // "") | startswith("slurm: ")))] | length)"' \
	    "$T/five.json")" = "$1" ]
}
check "five: two run, Slurm queues three, jobs shows them queued (waiting: slurm: ...)" \
    "$(cat "$T/five.json" 2>/dev/null)" wait_for 30 counts_are "2 3"
check "five: squeue has three pending" "$(sq squeue -h -t PD -o %j)" \
    test "$(sq squeue -h -t PD -o %j | grep -c '^swift-')" = 3
bad=
for J in $FIVE; do
	until_state "$J" succeeded 60 || bad="$bad $J:$(state "$J")"
done
check "five: all five end succeeded" "$bad" test -z "$bad"

# --- the supervisor killed: the next jobs asks sacct ------------------------------
push_to killed "$T/conf" configs/mid.yaml running 30
SUP=$(jq -r .supervisor "$R/$J/job.json")
kill -9 "$SUP"
wait_for 40 bash -c "[ -z \"\$(SLURM_CONF=$SLURMCONF squeue -h -t all -j $ID 2>/dev/null)\" ]"
check "killed: Slurm finished it and the controller forgot it" "$(sq squeue -h -t all -j "$ID" 2>&1)" \
    test -z "$(sq squeue -h -t all -j "$ID" 2>/dev/null)"
check "killed: the record still says running (no one told it)" "$(cat "$R/$J/job.json")" \
    jq -e '.state == "running"' "$R/$J/job.json"
"$BIN" -c "$T/conf" jobs > "$T/jobs2.txt" 2>&1
check "killed: the next jobs shows it succeeded, from sacct" "$(cat "$T/jobs2.txt")" \
    grep -q "^$J  *succeeded " "$T/jobs2.txt"
check "killed: and job.json has it, with exit code 0" "$(cat "$R/$J/job.json")" \
    jq -e ".state == \"succeeded\" and .exit_code == 0 and .supervisor != $SUP" "$R/$J/job.json"
check "killed: notify ran once, for its end" "$(cat "$T/notified")" \
    wait_for 10 test "$(grep -c "^$J succeeded" "$T/notified")" = 1
check "killed: never shown lost" "$(cat "$T/jobs2.txt")" bash -c "! grep -q lost '$T/jobs2.txt'"

# --- /metrics counts Slurm's ends as the local ones -------------------------------
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
    PATH_INFO=/metrics SWIFT_WEBHOOK_CONFIG="$T/conf" "$BIN" > "$T/m.raw"
body_of "$T/m.raw" > "$T/m.txt"
ends() { awk -v k="swift_webhook_jobs_finished_total{state=\"$1\"}" '$1 == k {print $2}' "$T/m.txt"; }
check "metrics: 7 succeeded, 1 failed, 1 cancelled (the killed supervisor's job once)" \
    "$(grep finished_total "$T/m.txt")" test "$(ends succeeded) $(ends failed) $(ends cancelled)" = "7 1 1"

# --- nodes = 2 ---------------------------------------------------------------------
slurmconf "$T/multi.conf" "$T/runs-multi" "nodes = 2" "gpus_per_job = 1"
push_to multi "$T/multi.conf" configs/sft.yaml succeeded 40
L=$T/runs-multi/$J/log
check "nodes = 2: succeeded on n[1-2]" "$(cat "$T/runs-multi/$J/job.json")" \
    jq -e '.state == "succeeded" and .slurm_nodes == "n[1-2]"' "$T/runs-multi/$J/job.json"
check "nodes = 2: node 0 of 2, master n1" "$(cat "$L")" \
    grep -q "fake-swift: node 0 of 2, master n1:[0-9]*, 1 process(es) per node" "$L"
check "nodes = 2: node 1 of 2, same master" "$(cat "$L")" \
    grep -q "fake-swift: node 1 of 2, master n1:[0-9]*, 1 process(es) per node" "$L"
check "nodes = 2: one srun task per node (sacct's step on both)" \
    "$(sq sacct -n -P -j "$ID" -o JobID,NodeList)" \
    bash -c "SLURM_CONF=$SLURMCONF sacct -n -P -j $ID -o JobID,NodeList | grep -q '\.0|n\[1-2\]$'"

# --- supersede: the newer push scancels a waiting one ------------------------------
slurmconf "$T/sup.conf" "$T/runs-sup" "concurrency = supersede"
# Each running before the next push: a push supersedes what waits.
for i in 1 2 3; do
	deliver "sup$i" "$T/sup.conf" configs/long.yaml
	[ $i = 3 ] || until_state "$(idof "sup$i")" running 30 "$T/sup.conf"
done
S3=$(idof sup3)
wait_for 20 bash -c "[ -n \"\$(jq -r '.slurm_job_id // empty' '$T/runs-sup/$S3/job.json')\" ]"
ID3=$(slurm_id "$T/runs-sup" "$S3")
deliver sup4 "$T/sup.conf" configs/long.yaml
until_state "$S3" superseded 30 "$T/sup.conf"
check "supersede: the waiting job ends superseded" "$(cat "$T/runs-sup/$S3/job.json")" \
    test "$(state "$S3" "$T/sup.conf")" = superseded
check "supersede: scancelled (squeue no longer lists it)" "$(sq squeue -h -j "$ID3" 2>&1)" \
    wait_for 10 bash -c "[ -z \"\$(SLURM_CONF=$SLURMCONF squeue -h -j $ID3 2>/dev/null)\" ]"
check "supersede: the running ones run on" "$(state "$(idof sup1)" "$T/sup.conf") $(state "$(idof sup2)" "$T/sup.conf")" \
    test "$(state "$(idof sup1)" "$T/sup.conf") $(state "$(idof sup2)" "$T/sup.conf")" = "running running"
for i in 1 2 4; do
	"$BIN" -c "$T/sup.conf" cancel "$(idof "sup$i")" > /dev/null 2>&1
done

slurm_scenarios

# --- the time limit ------------------------------------------------------------------
until_state "$TMO" timeout 150 "$T/timeout.conf"
check "max_runtime 1m: submitted with --time=1, ends timeout" "$(cat "$T/runs-timeout/$TMO/job.json")" \
    test "$(state "$TMO" "$T/timeout.conf")" = timeout
check "max_runtime: sacct says TIMEOUT" \
    "$(sq sacct -X -n -P -j "$(slurm_id "$T/runs-timeout" "$TMO")" -o State,TimelimitRaw)" \
    test "$(sq sacct -X -n -P -j "$(slurm_id "$T/runs-timeout" "$TMO")" -o State,TimelimitRaw)" = "TIMEOUT|1"
