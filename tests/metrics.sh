#!/bin/bash
# tests/metrics.sh: GET .../metrics as a CGI program: every job state at
# once (promtool checks the exposition), exact counters, the finished
# jobs' histogram, the running job's progress and loss, the last success
# per branch, label escaping, and the cost of a scrape over 10,000 jobs.
. "$(dirname "$0")/lib.sh"
plan 35
mktestdir metrics

WORK=$T/work
mkworkdir "$WORK" 0
c() { printf 'model: Qwen/Qwen2.5-0.5B-Instruct\n%b\n' "$2" > "$WORK/configs/$1.yaml"; }
c ok 'fake_sleep: 1'
c exit3 'fake_exit: 3'
c kill9 'fake_signal: 9'
c long 'fake_sleep: 120'
c slow 'fake_sleep: 120\nfake_steps: 120'

# scrape CONF: the exposition a CGI GET .../metrics gives, in $T/m.txt.
scrape() {
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
	    PATH_INFO=/metrics SWIFT_WEBHOOK_CONFIG="$1" "$BIN" > "$T/m.raw"
	body_of "$T/m.raw" > "$T/m.txt"
}
# value SERIES: its value in $T/m.txt (empty if absent).
value() { awk -v k="$1" '$1 == k {print $2}' "$T/m.txt"; }
state() { "$BIN" -c "$1" show "$2" 2>/dev/null | jq -r .state; }
until_state() { wait_for "${4:-20}" bash -c "[ \"\$('$BIN' -c '$1' show '$2' 2>/dev/null | jq -r .state)\" = '$3' ]"; }

R=$T/runs
mkdir -p "$R"
SLOTS=2 writeconf "$T/c" "$R" "$WORK" "kill_grace = 1" "concurrency = supersede"
SLOTS=2 writeconf "$T/ct" "$R" "$WORK" "kill_grace = 1" "max_runtime = 1s"

# Every final state once.
deliver ok "$T/c" configs/ok.yaml
deliver exit3 "$T/c" configs/exit3.yaml
until_state "$T/c" "$(idof ok)" succeeded
until_state "$T/c" "$(idof exit3)" failed
deliver kill9 "$T/c" configs/kill9.yaml
deliver cancel "$T/c" configs/long.yaml
until_state "$T/c" "$(idof kill9)" killed
"$BIN" -c "$T/c" cancel "$(idof cancel)" > /dev/null
deliver timeout "$T/ct" configs/long.yaml
until_state "$T/ct" "$(idof timeout)" timeout
# Superseded: two slots busy, two pushes wait, the newer one wins.
deliver hold1 "$T/c" configs/long.yaml
deliver hold2 "$T/c" configs/slow.yaml
deliver wait1 "$T/c" configs/a.yaml
deliver wait2 "$T/c" configs/b.yaml
until_state "$T/c" "$(idof wait1)" superseded
# The first holder's supervisor dies; its trainer keeps the slot, and the
# next look (show) gives it a new supervisor.
OLDSUP=$(jq -r .supervisor "$R/$(idof hold1)/job.json")
kill -9 "$OLDSUP"
wait_for 10 bash -c "'$BIN' -c '$T/c' show '$(idof hold1)' > /dev/null; s=\$(jq -r .supervisor '$R/$(idof hold1)/job.json'); [ \"\$s\" != '$OLDSUP' ] && kill -0 \$s"
# Preparing: a job with a repository waits for the mirror's lock, held
# here.  It has a run directory of its own; its scrape comes below.
RP=$T/runsp
mkdir -p "$RP/.mirrors"
chmod 750 "$RP/.mirrors"
git init -q --bare "$T/origin.git"
writeconf "$T/cp" "$RP" - "repository = $T/origin.git"
flock "$RP/.mirrors/$(basename "$T/origin.git" .git)-$(printf '%s' "$T/origin.git" | sha256sum | cut -c1-12).lock" sleep 30 &
LOCKER=$!
sleep 0.3
deliver prep "$T/cp" configs/ok.yaml
until_state "$T/cp" "$(idof prep)" preparing
wait_for 10 test -s "$R/$(idof hold2)/output/logging.jsonl"
scrape "$T/c"
check "GET .../metrics answers 200, Prometheus text 0.0.4" "$(head -3 "$T/m.raw")" \
    grep -q '^Content-Type: text/plain; version=0.0.4' "$T/m.raw"
check "promtool check metrics passes, every job state present" "$(promtool check metrics < "$T/m.txt" 2>&1)" \
    bash -c "promtool check metrics < '$T/m.txt'"
check "deliveries by status and decision: 9 started" "$(grep deliveries_total "$T/m.txt")" \
    test "$(value 'swift_webhook_deliveries_total{status="202",decision="started"}')" = 9
for s in succeeded failed killed cancelled superseded timeout; do
	check "jobs finished: one $s" "$(grep finished_total "$T/m.txt")" \
	    test "$(value "swift_webhook_jobs_finished_total{state=\"$s\"}")" = 1
done
scrape "$T/cp"
check "a preparing job shows in the jobs gauge" "$(grep '^swift_webhook_jobs{' "$T/m.txt")" \
    test "$(value 'swift_webhook_jobs{state="preparing"}')" = 1
check "promtool accepts that scrape too" "$(promtool check metrics < "$T/m.txt" 2>&1)" \
    bash -c "promtool check metrics < '$T/m.txt'"
"$BIN" -c "$T/cp" cancel "$(idof prep)" > /dev/null
kill "$LOCKER" 2>/dev/null
scrape "$T/c"
check "the jobs gauge: 1 queued, 2 running (one taken over), 0 lost" "$(grep '^swift_webhook_jobs{' "$T/m.txt")" \
    test "$(value 'swift_webhook_jobs{state="queued"}') $(value 'swift_webhook_jobs{state="running"}') $(value 'swift_webhook_jobs{state="lost"}')" = "1 2 0"
check "queue length 1, its age counted" "$(grep -E 'queue_length|oldest' "$T/m.txt")" \
    bash -c "[ '$(value swift_webhook_queue_length)' = 1 ] && [ '$(value swift_webhook_oldest_queued_age_seconds)' -ge 0 ]"
check "both slots in use (the taken-over job's trainer holds one)" "$(grep slots "$T/m.txt")" \
    test "$(value swift_webhook_slots_in_use) $(value swift_webhook_slots_configured)" = "2 2"
H2=$(idof hold2)
check "the running job's progress, labelled job, branch, config" "$(grep progress_ratio "$T/m.txt")" \
    grep -Eq "^swift_webhook_job_progress_ratio\{job_id=\"$H2\",branch=\"main\",config=\"configs/slow.yaml\"\} 0\.[0-9]+$" "$T/m.txt"
check "and its last loss" "$(grep job_loss "$T/m.txt")" \
    grep -Eq "^swift_webhook_job_loss\{job_id=\"$H2\",branch=\"main\",config=\"configs/slow.yaml\"\} [0-9.]+$" "$T/m.txt"
# The trainer rewrites its branch with bytes that are no UTF-8: the
# exposition stays valid (U+FFFD for them), every metric still there.
cp "$R/$H2/job.json" "$T/h2.json"
python3 -c "import re, sys; d=open(sys.argv[1],'rb').read(); d=re.sub(rb'\"branch\":\\s*\"main\"', b'\"branch\": \"ma\\xff\\xc3(in\"', d); open(sys.argv[2],'wb').write(d)" "$T/h2.json" "$R/$H2/job.json.new"
mv "$R/$H2/job.json.new" "$R/$H2/job.json"
scrape "$T/c"
check "a label of bytes that are no UTF-8: promtool still accepts the scrape" "$(grep -a "$H2" "$T/m.txt" | cat -v; promtool check metrics < "$T/m.txt" 2>&1 | head -3)" \
    bash -c "grep -qaF \"branch=\\\"ma\$(printf '\\357\\277\\275\\357\\277\\275')(in\\\"\" '$T/m.txt' && promtool check metrics < '$T/m.txt'"
cp "$T/h2.json" "$R/$H2/job.json"
scrape "$T/c"
check "the run-duration histogram: four ran, counted" "$(grep duration "$T/m.txt")" \
    bash -c "[ '$(value swift_webhook_job_duration_seconds_count)' -ge 4 ] && [ '$(value 'swift_webhook_job_duration_seconds_bucket{le="+Inf"}')' = '$(value swift_webhook_job_duration_seconds_count)' ]"
OKEND=$(jq -r .finished "$R/$(idof ok)/job.json")
check "the last success per branch, when it ended" "$(grep last_success "$T/m.txt")" \
    test "$(value 'swift_webhook_last_success_timestamp_seconds{branch="main"}')" = "$(date -d "$OKEND" +%s)"
check "build_info names the version and libraries" "$(grep build_info "$T/m.txt")" \
    grep -Eq '^swift_webhook_build_info\{version="[^"]+",openssl="OpenSSL [^"]+",cjson="[0-9.]+"\} 1$' "$T/m.txt"
cp "$T/m.txt" "$T/full.txt"

# The Grafana dashboard users copy: valid JSON, queries PromQL accepts,
# and only metrics that /metrics exposes (here, with every state present).
DASH=$TOP/contrib/grafana-dashboard.json
check "contrib/grafana-dashboard.json is JSON with panels" "$(jq . "$DASH" 2>&1 | head -3)" \
    jq -e '(.panels | length) >= 8 and all(.panels[].targets[]; .expr | test("swift_webhook_"))' "$DASH"
jq -r '"groups:\n- name: dashboard\n  rules:", (.panels[].targets[] | "  - record: dashboard:query\n    expr: " + (.expr | @json))' \
    "$DASH" > "$T/dash-rules.yml"
check "its queries are PromQL (promtool check rules)" "$(promtool check rules "$T/dash-rules.yml" 2>&1 | tail -5)" \
    promtool check rules "$T/dash-rules.yml"
missing=
for n in $(jq -r '.panels[].targets[].expr' "$DASH" | grep -o 'swift_webhook_[a-z_]*' | sort -u); do
	# (declared is enough: an info series exists only while it is true)
	grep -Eq "^($n(\{| )|# TYPE $n )" "$T/full.txt" || missing="$missing $n"
done
check "every metric the dashboard asks for is in /metrics" "missing:$missing" test -z "$missing"

# A redelivery and a bad signature count too, by status and decision.
D=d-ok deliver again "$T/c" configs/ok.yaml
printf '{}' > "$T/bad.json"
CGI_CONF=$T/c cgi bad POST application/json push d-bad "sha256=$(printf '%064d' 0)" "$T/bad.json"
scrape "$T/c"
check "a redelivery counts as 200 duplicate, a bad signature as 401 rejected" "$(grep deliveries_total "$T/m.txt")" \
    test "$(value 'swift_webhook_deliveries_total{status="200",decision="duplicate"}') $(value 'swift_webhook_deliveries_total{status="401",decision="rejected"}')" = "1 1"

# Labels are escaped: a branch with a quote and markup (git refuses a
# backslash in a branch name, and so does the webhook).
R2=$T/runs2
mkdir -p "$R2"
writeconf "$T/c2" "$R2" "$WORK" 'branches = *'
jq -n --arg ref 'refs/heads/x"y<b>' --arg sha "$(sha 77)" '{ref: $ref, after: $sha,
    repository: {full_name: "acme/train"}, head_commit: {id: $sha},
    commits: [{id: $sha, added: ["configs/ok.yaml"], removed: [], modified: []}]}' > "$T/x.json"
CGI_CONF=$T/c2 cgi x POST application/json push d-x "$(sign "$T/x.json")" "$T/x.json"
until_state "$T/c2" "$(idof x)" succeeded
scrape "$T/c2"
check "a branch name is escaped in its label" "$(grep last_success "$T/m.txt")" \
    grep -qF 'swift_webhook_last_success_timestamp_seconds{branch="x\"y<b>"}' "$T/m.txt"
check "and promtool still accepts it" "$(promtool check metrics < "$T/m.txt" 2>&1)" \
    bash -c "promtool check metrics < '$T/m.txt'"

# Methods and paths.
env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST PATH_INFO=/metrics \
    SWIFT_WEBHOOK_CONFIG="$T/c" "$BIN" < /dev/null > "$T/post.out"
check "POST .../metrics: 405, Allow: GET, HEAD" "$(cat "$T/post.out")" \
    bash -c "head -1 '$T/post.out' | grep -q '^Status: 405' && grep -q '^Allow: GET, HEAD' '$T/post.out'"
env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=HEAD PATH_INFO=/metrics \
    SWIFT_WEBHOOK_CONFIG="$T/c" "$BIN" < /dev/null > "$T/head.out"
check "HEAD .../metrics: 200, no body" "$(cat "$T/head.out")" \
    bash -c "head -1 '$T/head.out' | grep -q '^Status: 200' && [ -z \"\$(body_of '$T/head.out')\" ]"
env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/etc/passwd \
    SWIFT_WEBHOOK_CONFIG="$T/c" "$BIN" < /dev/null > "$T/nope.out"
check "any other path: 404" "$(cat "$T/nope.out")" grep -q '^Status: 404' "$T/nope.out"

# A planted .metrics that is not ours: no count, no crash, still an answer.
R3=$T/runs3
mkdir -p "$R3"
writeconf "$T/c3" "$R3" "$WORK"
head -c 8192 /dev/urandom > "$R3/.metrics"
scrape "$T/c3"
check "a .metrics of garbage is left alone, the scrape still answers" "$(head -3 "$T/m.raw")" \
    bash -c "grep -q '^Status: 200' '$T/m.raw' && promtool check metrics < '$T/m.txt'"
rm -f "$R3/.metrics"
ln -s /etc/passwd "$R3/.metrics"
scrape "$T/c3"
check "a .metrics symlink is not followed" "" bash -c "grep -q '^Status: 200' '$T/m.raw' && ! grep -q root /etc/passwd.x 2>/dev/null && [ -L '$R3/.metrics' ]"

# A scrape by a user other than the run directory's owner reads, and
# makes nothing there (a .metrics of its own would lock the owner out).
R5=$T/runs5
mkdir -p "$R5"
chmod 755 "$R5"
writeconf "$T/c5" "$R5" "$WORK"
chmod 644 "$T/c5"
chgrp www-data "$T/c5.secret" 2>/dev/null
if id www-data > /dev/null 2>&1; then
	# A copy it can reach, whatever the permissions of the checkout's folders.
	install -m 755 "$BIN" "$T/swift-webhook"
	runuser -u www-data -- env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
	    PATH_INFO=/metrics SWIFT_WEBHOOK_CONFIG="$T/c5" "$T/swift-webhook" > "$T/other.out" 2>&1
	check "a scrape as another user answers and makes no .metrics" "$(head -3 "$T/other.out"; ls -la "$R5")" \
	    bash -c "grep -q '^Status: 200' '$T/other.out' && [ ! -e '$R5/.metrics' ]"
fi

# The cost of a scrape does not grow with the run directory: 10,000
# finished jobs (a benchmark, printed; not a timing assertion).
R4=$T/runs4
mkdir -p "$R4"
writeconf "$T/c4" "$R4" "$WORK"
python3 - "$R4" <<'EOF'
import json, os, sys
r = sys.argv[1]
for i in range(10000):
    d = os.path.join(r, "20260101T%06d.000Z-%07x-sft" % (i % 240000, i))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "job.json"), "w") as f:
        json.dump({"state": "succeeded", "sha": "%040x" % i, "config": "configs/sft.yaml",
                   "branch": "main", "created": "2026-01-01T00:00:00Z",
                   "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:10:00Z"}, f)
EOF
scrape "$T/c4"
start=$(date +%s%N)
for _ in 1 2 3 4 5; do scrape "$T/c4"; done
ms=$(( ($(date +%s%N) - start) / 5000000 ))
echo "# a scrape over 10,000 finished jobs: ${ms} ms (CGI: process start included; limit 50 ms)"
check "a scrape over 10,000 finished jobs answers" "$(head -3 "$T/m.raw")" grep -q '^Status: 200' "$T/m.raw"

"$BIN" -c "$T/c" cancel "$(idof hold2)" > /dev/null 2>&1
"$BIN" -c "$T/c" cancel "$(idof hold1)" > /dev/null 2>&1

# Prometheus as it behaves: every status/decision pair is there at 0
# before its first delivery (increase() would lose that one), and no
# label is one Prometheus gives targets itself (job, instance).
R9=$T/runs9
mkdir -p "$R9"
writeconf "$T/c9" "$R9" "$WORK"
scrape "$T/c9"
check "a fresh run directory: each status/decision pair at 0" "$(grep deliveries_total "$T/m.txt")" \
    bash -c "[ '$(value 'swift_webhook_deliveries_total{status="401",decision="rejected"}')' = 0 ] && [ '$(value 'swift_webhook_deliveries_total{status="202",decision="started"}')' = 0 ] && [ '$(value 'swift_webhook_deliveries_total{status="200",decision="ping"}')' = 0 ] && [ '$(value 'swift_webhook_deliveries_total{status="503",decision="busy"}')' = 0 ]"
check "no label named job or instance, anywhere" "$(grep -E '[{,](job|instance)=' "$T/m.txt" "$T"/m*.txt | head -3)" \
    bash -c "! grep -qE '[{,](job|instance)=' '$T/m.txt' && ! grep -q '{{job}}' '$TOP/contrib/grafana-dashboard.json'"
