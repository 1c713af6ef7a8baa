#!/bin/bash
# tests/deploy.sh: serving the trained model (deploy), through a real
# lighttpd (the shipped FastCGI and serving snippets) and a real Apache
# (the shipped serving snippet, mod_proxy_balancer) at once.  Runs that
# succeed on main deploy one after the other: the second replaces the
# first while a client asks every 20 ms through each server, and neither
# sees an error.  A deployment that never becomes healthy fails and the
# one serving goes on; a crash of the live one is restarted; rollback
# serves the previous checkpoint; deploy_branches and deploy_if_better
# keep an off-branch and a worse run from going live; deployments
# outlive a restart of both servers and a killed supervisor; commit
# statuses, notify, /metrics (promtool) and the status page (Chromium)
# show each step; undeploy stops serving.  The server is tests/fake-swift
# deploy, which serves as ms-swift's `swift deploy` does.
. "$(dirname "$0")/lib.sh"
plan 44
. "$(dirname "$0")/servers.sh"
mktestdir deploy
setup_dirs
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
P3=$(free_port)
while [ "$P3" = "$P1" ] || [ "$P3" = "$P2" ]; do P3=$(free_port); done

# The stand-in of GitHub's statuses API, for the whole suite.
API_LOG=$T/api.log
: > "$T/control"
GITHUB_API_LIFETIME=900 tests/github-api "$T/api-port" "$API_LOG" "$T/control" &
API_PID=$!
wait_for 10 test -s "$T/api-port"
printf 'ghp_deploytesttoken0123456789\n' > "$T/token"
chown "$WWW" "$T/token"
chmod 600 "$T/token"

# notify: each event's DEPLOY_* (and the job's state) on a line.
cat > "$T/bin/notify" <<'EOF'
#!/bin/sh
echo "${DEPLOY_EVENT:-job} ${JOB_ID} ${DEPLOY_ID:-} ${DEPLOY_PORT:-} ${DEPLOY_RESTARTS:-}" >> "$1"
EOF
chmod 755 "$T/bin/notify"
: > "$T/notify.log"
chown "$WWW" "$T/notify.log"

# ifbetter WHAT: the config, deploy_if_better as WHAT.
mkconf() {
	writeconf "$CONF" "$RUNS" "$WORK" "branches = main dev" \
	    "deploy = $FAKE deploy --adapters {checkpoint} --port {port} --host 127.0.0.1 --served_model_name {model_name} --infer_backend vllm" \
	    "deploy_ports = $P1 $P2 $P3" "deploy_timeout = 5s" "kill_grace = 5" \
	    "deploy_if_better = eval_loss min" \
	    "notify = $T/bin/notify $T/notify.log" \
	    "github_token_file = $T/token" \
	    "api_url = http://127.0.0.1:$(cat "$T/api-port")/" \
	    "public_url = http://127.0.0.1/hooks/swift-webhook/" "$@"
	chgrp "$WWW" "$CONF.secret"
	chmod 644 "$CONF"
}
mkconf

# lighttpd: the webhook (FastCGI) and the model (mod_proxy).
. "$(dirname "$0")/lighttpd-server.sh"
A=$T/apache
APORT=$(free_port)
apache_stop() {
	local pid
	pid=$(cat "$A/run/apache2.pid" 2>/dev/null)
	[ -n "$pid" ] || return 0
	APACHE_CONFDIR=$A/etc APACHE_STARTED_BY_SYSTEMD=1 apache2ctl stop
	server_gone "$pid"
}
apache_start() {
	APACHE_CONFDIR=$A/etc APACHE_STARTED_BY_SYSTEMD=1 apache2ctl start &&
	    wait_for 10 test -s "$A/run/apache2.pid" &&
	    wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$APORT/"
}
trap 'stop_clients; "$BIN" -c "$CONF" undeploy > /dev/null 2>&1; apache_stop; server_stop; kill $API_PID 2>/dev/null; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT
serve 50-swift-webhook.conf
server_stop
sed -e "s/8001/$P1/; s/8002/$P2/; s/8003/$P3/" "$TOP/lighttpd/50-swift-webhook-serve.conf" > "$E/conf-available/50-swift-webhook-serve.conf"
ln -s ../conf-available/50-swift-webhook-serve.conf "$E/conf-enabled/"
if lighttpd -tt -f "$E/lighttpd.conf" > "$L/check2.out" 2>&1 && server_start; then
	pass "lighttpd serves the webhook and /v1/ (50-swift-webhook-serve.conf)"
else
	fail "lighttpd serves the webhook and /v1/ (50-swift-webhook-serve.conf)" "$(cat "$L/check2.out"; server_log)"
fi
LV1=http://127.0.0.1:$PORT/v1/chat/completions

# Apache: Debian's tree, the README's steps for the serving snippet.
apache_copy "$A" "$APORT"
sed -e "s/8001/$P1/; s/8002/$P2/; s/8003/$P3/" "$TOP/apache/swift-webhook-serve.conf" > "$A/etc/conf-available/swift-webhook-serve.conf"
APACHE_CONFDIR=$A/etc a2enmod -q proxy proxy_http proxy_balancer lbmethod_byrequests > /dev/null
APACHE_CONFDIR=$A/etc a2enconf -q swift-webhook-serve > /dev/null
if APACHE_CONFDIR=$A/etc apache2ctl configtest > "$A/check.out" 2>&1 && apache_start; then
	pass "apache serves /v1/ with swift-webhook-serve.conf"
else
	fail "apache serves /v1/ with swift-webhook-serve.conf" "$(cat "$A/check.out" "$A/log/error.log" 2>/dev/null | tail -20)"
fi
AV1=http://127.0.0.1:$APORT/v1/chat/completions

# cfg LR [LOAD]: configs/sft.yaml, a run whose eval_loss falls as LR
# grows, whose model loads in LOAD seconds (2) when deployed.
cfg() {
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nlearning_rate: %s\nfake_steps: 4\nfake_eval: 2\nfake_deploy_load: %s\n' "$1" "${2:-2}" > "$WORK/configs/sft.yaml"
}
# run NAME N REF: a push of commit N on REF changing configs/sft.yaml;
# waits for its job's end (and its supervisor's).  Its id in $JOB.
run() {
	jq -n --arg ref "$3" --arg sha "$(sha "$2")" '{ref: $ref, after: $sha,
	    repository: {full_name: "acme/train"}, head_commit: {id: $sha, message: "run"},
	    commits: [{id: $sha, added: [], removed: [], modified: ["configs/sft.yaml"]}]}' > "$T/$1.json"
	post "$1" push "d-$1" "$T/$1.json" > /dev/null
	JOB=$(job_of "$1")
	wait_for 60 jq -e '.finished != null and (.ending // false) == false' "$RUNS/$JOB/job.json" > /dev/null ||
	    echo "# $1: $(cat "$RUNS/$JOB/job.json" 2>/dev/null)"
}
dep() { jq -r ".$2 // empty" "$RUNS/.deployments/$1/deploy.json" 2>/dev/null; }
depof() { jq -r '.deployment // empty' "$RUNS/$1/job.json"; }
# until_dep ID STATE [SECONDS]
until_dep() { wait_for "${3:-40}" bash -c "[ \"\$(jq -r .state '$RUNS/.deployments/$1/deploy.json' 2>/dev/null)\" = '$2' ]"; }
ask() {
	curl -s --max-time 10 -d '{"model": "train", "messages": [{"role": "user", "content": "hi"}]}' \
	    -H 'Content-Type: application/json' "$1" | jq -r '.choices[0].message.content // .' 2>/dev/null
}
posts() { jq -r --arg s "$1" 'select(.path | endswith("/statuses/" + $s)) | .body | fromjson | select(.context == "swift-webhook/deploy") | "\(.state): \(.description)"' "$API_LOG"; }
export -f ask
CLIENTS=
start_clients() {
	rm -f "$T/stop-clients"
	python3 tests/deploy-client.py "$LV1" train "$T/$1-lighttpd.out" "$T/stop-clients" &
	CLIENTS="$!"
	python3 tests/deploy-client.py "$AV1" train "$T/$1-apache.out" "$T/stop-clients" &
	CLIENTS="$CLIENTS $!"
}
stop_clients() {
	[ -n "$CLIENTS" ] || return 0
	touch "$T/stop-clients"
	# shellcheck disable=SC2086
	wait $CLIENTS 2>/dev/null
	CLIENTS=
}

# --- a first run deploys ----------------------------------------------------
"$BIN" -c "$CONF" rollback > "$T/rollback0.out" 2>&1
RB0=$?
check "rollback with nothing served before: refused, saying why" "$RB0: $(cat "$T/rollback0.out")" \
    bash -c "[ $RB0 = 1 ] && grep -q 'rollback: no earlier deployment to roll back to' '$T/rollback0.out'"
cfg 1e-4
run a 1 refs/heads/main
JA=$JOB DA=$(depof "$JA")
CKA=$(jq -r .checkpoint "$RUNS/.deployments/$DA/deploy.json" 2>/dev/null)
until_dep "$DA" serving
check "a run on main that succeeded is deployed: serving on the first port" "$(cat "$RUNS/.deployments/$DA/deploy.json" 2>/dev/null; tail -5 "$RUNS/.deployments/$DA/log" 2>/dev/null)" \
    test "$(dep "$DA" state) $(dep "$DA" port) $(dep "$DA" job)" = "serving $P1 $JA"
check "the deploy command got the checkpoint, the port, the model's name, 127.0.0.1" "$(ps -o args= -p "$(dep "$DA" pid)")" \
    bash -c "ps -o args= -p '$(dep "$DA" pid)' | grep -qF -- '--adapters $CKA --port $P1 --host 127.0.0.1 --served_model_name train'"
check "through lighttpd and Apache, /v1/ answers from that checkpoint" "$(ask "$LV1") / $(ask "$AV1")" \
    bash -c "[ \"\$(ask '$LV1' | cut -d' ' -f3)\" = '$CKA' ] && [ \"\$(ask '$AV1' | cut -d' ' -f3)\" = '$CKA' ]"
check "/v1/models through lighttpd lists the model's name" "$(curl -s "http://127.0.0.1:$PORT/v1/models")" \
    bash -c "curl -s 'http://127.0.0.1:$PORT/v1/models' | jq -e '.data[0].id == \"train\"'"
check "deployments: current, the job, commit, port, pid" "$("$BIN" -c "$CONF" deployments)" \
    bash -c "'$BIN' -c '$CONF' deployments --json | jq -e --arg j '$JA' --argjson p $P1 '.deployments[0] | .role == \"current\" and .job == \$j and .port == \$p and .state == \"serving\" and (.pid > 0)'"

# --- the second replaces it: no request fails, the checkpoint changes ------
start_clients switch
sleep 1
cfg 2e-4
run b 2 refs/heads/main
JB=$JOB DB=$(depof "$JB")
CKB=$(dep "$DB" checkpoint)
until_dep "$DB" serving
until_dep "$DA" stopped 20
sleep 1
stop_clients
check "the second run's deployment serves on the other port; the first stopped" "$(cat "$RUNS/.deployments/$DB/deploy.json" "$RUNS/.deployments/$DA/deploy.json" 2>/dev/null)" \
    test "$(dep "$DB" state) $(dep "$DB" port) $(dep "$DA" state) $(dep "$DA" reason)" = "serving $P2 stopped replaced by $DB"
for s in lighttpd apache; do
	f=$T/switch-$s.out
	check "$s: a request every 20 ms through the switch, none failed ($(wc -l < "$f") requests)" "$(grep -v ' 200 ' "$f" | head -5)" \
	    bash -c "[ \$(wc -l < '$f') -gt 50 ] && ! grep -qv ' 200 ' '$f'"
	check "$s: the answers change from the first checkpoint to the second" "$(awk '{print $5}' "$f" | uniq -c)" \
	    bash -c "[ \"\$(head -1 '$f' | awk '{print \$5}')\" = '$CKA' ] && [ \"\$(tail -1 '$f' | awk '{print \$5}')\" = '$CKB' ]"
done
check "notify: serving for each, with its port" "$(cat "$T/notify.log")" \
    bash -c "grep -qx 'serving $JA $DA $P1 0' '$T/notify.log' && grep -qx 'serving $JB $DB $P2 0' '$T/notify.log'"
check "commit status swift-webhook/deploy: starting, then serving" "$(posts "$(sha 2)")" \
    test "$(posts "$(sha 2)" | tr '\n' '|')" = "pending: starting on :$P2|success: serving on :$P2|"

# --- one that never becomes healthy fails; the one serving goes on ----------
cfg 4e-4 never
run c 3 refs/heads/main
JC=$JOB DC=$(depof "$JC")
until_dep "$DC" failed 100
check "a deployment that never becomes healthy fails, saying why" "$(cat "$RUNS/.deployments/$DC/deploy.json" 2>/dev/null)" \
    test "$(dep "$DC" reason)" = "not healthy within 5s (nothing listened on :$(dep "$DC" port))"
check "nothing of it runs; the previous one still serves, and answers" "$(ps -o pid,args -u "$WWW" | grep "fake-swift deploy")" \
    bash -c "! pgrep -u '$WWW' -f 'adapters $(dep "$DC" checkpoint) ' > /dev/null && [ \"\$(jq -r .state '$RUNS/.deployments/$DB/deploy.json')\" = serving ] && ask '$LV1' | grep -qF '$CKB'"
check "its commit status says so" "$(posts "$(sha 3)")" \
    test "$(posts "$(sha 3)" | tail -1)" = "failure: failed on :$(dep "$DC" port): not healthy within 5s (nothing listened on :$(dep "$DC" port))"

# --- a crash of the live one is restarted -----------------------------------
# restarted DEPLOYMENT OLDPID: its server is another, serving, answering.
restarted() {
	wait_for 100 grep -q 'serving again on' "$RUNS/.deployments/$1/log" &&
	    [ "$(dep "$1" state)" = serving ] && [ "$(dep "$1" pid)" != "$2" ] &&
	    [ "$(dep "$1" pid)" != 0 ]
}
OLD=$(dep "$DB" pid)
kill -9 "$OLD"
restarted "$DB" "$OLD"
wait_for 20 bash -c "ask '$LV1' | grep -qF '$CKB'"
# Its port is in TIME_WAIT for a minute: it moves to the other if free.
check "a crash of the live deployment: started again, serving, answering" "$(cat "$RUNS/.deployments/$DB/deploy.json"; tail -5 "$RUNS/.deployments/$DB/log")" \
    bash -c "[[ \"\$(jq -r '[.state, .restarts, .port] | join(\" \")' '$RUNS/.deployments/$DB/deploy.json')\" == @(serving 1 $P1|serving 1 $P2|serving 1 $P3) ]] && ask '$LV1' | grep -qF '$CKB' && ask '$AV1' | grep -qF '$CKB'"
check "notify said it was restarted" "$(cat "$T/notify.log")" grep -qx "restarted $JB $DB $(dep "$DB" port) 1" "$T/notify.log"
curl -s "http://127.0.0.1:$PORT/hooks/swift-webhook/metrics" > "$T/m.txt"
check "/metrics: started 3, succeeded 2, failed 1, restarts 1, the live one" "$(grep -E 'deployment' "$T/m.txt")" \
    bash -c "grep -qx 'swift_webhook_deployments_started_total 3' '$T/m.txt' && grep -qx 'swift_webhook_deployments_succeeded_total 2' '$T/m.txt' && grep -qx 'swift_webhook_deployments_failed_total 1' '$T/m.txt' && grep -qx 'swift_webhook_deployments_restarts_total 1' '$T/m.txt' && grep -qx 'swift_webhook_deployment_info{job=\"$JB\",commit=\"$(sha 2)\",port=\"$(dep "$DB" port)\",state=\"serving\",repository=\"acme/train\"} 1' '$T/m.txt'"
check "promtool check metrics passes" "$(promtool check metrics < "$T/m.txt" 2>&1)" bash -c "promtool check metrics < '$T/m.txt'"

# --- a worse run and an off-branch run do not go live -----------------------
cfg 5e-5
run e 5 refs/heads/main
JE=$JOB
check "deploy_if_better: a run with a worse eval_loss is not deployed, and says why" "$(jq -c '{deployment, deploy_note}' "$RUNS/$JE/job.json")" \
    bash -c "[ -z \"\$(jq -r '.deployment // empty' '$RUNS/$JE/job.json')\" ] && jq -r .deploy_note '$RUNS/$JE/job.json' | grep -qE '^not deployed: eval_loss [0-9.]+ is not better than [0-9.]+ of the one serving \\(job $JB\\)\$'"
check "its commit status says so" "$(posts "$(sha 5)")" \
    test "$(posts "$(sha 5)" | cut -c1-32)" = "failure: not deployed: eval_loss"
cfg 8e-4
run f 6 refs/heads/dev
JF=$JOB
check "deploy_branches: a better run on dev succeeds and is not deployed" "$(jq -c '{state, deployment, deploy_note}' "$RUNS/$JF/job.json")" \
    test "$(jq -r '[.state, .deployment // "", .deploy_note // ""] | join("/")' "$RUNS/$JF/job.json")" = "succeeded//"
check "the one serving is still the second run's" "$(ask "$LV1")" bash -c "ask '$LV1' | grep -qF '$CKB'"

# --- rollback serves the previous checkpoint --------------------------------
start_clients rollback
"$BIN" -c "$CONF" rollback > "$T/rollback.out" 2>&1
RB=$?
DR=$(awk '/^deployment .*: serving/ {print $2; exit}' "$T/rollback.out" | tr -d :)
until_dep "$DB" stopped 20
sleep 1
stop_clients
check "rollback: a new deployment of the first run's checkpoint, health-gated" "$(cat "$T/rollback.out")" \
    bash -c "[ $RB = 0 ] && [ \"\$(jq -r '[.job, .rollback_of, .state] | join(\" \")' '$RUNS/.deployments/$DR/deploy.json')\" = '$JA $DA serving' ]"
check "it answers; the second run's stopped" "$(ask "$LV1"; dep "$DB" state)" \
    bash -c "ask '$LV1' | grep -qF '$CKA' && ask '$AV1' | grep -qF '$CKA' && [ \"\$(jq -r .state '$RUNS/.deployments/$DB/deploy.json')\" = stopped ]"
for s in lighttpd apache; do
	f=$T/rollback-$s.out
	check "$s: no request failed through the rollback ($(wc -l < "$f"))" "$(grep -v ' 200 ' "$f" | head -3)" \
	    bash -c "[ \$(wc -l < '$f') -gt 10 ] && ! grep -qv ' 200 ' '$f'"
done
check "deployments: the rolled-back one current, the second run's previous" "$("$BIN" -c "$CONF" deployments)" \
    bash -c "'$BIN' -c '$CONF' deployments --json | jq -e --arg c '$DR' --arg p '$DB' '[.deployments[] | select(.role == \"current\") | .id] == [\$c] and [.deployments[] | select(.role == \"previous\") | .id] == [\$p]'"

"$BIN" -c "$CONF" prune --older-than 0s --dry-run > "$T/prune.out" 2>&1
check "prune keeps the jobs whose model serves or would serve again" "$(cat "$T/prune.out")" \
    bash -c "grep -q '^kept $JA (succeeded)' '$T/prune.out' && grep -q '^kept $JB (succeeded)' '$T/prune.out' && grep -q '^would remove $JC ' '$T/prune.out'"

# --- deployments outlive the web servers and their own supervisor -----------
PID=$(dep "$DR" pid)
server_stop
apache_stop
server_start
apache_start
check "a restart of lighttpd and Apache: the same server serves, through both" "$(dep "$DR" pid) $(ask "$LV1") $(ask "$AV1")" \
    bash -c "[ '$(dep "$DR" pid)' = '$PID' ] && ask '$LV1' | grep -qF '$CKA' && ask '$AV1' | grep -qF '$CKA'"
kill -9 "$(dep "$DR" supervisor)"
sleep 0.5
"$BIN" -c "$CONF" tick
wait_for 10 bash -c "s=\$(jq -r .supervisor '$RUNS/.deployments/$DR/deploy.json'); [ \"\$s\" != '$(dep "$DR" supervisor)' ] && kill -0 \$s 2>/dev/null"
NEWSUP=$(dep "$DR" supervisor)
check "its supervisor killed: tick gives it a new one, the server untouched" "$(cat "$RUNS/.deployments/$DR/deploy.json")" \
    bash -c "kill -0 '$NEWSUP' && [ '$(dep "$DR" pid)' = '$PID' ] && kill -0 '$PID'"
kill -9 "$PID"
restarted "$DR" "$PID"
wait_for 20 bash -c "ask '$LV1' | grep -qF '$CKA'"
check "the new supervisor restarts the server when it dies" "$(cat "$RUNS/.deployments/$DR/deploy.json"; tail -4 "$RUNS/.deployments/$DR/log")" \
    bash -c "[ \"\$(jq -r .restarts '$RUNS/.deployments/$DR/deploy.json')\" = 1 ] && ask '$LV1' | grep -qF '$CKA'"

# Both gone at once, as after a reboot: the next tick starts it again.
PID=$(dep "$DR" pid)
kill -9 "$(dep "$DR" supervisor)" "$PID"
sleep 0.5
"$BIN" -c "$CONF" tick
wait_for 60 bash -c "[ \"\$(jq -r .restarts '$RUNS/.deployments/$DR/deploy.json')\" = 2 ] && [ \"\$(jq -r .state '$RUNS/.deployments/$DR/deploy.json')\" = serving ] && grep -q 'its server is gone' '$RUNS/.deployments/$DR/log' && [ \"\$(grep -c 'serving again' '$RUNS/.deployments/$DR/log')\" = 2 ]"
wait_for 20 bash -c "ask '$LV1' | grep -qF '$CKA'"
check "supervisor and server killed together: the next tick serves it again" "$(tail -5 "$RUNS/.deployments/$DR/log")" \
    bash -c "[ \"\$(jq -r .restarts '$RUNS/.deployments/$DR/deploy.json')\" = 2 ] && [ '$(dep "$DR" pid)' != '$PID' ] && ask '$LV1' | grep -qF '$CKA'"

# --- the status page --------------------------------------------------------
chrome "http://127.0.0.1:$PORT/hooks/swift-webhook/" "$T/page.html"
check "status page (Chromium): the Serving box names the model, its commit and port" "$(grep -A3 '<section id="serving">' "$T/page.html" | head -5)" \
    bash -c "grep -q '<b class=\"model\">train</b> of acme/train from <a class=\"commit\" href=\"jobs/$JA\">$(sha 1 | cut -c1-7)</a>' '$T/page.html' && grep -q 'on :$(dep "$DR" port), since' '$T/page.html'"
check "and a serving badge on its job" "$(grep -o "<tr class=\"job\">.\{0,300\}$JA" "$T/page.html" | head -2)" \
    bash -c "grep -o '<tr class=\"job\"><td><input type=\"checkbox\" name=\"jobs\" value=\"$JA\"[^<]*></td><td><span class=\"b succeeded\">succeeded</span> <span class=\"b serving\">serving</span>' '$T/page.html'"
chrome "http://127.0.0.1:$PORT/hooks/swift-webhook/jobs/$JC" "$T/jobc.html"
check "a job page says what became of its deployment" "$(grep -o '<p id="deployment">.*</p>' "$T/jobc.html")" \
    bash -c "grep -q '<p id=\"deployment\">Deployment $DC: <span class=\"b failed\">failed</span> on :$(dep "$DC" port) (not healthy within 5s' '$T/jobc.html'"

# --- undeploy ---------------------------------------------------------------
"$BIN" -c "$CONF" undeploy > "$T/undeploy.out" 2>&1
UD=$?
check "undeploy: stopped, nothing serves, /v1/ answers 503" "$(cat "$T/undeploy.out"; curl -s -o /dev/null -w '%{http_code}' "$LV1")" \
    bash -c "[ $UD = 0 ] && [ \"\$(jq -r .state '$RUNS/.deployments/$DR/deploy.json')\" = stopped ] && ! pgrep -u '$WWW' -f 'fake-swift deploy' > /dev/null && [ \"\$(curl -s -o /dev/null -w '%{http_code}' -d '{}' '$LV1')\" = 503 ]"
check "deployments: no current, the previous one listed for rollback" "$("$BIN" -c "$CONF" deployments)" \
    bash -c "'$BIN' -c '$CONF' deployments --json | jq -e '[.deployments[] | .role] == [\"previous\"]'"

# --- the configuration ------------------------------------------------------
badconf() {
	writeconf "$T/bad.conf" "$RUNS" "$WORK" "$@"
	sed -i '/^slots = /d' "$T/bad.conf"
	"$BIN" -c "$T/bad.conf" jobs 2>&1 > /dev/null
}
check "deploy without two ports is refused" "$(badconf "deploy = x {port}")" \
    bash -c "[[ \"$(badconf "deploy = x {port}")\" == *'deploy needs deploy_ports'* ]]"
check "a GPU both training and serving is refused" "$(badconf "deploy = x" "deploy_ports = 1 2" "gpus = 0 1" "deploy_gpus = 1")" \
    bash -c "[[ \"$(badconf "deploy = x" "deploy_ports = 1 2" "gpus = 0 1" "deploy_gpus = 1")\" == *'GPU 1 also trains'* ]]"
