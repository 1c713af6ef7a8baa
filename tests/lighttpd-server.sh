# tests/lighttpd-server.sh: a real lighttpd on 127.0.0.1 serving
# swift-webhook with a shipped config from lighttpd/ (sourced after lib.sh
# and servers.sh, with T and CONF set; used by tests/lighttpd.sh and the
# demo).

L=$T/lighttpd
mkdir -p "$L/htdocs"
chown "$WWW:$WWW" "$L"
cp "$TOP/lighttpd/swift-webhook-methods.lua" "$L/"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/hooks/swift-webhook
SERVER_RESTARTS="stop-start"

# The base of the server's config, as Debian's lighttpd.conf would be.
base() {
	cat <<-EOF
	server.document-root = "$L/htdocs"
	server.bind = "127.0.0.1"
	server.port = $PORT
	server.username = "$WWW"
	server.groupname = "$WWW"
	server.pid-file = "$L/lighttpd.pid"
	server.errorlog = "$L/error.log"
	include "$L/swift-webhook.conf"
	EOF
}

server_pid() { cat "$L/lighttpd.pid" 2>/dev/null; }
server_log() { echo "--- $L/error.log"; tail -n 30 "$L/error.log"; }

server_start() {
	lighttpd -f "$L/lighttpd.conf" || { server_log; return 1; }
	server_ready "$L/lighttpd.pid"
}

server_stop() {
	local pid
	pid=$(server_pid)
	[ -n "$pid" ] || return 0
	kill "$pid"
	server_gone "$pid"
	rm -f "$L/lighttpd.pid"
}

server_restart() {
	server_stop && server_start
}

# serve SHIPPED-FILE: (re)starts lighttpd with that file rendered in.
serve() {
	server_stop
	render "$TOP/lighttpd/$1" "$L/swift-webhook.conf" \
	    -e "s|/run/lighttpd/swift-webhook.socket|$L/swift-webhook.socket|g" \
	    -e "s|/etc/lighttpd/swift-webhook-methods.lua|$L/swift-webhook-methods.lua|g"
	base > "$L/lighttpd.conf"
	if lighttpd -tt -f "$L/lighttpd.conf" > "$L/check.out" 2>&1; then
		pass "lighttpd accepts $1"
	else
		fail "lighttpd accepts $1" "$(cat "$L/check.out")"
	fi
	server_start || fail "lighttpd starts with $1" "$(server_log)"
}
