#!/bin/bash
# tests/status.sh: the status page through a real lighttpd (the shipped
# FastCGI config), looked at by a real browser: headless Chromium dumps
# the DOM and takes screenshots (kept in tests/tmp for a person to see).
. "$(dirname "$0")/lib.sh"
plan 37
. "$(dirname "$0")/servers.sh"
mktestdir status
setup_dirs
printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_steps: 7\n' > "$WORK/configs/curve.yaml"
printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_sleep: 120\nfake_steps: 120\n' > "$WORK/configs/slow.yaml"
printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_exit: 3\n' > "$WORK/configs/bad.yaml"
writeconf "$CONF" "$RUNS" "$WORK" "branches = **"
chgrp "$WWW" "$CONF.secret"
chmod 644 "$CONF"

. "$(dirname "$0")/lighttpd-server.sh"
trap 'server_stop; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT
serve 50-swift-webhook.conf
PAGE=$URL/
SHOTS=$TOP/tests/tmp
mkdir -p "$SHOTS"

gopost() {
	push "$T/$1.json" "$(sha "$2")" "$3" "$4"
	post "$1" push "d-$1" "$T/$1.json" > /dev/null
}

gopost curve 1 refs/heads/main configs/curve.yaml
gopost bad 2 refs/heads/main configs/bad.yaml
CURVE=$(job_of curve) BAD=$(job_of bad)
jq -n --arg ref 'refs/heads/<script>alert(1)</script>' --arg sha "$(sha 3)" '{ref: $ref, after: $sha,
    repository: {full_name: "acme/train", html_url: "https://ghe.example.com/acme/train"},
    head_commit: {id: $sha},
    commits: [{id: $sha, added: ["train.py"], removed: [], modified: []}]}' > "$T/xss.json"
post xss push d-xss "$T/xss.json" > /dev/null
XSS=$(job_of xss)
jq -n --arg sha "$(sha 5)" '{ref: "refs/heads/main", after: $sha,
    repository: {full_name: "acme/train", html_url: "javascript:alert(1)//acme/train"},
    head_commit: {id: $sha}, commits: [{id: $sha, added: ["train.py"], removed: [], modified: []}]}' > "$T/badurl.json"
post badurl push d-badurl "$T/badurl.json" > /dev/null
check "an html_url that is not plain http(s) is not kept" "$(cat "$RUNS/$(job_of badurl)/job.json" 2>/dev/null)" \
    jq -e 'has("repository_url") | not' "$RUNS/$(job_of badurl)/job.json"
wait_for 20 jq -e '.finished != null' "$RUNS/$(job_of badurl)/job.json" > /dev/null
gopost slow 4 refs/heads/main configs/slow.yaml
SLOW=$(job_of slow)
wait_for 20 jq -e '.state == "succeeded"' "$RUNS/$CURVE/job.json" > /dev/null
wait_for 20 jq -e '.state == "failed"' "$RUNS/$BAD/job.json" > /dev/null
wait_for 20 jq -e '.state == "succeeded"' "$RUNS/$XSS/job.json" > /dev/null
wait_for 20 test -s "$RUNS/$SLOW/output/logging.jsonl"

curl -s -D "$T/page.head" -o "$T/page.html" "$PAGE"
check "the status page answers 200 with a strict CSP (no script, forms only to itself, no <base>, no framing) and nosniff" "$(cat "$T/page.head")" \
    bash -c "grep -q '^HTTP/1.1 200' '$T/page.head' && grep -qi \"^Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'\" '$T/page.head' && grep -qi '^X-Content-Type-Options: nosniff' '$T/page.head'"
check "the page has no script and no inline event handler" "$(grep -io '<script\|on[a-z]*=' "$T/page.html" | head)" \
    bash -c "! grep -qiE '<script|[[:space:]]on[a-z]+=' '$T/page.html'"

chrome "$PAGE" "$T/dom.html"
shot "$PAGE" "$SHOTS/status-jobs.png"
check "Chromium: a row per job, newest first" "$(grep -c 'class="job"' "$T/dom.html"; cat "$T/dom.html.err" | tail -3)" \
    bash -c "[ \$(grep -o 'class=\"job\"' '$T/dom.html' | wc -l) = 5 ] && grep -o 'href=\"jobs/[^\"]*\"' '$T/dom.html' | head -1 | grep -q '$SLOW'"
check "Chromium: the XSS branch renders as text, no <script> element" "$(grep -o '[^>]*alert(1)[^<]*' "$T/dom.html" | head -3)" \
    bash -c "! grep -qi '<script' '$T/dom.html' && grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' '$T/dom.html'"
check "Chromium: states as coloured badges" "" \
    bash -c "grep -q 'class=\"b succeeded\"' '$T/dom.html' && grep -q 'class=\"b failed\"' '$T/dom.html' && grep -q 'class=\"b running\"' '$T/dom.html'"
check "Chromium: the running job shows a progress bar" "$(grep -o '<tr class="job">.*' "$T/dom.html" | grep "$SLOW" | head -c 600)" \
    bash -c "grep '$SLOW' '$T/dom.html' | grep -q 'class=\"bar\"' && grep '$SLOW' '$T/dom.html' | grep -Eq '[0-9]+/120 [0-9]+%'"
check "Chromium: the failed job shows its exit code" "" \
    bash -c "grep '$BAD' '$T/dom.html' | grep -q '<td>3</td>'"
check "the short sha links to the commit on GitHub" "" \
    grep -q "href=\"https://github.com/acme/train/commit/$(sha 1)\"" "$T/dom.html"
check "or on the server the payload's repository.html_url names (GitHub Enterprise)" "" \
    grep -q "href=\"https://ghe.example.com/acme/train/commit/$(sha 3)\"" "$T/dom.html"
check "a summary: success rate and median duration, runs per day" "" \
    bash -c "grep -q 'last 7 days' '$T/dom.html' && grep -q 'last 30 days' '$T/dom.html' && grep -q 'aria-label=\"runs per day\"' '$T/dom.html'"

chrome "$PAGE?state=failed" "$T/failed.html"
check "?state=failed shows only the failed job" "$(grep -c 'class="job"' "$T/failed.html")" \
    bash -c "[ \$(grep -o 'class=\"job\"' '$T/failed.html' | wc -l) = 1 ] && grep -q '$BAD' '$T/failed.html'"
chrome "$PAGE?branch=%3Cscript%3Ealert(1)%3C%2Fscript%3E" "$T/branch.html"
check "?branch= filters by branch (escaped in the page too)" "" \
    bash -c "[ \$(grep -o 'class=\"job\"' '$T/branch.html' | wc -l) = 1 ] && grep -q '$XSS' '$T/branch.html' && ! grep -qi '<script' '$T/branch.html'"

chrome "$URL/jobs/$CURVE" "$T/job.html"
shot "$URL/jobs/$CURVE" "$SHOTS/status-job.png"
POINTS=$(grep -o '<polyline class="loss"[^>]*points="[^"]*"' "$T/job.html" | sed 's/.*points="//; s/"$//' | wc -w)
check "Chromium: the job page has an SVG loss curve, a point per logged step (7)" "points: $POINTS" \
    test "$POINTS" = 7
YS=$(grep -o '<polyline class="loss"[^>]*points="[^"]*"' "$T/job.html" | sed 's/.*points="//; s/"$//' | tr ' ' '\n' | cut -d, -f2)
check "the curve falls as the loss does: first point at the top (y 20), last at the bottom (y 220)" "$YS" \
    bash -c "[ \"\$(echo '$YS' | head -1)\" = '20.0' ] && [ \"\$(echo '$YS' | tail -1)\" = '220.0' ]"
check "and a learning-rate curve, axes and labels" "" \
    bash -c "grep -q '<polyline class=\"lr\"' '$T/job.html' && grep -q '>step</text>' '$T/job.html' && grep -q '>loss</text>' '$T/job.html'"
check "the job page shows every job.json field" "" \
    bash -c "for k in \$(jq -r 'keys[]' '$RUNS/$CURVE/job.json'); do grep -q \"<th>\$k</th>\" '$T/job.html' || exit 1; done"
check "its checkpoints" "" grep -q 'last: <code>[^<]*checkpoint-7</code>' "$T/job.html"
check "the end of its log" "" bash -c "grep -q '<pre id=\"log\">' '$T/job.html' && grep -q 'fake-swift: done' '$T/job.html'"
curl -s -o "$T/log.txt" -D "$T/log.head" "$URL/jobs/$CURVE/log"
check ".../jobs/ID/log is the log, as text" "$(head -3 "$T/log.head")" \
    bash -c "grep -qi '^Content-Type: text/plain' '$T/log.head' && cmp -s '$T/log.txt' '$RUNS/$CURVE/log'"
chrome "$URL/jobs/$SLOW" "$T/slow.html"
check "a running job's page shows its progress bar" "" grep -q 'class="bar"' "$T/slow.html"
# A job id from the future (a clock set back, or planted): still a page.
mkdir -p "$RUNS/29991231T000000.000Z-0000000-x"
got=$(curl -s -o "$T/future.html" -w '%{http_code}' "$PAGE")
check "a job id from the future does not break the page" "status $got" \
    bash -c "[ '$got' = 200 ] && grep -q 'last 30 days' '$T/future.html'"
rmdir "$RUNS/29991231T000000.000Z-0000000-x"
got=$(curl -s -o /dev/null -w '%{http_code}' "$URL/jobs/nope")
check "an unknown job is 404" "status $got" test "$got" = 404
got=$(curl -s -o /dev/null -w '%{http_code}' "$URL/jobs/..%2F..%2Fetc")
check "a path that is no job id is 404" "status $got" test "$got" = 404
got=$(curl -s -o /dev/null -w '%{http_code}' -D "$T/post.head" --data x "$PAGE")
check "POST to the status page: 405, Allow: GET, HEAD" "status $got $(cat "$T/post.head")" \
    bash -c "[ '$got' = 405 ] && grep -qi '^Allow: GET, HEAD' '$T/post.head'"

# As people keep it open: it refreshes itself while a job is live (a
# Refresh header, no script), not when none is; short times with the full
# UTC time on hover; short job ids; an ended job's loss; a chart with
# gridlines, a legend and, while running, an x axis to max_steps; the
# record's duration as people read it; a banner when the configuration
# changed after the responder read it.
curl -s -D "$T/live.head" -o /dev/null "$PAGE"
curl -s -D "$T/ended.head" -o /dev/null "$URL/jobs/$CURVE"
check "Refresh while a job is live, none on an ended job's page" "$(cat "$T/live.head" "$T/ended.head")" \
    bash -c "grep -qi '^Refresh: 10' '$T/live.head' && ! grep -qi '^Refresh' '$T/ended.head'"
chrome "$PAGE" "$T/polish.html"
check "Chromium: times short, the full UTC time on hover; ids short, whole on hover" "$(grep -o '<td class="t"[^<]*</td>' "$T/polish.html" | head -3)" \
    bash -c "grep -Eq '<td class=\"t\" title=\"20[0-9-]+T[0-9:]+Z\">[0-9]{2}:[0-9]{2}:[0-9]{2}</td>' '$T/polish.html' && grep -q 'title=\"$CURVE\">${CURVE#*-}</a>' '$T/polish.html'"
check "Chromium: an ended job's row shows its loss" "$(grep "$CURVE" "$T/polish.html" | head -c 400)" \
    bash -c "grep '$CURVE' '$T/polish.html' | grep -Eq '>loss [0-9.]+'"
chrome "$URL/jobs/$SLOW" "$T/slowchart.html"
check "Chromium: the running job's chart goes to max_steps (120), with gridlines and a legend" "$(grep -o '<svg id="loss".*' "$T/slowchart.html" | head -c 600)" \
    bash -c "grep -q '>120</text>' '$T/slowchart.html' && [ \$(grep -o 'class=\"grid\"' '$T/slowchart.html' | wc -l) -ge 6 ] && grep -q 'class=\"legend\"' '$T/slowchart.html' && grep -q '>learning rate</text>' '$T/slowchart.html'"
check "the record's duration reads 0m02s, not a number" "$(grep -o '<th>duration</th><td>[^<]*' "$T/job.html")" \
    grep -Eq '<th>duration</th><td>[0-9]+m[0-9]{2}s' "$T/job.html"
touch -d '+1 hour' "$CONF"
curl -s -o "$T/stale.html" "$PAGE"
check "a configuration changed after the responder read it: the page says reload" "$(grep -o '<p id="stale">.*</p>' "$T/stale.html")" \
    grep -q 'id="stale">The configuration file .* changed after this responder read it' "$T/stale.html"
"$BIN" -c "$CONF" check > "$T/stalecheck.txt" 2>&1
check "and check says the responders still use what they read" "$(cat "$T/stalecheck.txt")" \
    grep -q 'responder(s) started before .* last changed still use what they read: reload the web server' "$T/stalecheck.txt"
touch "$CONF"

# A trainer rewrites its job.json with markup in every field: no element
# of it reaches the page (a sha that is not one is no link).
MK=$(job_of curve)
M='\"><form action=https://evil.example/><base href=https://evil.example/><img src=x>'
jq --arg m "$M" --arg s "$(sha 1)$M" '.sha = $s | .branch = $m | .config = $m | .repository = "acme/train" + $m |
    .waiting = $m | .error = $m | .note = $m | .state = "succeeded"' "$RUNS/$MK/job.json" > "$T/mk.json"
cp "$T/mk.json" "$RUNS/$MK/job.json"
chrome "$PAGE" "$T/mk.html"
check "Chromium: a job.json full of markup adds no element to the jobs table (its one form is compare's)" "$(grep -io '<form[^>]*>\|<base[^>]*>\|<img src=\"x[^>]*>' "$T/mk.html" | head -3)" \
    bash -c "grep -q '$MK' '$T/mk.html' && [ \$(grep -io '<form' '$T/mk.html' | wc -l) = 1 ] && grep -q '<form action=\"compare\" method=\"get\">' '$T/mk.html' && ! grep -qiE '<form[^>]*evil|<base|<img src=\"x' '$T/mk.html'"
chrome "$URL/jobs/$MK" "$T/mkjob.html"
check "nor to its job page" "$(grep -io '<form[^>]*>\|<base[^>]*>' "$T/mkjob.html" | head -3)" \
    bash -c "grep -q 'evil.example' '$T/mkjob.html' && ! grep -qiE '<form|<base|<img src=\"x' '$T/mkjob.html'"

# A log that keeps growing while it is read: the last MiB as of the
# request, at once (not what the writer adds meanwhile).
( yes 'a line the trainer writes and writes and writes' | head -c 200000000 >> "$RUNS/$MK/log" ) &
WR=$!
sleep 0.2
curl -s -m 20 -o "$T/grow.txt" "$URL/jobs/$MK/log"
got=$?
wait $WR
check ".../jobs/ID/log of a growing log: at most its last MiB, at once" "curl $got, $(stat -c %s "$T/grow.txt") bytes" \
    bash -c "[ $got = 0 ] && [ \$(stat -c %s '$T/grow.txt') -le 1048576 ]"
rm -f "$RUNS/$MK/log"

check "screenshots kept for a person: tests/tmp/status-jobs.png, status-job.png" "" \
    bash -c "[ -s '$SHOTS/status-jobs.png' ] && [ -s '$SHOTS/status-job.png' ]"
kill -9 -- "-$(cat "$RUNS/$SLOW/pid")" 2>/dev/null
