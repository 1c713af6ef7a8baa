# tests/servers.sh: checks run against a real web server (sourced by
# tests/apache.sh and tests/lighttpd.sh, after lib.sh).
#
# The caller defines server_start, server_stop, server_restart KIND and
# server_log, sets URL, and calls the checks below for each way of serving.

WWW=www-data

# setup_dirs: run directory, training checkout and config, readable or
# writable by the server's user as they would be on Debian.
setup_dirs() {
	# The server's user runs these: copies where it can reach them,
	# whatever the permissions of the checkout's folders.
	mkdir -p "$T/bin"
	cp "$BIN" "$FAKE" "$T/bin/"
	BIN=$T/bin/swift-webhook
	FAKE=$T/bin/fake-swift
	RUNS=$T/runs
	WORK=$T/work
	CONF=$T/swift-webhook.conf
	mkdir -p "$RUNS"
	chown "$WWW:$WWW" "$RUNS"
	mkworkdir "$WORK" 0
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nfake_sleep: 120\n' > "$WORK/configs/sleep.yaml"
	writeconf "$CONF" "$RUNS" "$WORK"
	chgrp "$WWW" "$CONF.secret"
	chmod 644 "$CONF"
	# A large body that no test reads: over max_body by one byte.
	head -c 26214401 /dev/zero > "$T/over.bin"
}

# server_ready PIDFILE: the server wrote its PID and answers HTTP.
server_ready() {
	wait_for 10 test -s "$1" &&
	    wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PORT/"
}

# server_gone PID: waits until the server's main process has exited.
server_gone() { wait_for 15 bash -c "! kill -0 $1 2>/dev/null"; }

# render SRC DST [sed-expr...]: a shipped config with the test's paths.
render() {
	local src=$1 dst=$2
	shift 2
	sed -e "s|/usr/lib/cgi-bin/swift-webhook|$BIN|g" \
	    -e "s|/etc/swift-webhook.conf|$CONF|g" "$@" "$src" > "$dst"
}

# post NAME EVENT DELIVERY FILE [CONTENT-TYPE [SIGNATURE]]
# Answer body in $T/NAME.body; prints the HTTP status.
post() {
	local name=$1 event=$2 delivery=$3 file=$4
	local ctype=${5:-application/json} sig=${6:-$(sign "$4")}
	curl -s -o "$T/$name.body" -w '%{http_code}' --max-time 60 \
	    -H "Content-Type: $ctype" -H "X-GitHub-Event: $event" \
	    -H "X-GitHub-Delivery: $delivery" -H "X-Hub-Signature-256: $sig" \
	    -H "User-Agent: GitHub-Hookshot/test" \
	    --data-binary @"$file" "$URL"
}

# expect_http NAME WANT GOT: one check, with the answer and log on failure.
expect_http() {
	if [ "$3" = "$2" ]; then
		pass "$1"
	else
		fail "$1" "status $3, want $2: $(head -c 300 "$T/$1.body" 2>/dev/null)"
		server_log | tail -n 20
	fi
}

# outside_server PID: PID shares no session or group with the server.
outside_server() {
	local g s
	read -r g s < <(ps -o pgid=,sid= -p "$1")
	[ -n "$s" ] || return 1
	server_sessions | awk -v g="$g" -v s="$s" \
	    '$2 == g || $3 == s || $2 == s || $3 == g {f = 1} END {exit f}'
}

# server_sessions: "pid pgid sid" of the processes in the server's session.
server_sessions() {
	local sid
	sid=$(ps -o sid= -p "$(server_pid)" | tr -d ' ')
	ps -eo pid=,pgid=,sid=,args= | awk -v s="$sid" '$3 == s {print $1, $2, $3}'
}

# responders: PIDs of FastCGI responders (in the server's session; the
# supervisors run the same program in sessions of their own).
responders() {
	local sid
	sid=$(ps -o sid= -p "$(server_pid)" | tr -d ' ')
	ps -eo pid=,sid=,args= | awk -v s="$sid" -v b="$BIN" \
	    '$2 == s && $3 == b {print $1}'
}

# job_of NAME: the first job id in an answer.
job_of() { jq -r '.jobs[0].id // empty' "$T/$1.body" 2>/dev/null; }

# basics MODE N: every status the issue names, through the server.
basics() {
	local m=$1 n=$2 got id
	push "$T/$m-push.json" "$(sha "$n")" refs/heads/main train.py
	got=$(post "$m-push" push "$m-d1" "$T/$m-push.json")
	expect_http "$m-push" 202 "$got"
	id=$(job_of "$m-push")
	if [ -n "$id" ] && wait_for 10 test -s "$RUNS/$id/output/argv"; then
		check "$m: trainer ran swift sft CONFIG" "$(cat "$RUNS/$id/output/argv")" \
		    test "$(tr '\n' ' ' < "$RUNS/$id/output/argv")" = \
		    "$FAKE sft configs/sft.yaml --output_dir $RUNS/$id/output --add_version false "
		check "$m: trainer env has no CGI variables" "$(cat "$RUNS/$id/output/env")" \
		    bash -c "! grep -Eq '^(HTTP_|SERVER_|REMOTE_|GATEWAY_|SCRIPT_|SWIFT_WEBHOOK)' '$RUNS/$id/output/env'"
		check "$m: trainer has only fds 0-2" "$(grep fds "$RUNS/$id/output/info")" \
		    grep -qx 'fds=0 1 2 ' "$RUNS/$id/output/info"
	else
		fail "$m: trainer ran swift sft CONFIG" "no output for job '$id'"
	fi
	got=$(post "$m-redeliver" push "$m-d1" "$T/$m-push.json")
	expect_http "$m-redeliver" 200 "$got"

	printf '{"zen":"Design for failure.","hook_id":7}' > "$T/$m-ping.json"
	got=$(post "$m-ping" ping "$m-ping" "$T/$m-ping.json")
	expect_http "$m-ping" 200 "$got"
	got=$(post "$m-badsig" push "$m-badsig" "$T/$m-push.json" application/json \
	    "sha256=$(printf '%064d' 0)")
	expect_http "$m-badsig" 401 "$got"
	got=$(curl -s -o "$T/$m-get.body" -D "$T/$m-get.head" -w '%{http_code}' "$URL")
	expect_http "$m-get" 405 "$got"
	check "$m: 405 says Allow: POST" "$(cat "$T/$m-get.head")" grep -qi '^Allow: POST' "$T/$m-get.head"
	got=$(post "$m-type" push "$m-type" "$T/$m-push.json" text/plain)
	expect_http "$m-type" 415 "$got"

	bigpush "$T/$m-big.json" "$(sha $((n + 1)))" 26000000
	got=$(post "$m-big" push "$m-big" "$T/$m-big.json")
	expect_http "$m-big" 202 "$got"
	got=$(post "$m-over" push "$m-over" "$T/over.bin")
	expect_http "$m-over" 413 "$got"
	rm -f "$T/$m-big.json"
}

# sections MODE N: one config with two sections through the server (the
# FastCGI responders read it at start, so the server restarts around it):
# each repository's push signed with its own secret starts a job, one
# signed with the other's is refused 401, one of no section is ignored.
sections() {
	local m=$1 n=$2 got
	cp "$CONF" "$CONF.one"
	printf 'vlm-secret-%s\n' "$m" > "$T/vlm.secret"
	chgrp "$WWW" "$T/vlm.secret"
	chmod 640 "$T/vlm.secret"
	{ cat "$CONF.one"; printf '[acme/train]\n[acme/vlm]\nsecret_file = %s\n' \
	    "$T/vlm.secret"; } > "$CONF"
	server_restart
	push "$T/$m-sa.json" "$(sha "$n")" refs/heads/main train.py
	sed 's|"acme/train"|"acme/vlm"|' "$T/$m-sa.json" > "$T/$m-sv.json"
	sed 's|"acme/train"|"acme/other"|' "$T/$m-sa.json" > "$T/$m-so.json"
	got=$(post "$m-sections-train" push "$m-sa" "$T/$m-sa.json")
	expect_http "$m-sections-train" 202 "$got"
	got=$(SECRET=vlm-secret-$m post "$m-sections-vlm" push "$m-sv" "$T/$m-sv.json" \
	    application/json "$(SECRET=vlm-secret-$m sign "$T/$m-sv.json")")
	expect_http "$m-sections-vlm" 202 "$got"
	got=$(post "$m-sections-cross" push "$m-sx" "$T/$m-sv.json")
	expect_http "$m-sections-cross" 401 "$got"
	got=$(post "$m-sections-other" push "$m-so" "$T/$m-so.json")
	expect_http "$m-sections-other" 200 "$got"
	check "$m: a repository of no section is ignored, said why" "$(cat "$T/$m-sections-other.body")" \
	    jq -e '.reason == "repository acme/other is not configured"' "$T/$m-sections-other.body"
	mv "$CONF.one" "$CONF"
	server_restart
}

# early MODE: answers given before the body is read (415 here) reach the
# client every time, with a 200 KB body, 30 times in a row.
early() {
	local m=$1 i got bad=
	head -c 200000 /dev/zero | tr '\0' x > "$T/$m-200k.body"
	for i in $(seq 30); do
		got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
		    -H "Content-Type: text/plain" -H "X-GitHub-Event: push" \
		    -H "X-GitHub-Delivery: $m-early-$i" \
		    --data-binary @"$T/$m-200k.body" "$URL")
		[ "$got" = 415 ] || bad="$bad $i:$got"
	done
	check "$m: 30 early answers (415) on 200 KB bodies all arrive" "$bad" test -z "$bad"
}

# survives MODE N: a sleeping job outlives graceful and full restarts.
survives() {
	local m=$1 n=$2 got id pid kind
	push "$T/$m-sleep.json" "$(sha "$n")" refs/heads/main configs/sleep.yaml
	got=$(post "$m-sleep" push "$m-sleep" "$T/$m-sleep.json")
	expect_http "$m-sleep" 202 "$got"
	id=$(job_of "$m-sleep")
	pid=$(jq -r '.jobs[0].pid // empty' "$T/$m-sleep.body")
	[ -n "$pid" ] || { fail "$m: sleeping job" "no pid"; return; }
	check "$m: trainer in none of the server's sessions or groups" \
	    "trainer $(ps -o pid=,pgid=,sid= -p "$pid"); server: $(server_sessions | tr '\n' ';')" \
	    outside_server "$pid"
	for kind in $SERVER_RESTARTS; do
		server_restart "$kind"
		check "$m: job alive after $kind" "pid $pid gone" alive "$pid"
		check "$m: pid file kept after $kind" "$(cat "$RUNS/$id/pid" 2>&1)" \
		    test "$(cat "$RUNS/$id/pid" 2>/dev/null)" = "$pid"
	done
	got=$(post "$m-after" ping "$m-after" "$T/$m-ping.json")
	expect_http "$m-after" 200 "$got"
	kill -9 -- "-$pid" 2>/dev/null
}

# parallel MODE N: 20 commits, each delivered 10 times with distinct ids,
# from 16 clients at once, give exactly 20 jobs and no error.
parallel() {
	local m=$1 n=$2 i k r bad jobs procs s0 d0 s1 d1 holder
	for i in $(seq 0 19); do
		push "$T/$m-par$i.json" "$(sha $((n + i)))" refs/heads/main train.py
	done
	for k in $(seq 0 9); do for i in $(seq 0 19); do
		echo "$i $k"
	done; done > "$T/$m-par.list"
	export -f post sign
	export T URL SECRET
	# Servers that start responders on demand (mod_fcgid) start one more
	# only for a request that found every one busy for a second: keep 12
	# busy that long (accepted pushes, while the test holds the queue lock
	# for 3 s) until there are 4.  What they start is not counted below.
	if [ "$m" = "${m%cgi}" ] && [ -f "$RUNS/.queue.lock" ]; then
		for r in 1 2 3 4 5; do
			[ "$(responders | wc -l)" -ge 4 ] && break
			for i in $(seq 1 12); do
				push "$T/$m-warm$i.json" "$(sha $((5000 + r * 100 + i)))" \
				    refs/heads/main train.py
			done
			flock "$RUNS/.queue.lock" sleep 3 &
			holder=$!
			sleep 0.2
			seq 12 | xargs -P 12 -I{} bash -c 'post warm push "'"$m"'-warm'"$r"'-{}" "$T/'"$m"'-warm{}.json" > /dev/null'
			wait "$holder"
		done
	fi
	s0=$(metric "$STARTED") d0=$(metric "$DUPLICATE")
	xargs -P 16 -L 1 bash -c 's=$(post "'"$m"'-par$0-$1" push "'"$m"'-$0-$1" "$T/'"$m"'-par$0.json"); echo "$s $0 $1"' \
	    < "$T/$m-par.list" > "$T/$m-par.out"
	procs=$(responders | wc -l)
	[ "$m" = "${m%cgi}" ] && check "$m: at least 4 FastCGI responders" "$procs" test "$procs" -ge 4
	bad=$(awk '$1 != 202 && $1 != 200' "$T/$m-par.out" | head -5)
	check "$m: 200 parallel deliveries, no error" "$bad" test -z "$bad"
	check "$m: all 200 answered" "$(wc -l < "$T/$m-par.out")" test "$(wc -l < "$T/$m-par.out")" = 200
	check "$m: 20 answered 202" "$(awk '$1 == 202' "$T/$m-par.out" | wc -l)" \
	    test "$(awk '$1 == 202' "$T/$m-par.out" | wc -l)" = 20
	jobs=0
	for i in $(seq 0 19); do
		k=$(ls -d "$RUNS"/*-"$(sha $((n + i)) | cut -c1-7)"-* 2>/dev/null | wc -l)
		jobs=$((jobs + k))
	done
	check "$m: exactly 20 jobs" "$jobs jobs" test "$jobs" = 20
	s1=$(metric "$STARTED") d1=$(metric "$DUPLICATE")
	check "$m: /metrics counted the 200 exactly: 20 started, 180 duplicate" \
	    "started $s0 -> $s1, duplicate $d0 -> $d1" \
	    test "$((s1 - s0)) $((d1 - d0))" = "20 180"
	bad=
	for i in $(seq 0 19); do
		for d in "$RUNS"/*-"$(sha $((n + i)) | cut -c1-7)"-*; do
			wait_for 10 jq -e '.state == "running" or .state == "succeeded"' "$d/job.json" > /dev/null ||
			    bad="$bad $d:$(jq -c '{state,error}' "$d/job.json" 2>&1)"
			grep -qx '[0-9][0-9]*' "$d/pid" 2>/dev/null || bad="$bad $d:no-pid"
		done
	done
	check "$m: each job has a pid file and a live or finished trainer" "$bad" test -z "$bad"
}

# killed MODE N: SIGKILL to a responder during a burst.
killed() {
	local m=$1 n=$2 i victim bad got
	for i in $(seq 0 9); do
		push "$T/$m-kill$i.json" "$(sha $((n + i)))" refs/heads/main train.py
	done
	for k in $(seq 0 9); do for i in $(seq 0 9); do echo "$i $k"; done; done > "$T/$m-kill.list"
	xargs -P 8 -L 1 bash -c 's=$(post "'"$m"'-kill$0-$1" push "'"$m"'-k$0-$1" "$T/'"$m"'-kill$0.json"); echo "$s $0 $1"' \
	    < "$T/$m-kill.list" > "$T/$m-kill.out" &
	local burst=$!
	wait_for 10 test -s "$T/$m-kill.out"	# answers are coming
	victim=$(responders | head -1)
	if [ -n "$victim" ]; then
		kill -9 "$victim"
		echo "# $m: killed responder $victim during a burst"
	else
		fail "$m: killed a responder during a burst" "no responder found"
	fi
	wait "$burst"
	check "$m: server restarts responders" "$(responders | tr '\n' ' ')" \
	    wait_for 10 bash -c "[ \$(ps -eo args= | grep -c '^$BIN\$') -ge 1 ]"
	push "$T/$m-later.json" "$(sha $((n + 50)))" refs/heads/main train.py
	got=$(post "$m-later" push "$m-later" "$T/$m-later.json")
	expect_http "$m-later" 202 "$got"
	bad=
	for d in "$RUNS"/*/; do
		[ -f "$d/job.json" ] || continue
		jq -e '.id and .state and .sha' "$d/job.json" > /dev/null 2>&1 || bad="$bad $d/job.json"
		[ ! -e "$d/pid" ] || grep -qx '[0-9][0-9]*' "$d/pid" || bad="$bad $d/pid"
	done
	check "$m: no half-written job record" "$bad" test -z "$bad"
}

# metric SERIES: its value in the server's /metrics now (0 if absent).
metric() {
	curl -s --max-time 10 "$URL/metrics" | awk -v k="$1" '$1 == k {print $2; f = 1} END {if (!f) print 0}'
}
STARTED='swift_webhook_deliveries_total{status="202",decision="started"}'
DUPLICATE='swift_webhook_deliveries_total{status="200",decision="duplicate"}'

# metrics_route MODE: GET .../metrics through the server, as shipped.
metrics_route() {
	local m=$1 got ip
	got=$(curl -s -o "$T/$m-metrics.body" -D "$T/$m-metrics.head" -w '%{http_code}' "$URL/metrics")
	expect_http "$m-metrics" 200 "$got"
	check "$m: /metrics is Prometheus text 0.0.4" "$(cat "$T/$m-metrics.head")" \
	    grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/$m-metrics.head"
	check "$m: promtool check metrics passes" "$(promtool check metrics < "$T/$m-metrics.body" 2>&1)" \
	    bash -c "promtool check metrics < '$T/$m-metrics.body'"
	check "$m: /metrics counts the deliveries so far" "$(grep deliveries_total "$T/$m-metrics.body")" \
	    grep -q '^swift_webhook_deliveries_total{status="202",decision="started"} [1-9]' "$T/$m-metrics.body"
	got=$(curl -s -o /dev/null -w '%{http_code}' -I "$URL/metrics")
	check "$m: HEAD /metrics is 200" "status $got" test "$got" = 200
	got=$(curl -s -o "$T/$m-mpost.body" -D "$T/$m-mpost.head" -w '%{http_code}' --data x "$URL/metrics")
	expect_http "$m-mpost" 405 "$got"
	check "$m: 405 at /metrics says Allow: GET, HEAD" "$(cat "$T/$m-mpost.head")" \
	    grep -qi '^Allow: GET, HEAD' "$T/$m-mpost.head"
	got=$(curl -s -o "$T/$m-nope.body" -w '%{http_code}' "$URL/nope")
	expect_http "$m-nope" 404 "$got"
	got=$(curl -s -o "$T/$m-page.body" -D "$T/$m-page.head" -w '%{http_code}' "$URL/")
	expect_http "$m-page" 200 "$got"
	check "$m: the status page is HTML under a CSP" "$(cat "$T/$m-page.head")" \
	    bash -c "grep -qi '^Content-Type: text/html' '$T/$m-page.head' && grep -qi '^Content-Security-Policy: ' '$T/$m-page.head' && grep -q '<table id=\"jobs\">' '$T/$m-page.body'"
	got=$(curl -s -o "$T/$m-job.body" -w '%{http_code}' "$URL/jobs/$(job_of "$m-push")")
	expect_http "$m-job" 200 "$got"
	got=$(curl -s -o "$T/$m-pagepost.body" -w '%{http_code}' --data x "$URL/jobs/x")
	expect_http "$m-pagepost" 405 "$got"
	# Only this machine may read it: a request from another address of
	# ours (not loopback) stands for one from elsewhere.
	ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9.]+$' | grep -v '^127\.')
	if [ -n "$ip" ]; then
		got=$(for p in metrics "" compare trend "jobs/$(job_of "$m-push")"; do
			curl -s -o /dev/null -w '%{http_code} ' --interface "$ip" "$URL/$p"
		done)
		check "$m: /metrics, the status page, /compare, /trend and a job's page refused to a non-local address ($ip)" "status $got" \
		    test "$got" = "403 403 403 403 403 "
	else
		echo "# $m: no non-loopback address here: the local-only rule is not tried"
	fi
}

# counters_survive MODE N: the counters are the same after the server's
# restart, and go on from there.
counters_survive() {
	local m=$1 n=$2 a b c got
	a=$(metric "$STARTED")
	server_restart "${SERVER_RESTARTS##* }"
	b=$(metric "$STARTED")
	push "$T/$m-after.json" "$(sha "$n")" refs/heads/main train.py
	got=$(post "$m-after" push "$m-after" "$T/$m-after.json")
	c=$(metric "$STARTED")
	check "$m: counters survive the server's restart and go on" "$a -> restart -> $b -> one more ($got) -> $c" \
	    test "$b $c" = "$a $((a + 1))"
}

# prom_query QUERY: the value Prometheus (at $PROM_URL) has for QUERY.
prom_query() {
	curl -s --max-time 5 "$PROM_URL/api/v1/query" --data-urlencode "query=$1" |
	    jq -r '.data.result[0].value[1] // empty'
}

# prometheus_scrape MODE N: a real Prometheus (Debian's) scrapes /metrics
# through the server every second; what its HTTP API answers matches what
# the test sent: three more started deliveries, and the running jobs.
prometheus_scrape() {
	local m=$1 n=$2 P=$T/prometheus pport s0 i id want running
	pport=$(free_port)
	PROM_URL=http://127.0.0.1:$pport
	mkdir -p "$P/data"
	cat > "$P/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: swift-webhook
    metrics_path: /hooks/swift-webhook/metrics
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
	prometheus --config.file="$P/prometheus.yml" --storage.tsdb.path="$P/data" \
	    --web.listen-address="127.0.0.1:$pport" > "$P/log" 2>&1 &
	PROM=$!
	s0=$(metric "$STARTED")
	for i in 0 1; do
		push "$T/$m-prom$i.json" "$(sha $((n + i)))" refs/heads/main train.py
		post "$m-prom$i" push "$m-prom$i" "$T/$m-prom$i.json" > /dev/null
	done
	push "$T/$m-prom2.json" "$(sha $((n + 2)))" refs/heads/main configs/sleep.yaml
	post "$m-prom2" push "$m-prom2" "$T/$m-prom2.json" > /dev/null
	id=$(job_of "$m-prom2")
	want=$((s0 + 3))
	check "$m: Prometheus scraped the delivery counter: $want started" "$(prom_query "$STARTED"); $(tail -n 5 "$P/log")" \
	    wait_for 30 bash -c "[ \"\$(curl -s '$PROM_URL/api/v1/query' --data-urlencode 'query=$STARTED' | jq -r '.data.result[0].value[1]')\" = $want ]"
	running=$("$BIN" -c "$CONF" jobs --json | jq '[.[] | select(.state == "running")] | length')
	check "$m: and the running-jobs gauge: $running, the sleeping one among them" "$(prom_query 'swift_webhook_jobs{state="running"}')" \
	    wait_for 30 bash -c "[ \"\$(curl -s '$PROM_URL/api/v1/query' --data-urlencode 'query=swift_webhook_jobs{state=\"running\"}' | jq -r '.data.result[0].value[1]')\" = '$running' ] && [ '$running' -ge 1 ]"
	kill "$PROM" 2>/dev/null
	wait "$PROM" 2>/dev/null
	[ -f "$RUNS/$id/pid" ] && kill -9 -- "-$(cat "$RUNS/$id/pid")" 2>/dev/null
}

# checkout_www MODE: with repository set, a push through the server
# trains in a checkout of exactly its commit, which the supervisor makes
# as the server's user; the config is switched last (CGI reads it per
# request).  The repository belongs to that user: git refuses a local
# repository of another owner ("dubious ownership") unless safe.directory
# allows it.
checkout_www() {
	local m=$1 origin=$T/origin.git dev=$T/dev sha got id
	git init -q --bare -b main "$origin"
	git init -q -b main "$dev"
	mkdir -p "$dev/configs"
	printf 'model: Qwen/Qwen2.5-0.5B-Instruct\nversion: www\n' > "$dev/configs/sft.yaml"
	git -C "$dev" add -A
	git -C "$dev" -c user.name=dev -c user.email=dev@example.com commit -q -m one
	git -C "$dev" push -q "$origin" main
	chown -R "$WWW:$WWW" "$origin"
	sha=$(git -C "$dev" rev-parse HEAD)
	writeconf "$CONF" "$RUNS" - "repository = file://$origin"
	chgrp "$WWW" "$CONF.secret"
	push "$T/$m-git.json" "$sha" refs/heads/main configs/sft.yaml
	got=$(post "$m-git" push "$m-git" "$T/$m-git.json")
	expect_http "$m-git" 202 "$got"
	id=$(job_of "$m-git")
	check "$m: with repository, the job prepares its checkout" "$(cat "$T/$m-git.body")" \
	    jq -e '.jobs[0].state == "preparing"' "$T/$m-git.body"
	check "$m: as $WWW, the job trains its commit and succeeds" "$(cat "$RUNS/$id/job.json" "$RUNS/$id/log" 2>/dev/null)" \
	    wait_for 30 jq -e --arg s "$sha" '.state == "succeeded" and .commit == $s' "$RUNS/$id/job.json"
	check "$m: the trainer ran in the checkout, on the pushed config" "$(cat "$RUNS/$id/output/info" 2>/dev/null)" \
	    bash -c "grep -qx 'cwd=$RUNS/$id/src' '$RUNS/$id/output/info' && grep -qx 'version: www' '$RUNS/$id/output/config'"
	check "$m: the mirror is the server user's, the checkout gone" "$(ls -la "$RUNS/.mirrors" "$RUNS/$id")" \
	    bash -c "[ \"\$(stat -c %U '$RUNS/.mirrors')\" = '$WWW' ] && [ ! -e '$RUNS/$id/src' ]"
}
