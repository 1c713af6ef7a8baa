#!/bin/bash
# tests/apache.sh: swift-webhook behind a real Apache on 127.0.0.1, with
# apache/swift-webhook.conf (mod_fcgid) and then apache/swift-webhook-cgi.conf
# (mod_cgid), as shipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"
mktestdir apache
setup_dirs

A=$T/apache
mkdir -p "$A/htdocs" "$A/run" "$A/fcgid"
chown "$WWW:$WWW" "$A/fcgid" "$A/run"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/hooks/swift-webhook
SERVER_RESTARTS="graceful stop-start"
MODS=/usr/lib/apache2/modules

# The base of the server's config, as Debian's apache2.conf would be.
base() {
	cat <<-EOF
	ServerRoot "$A"
	ServerName 127.0.0.1
	Listen 127.0.0.1:$PORT
	PidFile "$A/run/httpd.pid"
	DefaultRuntimeDir "$A/run"
	Mutex file:$A/run default
	ErrorLog "$A/error.log"
	LogLevel info
	User $WWW
	Group $WWW
	LoadModule mpm_event_module $MODS/mod_mpm_event.so
	LoadModule authz_core_module $MODS/mod_authz_core.so
	LoadModule authz_host_module $MODS/mod_authz_host.so
	LoadModule alias_module $MODS/mod_alias.so
	LoadModule allowmethods_module $MODS/mod_allowmethods.so
	LoadModule env_module $MODS/mod_env.so
	LoadModule headers_module $MODS/mod_headers.so
	LoadModule rewrite_module $MODS/mod_rewrite.so
	LoadModule fcgid_module $MODS/mod_fcgid.so
	LoadModule cgid_module $MODS/mod_cgid.so
	ScriptSock "$A/run/cgisock"
	FcgidIPCDir "$A/fcgid"
	FcgidProcessTableFile "$A/run/fcgid_shm"
	DocumentRoot "$A/htdocs"
	<Directory />
		Require all granted
	</Directory>
	Include "$A/swift-webhook.conf"
	EOF
}

server_pid() { cat "$A/run/httpd.pid" 2>/dev/null; }
server_log() { echo "--- $A/error.log"; tail -n 30 "$A/error.log"; }

apachectl_() { apache2 -f "$A/httpd.conf" -k "$1"; }

server_start() {
	apachectl_ start || { server_log; return 1; }
	server_ready "$A/run/httpd.pid"
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

# serve SHIPPED-FILE: (re)starts Apache with that file rendered in.
serve() {
	server_stop
	render "$TOP/apache/$1" "$A/swift-webhook.conf"
	base > "$A/httpd.conf"
	if apache2 -t -f "$A/httpd.conf" > "$A/check.out" 2>&1; then
		pass "apache accepts $1"
	else
		fail "apache accepts $1" "$(cat "$A/check.out")"
	fi
	server_start || fail "apache starts with $1" "$(server_log)"
}
trap 'server_stop; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT

serve swift-webhook.conf
basics fcgid 1000
survives fcgid 1100
parallel fcgid 1200
killed fcgid 1300
check "fcgid: delivery log lines reach Apache's error log" "$(server_log)" \
    grep -q 'swift-webhook: delivery=fcgid-d1 event=push' "$A/error.log"

serve swift-webhook-cgi.conf
basics cgi 1500
survives cgi 1600
parallel cgi 1700
check "cgi: delivery log lines reach Apache's error log" "$(server_log)" \
    grep -q 'swift-webhook: delivery=cgi-d1 event=push' "$A/error.log"
