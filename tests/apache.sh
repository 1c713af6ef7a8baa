#!/bin/bash
# tests/apache.sh: swift-webhook behind a real Apache on 127.0.0.1, with
# apache/swift-webhook.conf (mod_fcgid) and then apache/swift-webhook-cgi.conf
# (mod_cgid), as shipped, in a copy of Debian's /etc/apache2 with only
# the README's steps applied.
. "$(dirname "$0")/lib.sh"
plan 92
. "$(dirname "$0")/servers.sh"
mktestdir apache
setup_dirs

A=$T/apache
E=$A/etc
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/hooks/swift-webhook
SERVER_RESTARTS="graceful stop-start"

# A copy of Debian's own /etc/apache2, as the package left it.  The test
# changes only where it listens and keeps its files; everything else is
# the README's steps, run with Debian's own a2enmod and a2enconf.
apache_copy "$A" "$PORT"
export APACHE_CONFDIR=$E

server_pid() { cat "$A/run/apache2.pid" 2>/dev/null; }
server_log() { echo "--- $A/log/error.log"; tail -n 30 "$A/log/error.log"; }

# Debian's apache2ctl, as systemd's unit runs it (it makes run/socks).
apachectl_() { APACHE_STARTED_BY_SYSTEMD=1 apache2ctl "$1"; }

server_start() {
	apachectl_ start || { server_log; return 1; }
	server_ready "$A/run/apache2.pid"
}

server_stop() {
	local pid
	pid=$(server_pid)
	[ -n "$pid" ] || return 0
	apachectl_ stop
	server_gone "$pid"
}

server_restart() {
	case $1 in
	graceful)
		apachectl_ graceful
		# Serving again once a request goes through.
		wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PORT/"
		;;
	stop-start)
		server_stop && server_start ;;
	esac
}

# serve SHIPPED-FILE MODULES...: the README's steps for that file on the
# copy (cp to conf-available, a2enmod, a2enconf), then (re)starts Apache.
serve() {
	local file=$1 name=${1%.conf} other
	shift
	server_stop
	for other in "$E"/conf-enabled/swift-webhook*.conf; do
		[ -e "$other" ] && a2disconf -q "$(basename "${other%.conf}")"
	done
	render "$TOP/apache/$file" "$E/conf-available/$file"
	a2enmod -q "$@" > /dev/null
	a2enconf -q "$name" > /dev/null
	if apache2ctl configtest > "$A/check.out" 2>&1; then
		pass "apache accepts $file"
	else
		fail "apache accepts $file" "$(cat "$A/check.out")"
	fi
	server_start || fail "apache starts with $file" "$(server_log)"
}
trap 'server_stop; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT

serve swift-webhook.conf fcgid allowmethods headers rewrite
basics fcgid 1000
early fcgid
survives fcgid 1100
parallel fcgid 1200
metrics_route fcgid
counters_survive fcgid 1250
killed fcgid 1300
check "fcgid: delivery log lines reach Apache's error log" "$(server_log)" \
    grep -q 'swift-webhook: delivery=fcgid-d1 event=push' "$A/log/error.log"

serve swift-webhook-cgi.conf cgid allowmethods headers
basics cgi 1500
early cgi
survives cgi 1600
parallel cgi 1700
metrics_route cgi
check "cgi: delivery log lines reach Apache's error log" "$(server_log)" \
    grep -q 'swift-webhook: delivery=cgi-d1 event=push' "$A/log/error.log"
checkout_www cgi
