#!/bin/bash
# tests/cli.sh: what a person types: --version, a bare swift-webhook on a
# terminal, logs -f JOB, a job named by a prefix or its short sha, an
# unknown state, prune's order, which repository rollback and undeploy
# act for with sections, and root at the console acting as the run
# directory's owner.
. "$(dirname "$0")/lib.sh"
plan 35
mktestdir cli

WORK=$T/work
mkworkdir "$WORK" 0
printf 'model: m\nfake_sleep: 600\n' > "$WORK/configs/hold.yaml"
R=$T/runs
mkdir -p "$R"
writeconf "$T/c" "$R" "$WORK" "kill_grace = 1"

"$BIN" --version > "$T/v.txt" 2>&1
check "--version names the version" "$(cat "$T/v.txt")" grep -Eq '^swift-webhook [0-9a-f]+' "$T/v.txt"
check "-V too" "" bash -c "'$BIN' -V | grep -q '^swift-webhook '"
script -qc "env -u GATEWAY_INTERFACE '$BIN'" /dev/null > "$T/bare.txt" 2>&1
check "a bare swift-webhook on a terminal prints usage, not a CGI answer" "$(cat "$T/bare.txt")" \
    bash -c "grep -q 'usage: ' '$T/bare.txt' && ! grep -q 'Status:' '$T/bare.txt'"
"$BIN" -c "$T/c" check > "$T/check.txt" 2>&1
check "check says the version first" "$(head -2 "$T/check.txt")" \
    bash -c "head -1 '$T/check.txt' | grep -q '^swift-webhook '"

deliver a "$T/c" configs/sft.yaml
deliver b "$T/c" configs/a.yaml
A=$(idof a) B=$(idof b)
wait_for 10 bash -c "jq -e '.finished != null' '$R/$A/job.json' '$R/$B/job.json' > /dev/null"
SHORT=$(jq -r .sha "$R/$A/job.json" | cut -c1-7)
check "show takes the short sha" "$("$BIN" -c "$T/c" show "$SHORT" 2>&1 | head -3)" \
    bash -c "'$BIN' -c '$T/c' show '$SHORT' | jq -e --arg id '$A' '.id == \$id'"
check "and a unique prefix of the id" "" \
    bash -c "'$BIN' -c '$T/c' show '${A%?????}' | jq -e --arg id '$A' '.id == \$id'"
"$BIN" -c "$T/c" show 2026 > "$T/amb.txt" 2>&1
rc=$?
check "an ambiguous prefix lists the jobs it matches" "$(cat "$T/amb.txt")" \
    bash -c "[ $rc = 1 ] && grep -q 'is ambiguous: 2 jobs match' '$T/amb.txt' && grep -q '$A' '$T/amb.txt' && grep -q '$B' '$T/amb.txt'"
"$BIN" -c "$T/c" show nope > "$T/nope.txt" 2>&1
check "no job: said so, with no errno after it" "$(cat "$T/nope.txt")" \
    bash -c "grep -q 'no job nope in $R\$' '$T/nope.txt' && ! grep -q 'Invalid argument' '$T/nope.txt'"
check "logs -f JOB, as docker and kubectl users type it" "" \
    bash -c "timeout 10 '$BIN' -c '$T/c' logs -f '$A' | grep -q 'fake-swift: done'"
"$BIN" -c "$T/c" jobs --state bogus > "$T/bogus.txt" 2>&1
rc=$?
check "jobs --state bogus is an error naming the states" "$(cat "$T/bogus.txt")" \
    bash -c "[ $rc = 2 ] && grep -q 'no state \"bogus\"; the states are queued, preparing, running' '$T/bogus.txt'"
sleep 1.1
"$BIN" -c "$T/c" prune --older-than 0s --dry-run > "$T/prune.txt" 2>&1
check "prune lists oldest first" "$(cat "$T/prune.txt")" \
    bash -c "[ \"\$(grep -o '20[0-9T.Z]*-[0-9a-f]*-[a-z]*' '$T/prune.txt' | head -2 | tr '\n' ' ')\" = '$A $B ' ]"

# Deployment commands with sections: the one that deploys, or the one
# named.  A stopped deployment of acme/b's, planted: acme/a has nothing
# to roll back to all the same.
S=$T/s
writeconf "$S" "$R" "$WORK" "kill_grace = 1"
cat >> "$S" <<EOF

[acme/a]
deploy = $FAKE deploy --adapters {checkpoint} --port {port}
deploy_ports = 18101 18102

[acme/b]
deploy = $FAKE deploy --adapters {checkpoint} --port {port}
deploy_ports = 18103 18104

[acme/c]
max_runs_per_day = 2
EOF
DEP=20261130T000000.000Z-$SHORT-sft
mkdir -p "$R/.deployments/$DEP"
jq -n --arg id "$DEP" --arg job "$A" --arg sha "$(jq -r .sha "$R/$A/job.json")" \
    '{id: $id, job: $job, repository: "acme/b", scope: "acme/b", sha: $sha,
      state: "stopped", port: 18103, checkpoint: "/x/checkpoint-1",
      created: "2026-11-30T00:00:00Z", since: "2026-11-30T00:00:05Z",
      ended: "2026-11-30T01:00:00Z"}' > "$R/.deployments/$DEP/deploy.json"
sw() { "$BIN" -c "$S" "$@" > "$T/sw.txt" 2>&1; echo "$?: $(cat "$T/sw.txt")"; }
OUT=$(sw rollback)
check "rollback with two sections that deploy: asks which" "$OUT" \
    bash -c "[[ '$OUT' == '1: '*'rollback: more than one repository deploys: say which with --repository' ]]"
OUT=$(sw rollback --repository acme/c)
check "--repository of a section without deploy: said so" "$OUT" \
    bash -c "[[ '$OUT' == '1: '*'rollback: no deploy configured for acme/c' ]]"
OUT=$(sw undeploy --repository acme/nope)
check "--repository of no section: said so" "$OUT" \
    bash -c "[[ '$OUT' == '1: '*'undeploy: no section [acme/nope] in $S' ]]"
OUT=$(sw undeploy --repository acme/b)
check "undeploy of a section with nothing live: said, status 0" "$OUT" \
    bash -c "[[ '$OUT' == '0: nothing is deployed' ]]"
OUT=$(sw undeploy --bogus)
check "a usage error: status 2" "$OUT" \
    bash -c "[[ '$OUT' == '2: usage: '*'undeploy [--repository OWNER/NAME]' ]]"
OUT=$(sw rollback --repository acme/a)
check "rollback of a section looks at its own deployments only" "$OUT" \
    bash -c "[[ '$OUT' == '1: '*'rollback: no earlier deployment to roll back to'* ]]"
check "deployments: each section's previous" "$(sw deployments --json)" \
    bash -c "'$BIN' -c '$S' deployments --json | jq -e --arg id '$DEP' '[.deployments[] | select(.role == \"previous\")] | length == 1 and .[0].id == \$id and .[0].repository == \"acme/b\"'"
head -n -11 "$S" > "$S.none" && printf "[acme/c]\nmax_runs_per_day = 2\n" >> "$S.none"
OUT=$("$BIN" -c "$S.none" undeploy 2>&1; echo "rc $?")
check "undeploy where no section deploys: said so" "$OUT" \
    bash -c "[[ '$OUT' == *'undeploy: no section of $S.none has deploy'*'rc 1' ]]"
rm -rf "$R/.deployments"

# Other users (the server's) may not reach the checkout: copies of the
# binary and the stand-in trainer where they can.
chmod 755 "$T"
cp "$BIN" "$T/swift-webhook-copy"
cp "$FAKE" "$T/fake-swift-copy"
BIN=$T/swift-webhook-copy FAKE=$T/fake-swift-copy

# Root at the console: cancel, retry and prune act as the run directory's
# owner, and leave nothing of root's behind.
R2=$T/runs2
mkdir -p "$R2"
writeconf "$T/c2" "$R2" "$WORK" "kill_grace = 1"
chown -R nobody:nogroup "$R2" "$WORK"
chmod 644 "$T/c2" "$T/c2.secret"
D=d-h CGI_AS="setpriv --reuid=nobody --regid=nogroup --clear-groups" deliver h "$T/c2" configs/hold.yaml
H=$(idof h)
check "a job the server (nobody) runs" "$(cat "$T/h.out" "$T/h.err")" \
    wait_for 10 bash -c "[ \"\$(jq -r .state '$R2/$H/job.json')\" = running ]"
"$BIN" -c "$T/c2" cancel "$H" > "$T/cancel2.txt" 2>&1
check "root's cancel works, as the owner" "$(cat "$T/cancel2.txt")" grep -q "$H cancelled" "$T/cancel2.txt"
"$BIN" -c "$T/c2" retry "$H" > "$T/retry2.txt" 2>&1
check "root's retry works, as the owner" "$(cat "$T/retry2.txt")" \
    bash -c "grep -q 'retry of $H' '$T/retry2.txt' || grep -q '^20' '$T/retry2.txt'"
"$BIN" -c "$T/c2" prune --older-than 0s --dry-run > "$T/prune2.txt" 2>&1
check "and prune --dry-run" "$(cat "$T/prune2.txt")" grep -q "would remove" "$T/prune2.txt"
check "nothing of root's is left in the run directory" "$(find "$R2" -uid 0 | head)" \
    test -z "$(find "$R2" -uid 0)"
for j in "$R2"/20*; do
	"$BIN" -c "$T/c2" cancel "$(basename "$j")" > /dev/null 2>&1
done

# git's own words, and advice that fits: a root-owned local repository
# checked as www-data, a mistyped path, and a job's error.
mkdir -p "$T/g"
chmod 755 "$T" "$T/g"
git init -q --bare "$T/g/train.git"
R3=$T/g/runs
mkdir -p "$R3"
chown www-data "$R3"
writeconf "$T/g/c" "$R3" - "repository = $T/g/train.git"
chgrp www-data "$T/g/c.secret"
chmod 644 "$T/g/c"
"$BIN" -c "$T/g/c" check > "$T/g/check.txt" 2>&1
check "check quotes git's fatal line for a repository another user owns" "$(cat "$T/g/check.txt")" \
    grep -q "fatal: detected dubious ownership in repository at '$T/g/train.git'" "$T/g/check.txt"
check "and says what to do: chown it, or safe.directory" "$(cat "$T/g/check.txt")" \
    bash -c "grep -q 'chown -R www-data $T/g/train.git' '$T/g/check.txt' && grep -q 'git config --system --add safe.directory $T/g/train.git' '$T/g/check.txt' && ! grep -q 'deploy key' '$T/g/check.txt'"
sed -i "s|$T/g/train.git|$T/g/trian.git|" "$T/g/c"
"$BIN" -c "$T/g/c" check > "$T/g/check2.txt" 2>&1
check "a mistyped path: git's words and the path to check" "$(cat "$T/g/check2.txt")" \
    bash -c "grep -q \"fatal: '$T/g/trian.git' does not appear to be a git repository\" '$T/g/check2.txt' && grep -q 'no git repository at $T/g/trian.git: check the path' '$T/g/check2.txt'"
sed -i "s|$T/g/trian.git|$T/g/train.git|" "$T/g/c"
chown -R www-data "$R3"
CGI_AS="setpriv --reuid=www-data --regid=www-data --clear-groups" deliver gd "$T/g/c" configs/sft.yaml
GD=$(idof gd)
wait_for 15 bash -c "jq -e '.finished != null' '$R3/$GD/job.json' > /dev/null 2>&1"
check "the job's error quotes git's fatal line too" "$(jq -r .error "$R3/$GD/job.json" 2>&1; cat "$T/gd.err")" \
    bash -c "jq -e '.error | test(\"fatal: detected dubious ownership\")' '$R3/$GD/job.json' > /dev/null"

# The trainer's HOME: one the server's user can write.  As www-data with
# no HOME (Apache) and with root's (lighttpd started from a root shell):
# run_dir/.home; check says which.
chown -R www-data "$R3"
sed -i "s|^repository = .*|workdir = $T/g/work|" "$T/g/c"
mkdir -p "$T/g/work/configs"
printf 'model: m\n' > "$T/g/work/configs/sft.yaml"
chmod -R 755 "$T/g/work"
for how in nohome roothome; do
	if [ $how = roothome ]; then export HOME=/root; else unset HOME; fi
	CGI_HOME=${HOME:-} CGI_AS="setpriv --reuid=www-data --regid=www-data --clear-groups" \
	    deliver "h$how" "$T/g/c" configs/sft.yaml
	HJ=$(idof "h$how")
	wait_for 10 test -s "$R3/$HJ/output/env"
	check "the trainer's HOME is one www-data can write ($how)" "$(grep '^HOME=' "$R3/$HJ/output/env" 2>&1)" \
	    grep -qx "HOME=$R3/.home" "$R3/$HJ/output/env"
done
export HOME=/root
"$BIN" -c "$T/g/c" check > "$T/g/check3.txt" 2>&1
check "check says which HOME the trainer gets, and why" "$(cat "$T/g/check3.txt")" \
    grep -q "note: HOME for the trainer and git: $R3/.home (run_dir/.home" "$T/g/check3.txt"

# make install puts the README, docs/ and both man pages (each naming
# the other and the docs), the server snippets and contrib/ where a
# person looks.
make -s -C "$TOP" install DESTDIR="$T/inst" > "$T/install.txt" 2>&1
check "make install: the man pages, the README, docs/ and snippets under /usr/share/doc/swift-webhook, contrib under /usr/share/swift-webhook" \
    "$(cat "$T/install.txt"; find "$T/inst" -type f | head -40)" \
    bash -c "for f in usr/share/doc/swift-webhook/README.md usr/share/doc/swift-webhook/docs/configuration.md usr/share/doc/swift-webhook/docs/deploying.md usr/share/doc/swift-webhook/apache/swift-webhook.conf usr/share/doc/swift-webhook/lighttpd/50-swift-webhook.conf usr/share/swift-webhook/swift-webhook-tick.timer usr/share/swift-webhook/grafana-dashboard.json usr/share/man/man8/swift-webhook.8 usr/share/man/man5/swift-webhook.conf.5 usr/lib/cgi-bin/swift-webhook; do [ -f '$T/inst/'\$f ] || exit 1; done && [ \$(ls '$T/inst/usr/share/doc/swift-webhook/docs' | wc -l) = \$(ls '$TOP/docs' | wc -l) ] && grep -q /usr/share/doc/swift-webhook/README.md '$T/inst/usr/share/man/man8/swift-webhook.8' && grep -q 'Xr swift-webhook.conf 5' '$T/inst/usr/share/man/man8/swift-webhook.8' && grep -q 'Xr swift-webhook 8' '$T/inst/usr/share/man/man5/swift-webhook.conf.5'"

# dry-run FILE: what a delivery would get and each run's argv, env and
# folders; no signature, nothing started or written.
push "$T/dry.json" "$(sha 4242)" refs/heads/main configs/a.yaml configs/b.yaml
before=$(ls "$R" | wc -l)
"$BIN" -c "$T/c" dry-run "$T/dry.json" > "$T/dry.txt" 2>&1
check "dry-run: the answer and each run's argv and environment" "$(cat "$T/dry.txt")" \
    bash -c "head -1 '$T/dry.txt' | grep -q '^202 started: dry run: 2 run(s) would start' && sed 1d '$T/dry.txt' | jq -e '.would_start | length == 2 and (.[0].argv | index(\"configs/a.yaml\")) and (.[0].env | index(\"JOB_SHA=$(sha 4242)\")) and .[0].cwd == \"$WORK\"' > /dev/null"
check "dry-run starts and writes nothing" "$(ls "$R")" test "$(ls "$R" | wc -l)" = "$before"
push "$T/dry2.json" "$(sha 4243)" refs/heads/feature configs/a.yaml
"$BIN" -c "$T/c" dry-run "$T/dry2.json" > "$T/dry2.txt" 2>&1
check "dry-run: a branch not watched is ignored, with the reason" "$(cat "$T/dry2.txt")" \
    grep -q '^200 ignored: branch feature is not watched' "$T/dry2.txt"
