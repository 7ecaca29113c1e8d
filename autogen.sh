#!/bin/sh
# Prepare a fresh checkout: install the Debian packages runbox needs (as root),
# or print the exact apt-get line (otherwise), then generate ./configure.
#
# The languages' toolchains come from conf/languages.json: each entry's
# "debian_packages".  RUNBOX_LANGUAGES narrows them to a space-separated
# list of language ids (RUNBOX_LANGUAGES="c python3 go"); unset or empty,
# every language of the catalogue is installed.  The conformance suite
# (tests/e2e/check_languages) reads the same variable: a language it leaves
# out may be absent there, every other configured one must be present.
set -eu
cd "$(dirname "$0")"

packages="autoconf automake libtool pkg-config make gcc libc6-dev
libfcgi-dev libjansson-dev libsqlite3-dev libseccomp-dev libsodium-dev check nginx curl wrk python3 python3-venv python3-numpy python3-matplotlib procps iproute2 bubblewrap python3-oslo.concurrency
chromium nodejs npm fonts-dejavu-core libcurl4-openssl-dev"

# The packages of the list on stdin (one a line) that are not installed.
missing_of() {
	while read -r p; do
		[ -n "$p" ] || continue
		# Node.js from another source (NodeSource) ships its own npm and
		# conflicts with Debian's: a working command counts as installed.
		case "$p" in
		nodejs) command -v node >/dev/null 2>&1 && continue ;;
		npm) command -v npm >/dev/null 2>&1 && continue ;;
		esac
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
			printf ' %s' "$p"
		fi
	done
}

# install WHAT PACKAGE...: apt-get as root, else print the line and stop.
install() {
	what=$1
	shift
	[ $# -gt 0 ] || return 0
	if [ "$(id -u)" = 0 ]; then
		echo "autogen.sh: installing ($what):" "$@"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends "$@"
	else
		echo "autogen.sh: missing Debian packages ($what); run as root:" >&2
		echo "  apt-get install -y" "$@" >&2
		exit 1
	fi
}

# shellcheck disable=SC2046,SC2086
install "build and tests" $(printf '%s\n' $packages | missing_of)

# The toolchains, read with the python3 installed above.
langpkgs=$(RUNBOX_LANGUAGES="${RUNBOX_LANGUAGES:-}" /usr/bin/python3 -c '
import json, os, sys
with open(sys.argv[1]) as f:
    langs = json.load(f)["languages"]
ids = [l["id"] for l in langs]
wanted = os.environ["RUNBOX_LANGUAGES"].split()
unknown = [w for w in wanted if w not in ids]
if unknown:
    sys.exit("autogen.sh: RUNBOX_LANGUAGES names unknown languages: %s (known: %s)"
             % (" ".join(unknown), " ".join(ids)))
seen = []
for l in langs:
    if not wanted or l["id"] in wanted:
        seen += [p for p in l.get("debian_packages", []) if p not in seen]
print("\n".join(seen))
' conf/languages.json)
# shellcheck disable=SC2046
install "language toolchains" $(printf '%s\n' "$langpkgs" | missing_of)

# TypeScript compiles against Node's type declarations.  Debian's nodejs
# ships them (/usr/share/nodejs/@types/node); a Node.js from elsewhere
# (NodeSource) does not, and then npm puts them in /usr/lib/node_modules,
# the typescript entry's other --typeRoots.
if printf '%s\n' "$langpkgs" | grep -qx node-typescript &&
	[ ! -d /usr/share/nodejs/@types/node ] && [ ! -d /usr/lib/node_modules/@types/node ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "autogen.sh: installing Node's type declarations for TypeScript (npm)"
		npm install -g --prefix /usr @types/node
	else
		echo "autogen.sh: TypeScript needs Node's type declarations; run as root:" >&2
		echo "  npm install -g --prefix /usr @types/node" >&2
		exit 1
	fi
fi

mkdir -p m4 build-aux
autoreconf -fi
