#!/bin/bash
# tests/deb.sh (make deb-check): the Debian package, as an admin gets it.
# Builds it from a clean clone of the committed tree (dpkg-buildpackage,
# which runs the unit tests), has lintian find no error and no warning,
# installs it with apt (its dependencies from the archive) on this
# machine, checks where everything went, enables the Apache snippet with
# a2enconf in a copy of /etc/apache2 (as tests/apache.sh does), has a
# signed push answered 202 and its job run by the stand-in trainer, and
# then has apt purge leave no file of the package behind (nor the link of
# a snippet enabled in /etc/apache2).  Needs root
# and a machine where the package is not in use (it installs and purges
# it for real).
. "$(dirname "$0")/lib.sh"
plan 15
mktestdir deb

if [ "$(id -u)" != 0 ]; then
	fail "deb: the test" "needs root (apt install and purge)"
	exit 1
fi
if [ -e /var/lib/swift-webhook ] || [ -e /etc/swift-webhook.conf ] ||
    [ -e /etc/swift-webhook.secret ]; then
	fail "deb: the test" "this machine already has /var/lib/swift-webhook or /etc/swift-webhook.*: the test installs and purges the package for real"
	exit 1
fi
# build-essential too: dpkg-buildpackage asks for it by name, whatever
# compiler is there.
sh "$TOP/tests/deps.sh" build-essential debhelper lintian > "$T/deps.log" 2>&1 ||
    { fail "deb: build tools" "$(tail -5 "$T/deps.log")"; exit 1; }
export DEBIAN_FRONTEND=noninteractive
A=$T/apache
E=$A/etc
cleanup() {
	[ -f "$A/run/apache2.pid" ] &&
	    APACHE_CONFDIR=$E APACHE_STARTED_BY_SYSTEMD=1 apache2ctl stop 2>/dev/null
	dpkg -s swift-webhook > /dev/null 2>&1 &&
	    apt-get purge -y -qq swift-webhook > /dev/null 2>&1
	rm -f /etc/swift-webhook.secret
	[ -n "${KEEP:-}" ] || cleanup_testdir
}
trap cleanup EXIT

# --- built from a clean clone, lintian-clean ---------------------------------
git clone -q "$TOP" "$T/src"
(cd "$T/src" && dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1
DEB=$(ls "$T"/swift-webhook_*_*.deb 2>/dev/null | head -1)
check "dpkg-buildpackage builds the package from a clean clone" "$(tail -20 "$T/build.log")" \
    test -s "$DEB"
[ -s "$DEB" ] || exit 1		# nothing below means anything then
check "the build ran the unit tests, every one passed" "$(grep -E 'passed|FAIL' "$T/build.log" | tail -5)" \
    grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$T/build.log"
lintian --fail-on error,warning "$T"/swift-webhook_*_*.changes > "$T/lintian.out" 2>&1
check "lintian: no error, no warning" "$(cat "$T/lintian.out")" \
    lintian --fail-on error,warning "$T"/swift-webhook_*_*.changes

# --- installed with apt -------------------------------------------------------
apt-get install -y -qq "$DEB" > "$T/install.log" 2>&1
check "apt installs it, its dependencies from the archive" "$(tail -20 "$T/install.log")" \
    dpkg -s swift-webhook
dpkg -s swift-webhook > /dev/null 2>&1 || exit 1
dpkg -L swift-webhook > "$T/files"
check "the responder where the snippets expect it, the command in /usr/sbin" "$(cat "$T/files")" \
    bash -c "test -x /usr/lib/cgi-bin/swift-webhook && /usr/sbin/swift-webhook --version 2>&1 | grep -q ."
check "the snippets in conf-available, none enabled" "$(ls /etc/apache2/conf-*/swift* /etc/lighttpd/conf-*/*swift* 2>&1)" \
    bash -c "test -f /etc/apache2/conf-available/swift-webhook.conf &&
	test -f /etc/lighttpd/conf-available/50-swift-webhook.conf &&
	! ls /etc/apache2/conf-enabled/swift-webhook* /etc/lighttpd/conf-enabled/*swift-webhook* 2>/dev/null | grep -q ."
check "the run directory made for www-data, mode 750" "$(stat -c '%U %G %a' /var/lib/swift-webhook 2>&1)" \
    test "$(stat -c '%U %G %a' /var/lib/swift-webhook)" = "www-data www-data 750"
check "/etc/swift-webhook.conf is a conffile, every key commented" "$(cat /etc/swift-webhook.conf)" \
    bash -c "dpkg-query -W -f='\${Conffiles}' swift-webhook | grep -q ' /etc/swift-webhook.conf ' &&
	! grep -v '^#' /etc/swift-webhook.conf | grep -q '[^[:space:]]'"
check "man pages, docs and the tick's timer (not enabled)" "$(grep -E 'man|doc/swift-webhook/(README|docs/jobs)|systemd' "$T/files")" \
    bash -c "man -w swift-webhook > /dev/null 2>&1 || test -f /usr/share/man/man8/swift-webhook.8.gz
	test -f /usr/share/man/man5/swift-webhook.conf.5.gz &&
	test -f /usr/share/doc/swift-webhook/docs/configuration.md &&
	test -f /lib/systemd/system/swift-webhook-tick.timer &&
	! test -e /etc/systemd/system/timers.target.wants/swift-webhook-tick.timer"

# --- the README's deploy steps, the snippet enabled with a2enconf ------------
install -m 640 -g www-data /dev/null /etc/swift-webhook.secret
printf '%s\n' "$SECRET" > /etc/swift-webhook.secret
mkdir -p "$T/work/configs"
printf 'model: m\nfake_sleep: 1\nfake_steps: 2\n' > "$T/work/configs/sft.yaml"
cp "$FAKE" "$T/fake-swift"	# where www-data may run it
chmod -R a+rX "$T/work" "$T/fake-swift"
cat >> /etc/swift-webhook.conf <<EOF
secret_file = /etc/swift-webhook.secret
run_dir     = /var/lib/swift-webhook
workdir     = $T/work
command     = $T/fake-swift sft {config} --output_dir {output_dir} --add_version false
EOF
check "swift-webhook check: ok" "$(swift-webhook check 2>&1)" swift-webhook check

PORT=$(free_port)
apache_copy "$A" "$PORT"
export APACHE_CONFDIR=$E
a2enmod -q fcgid allowmethods headers rewrite > /dev/null
a2enconf -q swift-webhook > /dev/null
APACHE_STARTED_BY_SYSTEMD=1 apache2ctl start > "$T/apache.out" 2>&1
check "a2enconf swift-webhook: Apache starts with it" "$(cat "$T/apache.out"; tail -5 "$A/log/error.log" 2>/dev/null)" \
    wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PORT/"
push "$T/p.json" "$(sha 1)" refs/heads/main configs/sft.yaml
curl -s -o "$T/p.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H 'X-GitHub-Event: push' -H 'X-GitHub-Delivery: deb-1' \
    -H "X-Hub-Signature-256: $(sign "$T/p.json")" --data-binary "@$T/p.json" \
    "http://127.0.0.1:$PORT/hooks/swift-webhook" > "$T/p.code"
check "a signed push is answered 202" "$(cat "$T/p.code") $(cat "$T/p.out"; tail -5 "$A/log/error.log")" \
    test "$(cat "$T/p.code")" = 202
J=$(jq -r '.jobs[0].id // empty' "$T/p.out")
check "its job runs the stand-in trainer as www-data and succeeds" \
    "$(cat "/var/lib/swift-webhook/$J/job.json" "/var/lib/swift-webhook/$J/log" 2>&1)" \
    wait_for 30 bash -c "swift-webhook jobs --json 2>/dev/null | jq -e --arg j '$J' '.[] | select(.id == \$j) | .state == \"succeeded\"' > /dev/null &&
	test \"\$(stat -c %U '/var/lib/swift-webhook/$J/log')\" = www-data"
APACHE_STARTED_BY_SYSTEMD=1 apache2ctl stop > /dev/null 2>&1
wait_for 10 bash -c "! pgrep -x swift-webhook > /dev/null"

# --- purged: nothing of it left ----------------------------------------------
# As an admin would have it: the snippet enabled in the real /etc/apache2.
env -u APACHE_CONFDIR a2enconf -q swift-webhook > /dev/null
apt-get purge -y -qq swift-webhook > "$T/purge.log" 2>&1
check "apt purge removes it" "$(tail -5 "$T/purge.log")" bash -c "! dpkg -s swift-webhook > /dev/null 2>&1"
left=$(while read -r f; do
	[ -d "$f" ] && continue	# folders, shared (/lib is a link to one)
	[ -e "$f" ] || [ -L "$f" ] && echo "$f"
done < "$T/files"; ls -d /usr/share/doc/swift-webhook /usr/share/swift-webhook \
    /var/lib/swift-webhook /etc/swift-webhook.conf \
    /etc/apache2/conf-enabled/swift-webhook.conf 2>/dev/null)
check "no file of the package is left, nor the config, the run directory or the enabled snippet's link" "$left" test -z "$left"
