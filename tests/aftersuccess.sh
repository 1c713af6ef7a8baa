#!/bin/bash
# tests/aftersuccess.sh: after_success (swift export after a successful
# run): its placeholders, GPUs, log and outcome in job.json; the job stays
# succeeded whatever it does; notify and the commit status say how it went;
# not run after a failure; a missing checkpoint, a cancel during it.  The
# README's example, {checkpoint} with --exist_ok true, against a run with
# ms-swift's defaults (no eval: no best checkpoint).
. "$(dirname "$0")/lib.sh"
plan 28
mktestdir aftersuccess

WORK=$T/work
mkworkdir "$WORK" 0
printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_exit: 3\n' > "$WORK/configs/exit3.yaml"

cat > "$T/notify.sh" <<'EOF'
#!/bin/sh
echo "$JOB_ID $JOB_STATE after=$JOB_AFTER_SUCCESS best=$JOB_BEST_CHECKPOINT last=$JOB_LAST_CHECKPOINT ckpt=$JOB_CHECKPOINT" >> "$NOTIFY_LOG"
EOF
chmod 755 "$T/notify.sh"

API_LOG=$T/api.log
: > "$T/control"
tests/github-api "$T/port" "$API_LOG" "$T/control" &
API_PID=$!
trap 'kill $API_PID 2>/dev/null; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT
wait_for 10 test -s "$T/port"
echo ghp_aftersuccesstoken > "$T/token"

state() { "$BIN" -c "$1" show "$2" 2>/dev/null | jq -r .state; }
until_state() { wait_for "${4:-15}" bash -c "[ \"\$('$BIN' -c '$1' show '$2' 2>/dev/null | jq -r .state)\" = '$3' ]"; }
# conf NAME AFTER_SUCCESS [more lines]
conf() {
	local name=$1 after=$2
	shift 2
	mkdir -p "$T/runs-$name"
	writeconf "$T/$name" "$T/runs-$name" "$WORK" "after_success = $after" \
	    "notify = $T/notify.sh" "notify_env = NOTIFY_LOG=$T/notify-$name.log" \
	    "github_token_file = $T/token" "api_url = http://127.0.0.1:$(cat "$T/port")" \
	    "gpus = 3" "kill_grace = 1" "$@"
	sed -i '/^slots = /d' "$T/$name"
}
# after NAME CONFIG: a push of CONFIG under config NAME, until its job
# succeeded and its after_success has run; the job's id in J, its run
# directory in R.
after() {
	R=$T/runs-$1
	deliver "$1" "$T/$1" "$2"
	J=$(idof "$1")
	until_state "$T/$1" "$J" succeeded
	wait_for 10 bash -c "jq -e '.after_success != null' '$R/$J/job.json' > /dev/null 2>&1"
}
last_post() { jq -r --arg s "$1" 'select(.path | endswith("/statuses/" + $s)) | .body | fromjson | "\(.state): \(.description)"' "$API_LOG" | tail -1; }

# --- the README's example: swift export --adapters {checkpoint} ... ----------------
conf ok "$FAKE export --adapters {checkpoint} --merge_lora true --output_dir {job_dir}/merged --exist_ok true"
R=$T/runs-ok
deliver ok "$T/ok" configs/sft.yaml
J=$(idof ok)
until_state "$T/ok" "$J" succeeded
wait_for 10 test -s "$T/notify-ok.log"
CK=$(jq -r .checkpoint "$R/$J/job.json")
check "no eval, no best checkpoint: the checkpoint is the last one" "$(jq '{checkpoint, last_model_checkpoint, best_model_checkpoint}' "$R/$J/job.json")" \
    jq -e '.best_model_checkpoint == null and .checkpoint == .last_model_checkpoint' "$R/$J/job.json"
check "the run's checkpoint is known" "$CK" test -d "$CK"
check "after_success: succeeded, exit 0, a duration" "$(jq .after_success "$R/$J/job.json")" \
    jq -e '.after_success.state == "succeeded" and .after_success.exit_code == 0 and .after_success.duration >= 0' "$R/$J/job.json"
check "the job stays succeeded" "$(state "$T/ok" "$J")" test "$(state "$T/ok" "$J")" = succeeded
check "{checkpoint} and {job_dir} filled in" "$(cat "$R/$J/merged/argv" 2>&1)" \
    test "$(tr '\n' ' ' < "$R/$J/merged/argv")" = "$FAKE export --adapters $CK --merge_lora true --output_dir $R/$J/merged --exist_ok true "
check "it ran on the job's GPUs" "$(cat "$R/$J/merged/env")" grep -qx 'CUDA_VISIBLE_DEVICES=3' "$R/$J/merged/env"
check "with the trainer's allow-listed environment" "$(cat "$R/$J/merged/env")" \
    bash -c "grep -q '^JOB_ID=$J$' '$R/$J/merged/env' && ! grep -q SECRET '$R/$J/merged/env'"
check "its output is in the job's log" "$(cat "$R/$J/log")" grep -q 'fake-swift: export' "$R/$J/log"
check "notify says the export worked" "$(cat "$T/notify-ok.log")" \
    grep -q "$J succeeded after=succeeded best= last=$CK ckpt=$CK" "$T/notify-ok.log"
check "the commit status: success, after_success done" "$(last_post "$(jq -r .sha "$R/$J/job.json")")" \
    test "$(last_post "$(jq -r .sha "$R/$J/job.json")" | sed 's/in [0-9m]*s/in T/')" = "success: succeeded in T, loss 1.151; after_success done"

# --- a run that evaluates: {best_checkpoint} is its best ---------------------------------
printf 'model: m\nfake_steps: 4\nfake_eval: 2\n' > "$WORK/configs/eval.yaml"
conf eval "$FAKE export --adapters {best_checkpoint} --output_dir {job_dir}/best"
after eval configs/eval.yaml
check "an evaluated run: {best_checkpoint}, its eval loss recorded" "$(jq '{best_model_checkpoint, checkpoint, eval_loss, after_success}' "$R/$J/job.json")" \
    jq -e '(.best_model_checkpoint | endswith("checkpoint-4")) and .checkpoint == .best_model_checkpoint and .eval_loss == 0.625 and .after_success.state == "succeeded"' "$R/$J/job.json"

# --- {best_checkpoint} after a run that did not evaluate: said, not run -------------------
conf nobest "$FAKE export --adapters {best_checkpoint}"
after nobest configs/sft.yaml
check "{best_checkpoint} without eval: not run, and what to use instead" "$(jq .after_success "$R/$J/job.json")" \
    jq -e '.after_success.state == "failed" and (.after_success.error | test("no best_model_checkpoint .*did not evaluate: \\{checkpoint\\}"))' "$R/$J/job.json"

# --- an --output_dir that exists, without --exist_ok: ms-swift refuses it -------------------
conf exists "$FAKE export --adapters {checkpoint} --output_dir {job_dir}"
after exists configs/sft.yaml
check "export into a folder that exists, no --exist_ok: failed, as ms-swift does" "$(cat "$R/$J/log")" \
    bash -c "jq -e '.after_success.exit_code == 1' '$R/$J/job.json' && grep -q 'FileExistsError' '$R/$J/log'"

# --- a failing export: the job still succeeded; notify and status say so -------------
conf bad "$FAKE export --adapters {job_dir}/no-such-checkpoint --merge_lora true"
R=$T/runs-bad
deliver bad "$T/bad" configs/sft.yaml
J=$(idof bad)
until_state "$T/bad" "$J" succeeded
wait_for 10 test -s "$T/notify-bad.log"
check "after_success failed with its exit code" "$(jq .after_success "$R/$J/job.json")" \
    jq -e '.after_success.state == "failed" and .after_success.exit_code == 1' "$R/$J/job.json"
check "the job's state is still succeeded" "$(state "$T/bad" "$J")" test "$(state "$T/bad" "$J")" = succeeded
check "notify: after=failed" "$(cat "$T/notify-bad.log")" grep -q "$J succeeded after=failed" "$T/notify-bad.log"
check "the commit status: failure, after_success failed (exit 1)" "$(last_post "$(jq -r .sha "$R/$J/job.json")")" \
    grep -Eq '^failure: succeeded in .*; after_success failed \(exit 1\)$' <(last_post "$(jq -r .sha "$R/$J/job.json")")

# --- a failed run: no after_success -------------------------------------------------
deliver exit3 "$T/ok" configs/exit3.yaml
J=$(idof exit3)
until_state "$T/ok" "$J" failed
check "a failed run: after_success not run" "$(cat "$R/../runs-ok/$J/job.json")" \
    jq -e '.after_success == null' "$T/runs-ok/$J/job.json"

# --- no checkpoint known: said, not run ------------------------------------------------
COMMAND=/bin/true conf nockpt "$FAKE export --adapters {last_checkpoint}"
R=$T/runs-nockpt
deliver nockpt "$T/nockpt" configs/sft.yaml
J=$(idof nockpt)
until_state "$T/nockpt" "$J" succeeded
check "no checkpoint: failed with the reason, not run" "$(jq .after_success "$R/$J/job.json")" \
    jq -e '.after_success.state == "failed" and .after_success.exit_code == null and (.after_success.error | test("no last_model_checkpoint in .*/logging.jsonl"))' "$R/$J/job.json"

# --- a checkpoint that is not a folder of the output: said, not run ---------------------
# The trainer writes logging.jsonl itself: a checkpoint that is an option,
# one outside output_dir, one with "..", one through a symlink out of it.
cat > "$T/liar.sh" <<'EOF'
#!/bin/sh
mkdir -p "$JOB_OUTPUT_DIR/ok"
ln -s /etc "$JOB_OUTPUT_DIR/ok/link"
case "$1" in
opt) c='--merge_lora=true' ;;
out) c=/etc ;;
dots) c="$JOB_OUTPUT_DIR/ok/../../" ;;
*) c="$JOB_OUTPUT_DIR/ok/link" ;;
esac
printf '{"last_model_checkpoint": "%s", "global_step": 1}\n' "$c" > "$JOB_OUTPUT_DIR/logging.jsonl"
EOF
chmod 755 "$T/liar.sh"
printf '#!/bin/sh\necho "$*" >> %s/after-ran.log\n' "$T" > "$T/after-ran.sh"
chmod 755 "$T/after-ran.sh"
for how in opt out dots link; do
	COMMAND="$T/liar.sh $how" conf "liar$how" "$T/after-ran.sh {last_checkpoint}"
	deliver "liar$how" "$T/liar$how" configs/sft.yaml
	J=$(idof "liar$how")
	until_state "$T/liar$how" "$J" succeeded
	check "a checkpoint the trainer made up ($how): after_success not run, the job says why" \
	    "$(jq -c .after_success "$T/runs-liar$how/$J/job.json"; cat "$T/after-ran.log" 2>/dev/null)" \
	    bash -c "jq -e '.after_success.state == \"failed\" and (.after_success.error | test(\"last_model_checkpoint: .*(not a path|not inside output_dir|not a folder inside)\"))' '$T/runs-liar$how/$J/job.json' > /dev/null && [ ! -e '$T/after-ran.log' ]"
done

# --- cancelled during after_success ------------------------------------------------------
conf slow "/bin/sleep 60"
R=$T/runs-slow
deliver slow "$T/slow" configs/sft.yaml
J=$(idof slow)
wait_for 15 grep -q 'after_success: /bin/sleep' "$R/$J/log"
check "during after_success the job is still running (its GPUs held)" "$(state "$T/slow" "$J")" \
    test "$(state "$T/slow" "$J")" = running
"$BIN" -c "$T/slow" cancel "$J" > "$T/cancel.txt" 2>&1
until_state "$T/slow" "$J" succeeded
check "cancel during after_success: after_success cancelled, the run succeeded" "$(jq .after_success "$R/$J/job.json")" \
    jq -e '.state == "succeeded" and .after_success.state == "cancelled"' "$R/$J/job.json"
check "the sleep is gone" "" bash -c "! pgrep -f '^/bin/sleep 60$' > /dev/null"

# --- bounded by max_runtime ---------------------------------------------------------------
conf bounded "/bin/sleep 60" "max_runtime = 3s"
R=$T/runs-bounded
deliver bounded "$T/bounded" configs/sft.yaml
J=$(idof bounded)
wait_for 20 bash -c "jq -e '.after_success.state != null and .after_success.state != \"running\"' '$R/$J/job.json' > /dev/null 2>&1"
check "after_success past max_runtime: timeout, the run still succeeded" "$(jq '{state, after_success}' "$R/$J/job.json")" \
    jq -e '.state == "succeeded" and .after_success.state == "timeout" and .after_success.duration >= 3' "$R/$J/job.json"

# --- config --------------------------------------------------------------------------------
printf 'secret = x\nrun_dir = %s\ncommand = swift sft {config} --resume {best_checkpoint}\n' "$T" > "$T/badconf"
"$BIN" -c "$T/badconf" jobs > "$T/bad.txt" 2>&1
check "{best_checkpoint} only in after_success" "$(cat "$T/bad.txt")" grep -q 'command: unknown placeholder' "$T/bad.txt"
