#!/bin/bash
# tests/lighttpd.sh: swift-webhook behind a real lighttpd on 127.0.0.1,
# with lighttpd/50-swift-webhook.conf (mod_fastcgi) and then
# lighttpd/50-swift-webhook-cgi.conf (mod_cgi), as shipped.
. "$(dirname "$0")/lib.sh"
plan 87
. "$(dirname "$0")/servers.sh"
mktestdir lighttpd
setup_dirs

. "$(dirname "$0")/lighttpd-server.sh"
trap 'server_stop; [ -n "${KEEP:-}" ] || cleanup_testdir' EXIT

serve 50-swift-webhook.conf
basics fastcgi 100
early fastcgi
survives fastcgi 200
parallel fastcgi 300
metrics_route fastcgi
counters_survive fastcgi 350
prometheus_scrape fastcgi 360
killed fastcgi 400
sections fastcgi 450

serve 50-swift-webhook-cgi.conf
basics cgi 500
early cgi
survives cgi 600
parallel cgi 700
metrics_route cgi

if grep -q '^FAIL' "$T"/*.out 2>/dev/null; then server_log; fi
