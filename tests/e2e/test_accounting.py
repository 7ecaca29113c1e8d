#!/usr/bin/python3
"""
test_accounting.py - exact accounting through the HTTP API: the slot's
cgroup limits and measures the program's whole process tree (memory limit
with memory_exceeded, CPU time of every process, peak memory, pids limit
counting threads), checked end to end against the real service (nginx +
runboxd, started once by harness.Service).

After every check the service must answer a trivial run and no process of
a slot uid may be left on the host.  When the service reports no cgroup
(GET /api/v1/health: isolation.resource_control "rlimits only"), the
checks that need one print "SKIP: <name>: <reason>" and count as skipped:
not failed, not passed.  The last line is in Check's format:

    test_accounting.py:LINE:F:accounting:check_name:0: reason
    100%: Checks: 11, Failures: 0, Errors: 0

Exit status: 0 when nothing failed (skipped checks lower the percentage,
not the status), 1 otherwise, 77 (skip) when the service cannot run here.

Environment (from the Makefile): top_srcdir, top_builddir, NGINX, PYTHON3.
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = 1 << 20

svc = None      # harness.Service
CFG = None      # conf/runboxd.json
UIDS = None     # range of the slot uids
HEALTH = None   # the health answer, read once
CHECKS = []


class Skip(Exception):
    """This check cannot run here; the reason is the message."""


def check_fn(needs_cgroup=True):
    def register(fn):
        fn.needs_cgroup = needs_cgroup
        CHECKS.append(fn)
        return fn
    return register


# ---- assertions ------------------------------------------------------------

# short(), fail(), check() and eq() are shared with the other suites.
from harness import short, fail, check, eq  # noqa: E402,F401


def describe(body):
    if not isinstance(body, dict):
        return short(body)
    s = "status %r, message %r, exit_code %r, signal %r, usage %s, stdout %s, stderr %s" % (
        body.get("status"), body.get("message"), body.get("exit_code"),
        body.get("signal"), body.get("usage"), short(body.get("stdout"), 200),
        short(body.get("stderr"), 300))
    comp = body.get("compile")
    if isinstance(comp, dict) and comp.get("status") != "ok":
        s += ", compile %r: %s" % (comp.get("status"), short(comp.get("stderr"), 300))
    return s


def run(req, timeout=60):
    status, _, body = svc.post_run(req, timeout=timeout)
    if status != 200:
        fail("request %s: expected HTTP 200, got %d %s"
             % (short(req, 300), status, short(body)))
    check(isinstance(body, dict), "the 200 body is not a JSON object: %s" % short(body))
    return body


def expect(body, status, what="the run"):
    if body.get("status") != status:
        fail("%s: expected status %r, got %s" % (what, status, describe(body)))


def c_prog(code, limits=None, args=None):
    req = {"language": "c", "code": code}
    if limits:
        req["limits"] = limits
    if args:
        req["args"] = args
    return req


# ---- the host's view -------------------------------------------------------

FOREIGN_CG = re.compile(r"/runbox\.(\d+)/")


def foreign(pid, master):
    """True when pid lives in another runboxd's cgroups (another test run
    on this host): not ours to judge or to kill."""
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            owners = set(int(m) for m in FOREIGN_CG.findall(f.read()))
    except OSError:
        return False
    return bool(owners) and master not in owners


def slot_uid_processes():
    master = svc.master_pid()
    found = []
    for pid in harness.all_pids():
        try:
            with open("/proc/%d/status" % pid) as f:
                uids = next(([int(x) for x in ln.split()[1:]] for ln in f
                             if ln.startswith("Uid:")), None)
        except (OSError, ProcessLookupError):
            continue
        if uids and any(u in UIDS for u in uids) and not foreign(pid, master):
            found.append((pid, uids, " ".join(harness.proc_cmdline(pid))))
    return found


def aftercare():
    problems = []
    try:
        body = run({"command": ["/bin/echo", "alive"]}, timeout=30)
        if body.get("status") != "ok" or body.get("stdout") != "alive\n":
            problems.append("the trivial run /bin/echo alive: %s" % describe(body))
    except AssertionError as e:
        problems.append("the trivial run /bin/echo alive: %s" % e)
    except Exception as e:  # noqa: BLE001 - reported as a failure
        problems.append("the trivial run /bin/echo alive: %s: %s" % (type(e).__name__, e))
    # A bounded wait for the kernel to finish the kills.
    if not harness.wait_until(lambda: not slot_uid_processes(), 2.0, 0.02):
        left = slot_uid_processes()
        problems.append("processes of slot uids still on the host after 2 s: %s"
                        % "; ".join("%d uids %s (%s)" % p for p in left))
        for pid, _, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return problems


def expected_resource_control():
    """What runboxd should find on this host, the way sandbox/cgroup.c
    looks: cgroup v2 with memory and pids delegated to our own cgroup
    first, else v1 hierarchies for memory, pids and cpuacct, else none."""
    v1, v2_mount = set(), None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _, opts = (right.split() + ["", "", ""])[:3]
            if fstype == "cgroup2":
                v2_mount = left.split()[4]
            elif fstype == "cgroup":
                v1 |= set(opts.split(",")) & {"memory", "pids", "cpuacct"}
    if v2_mount:
        own = ""
        with open("/proc/self/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    own = line[3:].strip()
        try:
            with open(os.path.join(v2_mount, own.lstrip("/"), "cgroup.controllers")) as f:
                ctl = f.read().split()
            if "memory" in ctl and "pids" in ctl:
                return "cgroup v2"
        except OSError:
            pass
    if v1 >= {"memory", "pids", "cpuacct"}:
        return "cgroup v1"
    return None


# ---- the checks ------------------------------------------------------------
# Each returns a one-line description of what was observed.

@check_fn(needs_cgroup=False)
def health_reports_resource_control():
    """GET /api/v1/health names the resource control in force; on this
    host (cgroup v1 memory, pids, cpuacct, freezer) it is "cgroup v1"."""
    want = expected_resource_control()
    rc = HEALTH["isolation"]["resource_control"]
    check(isinstance(rc, str), "isolation.resource_control is %r" % rc)
    if want is None:
        check("cgroup" not in rc, "no usable cgroup here, yet the health says %r" % rc)
    else:
        check(rc.startswith(want), "isolation.resource_control: expected %r..., got %r"
              % (want, rc))
    return "resource_control %r" % rc


CHILDREN_TOUCH = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

/* argv: children, MiB each, seconds to hold.  Each child writes every page
   of its block (volatile: the compiler may not drop the stores). */
int main(int argc, char **argv)
{
	int n = atoi(argv[1]), bad = 0, st;
	long bytes = atol(argv[2]) << 20;
	unsigned hold = (unsigned)atoi(argv[3]);

	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			volatile char *b = malloc((size_t)bytes);
			if (!b)
				_exit(3);
			for (long j = 0; j < bytes; j += 4096)
				b[j] = 1;
			sleep(hold);
			_exit(0);
		}
		if (p < 0) {
			perror("fork");
			return 2;
		}
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	printf("children failed: %d\n", bad);
	return bad ? 1 : 0;
}
"""


@check_fn()
def multi_process_memory_bomb():
    """8 children writing 40 MiB each (320 MiB in all, none above the
    limit alone) under memory_bytes 128 MiB -> memory_exceeded: the limit
    is the whole tree's."""
    body = run(c_prog(CHILDREN_TOUCH, {"memory_bytes": 128 * MiB}, ["8", "40", "1"]))
    expect(body, "memory_exceeded")
    return "memory_exceeded (%s; max_rss_bytes %d)" % (
        body["stdout"].strip(), body["usage"]["max_rss_bytes"])


@check_fn()
def single_large_allocation_python():
    """python3 bytearray(300 MiB) (zero-filled, so written) under 128 MiB
    -> memory_exceeded (an OOM kill, not a MemoryError: no RLIMIT_AS when
    the cgroup limits memory)."""
    body = run({"language": "python3", "code": "b = bytearray(300 << 20)\nprint(len(b))\n",
                "limits": {"memory_bytes": 128 * MiB}})
    expect(body, "memory_exceeded")
    return "memory_exceeded"


@check_fn()
def single_large_allocation_c():
    """C malloc(300 MiB) + memset, the block then read back, under 128 MiB
    -> memory_exceeded."""
    body = run(c_prog("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
                      "int main(void){size_t n=(size_t)300<<20;char*b=malloc(n);"
                      "if(!b){puts(\"malloc failed\");return 1;}memset(b,7,n);"
                      "long s=0;for(size_t i=0;i<n;i+=4096)s+=b[i];"
                      "printf(\"%ld\\n\",s);return 0;}\n",
                      {"memory_bytes": 128 * MiB}))
    expect(body, "memory_exceeded")
    return "memory_exceeded"


USE_60 = ("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
          "int main(void){size_t n=(size_t)60<<20;char*b=malloc(n);"
          "if(!b)return 1;memset(b,7,n);long s=0;"
          "for(size_t i=0;i<n;i+=4096)s+=b[i];printf(\"%ld\\n\",s);return 0;}\n")


@check_fn()
def sixty_mib_under_the_limit():
    """A program writing 60 MiB under memory_bytes 128 MiB -> ok, and
    usage.max_rss_bytes (the cgroup's peak) between 55 and 128 MiB."""
    body = run(c_prog(USE_60, {"memory_bytes": 128 * MiB}))
    expect(body, "ok")
    eq(body["stdout"], "%d\n" % (7 * (60 * MiB // 4096)), "stdout")
    peak = body["usage"]["max_rss_bytes"]
    check(55 * MiB <= peak <= 128 * MiB,
          "usage.max_rss_bytes %d (%.1f MiB) not within 55..128 MiB" % (peak, peak / MiB))
    return "ok, max_rss_bytes %.1f MiB" % (peak / MiB)


@check_fn()
def tree_peak_memory():
    """4 children holding 20 MiB each at the same time under 128 MiB -> ok,
    and the peak is the tree's (>= 75 MiB), not one process's."""
    body = run(c_prog(CHILDREN_TOUCH, {"memory_bytes": 128 * MiB}, ["4", "20", "1"]))
    expect(body, "ok")
    peak = body["usage"]["max_rss_bytes"]
    check(75 * MiB <= peak <= 128 * MiB,
          "usage.max_rss_bytes %d (%.1f MiB) not within 75..128 MiB" % (peak, peak / MiB))
    return "ok, max_rss_bytes %.1f MiB" % (peak / MiB)


@check_fn()
def peak_and_cpu_are_per_run():
    """Right after a 60 MiB run in the same slot, a trivial run reports
    its own peak (< 20 MiB) and CPU time (< 200 ms): nothing carried
    over."""
    run(c_prog(USE_60, {"memory_bytes": 128 * MiB}))
    body = run({"command": ["/bin/true"]})
    expect(body, "ok")
    u = body["usage"]
    check(u["max_rss_bytes"] < 20 * MiB, "max_rss_bytes %d after a 60 MiB run"
          % u["max_rss_bytes"])
    check(u["cpu_time_ms"] < 200, "cpu_time_ms %d for /bin/true" % u["cpu_time_ms"])
    return "ok, /bin/true: max_rss_bytes %.1f MiB, cpu_time_ms %d" % (
        u["max_rss_bytes"] / MiB, u["cpu_time_ms"])


@check_fn(needs_cgroup=False)
def disk_usage_of_the_run():
    """usage.disk_bytes is what the run's files use when it ends: 3 MiB
    written over the work directory, /tmp and /dev/shm show as about
    3 MiB; a run that writes nothing shows only its few pages (the
    command run writes no source file), and a later run in the same slot
    starts from nothing again."""
    body = run({"command": ["/bin/sh", "-c",
                            "for d in . /tmp /dev/shm; do "
                            "head -c 1048576 /dev/zero > $d/f || exit 1; done"],
                "limits": {"disk_bytes": 16 * MiB}})
    expect(body, "ok")
    used = body["usage"]["disk_bytes"]
    check(3 * MiB <= used <= 3 * MiB + 256 * 1024,
          "usage.disk_bytes %d after writing 3 MiB" % used)
    body = run({"command": ["/bin/true"]})
    expect(body, "ok")
    idle = body["usage"]["disk_bytes"]
    check(idle < 64 * 1024, "usage.disk_bytes %d for /bin/true" % idle)
    return "ok: 3 MiB written -> %d bytes; /bin/true -> %d bytes" % (used, idle)


SPIN4 = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static long cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* argv[1]: CPU milliseconds each of 4 children spins; the parent waits. */
int main(int argc, char **argv)
{
	long ms = atol(argv[1]);

	for (int i = 0; i < 4; i++) {
		pid_t p = fork();
		if (p == 0) {
			volatile unsigned long x = 0;
			while (cpu_ms() < ms)
				x++;
			_exit(0);
		}
		if (p < 0) {
			perror("fork");
			return 2;
		}
	}
	while (wait(NULL) > 0)
		;
	printf("parent %ld ms\n", cpu_ms());
	return 0;
}
"""


@check_fn()
def cpu_of_four_children_exceeds():
    """4 children spinning 300 ms of CPU each (none above the limit alone)
    under cpu_time_ms 1000 -> cpu_time_exceeded, usage.cpu_time_ms >= 1000."""
    body = run(c_prog(SPIN4, {"cpu_time_ms": 1000, "wall_time_ms": 10000}, ["300"]))
    expect(body, "cpu_time_exceeded")
    cpu = body["usage"]["cpu_time_ms"]
    check(cpu >= 1000, "usage.cpu_time_ms %d < 1000" % cpu)
    return "cpu_time_exceeded at %d ms CPU (%d ms wall)" % (cpu, body["usage"]["wall_time_ms"])


@check_fn()
def cpu_of_four_children_counted():
    """4 children spinning 200 ms each under cpu_time_ms 2000 -> ok, and
    usage.cpu_time_ms >= 750: the whole tree, not the waiting parent."""
    body = run(c_prog(SPIN4, {"cpu_time_ms": 2000, "wall_time_ms": 10000}, ["200"]))
    expect(body, "ok")
    cpu = body["usage"]["cpu_time_ms"]
    check(cpu >= 750, "usage.cpu_time_ms %d < 750 (%s)" % (cpu, body["stdout"].strip()))
    return "ok, usage.cpu_time_ms %d (%s)" % (cpu, body["stdout"].strip())


THREAD_BOMB = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	pthread_attr_t at;
	pthread_t t;
	int n = 0, rc;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 65536);
	while (n < 10000) {
		rc = pthread_create(&t, &at, idle, NULL);
		if (rc) {
			printf("created %d then %s\n", n, strerrorname_np(rc));
			return 0;
		}
		n++;
	}
	printf("created %d without a failure\n", n);
	return 1;
}
"""


@check_fn()
def thread_bomb():
    """pthread_create in a loop under processes 16: it fails with EAGAIN
    once the tree has 16 tasks (threads count; the namespace's init is one
    of them), so at most 15 threads besides main; ok; nothing left."""
    body = run(c_prog(THREAD_BOMB, {"processes": 16}))
    expect(body, "ok")
    m = re.fullmatch(r"created (\d+) then (\w+)\n", body["stdout"])
    check(m, "stdout: %s" % describe(body))
    n, err = int(m.group(1)), m.group(2)
    eq(err, "EAGAIN", "pthread_create's error")
    check(1 <= n and n + 1 <= 16, "%d threads + main > 16 tasks" % n)
    return "ok: %d threads created, then EAGAIN" % n


# ---- runner ----------------------------------------------------------------

def stop_leaves_nothing():
    problems = svc.stop()
    check(not problems, "stopping the service:\n    %s" % "\n    ".join(problems))
    return "stopped cleanly"


stop_leaves_nothing.needs_cgroup = False


def main():
    global svc, CFG, UIDS, HEALTH
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    svc = harness.Service()
    why = svc.missing()
    if why:
        print("test_accounting.py: skipped: %s" % why)
        return 77
    with open(svc.config) as f:
        CFG = json.load(f)
    base = CFG["sandbox"]["uid_base"]
    UIDS = range(base, base + CFG["slots"])

    wanted = set(sys.argv[1:])
    unknown = wanted - set(fn.__name__ for fn in CHECKS)
    if unknown:
        print("test_accounting.py: no such check: %s" % ", ".join(sorted(unknown)))
        return 2
    checks = [fn for fn in CHECKS if not wanted or fn.__name__ in wanted]
    checks.append(stop_leaves_nothing)
    report = harness.Report("accounting", __file__, svc)
    start_error = None
    no_cgroup = None
    try:
        try:
            svc.start()
            status, _, HEALTH = svc.get_json("/api/v1/health")
            if status != 200 or not isinstance(HEALTH, dict):
                raise harness.HarnessError("GET /api/v1/health: %d %s" % (status, short(HEALTH)))
            rc = HEALTH.get("isolation", {}).get("resource_control", "")
            if "cgroup" not in str(rc):
                no_cgroup = "the service has no cgroup (resource_control %r)" % rc
            print("accounting: service on port %d, resource control %r" % (svc.port, rc))
        except Exception as e:  # noqa: BLE001 - every check reports it
            start_error = "%s: %s" % (type(e).__name__, e)
        sys.stdout.flush()
        for fn in checks:
            if not start_error and getattr(fn, "needs_cgroup", False) and no_cgroup:
                report.skip(fn, no_cgroup)
                continue
            report.run(fn, start_error,
                       after=None if fn is stop_leaves_nothing else aftercare)
    finally:
        status = report.finish()
    return status


if __name__ == "__main__":
    sys.exit(main())
