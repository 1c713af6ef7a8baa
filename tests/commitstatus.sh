#!/bin/bash
# tests/commitstatus.sh: commit statuses posted to a stand-in of GitHub's
# statuses API (tests/github-api): the exact sequence per job (queued,
# running, the end), headers and bodies, retries on 5xx and on a hang, no
# retry on 4xx, the job's state untouched by a failing API, and the token
# nowhere but in the request.
. "$(dirname "$0")/lib.sh"
plan 47
mktestdir commitstatus

WORK=$T/work
mkworkdir "$WORK" 0
c() { printf 'model: Qwen/Qwen2.5-0.5B-Instruct\n%s\n' "$2" > "$WORK/configs/$1.yaml"; }
c hold 'fake_sleep: 3'
c ok 'fake_sleep: 1'	# long enough for "running" to be posted first
c exit3 'fake_sleep: 1
fake_exit: 3'
c long 'fake_sleep: 600'

API_LOG=$T/api.log CONTROL=$T/control
: > "$CONTROL"
tests/github-api "$T/port" "$API_LOG" "$CONTROL" &
API_PID=$!
trap 'kill $API_PID 2>/dev/null; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT
wait_for 10 test -s "$T/port" || fail "stand-in" "no port"
PORT=$(cat "$T/port")
TOKEN=ghp_0123456789abcdefTESTTOKENxyz
printf '%s\n' "$TOKEN" > "$T/token"
chmod 600 "$T/token"

R=$T/runs
mkdir -p "$R"
SLOTS=1 writeconf "$T/conf" "$R" "$WORK" "kill_grace = 1" \
    "github_token_file = $T/token" \
    "api_url = http://127.0.0.1:$PORT/api/v3/" \
    "public_url = https://ci.example.com/hooks/swift-webhook/" \
    "github_timeout = 2"

state() { "$BIN" -c "$T/conf" show "$1" 2>/dev/null | jq -r .state; }
until_state() { wait_for "${3:-20}" bash -c "[ \"\$('$BIN' -c '$T/conf' show '$1' 2>/dev/null | jq -r .state)\" = '$2' ]"; }
# posts SHA: "state: description" of each request for SHA, in order.
posts() { jq -r --arg s "$1" 'select(.path | endswith("/statuses/" + $s)) | .body | fromjson | "\(.state): \(.description)"' "$API_LOG"; }
# settled SHA N: N requests for SHA have been made (and nothing runs).
settled() { [ "$(posts "$1" | wc -l)" -ge "$2" ]; }
shaof() { jq -r .sha "$R/$1/job.json"; }

# --- queued, running, the end: one job waits behind another ------------------
deliver a "$T/conf" configs/hold.yaml
deliver b "$T/conf" configs/ok.yaml
deliver c "$T/conf" configs/exit3.yaml
A=$(idof a) B=$(idof b) C=$(idof c)
SA=$(shaof "$A") SB=$(shaof "$B") SC=$(shaof "$C")
check "the first runs, two wait" "$(state "$A") $(state "$B") $(state "$C")" \
    test "$(state "$B")/$(state "$C")" = queued/queued
until_state "$C" failed 30
wait_for 15 settled "$SC" 3
check "A: running, then success" "$(posts "$SA")" \
    test "$(posts "$SA" | cut -d: -f1 | tr '\n' ' ')" = 'pending success '
check "A: pending says running" "$(posts "$SA")" test "$(posts "$SA" | head -1)" = 'pending: running' 
check "A: success says the time and the loss" "$(posts "$SA")" \
    grep -Eq '^success: succeeded in [0-9]+m[0-9]+s, loss 1\.151$' <(posts "$SA")
check "B: queued, running, success" "$(posts "$SB")" \
    test "$(posts "$SB" | cut -d: -f1 | tr '\n' ' ')" = 'pending pending success '
check "B: queued with none ahead" "$(posts "$SB")" test "$(posts "$SB" | head -1)" = 'pending: queued'
check "C: queued behind one" "$(posts "$SC")" test "$(posts "$SC" | head -1)" = 'pending: queued behind 1'
check "C: running" "$(posts "$SC")" test "$(posts "$SC" | sed -n 2p)" = 'pending: running'
check "C: failure with its exit code" "$(posts "$SC")" \
    grep -Eq '^failure: failed \(exit 3\) in [0-9]+m[0-9]+s' <(posts "$SC" | tail -1)

# A second run of B's config: its loss against the one before (compare).
deliver b2 "$T/conf" configs/ok.yaml
B2=$(idof b2)
SB2=$(shaof "$B2")
until_state "$B2" succeeded 30
for _ in $(seq 150); do posts "$SB2" | grep -q '^success' && break; sleep 0.1; done
check "a second run of a config: its loss, and the previous run's" "$(posts "$SB2")" \
    grep -Eq '^success: succeeded in [0-9]+m[0-9]+s, loss 1\.151 \(was 1\.151\)$' <(posts "$SB2" | tail -1)

REQ=$(jq -c --arg s "$SB" 'select(.path | endswith($s))' "$API_LOG" | tail -1)
check "the path: api_url, repository, sha" "$REQ" \
    test "$(jq -r .path <<< "$REQ")" = "/api/v3/repos/acme/train/statuses/$SB"
check "POST" "$REQ" test "$(jq -r .method <<< "$REQ")" = POST
check "Authorization: Bearer and the token" "" \
    test "$(jq -r '.headers.Authorization' <<< "$REQ")" = "Bearer $TOKEN"
check "Accept: application/vnd.github+json" "$REQ" \
    test "$(jq -r '.headers.Accept' <<< "$REQ")" = application/vnd.github+json
check "X-GitHub-Api-Version: 2022-11-28" "$REQ" \
    test "$(jq -r '.headers["X-GitHub-Api-Version"]' <<< "$REQ")" = 2022-11-28
check "Content-Type and User-Agent" "$REQ" \
    jq -e '.headers["Content-Type"] == "application/json" and (.headers["User-Agent"] | startswith("swift-webhook/"))' <<< "$REQ"
check "context: swift-webhook/<config>" "$REQ" \
    jq -e '.body | fromjson | .context == "swift-webhook/configs/ok.yaml"' <<< "$REQ"
check "target_url: the job's page under public_url" "$REQ" \
    jq -e --arg u "https://ci.example.com/hooks/swift-webhook/jobs/$B" '.body | fromjson | .target_url == $u' <<< "$REQ"
check "the body has exactly state, target_url, description, context" "$REQ" \
    jq -e '.body | fromjson | keys == ["context","description","state","target_url"]' <<< "$REQ"
check "what was posted last is kept in the job's folder" "$(cat "$R/$B/status" 2>&1)" \
    grep -q '^success succeeded' "$R/$B/status"
check "each post is in the job's log" "$(cat "$R/$B/log")" \
    grep -q 'commit status success "succeeded in' "$R/$B/log"

# --- cancelled while queued: error ----------------------------------------
deliver d "$T/conf" configs/long.yaml
deliver e "$T/conf" configs/ok.yaml
JD=$(idof d) E=$(idof e) SE=$(shaof "$(idof e)")
until_state "$JD" running
wait_for 10 settled "$SE" 1
"$BIN" -c "$T/conf" cancel "$E" > /dev/null 2>&1
wait_for 15 settled "$SE" 2
check "a queued job cancelled: error, cancelled" "$(posts "$SE")" \
    test "$(posts "$SE" | tr '\n' '|')" = 'pending: queued|error: cancelled|'

# --- retries: 500 twice, then taken ------------------------------------------
SD=$(shaof "$JD")
wait_for 10 settled "$SD" 1
printf '500\n502\n' > "$CONTROL"
"$BIN" -c "$T/conf" cancel "$JD" > /dev/null 2>&1
wait_for 20 settled "$SD" 4
check "5xx: tried again until taken (3 requests)" "$(posts "$SD")" \
    test "$(posts "$SD" | tail -3 | cut -c1-16 | tr '\n' '|')" = 'error: cancelled|error: cancelled|error: cancelled|'
check "the answers were 500, 502, 201" "$(jq -r .answer "$API_LOG" | tail -3)" \
    test "$(jq -r .answer "$API_LOG" | tail -3 | tr '\n' ' ')" = '500 502 201 '
check "the attempts are 1 s, then 2 s apart" "$(jq -r .time "$API_LOG" | tail -3)" \
    python3 -c "import json,sys; t=[json.loads(l)['time'] for l in open('$API_LOG')][-3:]; sys.exit(not (0.9 < t[1]-t[0] < 3 and 1.9 < t[2]-t[1] < 4))"
check "the failed attempts are in the log" "$(grep 'commit status' "$R/$JD/log")" \
    grep -q 'HTTP 500: {"message": "stand-in says 500"} (attempt 1 of 3)' "$R/$JD/log"
check "the job stays cancelled" "$(state "$JD")" test "$(state "$JD")" = cancelled

# --- a hang: timed out after github_timeout, tried again -----------------------
printf 'hang\n' > "$CONTROL"
deliver f "$T/conf" configs/ok.yaml
F=$(idof f) SF=$(shaof "$(idof f)")
# While curl waits on the hang: the token is in no process's argv or environ.
wait_for 10 bash -c "jq -e 'select(.answer == \"hang\")' '$API_LOG' > /dev/null"
LEAK=$(grep -l -F -f "$T/token" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null)
check "the token is in no argv or environment during a post" "$LEAK" test -z "$LEAK"
until_state "$F" succeeded
wait_for 20 bash -c "grep -q 'commit status success' '$R/$F/log'"
check "a hang: timed out, then taken" "$(grep 'commit status' "$R/$F/log")" \
    grep -q 'timed out' "$R/$F/log"
check "a hang: success posted in the end" "$(posts "$SF")" test "$(posts "$SF" | tail -1 | cut -d: -f1)" = success

# --- 4xx: said once, not retried; the job is untouched --------------------------
printf '422\n422\n422\n422\n' > "$CONTROL"
deliver g "$T/conf" configs/ok.yaml
G=$(idof g) SG=$(shaof "$(idof g)")
until_state "$G" succeeded
wait_for 15 bash -c "grep -c 'HTTP 422' '$R/$G/log' | grep -q 2"
sleep 1
check "4xx: one request per state, no retry" "$(posts "$SG")" test "$(posts "$SG" | wc -l)" -eq 2
check "4xx: GitHub's words in the log" "$(cat "$R/$G/log")" grep -q 'HTTP 422: {"message": "stand-in says 422"} (attempt 1 of 3)' "$R/$G/log"
check "4xx: the job still succeeded" "$(state "$G")" test "$(state "$G")" = succeeded
check "4xx: nothing recorded as posted" "" test ! -e "$R/$G/status"
: > "$CONTROL"

# --- a rate limit: waited out for the time GitHub names, then posted ---------------
printf '429:2\n403rl:1\n' > "$CONTROL"
deliver rl "$T/conf" configs/ok.yaml
RL=$(idof rl) SRL=$(shaof "$(idof rl)")
until_state "$RL" succeeded
wait_for 20 bash -c "grep -q 'commit status success' '$R/$RL/log'"
check "rate limits (429 Retry-After, 403 with none left): retried after the time named, posted" \
    "$(jq -c --arg s "$SRL" 'select(.path | endswith($s)) | {answer, time}' "$API_LOG")" \
    bash -c "[ \"\$(jq -r --arg s '$SRL' 'select(.path | endswith(\$s)) | .answer' '$API_LOG' | head -3 | tr '\n' ' ')\" = '429:2 403rl:1 201 ' ]"
check "and the wait was GitHub's" "$(jq -r --arg s "$SRL" 'select(.path | endswith($s)) | .time' "$API_LOG" | head -2)" \
    python3 -c "import json,sys; t=[json.loads(l)['time'] for l in open('$API_LOG') if json.loads(l)['path'].endswith('$SRL')][:2]; sys.exit(not (1.9 < t[1]-t[0] < 4))"
check "the last status is success" "$(posts "$SRL")" test "$(posts "$SRL" | tail -1 | cut -d: -f1)" = success
: > "$CONTROL"

# --- a lost job cancelled, a trainer that cannot start: error ---------------------
deliver lost "$T/conf" configs/long.yaml
L=$(idof lost) SL=$(shaof "$(idof lost)")
until_state "$L" running
wait_for 10 settled "$SL" 1
kill -9 "$(jq -r .supervisor "$R/$L/job.json")"
"$BIN" -c "$T/conf" cancel "$L" > /dev/null 2>&1
wait_for 10 settled "$SL" 2
check "a lost job cancelled: error, cancelled" "$(posts "$SL")" \
    test "$(posts "$SL" | tail -1 | cut -c1-16)" = "error: cancelled"
COMMAND=/nonexistent/swift SLOTS=1 writeconf "$T/conf4" "$R" "$WORK" \
    "github_token_file = $T/token" "api_url = http://127.0.0.1:$PORT"
deliver notrainer "$T/conf4" configs/ok.yaml
expect notrainer 500 '.status == "error"'
SN=$(jq -r .after "$T/notrainer.json")
wait_for 10 settled "$SN" 1
LASTN=$(posts "$SN" | tail -1)
DESC=$(jq -r --arg s "$SN" 'select(.path | endswith($s)) | .body | fromjson | .description' "$API_LOG" | tail -1)
check "a trainer that cannot start: error, and why" "$LASTN" \
    grep -q '^error: failed: cannot execute trainer /nonexistent/swift: No such file or directory' <<< "$LASTN"
check "a long description is cut to 140 bytes" "$DESC" \
    test "$(printf '%s' "$DESC" | wc -c) ${DESC: -3}" = "140 ..."

# --- the token is nowhere else ---------------------------------------------------
check "the token is in no file of the run directory" "$(grep -rl -F -f "$T/token" "$R")" \
    test -z "$(grep -rl -F -f "$T/token" "$R")"
check "the trainer's environment has no token or its file" "$(cat "$R/$B/output/env")" \
    bash -c "! grep -q -F -e '$T/token' -f '$T/token' '$R/$B/output/env'"

# --- no curl, an unreadable token: said, job untouched ---------------------------
printf 'not a token\n' > "$T/badtoken"
SLOTS=1 writeconf "$T/conf2" "$R" "$WORK" "github_token_file = $T/badtoken" \
    "api_url = http://127.0.0.1:$PORT"
N0=$(wc -l < "$API_LOG")
deliver h "$T/conf2" configs/ok.yaml
H=$(idof h)
until_state "$H" succeeded
wait_for 5 grep -q 'github_token_file' "$R/$H/log"
check "a bad token file: said in the log, nothing posted" "$(cat "$R/$H/log")" \
    bash -c "grep -q 'not one line of letters' '$R/$H/log' && [ \$(wc -l < '$API_LOG') -eq $N0 ]"
"$BIN" -c "$T/conf2" check --user root > "$T/check.txt" 2>&1
check "check says the token file is bad" "$(cat "$T/check.txt")" grep -q 'commit statuses: github_token_file' "$T/check.txt"
"$BIN" -c "$T/conf" check --user root > "$T/check.txt" 2>&1
check "check passes with a good token and curl" "$(cat "$T/check.txt")" grep -q ': ok' "$T/check.txt"

# --- GitHub's own default: api.github.com -----------------------------------------
SLOTS=1 writeconf "$T/conf3" "$R" "$WORK" "github_token_file = $T/token"
check "api_url defaults to https://api.github.com" "" \
    bash -c "'$BIN' -c '$T/conf3' check --user root 2>&1 | grep -q ': ok'"
