#!/bin/bash
# tests/e2e.sh: the swift-webhook binary as a CGI program (environment and
# stdin, RFC 3875), over every status code it answers.
. "$(dirname "$0")/lib.sh"
plan 71
mktestdir e2e

RUNS=$T/runs
WORK=$T/work
CONF=$T/conf
mkdir -p "$RUNS"
mkworkdir "$WORK" 3
writeconf "$CONF" "$RUNS" "$WORK"

jobcount() { find "$RUNS" -mindepth 2 -maxdepth 2 -name job.json | wc -l; }

J=$T/push.json
push "$J" "$(sha 1)" refs/heads/main train.py
SIG=$(sign "$J")

# --- refusals before the body is read -------------------------------------
cgi get GET - push d-get - /dev/null 0
expect get 405 '.status == "error"'
check "405 has Allow: POST" "$(head -c 300 "$T/get.out")" grep -q '^Allow: POST' "$T/get.out"

cgi toolarge POST application/json push d-big "$SIG" "$J" 26214401
expect toolarge 413 '.reason | test("max_body")'

cgi badcl POST application/json push d-badcl "$SIG" "$J" 12x
expect badcl 400 '.reason | test("Content-Length")'

cgi texttype POST text/plain push d-type "$SIG" "$J"
expect texttype 415 '.reason | test("application/json")'

cgi notype POST - push d-notype "$SIG" "$J"
expect notype 415
check "a refused delivery ticks nothing (no run_dir/.tick)" "$(ls -a "$RUNS" | tr '\n' ' ')" \
    test ! -e "$RUNS/.tick"

cgi charset POST "application/json; charset=utf-8" ping d-charset "$(sign "$J")" "$J"
expect charset 200 '.status == "ok"'
check "a signed one ticks after its answer (run_dir/.tick stamped)" "$(ls -a "$RUNS" | tr '\n' ' ')" \
    test -s "$RUNS/.tick"

# --- the signature, before anything else of the body ------------------------
cgi nosig POST application/json push d-nosig - "$J"
expect nosig 401 '.reason | test("missing")'

cgi badsig POST application/json push d-badsig "sha256=$(printf '%064d' 0)" "$J"
expect badsig 401 '.reason | test("does not match")'
check "401 reveals no MAC" "the expected signature is in the answer" \
    bash -c "! grep -q '${SIG#sha256=}' '$T/badsig.out' '$T/badsig.err'"

cgi sha1sig POST application/json push d-sha1 "sha1=$(printf '%040d' 0)" "$J"
expect sha1sig 401 '.reason | test("malformed")'

cgi shortbody POST application/json push d-short "$SIG" "$J" 5000
expect shortbody 400 '.reason | test("whole body")'

# A bad signature on a body that is not even JSON: still 401, not 400.
printf 'not json' > "$T/junk"
cgi junk401 POST application/json push d-junk "$SIG" "$T/junk"
expect junk401 401

# --- headers and events -----------------------------------------------------
cgi noevent POST application/json - d-noevent "$SIG" "$J"
expect noevent 400 '.reason | test("X-GitHub-Event")'
cgi nodelivery POST application/json push - "$SIG" "$J"
expect nodelivery 400 '.reason | test("X-GitHub-Delivery")'
cgi baddelivery POST application/json push "../../etc" "$SIG" "$J"
expect baddelivery 400 '.reason | test("X-GitHub-Delivery")'

printf '{"zen":"Keep it logically awesome.","hook_id":1}' > "$T/ping.json"
cgi ping POST application/json ping d-ping "$(sign "$T/ping.json")" "$T/ping.json"
expect ping 200 '.status == "ok"'

cgi issues POST application/json issues d-issues "$(sign "$T/ping.json")" "$T/ping.json"
expect issues 200 '.status == "ignored" and (.reason | test("push"))'

# --- bad pushes -------------------------------------------------------------
cgi notjson POST application/json push d-notjson "$(sign "$T/junk")" "$T/junk"
expect notjson 400 '.reason | test("JSON")'
printf '{"after":"%s"}' "$(sha 9)" > "$T/noref.json"
cgi noref POST application/json push d-noref "$(sign "$T/noref.json")" "$T/noref.json"
expect noref 400 '.reason | test("ref")'
printf '{"ref":"refs/heads/main","after":"--output_dir=/etc"}' > "$T/badafter.json"
cgi badafter POST application/json push d-badafter "$(sign "$T/badafter.json")" "$T/badafter.json"
expect badafter 400 '.reason | test("commit id")'

# --- ignored pushes ---------------------------------------------------------
ignored() { # name ref file...
	local name=$1 ref=$2
	shift 2
	push "$T/$name.json" "$(sha 77)" "$ref" "$@"
	cgi "$name" POST application/json push "d-$name" "$(sign "$T/$name.json")" "$T/$name.json"
}
ignored tag refs/tags/v1.0 train.py
expect tag 200 '.status == "ignored" and (.reason | test("tag"))'
ignored otherbranch refs/heads/dev train.py
expect otherbranch 200 '.status == "ignored" and (.reason | test("not watched"))'
ignored readme refs/heads/main README.md docs/index.md
expect readme 200 '.status == "ignored" and (.reason | test("no changed file"))'
printf '{"ref":"refs/heads/main","before":"%s","after":"%s","deleted":true,"commits":[]}' \
    "$(sha 5)" "$(sha 0)" > "$T/delete.json"
cgi delete POST application/json push d-delete "$(sign "$T/delete.json")" "$T/delete.json"
expect delete 200 '.status == "ignored" and (.reason | test("deletes"))'
check "nothing started for refused or ignored deliveries" "$(jobcount) jobs" \
    test "$(jobcount)" = 0

# --- a push that trains -----------------------------------------------------
start=$(date +%s%N)
cgi good POST application/json push d-good "$SIG" "$J"
elapsed=$((($(date +%s%N) - start) / 1000000))
expect good 202 '.status == "started" and (.jobs | length == 1) and .jobs[0].config == "configs/sft.yaml" and (.jobs[0].pid > 0)'
ID=$(body_of "$T/good.out" | jq -r '.jobs[0].id')
PID=$(body_of "$T/good.out" | jq -r '.jobs[0].pid')
echo "# answered in ${elapsed} ms (not asserted), job $ID pid $PID"
check "answer came while the trainer runs" "pid $PID not alive" alive "$PID"
check "pid file matches the answer" "$(cat "$RUNS/$ID/pid" 2>&1)" \
    test "$(cat "$RUNS/$ID/pid" 2>/dev/null)" = "$PID"
check "job.json fields" "$(cat "$RUNS/$ID/job.json")" jq -e --arg id "$ID" \
    '.id == $id and .delivery == "d-good" and .event == "push" and .repository == "acme/train" and .ref == "refs/heads/main" and .sha == "'"$(sha 1)"'" and .config == "configs/sft.yaml" and (.argv | length == 7) and (.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and (.state == "running" or .state == "succeeded")' \
    "$RUNS/$ID/job.json"
wait_for 5 test -s "$RUNS/$ID/output/argv"
check "trainer argv is swift sft CONFIG --key value" "$(cat "$RUNS/$ID/output/argv" 2>&1)" \
    test "$(tr '\n' ' ' < "$RUNS/$ID/output/argv")" = "$FAKE sft configs/sft.yaml --output_dir $RUNS/$ID/output --add_version false "
check "trainer outside the responder's session" "$(cat "$RUNS/$ID/output/info")" \
    grep -q "^pgid=$PID$" "$RUNS/$ID/output/info"
if [ -z "$VG" ]; then
	check "trainer has only fds 0-2" "$(grep fds "$RUNS/$ID/output/info")" \
	    grep -qx 'fds=0 1 2 ' "$RUNS/$ID/output/info"
else
	skip "trainer has only fds 0-2" "valgrind's log file leaks into what its processes exec"
fi
check "trainer env: allow-list, no CGI variables" "$(cat "$RUNS/$ID/output/env")" \
    bash -c "grep -qx HF_HOME=/data/hf '$RUNS/$ID/output/env' && grep -qx 'JOB_ID=$ID' '$RUNS/$ID/output/env' && ! grep -Eq '^(HTTP_|GATEWAY_|REQUEST_|CONTENT_|SWIFT_WEBHOOK_CONFIG)' '$RUNS/$ID/output/env'"
check "one log line for the delivery" "$(cat "$T/good.err")" \
    grep -q "delivery=d-good event=push repo=acme/train ref=refs/heads/main sha=$(sha 1 | cut -c1-7) status=202 decision=started jobs=$ID" "$T/good.err"

check "the job's outcome is recorded" "$(cat "$RUNS/$ID/job.json")" \
    wait_for 10 jq -e '.state == "succeeded" and .exit_code == 0 and .finished != null' "$RUNS/$ID/job.json"

# Exactly once: redelivery, another delivery of the same commit.
cgi redeliver POST application/json push d-good "$SIG" "$J"
expect redeliver 200 ".status == \"duplicate\" and .jobs[0].id == \"$ID\""
cgi samesha POST application/json push d-other "$SIG" "$J"
expect samesha 200 ".status == \"duplicate\" and .jobs[0].id == \"$ID\""
check "duplicates started nothing" "$(jobcount) jobs" test "$(jobcount)" = 1

# GitHub's form encoding: the MAC covers the whole payload=... body.
push "$T/form.raw" "$(sha 2)" refs/heads/main model.py
printf 'payload=%s' "$(jq -sRr @uri < "$T/form.raw")" > "$T/form.body"
cgi form POST application/x-www-form-urlencoded push d-form "$(sign "$T/form.body")" "$T/form.body"
expect form 202 '.jobs | length == 1'
cgi formsig POST application/x-www-form-urlencoded push d-formsig "$(sign "$T/form.raw")" "$T/form.body"
expect formsig 401
printf 'x=1' > "$T/nopayload"
cgi nopayload POST application/x-www-form-urlencoded push d-nopayload "$(sign "$T/nopayload")" "$T/nopayload"
expect nopayload 400 '.reason | test("payload")'

# Each changed config gets its run.
push "$T/two.json" "$(sha 3)" refs/heads/main configs/a.yaml configs/b.yaml notes.txt
cgi two POST application/json push d-two "$(sign "$T/two.json")" "$T/two.json"
expect two 202 '[.jobs[].config] == ["configs/a.yaml","configs/b.yaml"] and (.jobs[0].id != .jobs[1].id)'

# A launcher prefix (systemd-run --scope ... in production) runs first.
cat > "$T/launch" <<'EOF2'
#!/bin/sh
# A stand-in launcher: marks the environment, then execs the trainer.
exec env LAUNCHED_BY=test-launcher "$@"
EOF2
chmod 755 "$T/launch"
writeconf "$T/conf-launch" "$RUNS" "$WORK" "launcher = $T/launch"
push "$T/launch.json" "$(sha 8)" refs/heads/main train.py
CGI_CONF=$T/conf-launch cgi launch POST application/json push d-launch "$(sign "$T/launch.json")" "$T/launch.json"
expect launch 202
LID=$(body_of "$T/launch.out" | jq -r '.jobs[0].id')
check "launcher prefixes the command" "$(jq -c .argv "$RUNS/$LID/job.json" 2>&1)" \
    jq -e --arg l "$T/launch" '.argv[0] == $l and .argv[1] == "'"$FAKE"'"' "$RUNS/$LID/job.json"
wait_for 5 test -s "$RUNS/$LID/output/env"
check "the trainer ran under the launcher" "$(cat "$RUNS/$LID/output/env" 2>&1)" \
    grep -qx LAUNCHED_BY=test-launcher "$RUNS/$LID/output/env"

# A 25 MB push (GitHub's cap) is read, verified and parsed.
bigpush "$T/big.json" "$(sha 4)" 26000000
cgi big POST application/json push d-big25 "$(sign "$T/big.json")" "$T/big.json"
expect big 202 '.jobs | length == 1'
# Without Content-Length the cap holds as the body is read.
bigpush "$T/over.json" "$(sha 5)" 26214500
cgi over POST application/json push d-over "$(sign "$T/over.json")" "$T/over.json" -
expect over 413

# --- failures that start nothing --------------------------------------------
COMMAND="/nonexistent/swift sft {config}" writeconf "$T/conf-noexec" "$RUNS" "$WORK"
push "$T/ne.json" "$(sha 6)" refs/heads/main train.py
CGI_CONF=$T/conf-noexec cgi noexec POST application/json push d-noexec "$(sign "$T/ne.json")" "$T/ne.json"
expect noexec 500 '.reason | test("cannot execute trainer /nonexistent/swift: No such file")'
NEID=$(ls "$RUNS" | grep "$(sha 6 | cut -c1-7)")
check "exec failure recorded as failed" "$(cat "$RUNS/$NEID/job.json" 2>&1)" \
    jq -e '.state == "failed" and .pid == null' "$RUNS/$NEID/job.json"
# Fixed config, redelivery: the failed run did not hold the commit.
cgi noexec-retry POST application/json push d-noexec "$(sign "$T/ne.json")" "$T/ne.json"
expect noexec-retry 202

writeconf "$T/conf-norun" "$T/missing" "$WORK"
push "$T/nr.json" "$(sha 7)" refs/heads/main train.py
CGI_CONF=$T/conf-norun cgi norundir POST application/json push d-norun "$(sign "$T/nr.json")" "$T/nr.json"
expect norundir 500 '.reason | test("run directory")'
check "missing run_dir is in the log" "$(cat "$T/norundir.err")" grep -q "$T/missing" "$T/norundir.err"

# A run directory the responder's user cannot write (root can write any).
mkdir -p "$T/rorun"
writeconf "$T/conf-ro" "$T/rorun" "$WORK"
chmod 644 "$T/conf-ro" "$T/conf-ro.secret"
chmod 755 "$T" "$WORK"
cp "$BIN" "$T/swift-webhook-copy"	# nobody may not reach the checkout
BIN=$T/swift-webhook-copy CGI_AS="setpriv --reuid=nobody --regid=nogroup --clear-groups" \
    CGI_CONF=$T/conf-ro cgi rorundir POST application/json push d-ro "$(sign "$T/nr.json")" "$T/nr.json"
expect rorundir 500
check "read-only run_dir started nothing" "$(ls -A "$T/rorun")" test -z "$(ls -A "$T/rorun")"

# No secret anywhere: everything is refused.
printf 'run_dir = %s\n' "$RUNS" > "$T/conf-nosecret"
CGI_CONF=$T/conf-nosecret cgi nosecret POST application/json push d-nosecret "$SIG" "$J"
expect nosecret 500 '.reason | test("secret")'
CGI_CONF=$T/conf-nosecret cgi nosecret-get GET - - - - /dev/null 0
expect nosecret-get 500

# A config that does not parse: 500 always, file and line in the log.
printf 'run_dir = %s\nsecret = x\nbranch = main\n' "$RUNS" > "$T/conf-bad"
CGI_CONF=$T/conf-bad cgi badconf POST application/json push d-badconf "$SIG" "$J"
expect badconf 500 '.reason | test("misconfigured")'
check "config error names file and line" "$(cat "$T/badconf.err")" \
    grep -qF "$T/conf-bad:3: unknown key \\\"branch\\\"\"" "$T/badconf.err"
CGI_CONF=$T/nonexistent cgi noconf POST application/json push d-noconf "$SIG" "$J"
expect noconf 500

# --- the log ----------------------------------------------------------------
n_err=$(ls "$T"/*.err | wc -l)
n_lines=$(cat "$T"/*.err | grep -c '^swift-webhook: delivery=')
check "one log line per delivery" "$n_lines lines for $n_err deliveries" test "$n_lines" = "$n_err"
check "the secret is never logged" "found in a log" bash -c "! grep -rqF \"$SECRET\" $T/*.err $RUNS"
check "signatures are never logged" "found in a log" bash -c "! grep -q '${SIG#sha256=}' $T/*.err"

# --- the commands for people ------------------------------------------------
"$BIN" -c "$CONF" jobs > "$T/jobs.txt" 2>&1
check "jobs lists every job" "$(cat "$T/jobs.txt")" \
    test "$(grep -c "$(sha 1 | cut -c1-7)\|$(sha 3 | cut -c1-7)" "$T/jobs.txt")" = 3
"$BIN" -c "$CONF" jobs --json > "$T/jobs.json"
check "jobs --json matches the run directory" "$(head -c 300 "$T/jobs.json")" \
    test "$(jq length "$T/jobs.json")" = "$(jobcount)"
check "show JOB" "" bash -c "'$BIN' -c '$CONF' show '$ID' | jq -e '.id == \"$ID\" and (.output_dir | endswith(\"/output\"))' >/dev/null"
check "show unknown job fails" "" bash -c "! '$BIN' -c '$CONF' show nope 2>/dev/null"
check "check validates the config" "$("$BIN" -c "$CONF" check --user root 2>&1)" "$BIN" -c "$CONF" check --user root
check "check reports a bad config" "" bash -c "! '$BIN' -c '$T/conf-bad' check 2>/dev/null"
