"""
oslo_peer.py - the classic Python way to run a program under limits, for
bench/spawn: OpenStack oslo.concurrency's processutils.execute(), with and
without ProcessLimits, in one long-lived Debian /usr/bin/python3.

bench/spawn starts this once (/usr/bin/python3 -I oslo_peer.py) and writes
one line per run: "plain PROGRAM [ARG]..." or "limits PROGRAM [ARG]..."
(words split at spaces).  Each answer is one line, "ok WALL_US CPU_US", measured here
around the execute() call, so Python's own start-up is paid once, as in a
service written in Python; or "failed: why".  The first line is "ready", or
"not installed (...)" when oslo.concurrency cannot be imported.

ProcessLimits makes execute() run `python3 -m oslo_concurrency.prlimit
--as=... -- PROGRAM`: a second interpreter applies the limits and then
execs the program.  That interpreter is Debian's (python_exec), not
whatever python3 comes first in PATH.
"""

import resource
import signal
import sys
import time


def cpu_us():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime) * 1e6


def main():
    # Ctrl-C reaches the whole process group: bench/spawn stops us by
    # closing our stdin once it has cleaned up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from oslo_concurrency import processutils
    except ImportError as e:
        print("not installed (python3-oslo.concurrency: %s)" % e, flush=True)
        return 0
    limits = processutils.ProcessLimits(
        address_space=256 << 20, cpu_time=1, stack_size=8 << 20,
        number_processes=64, number_files=64, file_size=1 << 20,
        core_file_size=0)
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        op, argv = words[0], words[1:] or ["/bin/true"]
        kwargs = {"timeout": 5}
        if op == "limits":
            kwargs.update(prlimit=limits, python_exec="/usr/bin/python3")
        c0, t0 = cpu_us(), time.perf_counter()
        try:
            processutils.execute(*argv, **kwargs)
        except Exception as e:  # report, never crash the bench
            print("failed: %s" % str(e).replace("\n", " ")[:200], flush=True)
            continue
        t = (time.perf_counter() - t0) * 1e6
        print("ok %.1f %.1f" % (t, cpu_us() - c0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
