#!/bin/bash
# tests/hostile.sh: what a sender with push access (GitHub signs for
# them) or a local user who can plant files in the run directory might
# try, through the binary as a CGI program.  Nothing may be started
# outside the rules, written outside the run directory, or hang.
. "$(dirname "$0")/lib.sh"
plan 53
mktestdir hostile

WORK=$T/work
mkworkdir "$WORK" 0
printf 'model: m\nfake_sleep: 30\n' > "$WORK/configs/sleep.yaml"
printf 'model: m\nfake_sleep: 2\n' > "$WORK/configs/two.yaml"
printf 'model: m\nfake_exit: 3\n' > "$WORK/configs/exit3.yaml"
SHA_BASE=7000
# body NAME JSON: a signed delivery of JSON as push event NAME.
body() {
	printf '%s' "$2" > "$T/$1.json"
	CGI_CONF=$CONF cgi "$1" POST application/json push "${D:-d-$1}" "$(sign "$T/$1.json")" "$T/$1.json"
}
S1=$(sha 1)

# --- a hostile sender ---------------------------------------------------------
RUNS=$T/runs
mkdir -p "$RUNS"
CONF=$T/conf
writeconf "$CONF" "$RUNS" "$WORK"

body repo '{"ref":"refs/heads/main","after":"'"$S1"'","repository":{"full_name":"../escaped"},"commits":[{"added":["train.py"],"removed":[],"modified":[]}]}'
expect repo 400 '.reason | test("repository")'
D=-x body dashdelivery '{"ref":"refs/heads/main","after":"'"$S1"'","commits":[]}'
expect dashdelivery 400 '.reason | test("X-GitHub-Delivery")'
body dupref '{"ref":"refs/heads/dev","ref":"refs/heads/main","after":"'"$S1"'","commits":[{"added":["train.py"],"removed":[],"modified":[]}]}'
expect dupref 400 '.reason | test("twice")'
body dupadded '{"ref":"refs/heads/main","after":"'"$S1"'","commits":[{"added":["README.md"],"added":["train.py"],"removed":[],"modified":[]}]}'
expect dupadded 400 '.reason | test("twice")'
body nul '{"ref":"refs/heads/main\u0000x","after":"'"$S1"'","commits":[]}'
expect nul 400 '.reason | test("u0000")'
body trailing '{"ref":"refs/heads/main","after":"'"$S1"'","commits":[]} {"ref":"x"}'
expect trailing 400 '.reason | test("after the JSON")'
check "refused bodies started nothing" "$(ls "$RUNS")" test -z "$(ls "$RUNS" | grep -v '^\.')"

# Invalid UTF-8 in a file name: never a config, never raw in job.json.
printf '{"ref":"refs/heads/main","after":"%s","repository":{"full_name":"acme/train"},"commits":[{"added":["configs/\xff\xfe.yaml","train.py"],"removed":[],"modified":[]}]}' "$(sha 2)" > "$T/utf8.json"
cgi utf8 POST application/json push d-utf8 "$(sign "$T/utf8.json")" "$T/utf8.json"
expect utf8 202 '.jobs | length == 1 and .[0].config == "configs/sft.yaml"'
bad=
for f in "$RUNS"/*/job.json; do python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null || bad="$bad $f"; done
check "every job.json is valid JSON" "$bad" test -z "$bad"

# A '"' in a ref reaches the log escaped, as logfmt has it.
body quote '{"ref":"refs/heads/a\"b","after":"'"$S1"'","commits":[]}'
expect quote 200 '.status == "ignored"'
check "a '\"' in a value is escaped in the log line" "$(cat "$T/quote.err")" \
    grep -qF 'ref="refs/heads/a\"b"' "$T/quote.err"

# One push may start max_runs_per_push configs (8); the rest are named.
files=
for i in $(seq 12); do printf 'model: m\n' > "$WORK/configs/c$i.yaml"; files="$files configs/c$i.yaml"; done
# shellcheck disable=SC2086
deliver many "$CONF" $files
expect many 202 '(.jobs | length == 8) and (.reason | test("12 config.*max_runs_per_push is 8.*configs/c9.yaml configs/c10.yaml configs/c11.yaml configs/c12.yaml"))'

# Queued jobs cost no process: 30 configs, one slot (once the jobs above,
# one after another, have ended: their supervisors are not these).
wait_for 30 bash -c "! ps -eo args= | grep -q '^$BIN\$'"
R2=$T/runs2
mkdir -p "$R2"
SLOTS=1 writeconf "$T/c2" "$R2" "$WORK" "max_runs_per_push = 40" "max_queued = 25" "kill_grace = 1"
files=
for i in $(seq 30); do printf 'model: m\nfake_sleep: 30\n' > "$WORK/configs/q$i.yaml"; files="$files configs/q$i.yaml"; done
# shellcheck disable=SC2086
deliver queue30 "$T/c2" $files
expect queue30 503 '(.jobs | length == 26) and .jobs[0].state == "running" and ([.jobs[1:][].state] | all(. == "queued")) and (.reason | test("queue full"))'
# The running job has its supervisor and its trainer's reaper (swh-reaper);
# only this config's count (other suites run beside this one).
mine() { for p in $(pgrep -x "$1"); do grep -qsz "^SWIFT_WEBHOOK_CONFIG=$T/c2\$" "/proc/$p/environ" && echo "$p"; done | wc -l; }
sups=$(mine swift-webhook)
reapers=$(mine swh-reaper)
check "26 jobs, one supervisor: waiting jobs have no process" "$sups supervisors, $reapers reapers" \
    test "$sups $reapers" = "1 1"
"$BIN" -c "$T/c2" cancel "$(idof queue30 0)" > /dev/null
check "cancel frees the slot to the next in line" "" \
    wait_for 10 bash -c "'$BIN' -c '$T/c2' show '$(idof queue30 1)' | jq -e '.state == \"running\"' > /dev/null"
for i in $(seq 1 25); do "$BIN" -c "$T/c2" cancel "$(idof queue30 $i)" > /dev/null 2>&1; done

# --- a hostile local user, or lax permissions ----------------------------------
R3=$T/runs3
mkdir -p "$R3" "$T/victim"
writeconf "$T/c3" "$R3" "$WORK"
echo keep > "$T/victim/precious"
ln -s "$T/victim" "$R3/.queue"
deliver symqueue "$T/c3" train.py
expect symqueue 500
check "a symlinked .queue is refused, its target untouched" "$(cat "$T/symqueue.err")" \
    bash -c "grep -q '.queue: a symlink' '$T/symqueue.err' && [ \"\$(ls '$T/victim')\" = precious ]"
rm "$R3/.queue"
for d in .keys .deliveries; do
	rm -rf "${R3:?}/$d"
	ln -s "$T/victim" "$R3/$d"
	deliver "sym$d" "$T/c3" train.py
	expect "sym$d" 500
	rm "$R3/$d"
done
check "nothing created through symlinked .keys or .deliveries" "$(ls "$T/victim")" \
    test "$(ls -A "$T/victim")" = precious
rm -f "$R3/.queue.lock" && ln -s "$T/victim/precious" "$R3/.queue.lock"
deliver symlock "$T/c3" train.py
expect symlock 500 '.reason | test("queue.lock: a symlink")'
check "a symlinked .queue.lock is not written through" "$(cat "$T/victim/precious")" \
    test "$(cat "$T/victim/precious")" = keep
rm -f "$R3/.queue.lock"
deliver fine3 "$T/c3" train.py
expect fine3 202
P=$(idof fine3)
check "job folders 0750, files 0640, locks 0600" "$(stat -c '%a %n' "$R3/$P" "$R3/$P/job.json" "$R3/.queue.lock")" \
    test "$(stat -c %a "$R3/$P" "$R3/$P/job.json" "$R3/$P/log" "$R3/.queue.lock" "$R3/.keys" | tr '\n' ' ')" = "750 640 640 600 750 "
# A job folder that is not the run directory owner's is no job.
mkdir "$R3/20200101T000000.000Z-abcdef0-planted"
jq '.id = "x"' "$R3/$P/job.json" > "$R3/20200101T000000.000Z-abcdef0-planted/job.json"
chown -R nobody "$R3/20200101T000000.000Z-abcdef0-planted"
check "a job folder of another owner is ignored" "$("$BIN" -c "$T/c3" jobs)" \
    bash -c "! '$BIN' -c '$T/c3' jobs --json | grep -q planted"
mkdir -p "$R3/.slots"
echo "do not truncate" > "$T/victim/slot"
rm -f "$R3/.slots/0" && ln -s "$T/victim/slot" "$R3/.slots/0"
SLOTS=1 writeconf "$T/c3s" "$R3" "$WORK"
deliver symslot "$T/c3s" train.py
check "a symlinked slot is never written through" "$(cat "$T/victim/slot")" \
    test "$(cat "$T/victim/slot")" = "do not truncate"
rm -f "$R3/.slots/0"

# The queue lock held by someone else: 503 after a deadline, never a hang.
R4=$T/runs4
mkdir -p "$R4"
writeconf "$T/c4" "$R4" "$WORK"
deliver prep4 "$T/c4" train.py
python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(15)' "$R4/.queue.lock" &
HOLDER=$!
wait_for 5 bash -c "! flock -n '$R4/.queue.lock' true"
start=$(date +%s)
deliver locked "$T/c4" train.py
check "a held queue lock: 503 with the reason, within seconds" "$(cat "$T/locked.out")" \
    bash -c "grep -q '^Status: 503' '$T/locked.out' && grep -q 'busy' '$T/locked.out' && [ \$((\$(date +%s) - $start)) -lt 10 ]"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
# A FIFO planted where the next queue entry goes does not hang the queue.
mkfifo "$R4/.queue/00000000000000000000"
CGI_AS="timeout 10" deliver fifo "$T/c4" train.py
expect fifo 202

# A run directory others can write is refused, and check says why.
R5=$T/runs5
mkdir -p "$R5"
chmod 777 "$R5"
writeconf "$T/c5" "$R5" "$WORK"
deliver worldw "$T/c5" train.py
expect worldw 500
check "world-writable run_dir: the log says so" "$(cat "$T/worldw.err")" grep -q 'writable by others' "$T/worldw.err"

# A queued job's folder swapped for a symlink is not followed when its turn comes.
R6=$T/runs6
mkdir -p "$R6" "$T/elsewhere"
SLOTS=1 writeconf "$T/c6" "$R6" "$WORK"
deliver first6 "$T/c6" configs/sleep.yaml
deliver second6 "$T/c6" configs/two.yaml
expect second6 202 '.jobs[0].state == "queued"'
Q=$(idof second6)
mv "$R6/$Q" "$R6/$Q.moved"
ln -s "$T/elsewhere" "$R6/$Q"
"$BIN" -c "$T/c6" cancel "$(idof first6)" > /dev/null
check "the swapped job's turn came and went" "$(ls -A "$R6/.queue")" \
    wait_for 5 bash -c "[ -z \"\$(ls -A '$R6/.queue')\" ]"
check "nothing written through a swapped job folder" "$(ls -A "$T/elsewhere")" test -z "$(ls -A "$T/elsewhere")"

# GPU UUIDs (40 bytes each): CUDA_VISIBLE_DEVICES whole, however long.
R7=$T/runs7
mkdir -p "$R7"
U=
for i in 1 2 3 4 5; do U="$U GPU-$i$(printf '%07d' $i)-1111-2222-3333-444455556666"; done
SLOTS=1 writeconf "$T/c7" "$R7" "$WORK" "gpus_per_job = 5"
sed -i "s/^slots = 1\$/gpus =$U/" "$T/c7"
deliver uuids "$T/c7" train.py
expect uuids 202
want=$(echo $U | tr ' ' ',')
wait_for 5 test -s "$R7/$(idof uuids)/output/env"
check "five GPU UUIDs reach CUDA_VISIBLE_DEVICES whole" "$(grep CUDA "$R7/$(idof uuids)/output/env")" \
    grep -qx "CUDA_VISIBLE_DEVICES=$want" "$R7/$(idof uuids)/output/env"

# retry runs a job.json's values through a delivery's checks.
cp -r "$R3/$P" "$R3/${P}-9"
jq '.config = "/etc/passwd.yaml" | .ref = "refs/heads/main x"' "$R3/$P/job.json" > "$R3/${P}-9/job.json"
"$BIN" -c "$T/c3" retry "${P}-9" > "$T/retry.txt" 2>&1
check "retry of a planted job.json is refused" "$(cat "$T/retry.txt")" \
    bash -c "! '$BIN' -c '$T/c3' retry '${P}-9' >/dev/null 2>&1 && grep -q refused '$T/retry.txt'"

# A redelivery names the latest job of its (commit, config): the retry.
R8=$T/runs8
mkdir -p "$R8"
writeconf "$T/c8" "$R8" "$WORK"
deliver fails "$T/c8" configs/exit3.yaml
F=$(idof fails)
wait_for 10 jq -e '.state == "failed"' "$R8/$F/job.json" > /dev/null
RETRY=$("$BIN" -c "$T/c8" retry "$F" | awk '{print $1}')
CGI_CONF=$T/c8 cgi again POST application/json push d-fails "$(sign "$T/fails.json")" "$T/fails.json"
expect again 200 ".status == \"duplicate\" and .jobs[0].id == \"$RETRY\""
CGI_CONF=$T/c8 cgi again2 POST application/json push d-fails-2 "$(sign "$T/fails.json")" "$T/fails.json"
expect again2 200 ".status == \"duplicate\" and .jobs[0].id == \"$RETRY\""

# --- the process ----------------------------------------------------------------
# A stuck CGI request ends on SIGTERM (a web server's timeout).
mkfifo "$T/stall"
sleep 30 > "$T/stall" &
STALL=$!
env -i PATH=/usr/bin:/bin REQUEST_METHOD=POST CONTENT_TYPE=application/json \
    CONTENT_LENGTH=1000 HTTP_X_GITHUB_EVENT=push HTTP_X_GITHUB_DELIVERY=d-stall \
    HTTP_X_HUB_SIGNATURE_256=sha256=00 SWIFT_WEBHOOK_CONFIG="$CONF" "$BIN" < "$T/stall" > /dev/null 2>&1 &
CGI=$!
wait_for 5 bash -c "[ \"\$(readlink /proc/$CGI/exe)\" = '$BIN' ]"
kill -TERM "$CGI"
check "a CGI process stuck reading its body ends on SIGTERM" "pid $CGI still there" \
    wait_for 3 bash -c "! kill -0 $CGI 2>/dev/null"
kill -9 "$CGI" "$STALL" 2>/dev/null

# GITHUB_WEBHOOK_SECRET is not in the supervisor's environ or memory.
R9=$T/runs9
mkdir -p "$R9"
grep -v '^secret_file' "$CONF" | sed "s|$RUNS|$R9|" > "$T/c9"
push "$T/envsec.json" "$(sha 99)" refs/heads/main configs/sleep.yaml
env -i PATH=/usr/bin:/bin REQUEST_METHOD=POST CONTENT_TYPE=application/json \
    CONTENT_LENGTH="$(stat -c %s "$T/envsec.json")" HTTP_X_GITHUB_EVENT=push \
    HTTP_X_GITHUB_DELIVERY=d-envsec HTTP_X_HUB_SIGNATURE_256="$(sign "$T/envsec.json")" \
    SWIFT_WEBHOOK_CONFIG="$T/c9" GITHUB_WEBHOOK_SECRET="$SECRET" "$BIN" < "$T/envsec.json" > "$T/envsec.out" 2> "$T/envsec.err"
expect envsec 202
EJ=$(idof envsec)
SUP=$(jq -r .supervisor "$R9/$EJ/job.json")
printf '%s\n' "$SECRET" > "$T/secret.txt"
check "the secret is not in the supervisor's /proc environ" "$(tr '\0' '\n' < "/proc/$SUP/environ" | grep SECRET)" \
    bash -c "! tr '\\0' '\\n' < /proc/$SUP/environ | grep -qF -f '$T/secret.txt'"
cat > "$T/memscan.py" <<'PY'
import re, sys
pid, needle = sys.argv[1], sys.argv[2].encode()
found = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (r...)", line)
        if not m or m.group(3)[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
            continue
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        if hi - lo > 1 << 30:
            continue    # ASan's shadow: reserved, never the heap or stack
        tail = b""
        for at in range(lo, hi, 1 << 20):
            try:
                mem.seek(at)
                chunk = tail + mem.read(min(1 << 20, hi - at))
            except (OSError, ValueError):
                break
            if needle in chunk:
                found += 1
                print(line.strip())
                break
            tail = chunk[-len(needle):]
sys.exit(1 if found else 0)
PY
# ASan's runtime keeps its own copy of /proc/self/environ, read before
# main(): the memory check means something only without it.
if grep -q __asan_init "$BIN"; then
	skip "the secret is nowhere in the supervisor's memory" \
	    "ASan's runtime keeps a copy of the environment of its own"
else
	check "the secret is nowhere in the supervisor's memory" "$(python3 "$T/memscan.py" "$SUP" "$SECRET")" \
	    python3 "$T/memscan.py" "$SUP" "$SECRET"
fi
"$BIN" -c "$T/c9" cancel "$EJ" > /dev/null 2>&1

# --- the people's commands --------------------------------------------------------
# logs of a job that never started: its recorded error, not ENOENT.
COMMAND="/nonexistent/swift sft {config}" writeconf "$T/cx" "$RUNS" "$WORK"
deliver noexec "$T/cx" train.py
expect noexec 500 '.reason | test("absolute path")'
NX=$(ls "$RUNS" | grep "$(sha "$((SHA_BASE + N))" | cut -c1-7)")
"$BIN" -c "$T/cx" logs "$NX" > "$T/nxlogs.txt" 2>&1
check "logs of a job that never started prints its error" "$(cat "$T/nxlogs.txt")" \
    grep -q 'never started: cannot execute trainer /nonexistent/swift' "$T/nxlogs.txt"

# check, as the server's user, finds what would make every delivery fail.
mkdir -p "$T/chk"
chmod 755 "$T/chk"
printf 'secret_file = %s/chk/secret\nrun_dir = %s/chk/missing\nworkdir = %s/chk/nowork\n' "$T" "$T" "$T" > "$T/chk/conf"
printf 'x' > "$T/chk/secret"
chmod 600 "$T/chk/secret"
chmod 644 "$T/chk/conf"
"$BIN" -c "$T/chk/conf" check > "$T/chk.out" 2>&1
rc=$?
check "check as www-data: an unreadable secret_file" "$(cat "$T/chk.out")" \
    bash -c "[ $rc != 0 ] && grep -q 'secret_file.*Permission denied.*as www-data' '$T/chk.out'"
chgrp www-data "$T/chk/secret" && chmod 640 "$T/chk/secret"
"$BIN" -c "$T/chk/conf" check > "$T/chk.out" 2>&1
rc=$?
check "check as www-data: missing run_dir, workdir and trainer" "$(cat "$T/chk.out")" \
    bash -c "[ $rc != 0 ] && grep -q 'run_dir.*missing: No such file' '$T/chk.out' && grep -q 'workdir.*nowork' '$T/chk.out' && grep -q 'cannot execute trainer swift.*absolute path' '$T/chk.out'"
mkdir -p "$T/chk/ro" "$T/chk/runs" "$T/chk/work"
sed -i "s|$T/chk/missing|$T/chk/ro|" "$T/chk/conf"
"$BIN" -c "$T/chk/conf" check > "$T/chk.out" 2>&1
check "check as www-data: a run_dir it cannot write" "$(cat "$T/chk.out")" \
    grep -q "run_dir $T/chk/ro belongs to uid 0" "$T/chk.out"
chown www-data "$T/chk/runs"
cp "$FAKE" "$T/chk/fake-swift"
sed -i -e "s|$T/chk/ro|$T/chk/runs|" -e "s|$T/chk/nowork|$T/chk/work|" "$T/chk/conf"
echo "command = $T/chk/fake-swift sft {config}" >> "$T/chk/conf"
"$BIN" -c "$T/chk/conf" check > "$T/chk.out" 2>&1
check "check as www-data: ok when all is right" "$(cat "$T/chk.out")" grep -q ': ok (as www-data)' "$T/chk.out"

# Root at the console runs nothing a trainer planted: a job.json with a
# dead supervisor, a Slurm id of its choosing and a stop request; root's
# jobs, show and tick start no supervisor, run no Slurm command and leave
# no file of root's in the run directory.
R9=$T/runs9
PJ=20261130T000000.000Z-abcdef0-plant
mkdir -p "$R9/$PJ" "$R9/.live" "$T/slurmbin"
jq -n --arg sha "$(sha 77)" '{id: "x", state: "running", delivery: "d", event: "push",
    repository: "acme/train", ref: "refs/heads/main", branch: "main", sha: $sha,
    config: "configs/sft.yaml", created: "2026-11-30T00:00:00Z", started: "2026-11-30T00:00:01Z",
    supervisor: 999999, supervisor_start: 1, slurm_job_id: 4242}' > "$R9/$PJ/job.json"
printf 'cancelled' > "$R9/$PJ/stop"
touch "$R9/.live/$PJ"
for t in squeue sacct scancel sbatch scontrol; do
	printf '#!/bin/sh\necho "%s $*" >> %s/slurm-calls\n' "$t" "$T" > "$T/slurmbin/$t"
	chmod 755 "$T/slurmbin/$t"
done
chown -R nobody:nogroup "$R9"
chmod 750 "$R9"
writeconf "$T/c9" "$R9" - "backend = slurm"
for cmd in jobs "show $PJ" tick; do
	# shellcheck disable=SC2086
	PATH=$T/slurmbin:$PATH "$BIN" -c "$T/c9" $cmd > /dev/null 2>&1
done
check "as root, jobs, show and tick run no Slurm command for a planted job" "$(cat "$T/slurm-calls" 2>/dev/null)" \
    test ! -e "$T/slurm-calls"
check "and leave no file of root's in the run directory" "$(find "$R9" -uid 0)" \
    test -z "$(find "$R9" -uid 0)"

# What a trainer writes into job.json reaches no terminal raw: ESC, BEL
# and bytes that are no UTF-8 are shown as '?' by jobs; show and the
# --json listings print JSON with DEL and C1 (which JSON may carry raw)
# escaped as \u.
R10=$T/runs10
mkdir -p "$R10"
writeconf "$T/c10" "$R10" "$WORK"
deliver esc "$T/c10" train.py
E=$(idof esc)
wait_for 10 jq -e '.finished != null' "$R10/$E/job.json" > /dev/null
printf '%s' "$(jq -c '.branch = "x\u001b]0;pwned\u0007\u001b[2J" | .config = "c\u009b31m" | .commit_title = "t\u007f\u0090"' "$R10/$E/job.json")" > "$R10/$E/job.json.new"
mv "$R10/$E/job.json.new" "$R10/$E/job.json"
printf 'log line\n\033]52;c;cHduZWQ=\007\n' >> "$R10/$E/log"
"$BIN" -c "$T/c10" jobs > "$T/esc.txt" 2>&1
check "jobs prints no control character from job.json" "$(od -c "$T/esc.txt" | grep -E '033|007|233' | head -3)" \
    bash -c "grep -q '$E' '$T/esc.txt' && ! grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' '$T/esc.txt'"
"$BIN" -c "$T/c10" show "$E" > "$T/escshow.txt" 2>&1
"$BIN" -c "$T/c10" jobs --json >> "$T/escshow.txt" 2>&1
check "show and jobs --json print DEL and C1 escaped, as JSON" "$(grep -a -E 'config|commit_title' "$T/escshow.txt" | od -c | head -4)" \
    bash -c "grep -qF '\"c\\u009b31m\"' '$T/escshow.txt' && grep -qF '\"t\\u007f\\u0090\"' '$T/escshow.txt' && ! grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' '$T/escshow.txt' && jq -e --arg e '$E' '.id == \$e and .config == \"c\\u009b31m\"' < <('$BIN' -c '$T/c10' show '$E') > /dev/null"
script -qc "'$BIN' -c '$T/c10' logs '$E'" /dev/null > "$T/esclog.txt" 2>&1
check "logs to a terminal shows the log's escapes as '?'" "$(od -c "$T/esclog.txt" | grep 033 | head -2)" \
    bash -c "grep -q 'log line' '$T/esclog.txt' && ! grep -qP '\x1b|\x07' '$T/esclog.txt'"
