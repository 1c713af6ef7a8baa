# tests/lighttpd-server.sh: a real lighttpd on 127.0.0.1 serving
# swift-webhook with a shipped config from lighttpd/ (sourced after lib.sh
# and servers.sh, with T and CONF set; used by tests/lighttpd.sh and the
# demo).

L=$T/lighttpd
E=$L/etc
mkdir -p "$L/htdocs"
chown "$WWW:$WWW" "$L"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/hooks/swift-webhook
SERVER_RESTARTS="stop-start"

# A copy of Debian's own /etc/lighttpd, as the package left it.  The test
# changes only where it listens (127.0.0.1 only: Debian's IPv6 include
# would bind [::]) and keeps its files; everything else is the README's
# steps (lighty-enable-mod makes a symlink in conf-enabled; made here on
# the copy, since the command only knows /etc/lighttpd).
cp -a /etc/lighttpd "$E"
sed -i -e "s|^server.port .*|server.port = $PORT\nserver.bind = \"127.0.0.1\"|" \
    -e "s|^server.pid-file .*|server.pid-file = \"$L/lighttpd.pid\"|" \
    -e "s|^server.errorlog .*|server.errorlog = \"$L/error.log\"|" \
    -e "s|^server.document-root .*|server.document-root = \"$L/htdocs\"|" \
    -e "s|^server.upload-dirs .*|server.upload-dirs = ( \"$L\" )|" \
    -e '/use-ipv6.pl/d' \
    -e "s|\"/etc/lighttpd/|\"$E/|g" "$E/lighttpd.conf"

server_pid() { cat "$L/lighttpd.pid" 2>/dev/null; }
server_log() { echo "--- $L/error.log"; tail -n 30 "$L/error.log"; }

server_start() {
	lighttpd -f "$E/lighttpd.conf" || { server_log; return 1; }
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

# serve SHIPPED-FILE: the README's steps for that file on the copy, then
# (re)starts lighttpd.
serve() {
	server_stop
	rm -f "$E"/conf-enabled/50-swift-webhook*.conf
	render "$TOP/lighttpd/$1" "$E/conf-available/$1" \
	    -e "s|/run/lighttpd/swift-webhook.socket|$L/swift-webhook.socket|g" \
	    -e "s|/etc/lighttpd/swift-webhook-methods.lua|$E/swift-webhook-methods.lua|g"
	cp "$TOP/lighttpd/swift-webhook-methods.lua" "$E/"
	ln -s "../conf-available/$1" "$E/conf-enabled/$1"
	if lighttpd -tt -f "$E/lighttpd.conf" > "$L/check.out" 2>&1; then
		pass "lighttpd accepts $1"
	else
		fail "lighttpd accepts $1" "$(cat "$L/check.out")"
	fi
	server_start || fail "lighttpd starts with $1" "$(server_log)"
}
