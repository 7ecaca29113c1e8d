#!/bin/sh
# Prepare a fresh checkout: install the Debian packages runbox needs (as root),
# or print the exact apt-get line (otherwise), then generate ./configure.
set -eu
cd "$(dirname "$0")"

packages="autoconf automake libtool pkg-config make gcc libc6-dev
libfcgi-dev libjansson-dev libsqlite3-dev libseccomp-dev libsodium-dev check nginx curl wrk python3 python3-venv python3-numpy python3-matplotlib procps iproute2 bubblewrap python3-oslo.concurrency
chromium nodejs npm fonts-dejavu-core libcurl4-openssl-dev"

missing=""
for p in $packages; do
	# Node.js from another source (NodeSource) ships its own npm and
	# conflicts with Debian's: a working command counts as installed.
	case "$p" in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "autogen.sh: installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $missing
	else
		echo "autogen.sh: missing Debian packages; run as root:" >&2
		echo "  apt-get install -y$missing" >&2
		exit 1
	fi
fi

mkdir -p m4 build-aux
autoreconf -fi
