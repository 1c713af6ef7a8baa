# tests/slurm-scenarios.sh: what both Slurm suites (tests/slurm.sh with
# accounting and gres, tests/slurm-plain.sh without either) run the same
# way against their cluster (sourced, bash; after slurm_up, with $BIN,
# $T, $WORK, $SLURMCONF, slurmconf, until_state, state and $T/notified
# as those suites set them):
#
#	a supervisor killed between sbatch's answer and its record: the
#	Slurm job is found by its name (swift-<job>) when a delivery takes
#	the job over (with accounting, after the controller forgot it: by
#	sacct), recorded, never submitted twice, and ends right;
#	/metrics shows a running Slurm job's progress and loss;
#	scontrol requeue: the job waits again (its reason said), runs
#	again and ends right, notify once;
#	the controller stopped for a minute while a job runs and ends: the
#	supervisor asks on, says it once, and records the end Slurm gives
#	once the controller is back.
#
# slurm_scenarios_plan: how many checks slurm_scenarios runs.
slurm_scenarios_plan() { echo 15; }

# named_count NAME: how many Slurm jobs of ours were named NAME (sacct
# where there is accounting; else squeue, which keeps an ended job
# MinJobAge, 300 s, there).
named_count() {
	if [ -n "${SLURM_PLAIN:-}" ]; then
		SLURM_CONF=$SLURMCONF squeue -h -t all -u 0 --name="$1" -o %i | wc -l
	else
		SLURM_CONF=$SLURMCONF sacct -X -n -P -u 0 --name="$1" -S now-3600 -o JobID | wc -l
	fi
}

# ignored NAME CONF: a signed push to a branch no config watches (200,
# ignored): a delivery, and so a tick after its answer.
ignored() {
	N=$((N + 1))
	push "$T/$1.json" "$(sha $((${SHA_BASE:-9000} + N)))" refs/heads/elsewhere configs/sft.yaml
	CGI_CONF=$2 cgi "$1" POST application/json push "d-$1" "$(sign "$T/$1.json")" "$T/$1.json"
}

# slurm_scenarios [LINE...]: LINEs go in its own run directory's config
# (as in the suite's $T/conf: slurm_gpus).
slurm_scenarios() {
	local R5=$T/runs-sbatch J5 K ID5 M J6 ID6 J7 ID7 i by
	printf 'model: m\nfake_sleep: 12\nfake_steps: 6\n' > "$WORK/configs/steps.yaml"
	printf 'model: m\nfake_sleep: 20\nfake_steps: 2\n' > "$WORK/configs/outage.yaml"

	# --- killed between sbatch and its record: found by name -------------
	# sbatch as the supervisor finds it on its PATH: the real one, then
	# its caller killed before it reads the id (once).
	mkdir -p "$T/sbin"
	cat > "$T/sbin/sbatch" <<EOF
#!/bin/sh
out=\$(/usr/bin/sbatch "\$@") || { echo "\$out"; exit 1; }
if mkdir "$T/sbatch-killed" 2>/dev/null; then
	echo "\$PPID \$out" > "$T/sbatch-killed/who"
	kill -9 \$PPID
	exit 0
fi
echo "\$out"
EOF
	chmod 755 "$T/sbin/sbatch"
	slurmconf "$T/sb.conf" "$R5" "notify = $T/notify.sh" "$@"
	CGI_PATH=$T/sbin:/usr/local/bin:/usr/bin:/bin deliver sb "$T/sb.conf" configs/mid.yaml
	J5=$(idof sb)
	wait_for 30 test -s "$T/sbatch-killed/who"
	K=$(awk '{print $1}' "$T/sbatch-killed/who" 2>/dev/null)
	ID5=$(awk '{print $2}' "$T/sbatch-killed/who" 2>/dev/null)
	ID5=${ID5%%;*}
	wait_for 5 bash -c "$(declare -f alive); ! alive $K"
	check "sbatch killed: its supervisor died after sbatch answered, before the record (a test of this test)" \
	    "$(cat "$T/sbatch-killed/who" "$R5/$J5/job.json" 2>&1)" \
	    jq -e --argjson k "${K:-0}" '.supervisor == $k and (.slurm_job_id // 0) == 0' "$R5/$J5/job.json"
	# With accounting, once the controller has forgotten the job (here
	# MinJobAge = 2): then the accounting (sacct) finds it.
	[ -n "${SLURM_PLAIN:-}" ] || wait_for 40 bash -c "[ -z \"\$(SLURM_CONF=$SLURMCONF squeue -h -t all -u 0 --name=swift-$J5 2>/dev/null)\" ]"
	# The tick after a delivery comes at most once a minute: as if one
	# had passed since the first delivery's.
	touch -d '2 minutes ago' "$R5/.tick"
	ignored sb-next "$T/sb.conf"
	check "sbatch killed: the next delivery takes the job over and finds its Slurm job by name" \
	    "$(cat "$T/sb-next.out"; cat "$R5/$J5/job.json"; tail -5 "$R5/$J5/log")" \
	    wait_for 30 jq -e --argjson id "${ID5:-0}" '.slurm_job_id == $id' "$R5/$J5/job.json"
	until_state "$J5" succeeded 60 "$T/sb.conf"
	check "sbatch killed: it ends succeeded, submitted once" \
	    "$(cat "$R5/$J5/job.json"; named_count "swift-$J5")" \
	    test "$(state "$J5" "$T/sb.conf") $(named_count "swift-$J5")" = "succeeded 1"
	if [ -n "${SLURM_PLAIN:-}" ]; then by=squeue; else by=sacct; fi
	check "sbatch killed: its log says it was found by name ($by)" "$(cat "$R5/$J5/log")" \
	    grep -q "found by its name swift-$J5 ($by), Slurm job $ID5" "$R5/$J5/log"
	wait_for 10 grep -q "^$J5 " "$T/notified"
	sleep 1
	check "sbatch killed: notify once" "$(cat "$T/notified")" \
	    test "$(grep -c "^$J5 succeeded 0$" "$T/notified")" = 1

	# --- /metrics while a Slurm job runs, then a requeue ------------------
	deliver rq "$T/conf" configs/steps.yaml
	J6=$(idof rq)
	until_state "$J6" running 30
	ID6=$(jq -r '.slurm_job_id // empty' "$T/runs/$J6/job.json")
	wait_for 10 bash -c "grep -q global_step '$T/runs/$J6/output/logging.jsonl' 2>/dev/null"
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
	    PATH_INFO=/metrics SWIFT_WEBHOOK_CONFIG="$T/conf" "$BIN" > "$T/m-live.raw"
	body_of "$T/m-live.raw" > "$T/m-live.txt"
	M=$(grep "^swift_webhook_job_progress_ratio{.*job_id=\"$J6\"" "$T/m-live.txt" | awk '{print $2}')
	check "metrics: a running Slurm job's progress, from its logging.jsonl" \
	    "$(grep -i "job_\|jobs{" "$T/m-live.txt")" \
	    awk -v m="${M:-0}" 'BEGIN { exit !(m > 0 && m < 1) }'
	check "metrics: its loss, and it counts as running" "$(grep -i "job_\|jobs{" "$T/m-live.txt")" \
	    bash -c "grep -q '^swift_webhook_job_loss{.*job_id=\"$J6\"' '$T/m-live.txt' &&
	        awk '\$1 == \"swift_webhook_jobs{state=\\\"running\\\"}\" && \$2 >= 1 {f = 1} END {exit !f}' '$T/m-live.txt'"
	SLURM_CONF=$SLURMCONF scontrol requeue "$ID6"
	check "requeue: the job waits again, Slurm's reason said" "$("$BIN" -c "$T/conf" show "$J6" 2>&1)" \
	    wait_for 30 bash -c "'$BIN' -c '$T/conf' show '$J6' 2>/dev/null |
	        jq -e '.state == \"queued\" and (.waiting | startswith(\"slurm: \"))' > /dev/null"
	# A requeued job may start again after CredExpire (121 s): now.
	SLURM_CONF=$SLURMCONF scontrol update JobId="$ID6" StartTime=now
	until_state "$J6" succeeded 60
	check "requeue: it runs again and ends succeeded, the same Slurm job" \
	    "$("$BIN" -c "$T/conf" show "$J6" 2>&1)" jq -e --argjson id "${ID6:-0}" \
	    '.state == "succeeded" and .exit_code == 0 and .slurm_job_id == $id' "$T/runs/$J6/job.json"
	check "requeue: the log says so, and the trainer started twice" "$(cat "$T/runs/$J6/log")" \
	    bash -c "grep -q 'Slurm requeued job $ID6' '$T/runs/$J6/log' &&
	        test \"\$(grep -c '^fake-swift: sft ' '$T/runs/$J6/log')\" = 2"
	wait_for 10 grep -q "^$J6 " "$T/notified"
	sleep 1
	check "requeue: notify once, for its end" "$(cat "$T/notified")" \
	    test "$(grep -c "^$J6 " "$T/notified")" = 1

	# --- the controller stopped for a minute ------------------------------
	deliver outage "$T/conf" configs/outage.yaml
	J7=$(idof outage)
	until_state "$J7" running 30
	ID7=$(jq -r '.slurm_job_id // empty' "$T/runs/$J7/job.json")
	slurm_ctld_stop
	check "outage: squeue cannot reach the controller (a test of this test)" "" \
	    bash -c "! SLURM_CONF=$SLURMCONF squeue -h -j $ID7 > /dev/null 2>&1"
	for i in 1 2 3; do
		sleep 10
		"$BIN" -c "$T/conf" jobs --json > "$T/outage-jobs.json" 2>&1
	done
	check "outage: jobs still shows it running, not lost or failed" "$(cat "$T/outage-jobs.json")" \
	    jq -e --arg j "$J7" '.[] | select(.id == $j) | .state == "running"' "$T/outage-jobs.json"
	sleep 20	# a minute in all; the job ended meanwhile
	slurm_ctld_start
	until_state "$J7" succeeded 90
	check "outage: once the controller is back, its end is recorded: succeeded, exit code 0" \
	    "$("$BIN" -c "$T/conf" show "$J7" 2>&1; tail -5 "$T/runs/$J7/log")" \
	    jq -e '.state == "succeeded" and .exit_code == 0' "$T/runs/$J7/job.json"
	# Once per distinct answer (squeue's words may change as the
	# controller goes), never once per ask.
	check "outage: the supervisor said the controller's silence, not at every ask" "$(cat "$T/runs/$J7/log")" \
	    bash -c "n=\$(grep -c 'squeue failed' '$T/runs/$J7/log'); [ \$n -ge 1 ] && [ \$n -le 2 ]"
}
