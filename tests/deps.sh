#!/bin/sh
# tests/deps.sh [--all] [PACKAGE...]: installs the Debian packages that
# building swift-webhook and its demo need (lighttpd), with --all also
# what the tests need (make check: Apache, Slurm, MariaDB, Prometheus,
# Chromium, PyTorch, valgrind...), and any named, if any is missing.  As
# root it runs apt-get; otherwise it says what to do.
set -eu
PKGS="gcc make pkg-config libc6-dev libfcgi-dev libssl-dev libcjson-dev
openssl curl jq procps lighttpd lighttpd-modules-lua"
if [ "${1:-}" = --all ]; then
	shift
	PKGS="$PKGS util-linux python3 tzdata git openssh-client openssh-server
valgrind python3-torch mandoc
prometheus chromium
apache2 libapache2-mod-fcgid
slurm-wlm slurmdbd munge mariadb-server"
fi
PKGS="$* $PKGS"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing" >&2
	echo "run as root: apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own servers on 127.0.0.1: keep the packages from
# starting Apache and lighttpd on port 80 (where they would fight), for
# this install only.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
