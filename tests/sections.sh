#!/bin/bash
# tests/sections.sh: one GPU box, many repositories.  One config file with
# a section per repository ([acme/llm] and [acme/vlm], each its own
# bare repository, command and configs; vlm with a secret of its own and
# a daily budget), as CGI: each push trains its own command in its own
# checkout; a repository with no section is ignored; a delivery signed
# with another section's secret is refused; pushes of both wait in one
# queue, in arrival order, on the box's two GPU slots; budgets count per
# repository; a job whose section was removed is refused when its turn
# comes, and so is its retry; a section may not set what is one per
# machine.
. "$(dirname "$0")/lib.sh"
plan 39
mktestdir sections
R=$T/runs
mkdir -p "$R"
export GIT_AUTHOR_NAME=dev GIT_AUTHOR_EMAIL=dev@example.com
export GIT_COMMITTER_NAME=dev GIT_COMMITTER_EMAIL=dev@example.com

# Two repositories, each with its own marker file and configs.
for r in llm vlm; do
	git init -q --bare -b main "$T/$r.git"
	git init -q -b main "$T/$r"
	mkdir -p "$T/$r/configs" "$T/$r/recipes"
	echo "$r" > "$T/$r/MARKER"
	printf 'model: m\nfake_sleep: 0\n' > "$T/$r/configs/sft.yaml"
	printf 'model: m\nfake_sleep: 0\n' > "$T/$r/recipes/vl.yaml"
	git -C "$T/$r" add -A && git -C "$T/$r" commit -q -m one
	git -C "$T/$r" push -q "$T/$r.git" main
done

# Each repository's trainer says whose it is, where it runs and what it
# finds there, then trains (fake-swift).
for r in llm vlm; do
	cat > "$T/train-$r.sh" <<EOF
#!/bin/sh
echo "$r \$JOB_ID \$(cat MARKER) \$JOB_REPOSITORY" >> "$T/trainers.log"
exec "$FAKE" "\$@"
EOF
	chmod 755 "$T/train-$r.sh"
done
: > "$T/trainers.log"

SECRET_FILE=$SECRET
VLM_SECRET=vlm-secret-0123456789
printf '%s\n' "$VLM_SECRET" > "$T/vlm.secret"
chmod 640 "$T/vlm.secret"
CONF=$T/c
printf '%s' "$SECRET" > "$CONF.secret"
cat > "$CONF" <<EOF
secret_file = $CONF.secret
run_dir     = $R
gpus        = 0 1
max_runs_per_day = 6

[acme/llm]
repository  = $T/llm.git
command     = $T/train-llm.sh sft {config} --output_dir {output_dir}

[Acme/VLM]
secret_file = $T/vlm.secret
repository  = $T/vlm.git
configs     = recipes/*.yaml
default_config = recipes/vl.yaml
command     = $T/train-vlm.sh sft {config} --output_dir {output_dir}
max_runs_per_day = 4

[acme/night]
command     = $FAKE sft {config}
timezone    = UTC
run_window  = $(printf '%02d:00-%02d:00' $((($(date -u +%-H) + 2) % 24)) $((($(date -u +%-H) + 3) % 24)))
EOF

# rpush NAME REPO FULL_NAME FILE SECRET: a commit changing FILE in REPO,
# pushed to its origin and delivered as FULL_NAME's push, signed with
# SECRET; the answer in $T/NAME.out.
rpush() {
	local name=$1 r=$2 full=$3 file=$4 before after
	before=$(git -C "$T/$r" rev-parse HEAD)
	printf '# %s\n' "$name" >> "$T/$r/$file"
	git -C "$T/$r" commit -q -am "$name"
	after=$(git -C "$T/$r" rev-parse HEAD)
	git -C "$T/$r" push -q "$T/$r.git" main
	jq -n --arg b "$before" --arg a "$after" --arg f "$file" --arg r "$full" \
	    '{ref: "refs/heads/main", before: $b, after: $a, created: false,
	      deleted: false, repository: {full_name: $r}, head_commit: {id: $a},
	      commits: [{id: $a, added: [], removed: [], modified: [$f]}]}' > "$T/$name.json"
	SECRET=$5 cgi "$name" POST application/json push "d-$name" "$(SECRET=$5 sign "$T/$name.json")" "$T/$name.json"
}
ended() { jq -e '.state | test("^(succeeded|failed|killed|cancelled|superseded|timeout|lost)$")' "$R/$1/job.json" > /dev/null 2>&1; }

check "check: every section ok" "$("$BIN" -c "$CONF" check --user root 2>&1)" \
    bash -c "'$BIN' -c '$CONF' check --user root | grep -q 'ok (as root, every section)'"

# --- each repository its own command, configs and checkout -----------------
rpush a1 llm acme/llm configs/sft.yaml "$SECRET_FILE"
expect a1 202 '.jobs | length == 1 and .[0].id != null'
rpush v1 vlm acme/vlm recipes/vl.yaml "$VLM_SECRET"
expect v1 202 '.jobs | length == 1'
A1=$(idof a1) V1=$(idof v1)
wait_for 30 bash -c "$(declare -f ended); R='$R'; ended $A1 && ended $V1"
check "llm's push ran llm's command in a checkout of llm" "$(cat "$T/trainers.log")" \
    grep -qx "llm $A1 llm acme/llm" "$T/trainers.log"
check "vlm's push ran vlm's command in a checkout of vlm" "$(cat "$T/trainers.log")" \
    grep -qx "vlm $V1 vlm acme/vlm" "$T/trainers.log"
check "vlm's config is from its own configs glob" "$(jq -c '{config, state}' "$R/$V1/job.json")" \
    jq -e '.config == "recipes/vl.yaml" and .state == "succeeded"' "$R/$V1/job.json"
check "each checked out its own commit" "" \
    test "$(jq -r .commit "$R/$A1/job.json")" = "$(git -C "$T/llm" rev-parse HEAD)" -a \
    "$(jq -r .commit "$R/$V1/job.json")" = "$(git -C "$T/vlm" rev-parse HEAD)"
check "each repository has its own mirror" "$(ls "$R/.mirrors")" \
    test "$(ls -d "$R"/.mirrors/*.git | wc -l)" = 2

# --- a repository with no section, and cross-signed deliveries --------------
rpush o1 llm acme/other configs/sft.yaml "$SECRET_FILE"
expect o1 200 '.status == "ignored" and .reason == "repository acme/other is not configured"'
check "its log line says so" "$(cat "$T/o1.err")" grep -q 'decision=ignored.*reason="repository acme/other is not configured"' "$T/o1.err"
rpush x1 vlm acme/vlm recipes/vl.yaml "$SECRET_FILE"
expect x1 401 '.status == "error"'
rpush x2 llm acme/llm configs/sft.yaml "$VLM_SECRET"
expect x2 401 '.status == "error"'
rpush x3 llm acme/llm configs/sft.yaml wrong-secret
expect x3 401 '.status == "error"'
check "a refused delivery starts nothing" "$(ls "$R")" \
    test "$(ls "$R" | grep -c -- '-')" = 2
rpush c1 vlm ACME/Vlm recipes/vl.yaml "$VLM_SECRET"
expect c1 202 '.jobs | length == 1'
wait_for 30 bash -c "$(declare -f ended); R='$R'; ended $(idof c1)"

# --- one queue, in arrival order, on the box's two slots --------------------
# llm holds both slots (12 s and 4 s); then vlm, llm, vlm queue, in that
# order; each then starts as a slot frees, whoever's job ended.
printf 'model: m\nfake_sleep: 12\n' > "$T/llm/configs/long.yaml"
printf 'model: m\nfake_sleep: 4\n' > "$T/llm/configs/mid.yaml"
printf 'model: m\nfake_sleep: 1\n' > "$T/llm/configs/short.yaml"
git -C "$T/llm" add -A && git -C "$T/llm" commit -q -m configs && git -C "$T/llm" push -q "$T/llm.git" main
printf 'model: m\nfake_sleep: 1\n' > "$T/vlm/recipes/q.yaml"
git -C "$T/vlm" add -A && git -C "$T/vlm" commit -q -m q && git -C "$T/vlm" push -q "$T/vlm.git" main
: > "$T/trainers.log"
rpush q1 llm acme/llm configs/long.yaml "$SECRET_FILE"
rpush q2 llm acme/llm configs/mid.yaml "$SECRET_FILE"
wait_for 20 bash -c "[ \$(wc -l < '$T/trainers.log') -ge 2 ]"
rpush q3 vlm acme/vlm recipes/q.yaml "$VLM_SECRET"
rpush q4 llm acme/llm configs/short.yaml "$SECRET_FILE"
rpush q5 vlm acme/vlm recipes/q.yaml "$VLM_SECRET"
check "two run, three wait" "$(for q in q1 q2 q3 q4 q5; do body_of "$T/$q.out" | jq -c '.jobs[0].state'; done)" \
    test "$(for q in q3 q4 q5; do body_of "$T/$q.out" | jq -r '.jobs[0].state'; done | sort -u)" = queued
check "jobs shows the repository of each" "$("$BIN" -c "$CONF" jobs)" \
    bash -c "'$BIN' -c '$CONF' jobs | head -1 | grep -q '^REPOSITORY' && '$BIN' -c '$CONF' jobs | grep -q '^acme/vlm '"
check "jobs --repository filters, in any case" "$("$BIN" -c "$CONF" jobs --repository ACME/VLM --json | jq -c '[.[].repository]')" \
    bash -c "'$BIN' -c '$CONF' jobs --repository ACME/VLM --json | jq -e 'length == 4 and all(.[]; .repository | ascii_downcase == \"acme/vlm\")'"
Q3=$(idof q3) Q4=$(idof q4) Q5=$(idof q5)
wait_for 60 bash -c "$(declare -f ended); R='$R'; ended $Q3 && ended $Q4 && ended $Q5"
check "the queue started them in arrival order, across repositories" "$(cat "$T/trainers.log")" \
    test "$(awk '{print $2}' "$T/trainers.log" | tail -3 | tr '\n' ' ')" = "$Q3 $Q4 $Q5 "
check "a vlm job dequeued by llm's supervisor ran vlm's command" "$(cat "$T/trainers.log")" \
    grep -qx "vlm $Q3 vlm acme/vlm" "$T/trainers.log"

# --- budgets per repository -------------------------------------------------
# vlm has had its 4 runs of the day (v1, c1, q3, q5), llm 4 of its 6 (a1,
# q1, q2, q4): one count per repository, never one for the box.
rpush b1 vlm acme/vlm recipes/q.yaml "$VLM_SECRET"
expect b1 200 '.status == "ignored" and (.reason | test("max_runs_per_day \\(4\\) reached for acme/vlm"))'
rpush b2 llm acme/llm configs/short.yaml "$SECRET_FILE"
expect b2 202 '.jobs | length == 1'
rpush b3 llm acme/llm configs/short.yaml "$SECRET_FILE"
expect b3 202 '.jobs | length == 1'
rpush b4 llm acme/llm configs/short.yaml "$SECRET_FILE"
expect b4 200 '.reason | test("max_runs_per_day \\(6\\) reached for acme/llm")'

# --- what shows the jobs ------------------------------------------------------
# get PATH [QUERY]: the status page or /metrics, as CGI.
get() {
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
	    PATH_INFO="$1" QUERY_STRING="${2:-}" SWIFT_WEBHOOK_CONFIG="$CONF" "$BIN"
}
get / > "$T/page.html"
check "the status page has a repository column, each a filter link" "$(grep -o '<th>repository</th>\|?repository=acme/vlm' "$T/page.html" | sort -u)" \
    bash -c "grep -q '<th>repository</th>' '$T/page.html' && grep -q 'href=\"?repository=acme/vlm\"' '$T/page.html'"
get / repository=ACME/VLM > "$T/vlm.html"
check "?repository= shows that repository's jobs only" "$(grep -c 'class="job"' "$T/vlm.html")" \
    bash -c "[ \$(grep -c 'class=\"job\"' '$T/vlm.html') = 4 ] && ! grep -q 'repository=acme/llm\"' '$T/vlm.html'"
check "a section outside its window says so" "$(grep -o '<p class="window">[^<]*' "$T/page.html")" \
    grep -q '<p class="window">Outside the training window of acme/night' "$T/page.html"
get /metrics > "$T/metrics.txt"
check "/metrics counts deliveries per repository" "$(grep 'deliveries_total{repository="acme/vlm",status="202"' "$T/metrics.txt")" \
    grep -qx 'swift_webhook_deliveries_total{repository="acme/vlm",status="202",decision="started"} 4' "$T/metrics.txt"
# A delivery no secret signed has no repository yet; one signed with
# another's secret names the repository it was for.
check "and the 401s: of no repository, or the one they named" "$(grep 'status="401"' "$T/metrics.txt")" \
    bash -c "grep -qx 'swift_webhook_deliveries_total{repository=\"\",status=\"401\",decision=\"rejected\"} 1' '$T/metrics.txt' &&
	grep -qx 'swift_webhook_deliveries_total{repository=\"acme/vlm\",status=\"401\",decision=\"rejected\"} 1' '$T/metrics.txt' &&
	grep -qx 'swift_webhook_deliveries_total{repository=\"acme/llm\",status=\"401\",decision=\"rejected\"} 1' '$T/metrics.txt'"

# A retry runs with its repository's section, past its day's budget.
out=$("$BIN" -c "$CONF" retry "$V1" 2>&1)
R1=${out%% *}
wait_for 30 bash -c "$(declare -f ended); R='$R'; ended '$R1'"
check "retry of a vlm job runs vlm's command" "$out $(cat "$T/trainers.log")" \
    grep -qx "vlm $R1 vlm acme/vlm" "$T/trainers.log"

# --- superseding stays within a repository's branch -------------------------
# One slot, held; then vlm's push and two of llm's wait: llm's newer push
# supersedes llm's older one, never vlm's on the same branch name.
R2=$T/runs2
mkdir -p "$R2"
C2=$T/c2
cat > "$C2" <<EOF
secret_file = $CONF.secret
run_dir     = $R2
gpus        = 0
concurrency = supersede

[acme/llm]
repository  = $T/llm.git
command     = $T/train-llm.sh sft {config} --output_dir {output_dir}

[acme/vlm]
secret_file = $T/vlm.secret
repository  = $T/vlm.git
configs     = recipes/*.yaml
command     = $T/train-vlm.sh sft {config} --output_dir {output_dir}
EOF
CGI_CONF=$C2 rpush s1 llm acme/llm configs/long.yaml "$SECRET_FILE"
CGI_CONF=$C2 rpush s2 vlm acme/vlm recipes/q.yaml "$VLM_SECRET"
CGI_CONF=$C2 rpush s3 llm acme/llm configs/short.yaml "$SECRET_FILE"
CGI_CONF=$C2 rpush s4 llm acme/llm configs/mid.yaml "$SECRET_FILE"
S2=$(idof s2) S3=$(idof s3)
check "llm's newer push supersedes llm's waiting one" "$(jq -c '{state}' "$R2/$S3/job.json")" \
    jq -e '.state == "superseded"' "$R2/$S3/job.json"
check "and leaves vlm's, on a branch of the same name, waiting" "$(jq -c '{state}' "$R2/$S2/job.json")" \
    jq -e '.state == "queued"' "$R2/$S2/job.json"
# --- a section removed while its job waits -----------------------------------
# vlm's section goes while its job waits: the job is refused when its
# turn comes, said, and the llm job behind it starts; a retry is refused.
sed -i '/^\[acme\/vlm\]/,$d' "$C2"
S4=$(idof s4)
"$BIN" -c "$C2" cancel "$(idof s1)" > /dev/null 2>&1
wait_for 60 bash -c "'$BIN' -c '$C2' jobs --json | jq -e 'all(.[]; .state | test(\"^(succeeded|failed|killed|cancelled|superseded|timeout|lost)\$\"))' > /dev/null"
check "a waiting job whose section was removed fails when its turn comes, said" \
    "$(jq -c '{state, error}' "$R2/$S2/job.json")" \
    jq -e '.state == "failed" and (.error | test("repository acme/vlm is no longer configured"))' "$R2/$S2/job.json"
check "and the job behind it runs" "$(jq -c '{state}' "$R2/$S4/job.json")" \
    jq -e '.state == "succeeded"' "$R2/$S4/job.json"
out=$("$BIN" -c "$C2" retry "$S2" 2>&1)
check "a retry of it is refused, saying why" "$out" \
    bash -c "! '$BIN' -c '$C2' retry '$S2' > /dev/null 2>&1 && echo '$out' | grep -q 'refused: repository acme/vlm is not configured'"

# --- what a section may not set ---------------------------------------------
BAD=$T/bad
{ cat "$CONF"; printf '\n[acme/eval]\nrun_dir = %s/elsewhere\n' "$T"; } > "$BAD"
out=$("$BIN" -c "$BAD" check --user root 2>&1)
check "check refuses a section that sets run_dir, naming its line" "$out" \
    bash -c "echo '$out' | grep -q 'bad:[0-9]*: run_dir: one per machine, set before the first section, not in \[acme/eval\]'"
check "and exits non-zero" "" bash -c "! '$BIN' -c '$BAD' check --user root > /dev/null 2>&1"
CGI_CONF=$BAD rpush bad llm acme/llm configs/sft.yaml "$SECRET_FILE"
expect bad 500 '.status == "error"'
check "every delivery then answers 500, the reason in the log" "$(cat "$T/bad.err")" \
    grep -q 'run_dir: one per machine' "$T/bad.err"

# Nothing left running when the folder goes.
wait_for 60 bash -c "'$BIN' -c '$CONF' jobs --json | jq -e 'all(.[]; .state | test(\"^(succeeded|failed|killed|cancelled|superseded|timeout|lost)\$\"))' > /dev/null"
