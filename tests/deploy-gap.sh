#!/bin/bash
# tests/deploy-gap.sh: serving with room for one deployment (deploy_gpus
# one group): the one serving stops first, a gap said in the log, then
# the new one serves on those GPUs; a new one that never becomes healthy
# fails, and the checkpoint that served before it is served again.  No
# web server: what serves is asked on its port (tests/deploy.sh has the
# balancers and the blue/green switch).
. "$(dirname "$0")/lib.sh"
plan 7
mktestdir deploy-gap

WORK=$T/work
mkworkdir "$WORK" 0
RUNS=$T/runs
mkdir -p "$RUNS"
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
P3=$(free_port)
while [ "$P3" = "$P1" ] || [ "$P3" = "$P2" ]; do P3=$(free_port); done
CONF=$T/c
writeconf "$CONF" "$RUNS" "$WORK" \
    "deploy = $FAKE deploy --adapters {checkpoint} --port {port} --host 127.0.0.1 --served_model_name {model_name}" \
    "deploy_ports = $P1 $P2 $P3" "deploy_gpus = 7" "deploy_timeout = 4s" \
    "kill_grace = 2"
trap '"$BIN" -c "$CONF" undeploy > /dev/null 2>&1; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT

# run NAME LOAD: a push changing configs/sft.yaml, whose model loads in
# LOAD seconds (or never) when deployed; waits for its job's end and for
# its deployment to begin.  The job in $JOB, its deployment in $DEP.
run() {
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_steps: 4\nfake_eval: 2\nfake_deploy_load: %s\n' "$2" > "$WORK/configs/sft.yaml"
	deliver "$1" "$CONF" configs/sft.yaml
	JOB=$(idof "$1")
	wait_for 60 jq -e '.finished != null and (.ending // false) == false' "$RUNS/$JOB/job.json" > /dev/null ||
	    echo "# $1: $(cat "$T/$1.out" "$RUNS/$JOB/job.json" 2>/dev/null)"
	DEP=$(jq -r '.deployment // empty' "$RUNS/$JOB/job.json")
}
dep() { jq -r ".$2 // empty" "$RUNS/.deployments/$1/deploy.json" 2>/dev/null; }
until_dep() { wait_for "${3:-30}" bash -c "[ \"\$(jq -r .state '$RUNS/.deployments/$1/deploy.json' 2>/dev/null)\" = '$2' ]"; }
ask() {
	curl -s --max-time 10 -d '{"model": "train", "messages": [{"role": "user", "content": "hi"}]}' \
	    -H 'Content-Type: application/json' "http://127.0.0.1:$1/v1/chat/completions" |
	    jq -r '.choices[0].message.content // .' 2>/dev/null
}
export -f ask
# gpu7 ID: deployment ID's record and its server's environment say GPU 7.
gpu7() {
	[ "$(jq -r .gpus "$RUNS/.deployments/$1/deploy.json")" = 7 ] &&
	    tr '\0' '\n' < "/proc/$(dep "$1" pid)/environ" | grep -qx CUDA_VISIBLE_DEVICES=7
}
export -f gpu7 dep
export RUNS

run a 1
DA=$DEP
until_dep "$DA" serving
check "one deploy_gpus group: the first run serves on it" "$(cat "$RUNS/.deployments/$DA/deploy.json" 2>/dev/null; tail -5 "$RUNS/.deployments/$DA/log" 2>/dev/null)" \
    gpu7 "$DA"

run b 1
DB=$DEP
until_dep "$DB" serving
CKB=$(dep "$DB" checkpoint)
check "the next one: the one serving stopped first, a gap said in the log" "$(cat "$RUNS/.deployments/$DB/log" 2>/dev/null)" \
    bash -c "[ \"\$(jq -r .state '$RUNS/.deployments/$DA/deploy.json')\" = stopped ] && grep -q '$DA stops first (a gap in serving)' '$RUNS/.deployments/$DB/log'"
check "then it serves on the GPUs the old one left" "$(ask "$(dep "$DB" port)")" \
    bash -c "ask $(dep "$DB" port) | grep -qF '$CKB' && gpu7 '$DB'"

run c never
DC=$DEP
until_dep "$DC" failed
check "one that never becomes healthy fails, saying why" "$(cat "$RUNS/.deployments/$DC/deploy.json" 2>/dev/null)" \
    bash -c "[[ \"\$(jq -r .reason '$RUNS/.deployments/$DC/deploy.json')\" == 'not healthy within 4s'* ]]"
check "and the checkpoint served before it serves again" "$(tail -5 "$RUNS/.deployments/$DC/log" 2>/dev/null; "$BIN" -c "$CONF" deployments)" \
    wait_for 30 bash -c "'$BIN' -c '$CONF' deployments --json | jq -e --arg j '$(jq -r .job "$RUNS/.deployments/$DB/deploy.json")' --arg b '$DB' '.deployments[0] | .role == \"current\" and .job == \$j and .rollback_of == \$b'"
DB2=$("$BIN" -c "$CONF" deployments --json | jq -r '.deployments[0].id')
check "it answers with its checkpoint, on the one group" "$(ask "$(dep "$DB2" port)")" \
    bash -c "ask $(dep "$DB2" port) | grep -qF '$CKB' && gpu7 '$DB2'"
check "the failed one's log says so" "$(cat "$RUNS/.deployments/$DC/log" 2>/dev/null)" \
    grep -q "$DB serves again as $DB2" "$RUNS/.deployments/$DC/log"
