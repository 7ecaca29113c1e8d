#!/bin/sh
# Start runboxd and nginx in the foreground from the build tree, print the
# URL, and on Ctrl-C or SIGTERM stop both and leave nothing behind (no
# process, socket or work directory).  `make run` calls this; the end-to-end
# tests do too.
#
#   conf/run.sh --builddir DIR --srcdir DIR [--port N] [--addr IP] [--config FILE]
#               [--metrics-port N]
# /metrics is served on ADDR:METRICS-PORT (default: the port after N).
set -eu

port=8080
mport=
addr=127.0.0.1
builddir=.
srcdir=.
config=
while [ $# -gt 0 ]; do
	case "$1" in
	--port) port=$2; shift 2 ;;
	--addr) addr=$2; shift 2 ;;
	--metrics-port) mport=$2; shift 2 ;;
	--builddir) builddir=$2; shift 2 ;;
	--srcdir) srcdir=$2; shift 2 ;;
	--config) config=$2; shift 2 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ -n "$mport" ] || mport=$((port + 1))
builddir=$(cd "$builddir" && pwd)
srcdir=$(cd "$srcdir" && pwd)
[ -n "$config" ] || config="$srcdir/conf/runboxd.json"
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
runboxd="$builddir/service/runboxd"

# Jobs live in a state directory that outlives the service only when
# RUNBOX_STATE_DIR names one (the tests' restarts); by default it is made
# in the runtime directory and goes with it.
state=${RUNBOX_STATE_DIR:-}

# The runtime directory holds the socket, nginx's files and the work root.
# It lives under /tmp, not in the build tree: the sandbox uids must be able
# to reach their work directories, and a checkout under /root is closed to
# them.
runtime=$(mktemp -d "${TMPDIR:-/tmp}/runbox-run.XXXXXX")
chmod 0711 "$runtime"
mkdir -m 0711 "$runtime/work"
socket="$runtime/runboxd.sock"
if [ -z "$state" ]; then
	state="$runtime/state"
	mkdir -m 0700 "$state"
fi

rpid=
npid=
cleanup() {
	# Ignore further signals (a second Ctrl-C must not skip the cleanup),
	# and leave set -e off: a kill of a process that already exited (nginx
	# that could not bind) fails, and under set -e that failure would end
	# the shell here and leave runboxd running with its uid claims.
	set +e
	trap '' INT TERM
	trap - EXIT
	[ -n "$npid" ] && kill -TERM "$npid" 2>/dev/null
	[ -n "$rpid" ] && kill -TERM "$rpid" 2>/dev/null
	[ -n "$npid" ] && wait "$npid" 2>/dev/null
	[ -n "$rpid" ] && wait "$rpid" 2>/dev/null
	rm -rf "$runtime"
	echo "runbox: stopped" >&2
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# Running, not a zombie waiting to be reaped.
alive() {
	[ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //; s/ .*//' "/proc/$1/stat")" != Z ]
}

"$runboxd" --config "$config" --check-config >/dev/null
# The socket is mode 0660, group nginx's.  Started as root, nginx runs its
# workers as an unprivileged user (www-data, else nobody) with the config's
# socket_group, so they reach the socket and nothing a root worker could.
# They must read www/: a checkout under a closed directory (/root is 0700)
# is closed to them, and then they serve a copy made in the runtime
# directory (edits to www/ show after a restart only).  Not root, nginx
# cannot change users: it runs as us, with our group, and reads www/ as is.
www="$srcdir/www"
if [ "$(id -u)" = 0 ]; then
	group=$(echo @SOCKET_GROUP@ | "$runboxd" --config "$config" --render /dev/stdin)
	if id -u www-data >/dev/null 2>&1; then user=www-data; else user=nobody; fi
	if ! setpriv --reuid="$user" --regid="$group" --clear-groups \
		sh -c 'test -x "$1" && test -r "$1/index.html"' sh "$www" 2>/dev/null; then
		cp -R "$www" "$runtime/www"
		chmod -R a+rX "$runtime/www"
		www="$runtime/www"
	fi
else
	group=$(id -g)
fi
{
	[ "$(id -u)" = 0 ] && echo "user $user $group;"
	"$runboxd" --config "$config" --listen "$socket" --render "$srcdir/conf/nginx.conf.in" \
		--addr "$addr" --port "$port" --runtime "$runtime" --www "$www" \
		--metrics-listen "$addr:$mport"
} >"$runtime/nginx.conf"

"$runboxd" --config "$config" --listen "$socket" --socket-group "$group" \
	--work-root "$runtime/work" --state-dir "$state" &
rpid=$!
# runboxd listens once every language's toolchain has answered its version
# command (45 of them: seconds, more on a loaded machine): wait up to 120 s
# while it is alive.
i=0
while [ ! -S "$socket" ]; do
	i=$((i + 1))
	if [ $i -gt 2400 ] || ! alive "$rpid"; then
		echo "runbox: runboxd did not start" >&2
		exit 1
	fi
	sleep 0.05
done
# nginx reads $NGINX as a list of inherited sockets: never pass ours on.
env -u NGINX "$nginx" -c "$runtime/nginx.conf" -p "$runtime" -e "$runtime/nginx-error.log" &
npid=$!
i=0
until curl -fsS --max-time 2 -o /dev/null "http://$addr:$port/api/v1/health" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! alive "$npid"; then
		echo "runbox: nginx did not start on $addr:$port" >&2
		cat "$runtime/nginx-error.log" >&2 2>/dev/null || true
		exit 1
	fi
	sleep 0.05
done
echo "runbox: serving http://$addr:$port/ (API at /api/v1/); Ctrl-C stops" >&2
# Stop when either exits (checked twice a second); a signal runs cleanup.
while alive "$rpid" && alive "$npid"; do
	sleep 0.5
done
exit 1
