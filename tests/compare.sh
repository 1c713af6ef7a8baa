#!/bin/bash
# tests/compare.sh: which commit made the model better.  Runs of one
# config with different learning rates, pushed one after another through
# a real lighttpd (the shipped FastCGI config): each job keeps the config
# it trained and its commit's title; `swift-webhook compare` diffs the
# configs and puts the results side by side; /compare draws the curves
# over each other (looked at by headless Chromium, its screenshot's
# colours counted); /trend lists a config's runs in the order they were
# pushed.  Configs that are symlinks or too large are not kept, and say
# why; a copy a trainer swapped for a symlink is not read.
. "$(dirname "$0")/lib.sh"
plan 33
. "$(dirname "$0")/servers.sh"
mktestdir compare
setup_dirs
writeconf "$CONF" "$RUNS" "$WORK" "branches = **"
chgrp "$WWW" "$CONF.secret"
chmod 644 "$CONF"

. "$(dirname "$0")/lighttpd-server.sh"
trap 'server_stop; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT
serve 50-swift-webhook.conf
SHOTS=$TOP/tests/tmp
mkdir -p "$SHOTS"

# lr RATE: configs/sft.yaml as a person edits it between pushes.
lr() {
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nlearning_rate: %s\nfake_steps: 7\nfake_eval: 3\n' "$1" > "$WORK/configs/sft.yaml"
}
# run NAME N REF CONFIG MESSAGE: a push of commit N whose message is
# MESSAGE, changing CONFIG; waits for its job's end.  Its id in $JOB.
run() {
	jq -n --arg ref "$3" --arg sha "$(sha "$2")" --arg cfg "$4" --arg msg "$5" '{ref: $ref, after: $sha,
	    repository: {full_name: "acme/train"},
	    head_commit: {id: $sha, message: $msg},
	    commits: [{id: $sha, message: $msg, added: [], removed: [], modified: [$cfg]}]}' > "$T/$1.json"
	post "$1" push "d-$1" "$T/$1.json" > /dev/null
	JOB=$(job_of "$1")
	wait_for 30 jq -e '.finished != null' "$RUNS/$JOB/job.json" > /dev/null
}

lr 1e-4
run a 1 refs/heads/main configs/sft.yaml "Start from lr 1e-4"
A=$JOB
lr 2e-4
run b 2 refs/heads/main configs/sft.yaml "$(printf 'Raise the learning rate to 2e-4\033[2J\n\nBecause the loss fell too slowly.')"
B=$JOB
lr 5e-5
run c 3 refs/heads/main configs/sft.yaml "Lower it to 5e-5"
C=$JOB
run d 4 refs/heads/dev configs/sft.yaml "Try it on dev"
D=$JOB
for j in "$A" "$B" "$C" "$D"; do
	[ "$(jq -r .state "$RUNS/$j/job.json" 2>/dev/null)" = succeeded ] || echo "# $j: $(cat "$RUNS/$j/job.json" 2>/dev/null)"
done

check "each job keeps the config it trained (config.yaml in its folder)" "$(jq -c '{config_copy, config_copy_error}' "$RUNS/$A/job.json"; cat "$RUNS/$A/config.yaml" "$RUNS/$B/config.yaml")" \
    bash -c "[ \"\$(jq -r .config_copy '$RUNS/$A/job.json')\" = config.yaml ] && grep -qx 'learning_rate: 1e-4' '$RUNS/$A/config.yaml' && grep -qx 'learning_rate: 2e-4' '$RUNS/$B/config.yaml'"
check "and its commit's title: the first line, the escape character gone" "$(jq -r .commit_title "$RUNS/$B/job.json" | od -c | head -3)" \
    bash -c "[ \"\$(jq -r .commit_title '$RUNS/$B/job.json')\" = 'Raise the learning rate to 2e-4[2J' ] && [ \"\$(jq -r .commit_title '$RUNS/$A/job.json')\" = 'Start from lr 1e-4' ]"

# The command, by short sha (as jobs prints them).
"$BIN" -c "$CONF" compare 0000001 0000002 > "$T/cmp.txt" 2> "$T/cmp.err"
check "compare A B: the commits and their titles" "$(cat "$T/cmp.txt" "$T/cmp.err")" \
    bash -c "grep -q '^A  $A  0000001  configs/sft.yaml  Start from lr 1e-4\$' '$T/cmp.txt' && grep -q '^B  $B  0000002  configs/sft.yaml  Raise the learning rate to 2e-4\\[2J\$' '$T/cmp.txt'"
check "compare A B: the diff of the configs shows the changed line" "$(cat "$T/cmp.txt")" \
    bash -c "grep -qx -- '--- A/configs/sft.yaml' '$T/cmp.txt' && grep -qx -- '+++ B/configs/sft.yaml' '$T/cmp.txt' && grep -qx -- '-learning_rate: 1e-4' '$T/cmp.txt' && grep -qx -- '+learning_rate: 2e-4' '$T/cmp.txt' && grep -qx ' fake_steps: 7' '$T/cmp.txt' && [ \$(grep -c '^[-+][^-+]' '$T/cmp.txt') = 2 ]"
check "compare A B: both final losses side by side (2e-4 ends lower), and the rest" "$(sed -n '/^ *A  *B/,$p' "$T/cmp.txt")" \
    bash -c "grep -Eq '^final loss +0.3289 +0.2467 *\$' '$T/cmp.txt' && grep -Eq '^state +succeeded +succeeded' '$T/cmp.txt' && grep -Eq '^global step +7 +7' '$T/cmp.txt' && grep -Eq '^eval loss +0\\.[0-9]+ +0\\.[0-9]+' '$T/cmp.txt' && grep -Eq '^duration +[0-9]+m[0-9]{2}s' '$T/cmp.txt'"
"$BIN" -c "$CONF" compare --json "$A" "${B:0:24}" > "$T/cmp.json" 2>&1
check "compare --json: runs, results and the diff" "$(head -c 1500 "$T/cmp.json")" \
    jq -e --arg a "$A" --arg b "$B" '.runs[0].id == $a and .runs[1].id == $b and .runs[0].loss == 0.3289 and
        .runs[1].loss == 0.2467 and .runs[1].commit_title == "Raise the learning rate to 2e-4[2J" and
        .runs[0].global_step == 7 and .diffs[0].changes == 2 and
        (.diffs[0].diff | contains("-learning_rate: 1e-4\n+learning_rate: 2e-4\n"))' "$T/cmp.json"
"$BIN" -c "$CONF" compare "$A" > "$T/one.txt" 2>&1
got=$?
check "compare with one job: usage, exit 2" "exit $got: $(cat "$T/one.txt")" \
    bash -c "[ $got = 2 ] && grep -q 'usage: .*compare' '$T/one.txt'"
"$BIN" -c "$CONF" jobs > "$T/jobs.txt" 2>&1
check "jobs shows each run's commit title" "$(head -3 "$T/jobs.txt")" \
    bash -c "grep -q ' TITLE\$' '$T/jobs.txt' && grep '$A' '$T/jobs.txt' | grep -q 'Start from lr 1e-4\$'"

# A config that is a symlink, one over 256 KiB: trained, not kept.
ln -s sft.yaml "$WORK/configs/link.yaml"
run e 5 refs/heads/main configs/link.yaml "A config through a symlink"
E=$JOB
check "a config that is a symlink is not kept; the job says why, and still runs" "$(jq -c '{state, config_copy, config_copy_error}' "$RUNS/$E/job.json")" \
    bash -c "jq -e '.state == \"succeeded\" and .config_copy_error == \"configs/link.yaml not kept: a symlink\" and (has(\"config_copy\") | not)' '$RUNS/$E/job.json' > /dev/null && ! ls '$RUNS/$E' | grep -q '^config'"
{ lr 1e-4; head -c 300000 /dev/zero | tr '\0' '#'; echo; } > "$WORK/configs/big.yaml"
run f 6 refs/heads/main configs/big.yaml "A very large config"
F=$JOB
check "a config over 256 KiB is not kept, and says so" "$(jq -c '{state, config_copy_error}' "$RUNS/$F/job.json")" \
    jq -e '.state == "succeeded" and .config_copy_error == "configs/big.yaml not kept: larger than 256 KiB"' "$RUNS/$F/job.json"
"$BIN" -c "$CONF" compare "$A" "$E" > "$T/cmpe.txt" 2>&1
check "compare with it: why there is no diff, the results still" "$(cat "$T/cmpe.txt")" \
    bash -c "grep -q '^config: configs/link.yaml not kept: a symlink\$' '$T/cmpe.txt' && grep -q '^final loss' '$T/cmpe.txt'"
# The trainer (the server's user) swaps a kept copy for a symlink.
mv "$RUNS/$A/config.yaml" "$T/kept.yaml"
ln -s /etc/passwd "$RUNS/$A/config.yaml"
"$BIN" -c "$CONF" compare "$A" "$B" > "$T/cmph.txt" 2>&1
curl -s -o "$T/cmph.html" "$URL/compare?jobs=$A,$B"
check "a kept copy swapped for a symlink is not read (compare, /compare)" "$(grep -i 'config' "$T/cmph.txt" | head -3)" \
    bash -c "! grep -q 'root:' '$T/cmph.txt' '$T/cmph.html' && grep -q '^config: Too many levels of symbolic links' '$T/cmph.txt'"
rm "$RUNS/$A/config.yaml"
mv "$T/kept.yaml" "$RUNS/$A/config.yaml"

# A config written on Windows (CRLF): its lines in the terminal, no '?'.
cp "$RUNS/$C/config.yaml" "$T/c.yaml"
sed 's/$/\r/' "$RUNS/$B/config.yaml" > "$RUNS/$C/config.yaml"
"$BIN" -c "$CONF" compare "$B" "$C" > "$T/crlf.txt" 2>&1
check "a CRLF config's diff: its lines as written, not a '?' each" "$(sed -n '/^---/,/^$/p' "$T/crlf.txt")" \
    bash -c "grep -qx -- '-learning_rate: 2e-4' '$T/crlf.txt' && grep -qx -- '+learning_rate: 2e-4' '$T/crlf.txt' && ! grep -q '?' '$T/crlf.txt'"
cat "$T/c.yaml" > "$RUNS/$C/config.yaml"

# The page: curves over each other, a legend, the diff, the results.
chrome "$URL/compare?jobs=$A,$B" "$T/cmp.html"
shot "$URL/compare?jobs=$A,$B" "$SHOTS/compare.png"
P0=$(grep -o '<polyline class="loss run0"[^>]*points="[^"]*"' "$T/cmp.html" | sed 's/.*points="//; s/"$//' | wc -w)
P1=$(grep -o '<polyline class="loss run1"[^>]*points="[^"]*"' "$T/cmp.html" | sed 's/.*points="//; s/"$//' | wc -w)
check "Chromium: /compare draws one loss polyline per run, a point per step (7 and 7)" "points: $P0 $P1" \
    bash -c "[ '$P0' = 7 ] && [ '$P1' = 7 ] && [ \$(grep -o '<polyline class=\"loss run' '$T/cmp.html' | wc -l) = 2 ]"
check "their eval losses dashed, in the run's colour" "$(grep -o '<polyline class="eval run[01]"[^>]*stroke[^ ]*' "$T/cmp.html")" \
    bash -c "grep -q '<polyline class=\"eval run0\" fill=\"none\" stroke=\"#c33\" stroke-width=\"2\" stroke-dasharray' '$T/cmp.html' && grep -q '<polyline class=\"eval run1\" fill=\"none\" stroke=\"#27c\"' '$T/cmp.html'"
check "a legend: each run's colour, short sha and commit title" "$(grep -o '<g class="legend">.*' "$T/cmp.html" | head -2)" \
    bash -c "grep -Eq 'stroke=\"#c33\" stroke-width=\"3\"(/>|></line>)<text[^>]*>0000001 Start from lr 1e-4</text>' '$T/cmp.html' && grep -Eq 'stroke=\"#27c\" stroke-width=\"3\"(/>|></line>)<text[^>]*>0000002 Raise the learning rate to 2e-4\\[2J</text>' '$T/cmp.html'"
check "the config diff against the first run, lines marked" "$(grep -o '<span class="[a-z]*">[-+][^<]*</span>' "$T/cmp.html")" \
    bash -c "grep -q '<span class=\"del\">-learning_rate: 1e-4</span>' '$T/cmp.html' && grep -q '<span class=\"add\">+learning_rate: 2e-4</span>' '$T/cmp.html'"
check "a link to GitHub's compare of the two commits (the code changed too)" "$(grep -o '<p class="code">.*' "$T/cmp.html")" \
    grep -q "<a href=\"https://github.com/acme/train/compare/$(sha 1)...$(sha 2)\">every change between the two commits</a>" "$T/cmp.html"
check "the results side by side: both final losses" "$(grep -o '<tr class="loss">.*</tr>' "$T/cmp.html")" \
    grep -q '<tr class="loss"><th>final loss</th><td>0.3289</td><td>0.2467</td></tr>' "$T/cmp.html"
COUNTS=$(python3 "$TOP/tests/pngcolours.py" "$SHOTS/compare.png" 0 450 '#cc3333' '#2277cc' 2>&1 | tr '\n' ' ')
check "the screenshot: both runs' colours drawn where the chart is (pixels of #c33, #27c)" "$COUNTS" \
    bash -c "set -- $COUNTS; [ \"\$1\" -gt 300 ] && [ \"\$2\" -gt 300 ]"

# From the jobs table: a checkbox per job and a compare button (a GET
# form: jobs=A&jobs=B).
chrome "$URL/" "$T/jobs.html"
check "the jobs table: a checkbox per job, a compare button, a GET form to compare" "$(grep -o '<form[^>]*>' "$T/jobs.html")" \
    bash -c "grep -q '<form action=\"compare\" method=\"get\">' '$T/jobs.html' && [ \$(grep -o '<input type=\"checkbox\" name=\"jobs\"' '$T/jobs.html' | wc -l) = 6 ] && grep -q '<button type=\"submit\"[^>]*>compare</button>' '$T/jobs.html'"
got=$(curl -s -o "$T/form.html" -w '%{http_code}' "$URL/compare?jobs=$A&jobs=$C")
check "what the form sends (jobs=A&jobs=C) compares them" "status $got" \
    bash -c "[ $got = 200 ] && grep -q '<span class=\"add\">+learning_rate: 5e-5</span>' '$T/form.html'"
got=$(curl -s -o /dev/null -w '%{http_code}' "$URL/compare?jobs=$A")
check "one job to compare: 404" "status $got" test "$got" = 404

# A config's history.
chrome "$URL/trend?config=configs/sft.yaml&branch=main" "$T/trend.html"
shot "$URL/trend?config=configs/sft.yaml&branch=main" "$SHOTS/trend.png"
ORDER=$(grep -o '<tr class="run">.*' "$T/trend.html" | grep -o 'href="jobs/[^"]*"' | sed 's|href="jobs/||; s|"||' | tr '\n' ' ')
check "/trend: the config's runs on main in the order they were pushed (not dev's)" "$ORDER" \
    test "$ORDER" = "$A $B $C "
check "each with its final loss and eval loss, and a link to compare with the one before" "$(grep -o '<tr class="run">.*' "$T/trend.html" | head -c 900)" \
    bash -c "grep '$B' '$T/trend.html' | grep -q '<td>0.2467</td>' && grep -q 'href=\"compare?jobs=$A,$B\"' '$T/trend.html' && grep -q 'href=\"compare?jobs=$B,$C\"' '$T/trend.html'"
check "a chart of them: a point per run's loss and eval loss, each a link to its job" "$(grep -c '<circle' "$T/trend.html")" \
    bash -c "[ \$(grep -o '<a href=\"jobs/[^\"]*\"><circle class=\"point\"' '$T/trend.html' | wc -l) = 6 ] && grep -q '<svg id=\"trend\"' '$T/trend.html'"
chrome "$URL/trend?config=configs/sft.yaml&branch=dev" "$T/trend-dev.html"
check "/trend of another branch: its runs only" "" \
    bash -c "grep -q '$D' '$T/trend-dev.html' && ! grep -q '$A' '$T/trend-dev.html'"

# The job page links to the previous run of its config, shows the config.
chrome "$URL/jobs/$B" "$T/jobb.html"
check "the job page: 'compare with the previous run of this config'" "$(grep -o '<a id="previous"[^>]*>[^<]*' "$T/jobb.html")" \
    grep -q "<a id=\"previous\" href=\"../compare?jobs=$A,$B\">compare with the previous run of this config</a>" "$T/jobb.html"
check "its commit title, a link to the config's trend, the config as trained" "$(grep -o '<p id="commit">.*' "$T/jobb.html" | head -c 600)" \
    bash -c "grep -q 'Raise the learning rate to 2e-4\\[2J' '$T/jobb.html' && grep -q 'href=\"../trend?config=configs/sft.yaml&amp;branch=main&amp;repository=acme/train\"' '$T/jobb.html' && grep -q '<details id=\"config\">' '$T/jobb.html' && grep -q 'learning_rate: 2e-4' '$T/jobb.html'"
chrome "$URL/jobs/$E" "$T/jobe.html"
check "a job whose config was not kept says why on its page" "$(grep -o '<p id="config-missing">[^<]*' "$T/jobe.html")" \
    grep -q '<p id="config-missing">configs/link.yaml not kept: a symlink</p>' "$T/jobe.html"
chrome "$URL/jobs/$A" "$T/joba.html"
check "the first run of a config has no previous one" "" \
    bash -c "grep -q 'Start from lr 1e-4' '$T/joba.html' && ! grep -q 'id=\"previous\"' '$T/joba.html'"

check "screenshots kept for a person: tests/tmp/compare.png, trend.png" "" \
    bash -c "[ -s '$SHOTS/compare.png' ] && [ -s '$SHOTS/trend.png' ]"
