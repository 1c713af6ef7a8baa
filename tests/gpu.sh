#!/bin/bash
# tests/gpu.sh: gpu_check against a fake nvidia-smi on PATH whose answers
# the test controls: a busy GPU holds its job ("waiting: gpu busy") and
# only its slot, the job starts once the GPU is free, a cancel while it
# waits; no nvidia-smi, an error, a hang, a GPU it does not list: the
# check is skipped with a note in the log, never a stuck queue.
. "$(dirname "$0")/lib.sh"
plan 28
mktestdir gpu

WORK=$T/work
mkworkdir "$WORK" 0
printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_sleep: 60\n' > "$WORK/configs/long.yaml"

SMI=$T/smi
mkdir -p "$T/bin" "$SMI"
cat > "$T/bin/nvidia-smi" <<EOF
#!/bin/sh
echo "\$*" >> $SMI/calls
[ -e $SMI/hang ] && sleep 100
[ -e $SMI/fail ] && { echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2; exit 9; }
cat $SMI/answer
EOF
chmod 755 "$T/bin/nvidia-smi"
# gpus USED0 USED1: what nvidia-smi says, in its csv,noheader,nounits form.
gpus() { printf '0, %s, 81920\n1, %s, 81920\n' "$1" "$2" > "$SMI/answer"; }
gpus 3 3
export CGI_PATH=$T/bin:/usr/local/bin:/usr/bin:/bin

R=$T/runs
mkdir -p "$R"
writeconf "$T/conf" "$R" "$WORK" "gpus = 0 1" "gpu_check = yes" \
    "gpu_check_interval = 1" "kill_grace = 1"
sed -i '/^slots = /d' "$T/conf"

state() { "$BIN" -c "$T/conf" show "$1" 2>/dev/null | jq -r .state; }
until_state() { wait_for "${3:-15}" bash -c "[ \"\$('$BIN' -c '$T/conf' show '$1' 2>/dev/null | jq -r .state)\" = '$2' ]"; }

# --- free GPUs: at once ----------------------------------------------------------
deliver free "$T/conf" configs/sft.yaml
J=$(idof free)
until_state "$J" succeeded
check "free GPUs: it ran" "$(cat "$R/$J/log")" test "$(state "$J")" = succeeded
check "nvidia-smi was asked exactly this" "$(cat "$SMI/calls")" \
    test "$(tail -1 "$SMI/calls")" = "--query-gpu=index,memory.used,memory.total --format=csv,noheader,nounits"
check "no note when the check worked" "$(cat "$R/$J/log")" bash -c "! grep -q 'GPU check skipped' '$R/$J/log'"

# --- GPU 0 busy: its job waits; GPU 1's runs -------------------------------------
gpus 20000 3
deliver busy "$T/conf" configs/sft.yaml
J=$(idof busy)
expect busy 202 '.jobs[0].state == "preparing"'
wait_for 5 grep -q 'waiting:' "$R/$J/log"
check "busy: it waits, preparing, waiting: gpu busy" "$(cat "$R/$J/job.json")" \
    jq -e '.state == "preparing" and .waiting == "gpu busy" and .gpus == "0"' "$R/$J/job.json"
check "busy: the log says which GPU and how much" "$(cat "$R/$J/log")" \
    grep -q 'GPU 0 has 20000 of 81920 MiB in use by another process (gpu_busy_mib 1024)' "$R/$J/log"
"$BIN" -c "$T/conf" jobs > "$T/jobs.txt"
check "busy: jobs shows why" "$(cat "$T/jobs.txt")" grep -q "$J .*waiting: gpu busy" "$T/jobs.txt"
env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/ \
    SWIFT_WEBHOOK_CONFIG="$T/conf" "$BIN" > "$T/page.html" 2>&1
check "busy: the status page shows why" "$(cat "$T/page.html")" \
    grep -q '<small class="waiting">waiting: gpu busy</small>' "$T/page.html"
deliver other "$T/conf" configs/long.yaml
O=$(idof other)
until_state "$O" running
check "the other GPU's job runs meanwhile" "$(cat "$R/$O/job.json")" jq -e '.gpus == "1"' "$R/$O/job.json"
N=$(wc -l < "$SMI/calls")
sleep 2.5
check "busy: looked again every gpu_check_interval" "$(wc -l < "$SMI/calls")" \
    test "$(wc -l < "$SMI/calls")" -ge $((N + 2))
check "busy: the trainer has not started" "" test ! -e "$R/$J/output"
gpus 3 3
until_state "$J" succeeded 15
check "freed: it ran on GPU 0" "$(cat "$R/$J/job.json")" \
    jq -e '.state == "succeeded" and .gpus == "0" and .waiting == null' "$R/$J/job.json"
check "freed: said in the log" "$(cat "$R/$J/log")" grep -q 'GPU 0 free' "$R/$J/log"
"$BIN" -c "$T/conf" cancel "$O" > /dev/null 2>&1

# --- cancelled while waiting ------------------------------------------------------
gpus 20000 20000
deliver wait "$T/conf" configs/sft.yaml
J=$(idof wait)
wait_for 5 grep -q 'waiting:' "$R/$J/log"
"$BIN" -c "$T/conf" cancel "$J" > "$T/cancel.txt" 2>&1
check "cancel while waiting: cancelled" "$(cat "$T/cancel.txt")" grep -q "$J cancelled" "$T/cancel.txt"
check "cancel while waiting: no trainer ever ran" "" test ! -e "$R/$J/output"
check "cancel while waiting: its slot is free" "" \
    bash -c "flock -n '$R/.slots/0' true && flock -n '$R/.slots/1' true"
gpus 3 3

# --- the check cannot be made: skipped, noted, never stuck -----------------------
skipped() {	# NAME WHY: a job runs and its log notes WHY
	deliver "$1" "$T/conf" configs/sft.yaml
	local j
	j=$(idof "$1")
	until_state "$j" succeeded "${3:-15}"
	check "$1: it ran anyway" "$(cat "$R/$j/log")" test "$(state "$j")" = succeeded
	check "$1: noted in the log" "$(cat "$R/$j/log")" grep -q "GPU check skipped: $2" "$R/$j/log"
}
CGI_PATH=/usr/local/bin:/usr/bin:/bin skipped nosmi "cannot exec nvidia-smi: No such file or directory"
touch "$SMI/fail"
skipped smifails "nvidia-smi failed (status 9): NVIDIA-SMI has failed"
rm "$SMI/fail"
touch "$SMI/hang"
skipped smihangs "nvidia-smi did not answer within 10s" 30
rm "$SMI/hang"
printf '0, 3, 81920\n' > "$SMI/answer"
deliver first "$T/conf" configs/long.yaml
F=$(idof first)
until_state "$F" running
skipped unlisted "nvidia-smi does not list GPU 1"
"$BIN" -c "$T/conf" cancel "$F" > /dev/null 2>&1
printf 'garbage\n' > "$SMI/answer"
skipped garbage "nvidia-smi does not list GPU 0"

# --- check ----------------------------------------------------------------------
PATH=/usr/local/bin:/usr/bin:/bin "$BIN" -c "$T/conf" check --user root > "$T/check.txt" 2>&1
check "check notes a missing nvidia-smi" "$(cat "$T/check.txt")" \
    grep -q 'note: gpu_check: cannot exec nvidia-smi' "$T/check.txt"
printf 'secret = x\nrun_dir = %s\ngpu_check = yes\n' "$R" > "$T/bad.conf"
"$BIN" -c "$T/bad.conf" jobs > "$T/bad.txt" 2>&1
check "gpu_check without gpus is refused" "$(cat "$T/bad.txt")" grep -q 'gpu_check needs gpus' "$T/bad.txt"
