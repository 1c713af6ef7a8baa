#!/bin/bash
# tests/deploy-cases.sh: serving, the cases tests/deploy.sh (the
# balancers, the blue/green switch) leaves.  Room for one deployment
# (deploy_gpus one group): the one serving stops first, a gap said in the
# log, then the new one serves on those GPUs; a new one that never
# becomes healthy fails, and the checkpoint that served before it is
# served again.  A server that moved to the next port (ms-swift's
# find_free_port, when its own was taken after it was chosen) fails,
# saying where it listens.  A server whose engine keeps dying is
# restarted five times (1, 2, 4, 8, 16 s apart), then failed.  No web
# server: what serves is asked on its port.
. "$(dirname "$0")/lib.sh"
plan 11
mktestdir deploy-cases

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
SQUAT_PID=
trap '"$BIN" -c "$T/c" undeploy > /dev/null 2>&1; "$BIN" -c "$T/crash" undeploy > /dev/null 2>&1; kill $SQUAT_PID 2>/dev/null; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT

# run NAME LOAD [MORE]: a push changing configs/sft.yaml, whose model
# loads in LOAD seconds (or never) when deployed (MORE: more lines of
# it), through $CONF into $RUNS; waits for its job's end.  The job in
# $JOB, its deployment in $DEP.
run() {
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_steps: 4\nfake_eval: 2\nfake_deploy_load: %s\n%s' "$2" "${3:-}" > "$WORK/configs/sft.yaml"
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

# A port taken after it was chosen: the deploy command tells a squatter
# (not of the deployment's processes) the port it was given, which binds
# it on all addresses, not listening; swift deploy then takes the next.
MAIN_CONF=$CONF MAIN_RUNS=$RUNS
CONF=$T/moved RUNS=$T/runs-moved
mkdir -p "$RUNS"
mkfifo "$T/squat.fifo"
python3 -c '
import socket, sys
held = []
while True:
    with open(sys.argv[1]) as f:
        for line in f:
            s = socket.socket()
            s.bind(("", int(line)))
            held.append(s)
            with open(sys.argv[2], "a") as done:
                done.write(line)
' "$T/squat.fifo" "$T/squat.done" &
SQUAT_PID=$!
{
	echo '#!/bin/sh'
	echo '# squatted COMMAND...: the port after --port taken, then COMMAND.'
	echo 'p=$(echo "$@" | sed "s/.*--port \([0-9]*\).*/\1/")'
	echo "echo \"\$p\" > '$T/squat.fifo'"
	echo 'i=0'
	echo "until grep -qx \"\$p\" '$T/squat.done' 2>/dev/null || [ \$i -gt 50 ]; do sleep 0.1; i=\$((i + 1)); done"
	echo 'exec "$@"'
} > "$T/squatted"
chmod 755 "$T/squatted"
P4=$(free_port)
while [ "$P4" = "$P1" ] || [ "$P4" = "$P2" ] || [ "$P4" = "$P3" ]; do P4=$(free_port); done
writeconf "$CONF" "$RUNS" "$WORK" \
    "deploy = $T/squatted $FAKE deploy --adapters {checkpoint} --port {port} --host 127.0.0.1" \
    "deploy_ports = $P4 $P1" "deploy_timeout = 3s" "kill_grace = 2"
run m 0
DM=$DEP
until_dep "$DM" failed
check "a server that took the next port: failed, saying where it listens" "$(cat "$RUNS/.deployments/$DM/deploy.json" "$RUNS/.deployments/$DM/log" 2>/dev/null)" \
    bash -c "[[ \"\$(jq -r .reason '$RUNS/.deployments/$DM/deploy.json')\" == 'not healthy within 3s: it listens on :'[0-9]*', not :$P4 (swift deploy takes the next free port when its own is in use)' ]]"
# ([a]: not this check's own command line)
check "and nothing of it runs" "$(pgrep -af "[a]dapters $(dep "$DM" checkpoint) ")" \
    bash -c "! pgrep -f '[a]dapters $(dep "$DM" checkpoint) ' > /dev/null"
kill $SQUAT_PID 2>/dev/null

# An engine that keeps dying: restarted after 1, 2, 4, 8, 16 s, then
# failed.
CONF=$T/crash RUNS=$T/runs-crash
mkdir -p "$RUNS"
P5=$(free_port)
while [ "$P5" = "$P1" ] || [ "$P5" = "$P2" ] || [ "$P5" = "$P3" ] || [ "$P5" = "$P4" ]; do P5=$(free_port); done
P6=$(free_port)
while [ "$P6" = "$P1" ] || [ "$P6" = "$P2" ] || [ "$P6" = "$P3" ] || [ "$P6" = "$P4" ] || [ "$P6" = "$P5" ]; do P6=$(free_port); done
writeconf "$CONF" "$RUNS" "$WORK" \
    "deploy = $FAKE deploy --adapters {checkpoint} --port {port} --host 127.0.0.1" \
    "deploy_ports = $P5 $P6" "deploy_timeout = 5s" "kill_grace = 2"
run k 0 'fake_deploy_crash: 1
'
DK=$DEP
check "a server whose engine dies goes live first" "$(cat "$RUNS/.deployments/$DK/log" 2>/dev/null)" \
    wait_for 10 grep -q 'healthy: serving' "$RUNS/.deployments/$DK/log"
until_dep "$DK" failed 90
check "restarted five times, then failed, saying why" "$(cat "$RUNS/.deployments/$DK/deploy.json" "$RUNS/.deployments/$DK/log" 2>/dev/null)" \
    bash -c "[ \"\$(jq -r '[.restarts, .reason] | join(\" \")' '$RUNS/.deployments/$DK/deploy.json')\" = '5 died 6 times in a row (last: exit 1)' ] && [ \"\$(grep -c 'starting it again' '$RUNS/.deployments/$DK/log')\" = 5 ]"
CONF=$MAIN_CONF RUNS=$MAIN_RUNS

