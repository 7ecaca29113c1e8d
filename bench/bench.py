"""
bench.py - `make bench`: what runbox costs, in one table.

    python3 bench/bench.py --builddir DIR --srcdir DIR [--runs N] [--duration S]

Three parts, all measured in this one run on this one machine, each row with
its ratio to the bare baseline:

  1. Per run of /bin/true (bench/spawn): bare fork/execve/waitpid, the
     kernel primitives, runbox's sandbox one isolation layer at a time, and
     the peers installed from Debian (bubblewrap, timeout + prlimit,
     unshare + setpriv, oslo.concurrency).  Rows are interleaved round by
     round, RUNS rounds.
  2. Spawn throughput: 1 and 2 workers starting /bin/true, `sh main.sh` and
     `python3 -I main.py` in a loop, bare and through the sandbox exactly as
     runboxd runs them: the ceiling for part 3.
  3. Through nginx (wrk, keep-alive connections): nginx answering fixed JSON
     (`return 200`, the HTTP layer alone), GET /api/v1/health (plus FastCGI
     and runboxd, no program), and POST /api/v1/run for the three programs,
     at 1, 4, 16 and 64 connections; the service is conf/run.sh on a free
     port with conf/runboxd.json as shipped but for two keys: no per-client
     rate limit (wrk is one client) and slot uids of its own.

Besides times and rates, each row says what CPU it cost: the processes that
did the work (and what they reaped), and kernel threads (work the kernel
defers, such as tearing down network namespaces).  Before each point of
parts 2 and 3 the bench lets the kernel threads go quiet, so that one
point's deferred work is not billed to the next.

The table goes to stdout and, as Markdown, to bench/results/latest.md in the
source tree (or --out).  Progress goes to stderr.  A peer that is not
installed is a row saying so, not a failure.  The whole run holds the
build tree's end-to-end lock (tests/e2e.lock), so `make check` suites and
the bench do not share the slot uids or the CPUs.

RUNS (default 1000) scales everything: each point of parts 2 and 3 lasts
RUNS/250 seconds unless DURATION says otherwise.  The bench first waits up
to QUIET_WAIT seconds (default 60) for other work on the machine to stop,
and says in the output how busy the machine was.

Only the standard library: it runs under Debian's /usr/bin/python3.
"""

import argparse
import datetime
import fcntl
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CONNS = (1, 4, 16, 64)
BENCH_UID_BASE = 61000  # the service's slot uids during the bench


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def first_line(cmd):
    """First line of a command's stdout+stderr, or None if it cannot run."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = p.stdout.decode("utf-8", "replace").strip().splitlines()
    return lines[0].strip() if lines else None


def dpkg_version(pkg):
    v = first_line(["dpkg-query", "-W", "-f=${Version}", pkg])
    return v if v and "no packages found" not in v else None


# ---- the machine ------------------------------------------------------------

def machine_info(srcdir):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/etc/debian_version") as f:
            debian = "Debian " + f.read().strip()
    except OSError:
        debian = "not Debian"
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = ", %.0f GiB RAM" % (kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    rev = first_line(["git", "-C", srcdir, "describe", "--always", "--dirty"]) or "?"
    return {
        "cpu": "%s, %d cores%s" % (cpu, os.cpu_count() or 0, mem),
        "os": "%s, Linux %s" % (debian, os.uname().release),
        "load": "%.2f %.2f %.2f" % os.getloadavg(),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "rev": rev,
    }


def cpu_busy(seconds=1.0):
    """Share of all CPUs busy over `seconds` (0..1), from /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1.0 - (i1 - i0) / (t1 - t0) if t1 > t0 else 0.0


def wait_quiet(limit_s):
    """Wait up to limit_s for other work to stop; the busy share seen last."""
    until = time.monotonic() + limit_s
    busy = cpu_busy()
    if busy > 0.15:
        log("the machine is %.0f%% busy with other work; waiting up to %d s for "
            "it to calm down" % (busy * 100, limit_s))
    while busy > 0.15 and time.monotonic() < until:
        busy = cpu_busy(2.0)
    return busy


HZ = os.sysconf("SC_CLK_TCK")
PF_KTHREAD = 0x00200000


def proc_table():
    """{pid: (comm, ppid, flags, own+reaped CPU seconds, start time,
    session)} of every process."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        f = st[st.rindex(")") + 2:].split()
        # utime stime cutime cstime: a reaped child's time is in its parent's
        # cutime/cstime, so a live tree never counts anything twice.
        table[int(d)] = (comm, int(f[1]), int(f[6]),
                         sum(int(x) for x in f[11:15]) / HZ, int(f[19]), int(f[3]))
    return table


def kthread_delta(t0, t1):
    """CPU seconds kernel threads used between two proc_table() snapshots:
    work the kernel defers (network namespace teardown, cgroup release) is
    done there, not by the caller.  A kernel thread that exited in between
    takes its time with it, so this is a lower bound."""
    used = 0.0
    for pid, (comm, ppid, flags, cpu, start, sid) in t1.items():
        if flags & PF_KTHREAD:
            before = t0.get(pid)
            # The same thread (a kworker's name changes with its work).
            used += cpu - before[3] if before and before[4] == start else cpu
    return used


def tree_cpu(table, root):
    """{name: CPU seconds} of root's live descendants, one entry per child of
    root (named after it: "runboxd" holds its workers and the programs they
    ran, "nginx" its workers); root's own time is left out (conf/run.sh
    only polls)."""
    children = {}
    for pid, (comm, ppid, flags, cpu, start, sid) in table.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for top in children.get(root, ()):
        name, todo = table[top][0], [top]
        while todo:
            pid = todo.pop()
            if pid in table:
                out[name] = out.get(name, 0.0) + table[pid][3]
            todo.extend(children.get(pid, ()))
    return out


def machine_busy():
    """CPU seconds all CPUs have been busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / HZ  # user nice system irq softirq


class Meter:
    """CPU bookkeeping around one measurement: the kernel threads' share,
    the bench's reaped children's (bench/spawn, wrk), and what is left of
    the machine's busy time: other work, which makes the point noisy."""

    def __init__(self):
        self.t0, self.b0, self.w0 = proc_table(), machine_busy(), time.monotonic()
        self.r0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def stop(self):
        self.t1, self.b1, self.w1 = proc_table(), machine_busy(), time.monotonic()
        self.r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def kthreads(self):
        return kthread_delta(self.t0, self.t1)

    def children(self):
        return (self.r1.ru_utime + self.r1.ru_stime) - (self.r0.ru_utime + self.r0.ru_stime)

    def other(self, ours):
        """Share of all CPUs (0..1) busy with work that is not `ours`
        (seconds), nor the bench's children, nor kernel threads."""
        wall = (self.w1 - self.w0) * (os.cpu_count() or 1)
        rest = self.b1 - self.b0 - ours - self.children() - self.kthreads()
        return max(0.0, rest / wall) if wall > 0 else 0.0


def noisy(share):
    """A note for a point that shared the machine with other work."""
    return ("; **other work on the machine: %.0f%% of the CPUs, noisy**" % (share * 100)
            if share > 0.10 else "")


def settle(limit_s):
    """Let deferred kernel work of the previous point finish (up to limit_s):
    until kernel threads use under 5% of one CPU over 200 ms."""
    until = time.monotonic() + limit_s
    last = proc_table()
    while time.monotonic() < until:
        time.sleep(0.2)
        now = proc_table()
        if kthread_delta(last, now) < 0.01:
            return
        last = now


# ---- the table ----------------------------------------------------------------

class Row:
    """One line of the table; times in microseconds."""

    def __init__(self, name, p50=None, p90=None, p99=None, rate=None, cpu=None,
                 tratio=None, rratio=None, note="", kcpu=None):
        self.name, self.note, self.kcpu = name, note, kcpu
        self.p50, self.p90, self.p99 = p50, p90, p99
        self.rate, self.cpu = rate, cpu
        self.tratio, self.rratio = tratio, rratio


class Section:
    def __init__(self, title):
        self.title = title
        self.rows = []


def ms(us):
    if us is None:
        return ""
    v = us / 1000.0
    if v < 10:
        return "%.3f" % v
    if v < 100:
        return "%.2f" % v
    return "%.1f" % v


def ratio(x):
    return "" if x is None else "%.2fx" % x


def num(x):
    return "" if x is None else "%.0f" % x


def cell(text):
    """Text for a Markdown table cell: a bare | would end it."""
    return text.replace("\n", " ").replace("|", "\\|")


def render(sections, header_lines, notes):
    cols = ["", "p50 ms", "p90 ms", "p99 ms", "per s", "CPU ms/run",
            "kthreads ms/run", "p50 × bare", "rate × bare", "notes"]
    body = []
    for sec in sections:
        body.append("**%s**" % sec.title)
        for r in sec.rows:
            body.append([cell(r.name), ms(r.p50), ms(r.p90), ms(r.p99), num(r.rate),
                         ms(r.cpu), ms(r.kcpu), ratio(r.tratio), ratio(r.rratio),
                         cell(r.note)])
    cells = [b for b in body if isinstance(b, list)]
    widths = [max(len(c), *(len(b[i]) for b in cells)) for i, c in enumerate(cols)]
    right = set(range(1, 9))

    def line(cells):
        if isinstance(cells, str):  # a section title: let it overflow
            return "| " + cells + " |" + "|" * (len(cols) - 1)
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "| " + " | ".join(out).rstrip() + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    lines = ["# runbox benchmarks", ""]
    lines += header_lines
    lines += ["", line(cols), sep] + [line(b) for b in body] + [""]
    lines += notes
    return "\n".join(lines) + "\n"


# ---- part 1: per run -------------------------------------------------------------

ROW_NOTES = (
    ("+ cgroup", "joins right after another join (a busy service)"),
    ("the same, first run", "the first cgroup v1 join after a pause waits for an "
     "RCU grace period (a lone request)"),
    ("bubblewrap", "no seccomp, no rlimits; CPU is a lower bound (not all of it "
     "is reaped up to the bench)"),
    ("timeout + prlimit", "rlimits and a wall clock only"),
    ("timeout + unshare", "no seccomp, no cgroup"),
    ("oslo processutils.execute, no", "no limits at all"),
    ("oslo processutils.execute +", "a second python3 applies the rlimits"),
)


def part_per_run(spawn, srcdir, runs):
    sec = Section("1. Per run of /bin/true: %d runs of each row, interleaved "
                  "round by round (bench/spawn)" % runs)
    info = {}
    log("part 1: per-run cost, %d rounds of every row (about %d s)"
        % (runs, runs * 75 // 1000))
    meter = Meter()
    p = subprocess.run([spawn, "-m", "-n", str(runs), "-O",
                        os.path.join(srcdir, "bench", "oslo_peer.py"), "/bin/true"],
                       stdout=subprocess.PIPE, universal_newlines=True)
    info["other"] = meter.stop().other(0.0)
    if p.returncode != 0:
        raise SystemExit("bench: bench/spawn failed (exit %d)" % p.returncode)
    how = []
    base = None
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if f[0] == "info":
            info[f[1]] = f[2]
        elif f[0] == "run":
            name, n, status, cmd = f[1], f[2], f[8], f[9]
            how.append((name.strip(), cmd))
            if status != "ok":
                sec.rows.append(Row(name, note=status))
                continue
            r = Row(name, p50=float(f[3]), p90=float(f[4]), p99=float(f[5]),
                    cpu=float(f[6]), tratio=float(f[7]))
            for prefix, note in ROW_NOTES:
                if name.strip().startswith(prefix):
                    r.note = note
            if base is None:
                base = r
            sec.rows.append(r)
    # isolate is not packaged by Debian; building it from source is out of
    # this bench's reach (no network access assumed, never vendored).
    sec.rows.append(Row("isolate (ioi/isolate)", note=(
        "installed, but not measured by this bench" if shutil.which("isolate")
        else "not built: no source available offline")))
    return sec, base, info, how


# ---- part 2: spawn throughput ---------------------------------------------------

def load_languages(srcdir):
    with open(os.path.join(srcdir, "conf", "languages.json")) as f:
        langs = {l["id"]: l for l in json.load(f)["languages"]}
    with open(os.path.join(srcdir, "conf", "runboxd.json")) as f:
        cfg = json.load(f)
    return langs, cfg


class Program:
    """A program of parts 2 and 3: its bare argv and env, its request body."""

    def __init__(self, label, argv, env, files, body):
        self.label, self.argv, self.env = label, argv, env
        self.files, self.body = files, body
        self.bare = {}      # workers -> Row
        self.sandboxed = {}


def programs(srcdir, workdir):
    """/bin/true, sh `true` and python3 `pass`, run as languages.json says."""
    langs, cfg = load_languages(srcdir)
    base_env = dict(cfg.get("environment", {}))
    base_env.update(HOME=workdir, TMPDIR=workdir)
    progs = [Program("/bin/true", ["/bin/true"], base_env, {},
                     {"command": ["/bin/true"]})]
    for lang, code in (("sh", "true"), ("python3", "pass")):
        spec = langs.get(lang)
        if not spec:
            continue
        argv = []
        for a in spec["run"]:
            if a == "{args}":
                continue
            argv.append(a.replace("{file}", spec["source_file"]))
        env = dict(base_env)
        env.update(spec.get("env", {}))
        progs.append(Program("%s `%s`" % (lang, code), argv, env,
                             {spec["source_file"]: code + "\n"},
                             {"language": lang, "code": code}))
    return progs


def part_throughput(spawn, progs, workdir, seconds):
    sec = Section("2. Spawn throughput: N workers start the program in a loop "
                  "for %g s (bench/spawn -t)" % seconds)
    for prog in progs:
        for name, content in prog.files.items():
            with open(os.path.join(workdir, name), "w") as f:
                f.write(content)
            os.chmod(os.path.join(workdir, name), 0o644)
    log("part 2: spawn throughput, %d points of %g s" % (len(progs) * 4, seconds))
    settle(15)  # part 1 left thousands of network namespaces to tear down
    for prog in progs:
        for sandboxed in (False, True):
            for workers in (1, 2):
                cmd = [spawn, "-m", "-t", str(seconds), "-j", str(workers),
                       "-C", workdir, "-l", prog.label]
                if sandboxed:
                    cmd.append("-s")
                for k, v in prog.env.items():
                    cmd += ["-e", "%s=%s" % (k, v)]
                cmd += ["--"] + prog.argv
                settle(3)
                meter = Meter()
                p = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
                settle(3)
                meter.stop()
                kdelta = meter.kthreads()
                what = "runbox sandbox (as runboxd)" if sandboxed else "bare"
                name = "%s %s, %d worker%s" % (what, prog.label, workers,
                                               "" if workers == 1 else "s")
                row = None
                for line in p.stdout.splitlines():
                    f = line.split("\t")
                    if f[0] == "rate":
                        status, runs = f[9], int(f[3])
                        row = Row(name, p50=float(f[6]), p90=float(f[7]),
                                  p99=float(f[8]), rate=float(f[5]), cpu=float(f[10]),
                                  kcpu=kdelta * 1e6 / runs if runs else None,
                                  note=(("" if status == "ok" else status) +
                                        noisy(meter.other(0.0))).lstrip("; "))
                if row is None:
                    row = Row(name, note="failed: bench/spawn exit %d" % p.returncode)
                (prog.sandboxed if sandboxed else prog.bare)[workers] = row
                sec.rows.append(row)
    # Ratios against the bare rows of the same program.
    for prog in progs:
        b1 = prog.bare.get(1)
        for workers in (1, 2):
            b = prog.bare.get(workers)
            for r in (prog.bare.get(workers), prog.sandboxed.get(workers)):
                if r is None or r.p50 is None or not b or b.p50 is None:
                    continue
                r.tratio = r.p50 / b1.p50 if b1 and b1.p50 else None
                r.rratio = r.rate / b.rate if b.rate else None
    return sec


# ---- part 3: through nginx ------------------------------------------------------

def wrk_point(wrk, lua, url, conns, seconds, body):
    threads = min(conns, os.cpu_count() or 2)
    cmd = [wrk, "-t", str(threads), "-c", str(conns), "-d", "%ds" % seconds,
           "--timeout", "30s", "-s", lua, url, "--", json.dumps(body) if body else ""]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError("wrk failed: %s" % p.stdout.strip()[-300:])


def wrk_row(name, res):
    secs = res["duration_us"] / 1e6
    problems = []
    codes = {}
    for part in res["codes"].split():
        code, n = part.split("=")
        codes[code] = codes.get(code, 0) + int(n)
    if res["non200"]:
        problems.append("%d non-200 (%s)" % (res["non200"], ", ".join(
            "%s: %d" % kv for kv in sorted(codes.items()))))
    if res["not_ok"]:
        problems.append("%d 200 but not \"ok\"" % res["not_ok"])
    errs = sum(res[k] for k in ("connect_errors", "read_errors", "write_errors"))
    if errs:
        problems.append("%d socket errors" % errs)
    if res["timeouts"]:
        problems.append("%d timeouts" % res["timeouts"])
    if problems and res["example"]:
        problems.append("e.g. %s" % res["example"][:80])
    note = "; ".join(problems) if problems else "0 non-200"
    return Row(name, p50=res["p50_us"], p90=res["p90_us"], p99=res["p99_us"],
               rate=res["requests"] / secs if secs else 0, note=note), res["requests"]


def wait_http(url, proc, timeout=150):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def stop(proc, sig=signal.SIGTERM, timeout=30):
    """Stop a process we started, by its id; True when it is gone."""
    if proc.poll() is not None:
        return True
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


FIXED_LOCATION = """
        # bench only: the HTTP layer's own cost, no FastCGI, no program
        location = /bench/fixed {
            default_type application/json;
            return 200 '{"status":"ok","exit_code":0,"stdout":"","stderr":""}\\n';
        }
"""


def bench_config(args, tmp):
    """conf/runboxd.json as shipped, but without the per-client rate limit
    and with slot uids of its own.

    wrk is one client on 127.0.0.1: under the shipped limit (http.rate_per_second)
    nginx would answer most requests 429 and the bench would measure that.
    The languages file stays the shipped one."""
    with open(os.path.join(args.srcdir, "conf", "runboxd.json")) as f:
        cfg = json.load(f)
    changed = []
    http = cfg.get("http")
    if isinstance(http, dict):
        for key, value in (("rate_per_second", 1000000), ("rate_burst", 1000000),
                           ("connections_per_client", 60000)):
            if key in http:
                changed.append("http.%s %s -> %s" % (key, http[key], value))
                http[key] = value
    # Slot uids of our own: an end-to-end suite of another build tree may be
    # running, and it checks that no process of the shipped slot uids
    # outlives its runs.
    sandbox = cfg.get("sandbox")
    if isinstance(sandbox, dict):
        for key in ("uid_base", "gid_base"):
            if key in sandbox:
                changed.append("sandbox.%s %s -> %s" % (key, sandbox[key], BENCH_UID_BASE))
                sandbox[key] = BENCH_UID_BASE
    cfg["languages_file"] = os.path.join(args.srcdir, "conf",
                                         cfg.get("languages_file", "languages.json"))
    confdir = os.path.join(tmp, "conf")
    os.makedirs(confdir, exist_ok=True)
    path = os.path.join(confdir, "runboxd.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path, changed


def fixed_nginx(args, tmp, config):
    """nginx with the service's own config plus a `return 200` location."""
    runtime = os.path.join(tmp, "nginx-fixed")
    os.makedirs(runtime)
    port = free_port()
    render = subprocess.run(
        [os.path.join(args.builddir, "service", "runboxd"), "--config",
         config, "--listen", os.path.join(runtime, "unused.sock"), "--render",
         os.path.join(args.srcdir, "conf", "nginx.conf.in"), "--port", str(port),
         "--runtime", runtime, "--www", os.path.join(args.srcdir, "www")],
        stdout=subprocess.PIPE, universal_newlines=True)
    if render.returncode != 0:
        raise RuntimeError("runboxd --render failed")
    conf = render.stdout
    anchor = conf.find("location /api/")
    if anchor < 0:
        anchor = conf.find("location /")
    if anchor < 0:
        raise RuntimeError("no location in the rendered nginx.conf")
    anchor = conf.rfind("\n", 0, anchor) + 1
    conf = conf[:anchor] + FIXED_LOCATION.lstrip("\n") + "\n" + conf[anchor:]
    if os.geteuid() == 0:
        conf = "user root;\n" + conf
    path = os.path.join(runtime, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    # nginx reads $NGINX as a list of inherited sockets: never pass ours on.
    env = {k: v for k, v in os.environ.items() if k != "NGINX"}
    proc = subprocess.Popen([args.nginx, "-c", path, "-p", runtime, "-e",
                             os.path.join(runtime, "nginx-error.log")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d/bench/fixed" % port
    if not wait_http(url, proc):
        stop(proc)
        raise RuntimeError("the bench nginx did not start on port %d" % port)
    return proc, url


def runboxd_memory(sid):
    """(processes, summed RSS KiB, summed PSS KiB) of runboxd in session sid."""
    n = rss = pss = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            if comm != "runboxd" or int(st[st.rindex(")") + 2:].split()[3]) != sid:
                continue
            with open("/proc/%s/smaps_rollup" % d) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
            n += 1
        except (OSError, ValueError, IndexError):
            continue
    return n, rss, pss


def part_http(args, progs, tmp, seconds, bare_true):
    sec = Section("3. Through nginx: wrk, keep-alive connections, %d s per point "
                  "(bench/post.lua)" % seconds)
    extra = []
    wrk = shutil.which("wrk")
    if not wrk:
        sec.rows.append(Row("all HTTP rows", note="not installed (wrk)"))
        return sec, extra
    if not os.path.exists(args.nginx):
        sec.rows.append(Row("all HTTP rows", note="not installed (nginx)"))
        return sec, extra
    lua = os.path.join(args.srcdir, "bench", "post.lua")
    points = len(CONNS) * (2 + len(progs))
    log("part 3: through nginx, %d wrk points of %d s" % (points, seconds))

    def measure(label, url, body, bare, root):
        """wrk at each connection count; CPU per request of the server tree
        under root (nginx, runboxd and the programs it reaped), of wrk, and
        of kernel threads."""
        settle(10)
        total = 0
        for c in CONNS:
            name = "%s, %d conn%s" % (label, c, "" if c == 1 else "s")
            try:
                if c == CONNS[0]:
                    wrk_point(wrk, lua, url, 2, 1, body)  # warm-up, not counted
                settle(3)
                meter = Meter()
                res = wrk_point(wrk, lua, url, c, seconds, body)
            except RuntimeError as e:
                sec.rows.append(Row(name, note="failed: %s" % e))
                continue
            settle(3)
            meter.stop()
            row, n = wrk_row(name, res)
            total += n
            if n:
                before, after = tree_cpu(meter.t0, root), tree_cpu(meter.t1, root)
                used = {k: after[k] - before.get(k, 0.0) for k in after}
                wrk_s = meter.children()
                row.cpu = (sum(used.values()) + wrk_s) * 1e6 / n
                row.kcpu = meter.kthreads() * 1e6 / n
                parts = ["%s %s" % (k, ms(v * 1e6 / n)) for k, v in
                         sorted(used.items(), key=lambda kv: -kv[1]) if v * 1e6 / n >= 1]
                parts.append("wrk %s" % ms(wrk_s * 1e6 / n))
                row.note += "; CPU ms/req: " + ", ".join(parts)
                row.note += noisy(meter.other(sum(used.values())))
            b1 = bare.get(1)
            b = bare.get(min(c, 2))
            if b1 and b1.p50:
                row.tratio = row.p50 / b1.p50
            if b and b.rate:
                row.rratio = row.rate / b.rate
            sec.rows.append(row)
        return total

    config, changed = bench_config(args, tmp)
    if changed:
        extra.append("Bench config: conf/runboxd.json as shipped, except the per-client "
                     "rate limit (it would answer wrk, one client, 429) and the slot uids "
                     "(kept apart from end-to-end suites of other build trees): %s."
                     % ", ".join(changed))

    # The HTTP layer alone.
    try:
        proc, url = fixed_nginx(args, tmp, config)
        try:
            measure("nginx `return 200` fixed JSON", url, None, bare_true, proc.pid)
        finally:
            stop(proc)
    except RuntimeError as e:
        sec.rows.append(Row("nginx `return 200` fixed JSON", note="failed: %s" % e))

    # The service, as `make run` starts it.
    port = free_port()
    logpath = os.path.join(tmp, "run.log")
    with open(logpath, "w") as logf:
        proc = subprocess.Popen(
            ["/bin/sh", os.path.join(args.srcdir, "conf", "run.sh"), "--port",
             str(port), "--builddir", args.builddir, "--srcdir", args.srcdir,
             "--config", config],
            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    base = "http://127.0.0.1:%d/api/v1/" % port
    try:
        if not wait_http(base + "health", proc):
            with open(logpath) as f:
                tail = f.read()[-2000:]
            raise SystemExit("bench: conf/run.sh did not start:\n" + tail)
        with urllib.request.urlopen(base + "health", timeout=5) as r:
            health = json.load(r)
        extra.append("runboxd: %s slots, queue %s, "
                     "isolation: %s." % (health.get("slots"), health.get("queue"),
                                         json.dumps(health.get("isolation"))))
        mem0 = runboxd_memory(proc.pid)
        total = measure("GET /api/v1/health (FastCGI + runboxd, no program)",
                        base + "health", None, bare_true, proc.pid)
        for prog in progs:
            total += measure("POST run %s" % prog.label, base + "run", prog.body,
                             prog.bare, proc.pid)
        mem1 = runboxd_memory(proc.pid)
        extra.append("runboxd memory (master + %d workers): RSS %.1f MiB, PSS %.1f MiB "
                     "idle; RSS %.1f MiB, PSS %.1f MiB after %d requests."
                     % (mem0[0] - 1, mem0[1] / 1024, mem0[2] / 1024, mem1[1] / 1024,
                        mem1[2] / 1024, total))
    finally:
        # Known while run.sh lives (its session id is its pid, free for
        # reuse once it is reaped).
        members = session_members(proc.pid)
        if not stop(proc):
            log("conf/run.sh did not stop within 30 s; killed it")
        stop_leftovers(members)
    return sec, extra


def session_members(sid):
    """{pid: start time} of the processes in session sid."""
    return {pid: v[4] for pid, v in proc_table().items() if v[5] == sid}


def stop_leftovers(members):
    """What conf/run.sh started and its cleanup missed (it ran in a session
    of its own) is ours to stop: each process by its pid, checked by its
    start time, with a warning."""
    def alive():
        table = proc_table()
        return [pid for pid, start in members.items()
                if pid in table and table[pid][4] == start]
    left = alive()
    if not left:
        return
    log("processes left by conf/run.sh: %s; stopping them" % left)
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        until = time.monotonic() + wait_s
        while time.monotonic() < until and alive():
            time.sleep(0.1)
        left = alive()
        if not left:
            return


# ---- the targets of issue 6 -------------------------------------------------------

def targets(s1, s3, progs):
    """One line per target: what was measured, met or not, by how much."""
    def find(sec, name):
        for r in sec.rows:
            if r.name.strip() == name and r.p50 is not None:
                return r
        return None

    def verdict(ok):
        return "**met**" if ok else "**not met**"

    out = ["Targets (issues 6 and 14), from this run:", ""]
    full = find(s1, "the same in the slot's long-lived box (= what runboxd runs)")
    if full:
        out.append("- Sandbox with full isolation ≤ 1.5x bare per run of /bin/true: "
                   "%.2fx (%s ms vs %s ms) — %s." % (
                       full.tratio, ms(full.p50), ms(s1.rows[0].p50),
                       verdict(full.tratio <= 1.5)))
        idle = find(s1, "the box, first run after 1 s idle")
        if idle:
            r = idle.p50 / full.p50
            out.append("- The first run after 1 s idle within 1.3x of back-to-back runs: "
                       "%.2fx (%s ms vs %s ms) — %s." % (
                           r, ms(idle.p50), ms(full.p50), verdict(r <= 1.3)))
    true1 = find(s3, "POST run /bin/true, 1 conn")
    if true1 and true1.tratio:
        out.append("- End to end /bin/true, 1 connection, p50 ≤ 2x the bare spawn: "
                   "%.2fx (%s ms) — %s." % (true1.tratio, ms(true1.p50),
                                            verdict(true1.tratio <= 2)))
    true16 = find(s3, "POST run /bin/true, 16 conns")
    if true16 and true16.rratio:
        out.append("- End to end /bin/true, 16 connections, ≥ 0.65x the bare throughput "
                   "of 2 workers with p99 < 15 ms: %.2fx (%.0f/s), p99 %s ms — %s." % (
                       true16.rratio, true16.rate, ms(true16.p99),
                       verdict(true16.rratio >= 0.65 and true16.p99 < 15000)))
    # Only points where every answer was a run (a 503 is answered fast and
    # would count as throughput).
    py = [r for r in s3.rows if r.name.startswith("POST run python3") and r.rratio
          and r.note.startswith("0 non-200")]
    if py:
        best = max(py, key=lambda r: r.rratio)
        out.append("- python3 `pass` end to end ≥ 0.9x the bare python3 spawn throughput: "
                   "best %.2fx (%.0f/s at %s) — %s." % (
                       best.rratio, best.rate, best.name.split(", ")[-1],
                       verdict(best.rratio >= 0.9)))
    if full:
        slower = []
        for r in s1.rows:
            peer = any(r.name.startswith(p) for p in ("bubblewrap", "timeout", "oslo"))
            if peer and r.p50 is not None and r.p50 <= full.p50:
                slower.append("%s (%s ms)" % (r.name, ms(r.p50)))
        out.append("- Faster per run than every peer in the table (all have equal or "
                   "weaker isolation): %s." % (
                       verdict(not slower) if not slower else
                       verdict(False) + ": not faster than " + ", ".join(slower)))
    return out + [""]


# ---- main -------------------------------------------------------------------

# ---- the plot and BENCHMARKS.md ---------------------------------------------------

PLOT_SERIES = [("POST run /bin/true", "/bin/true", "#1f77b4"),
               ("POST run sh `true`", "sh true", "#2ca02c"),
               ("POST run python3 `pass`", "python3 pass", "#d62728")]


def plot_svg(s3):
    """Throughput and p99 against connections for the HTTP rows, as SVG
    (no plotting package needed)."""
    series = []
    for prefix, label, colour in PLOT_SERIES:
        pts = []
        for r in s3.rows:
            m = re.match(re.escape(prefix) + r", (\d+) conns?$", r.name)
            if m and r.rate and r.p99:
                pts.append((int(m.group(1)), r.rate, r.p99 / 1000.0))
        if pts:
            series.append((label, colour, sorted(pts)))
    if not series:
        return None
    W, H, L, T, PW, PH, GAP = 900, 360, 70, 40, 340, 250, 110
    conns = sorted({c for _, _, pts in series for c, _, _ in pts})
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>']

    def panel(x0, title, key, unit):
        top = max(p[key] for _, _, pts in series for p in pts) * 1.1 or 1
        out.append('<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>'
                   % (x0, T - 15, title))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>'
                   % (x0, T, PW, PH))
        for i in range(5):
            v = top * i / 4
            y = T + PH - PH * i / 4
            out.append('<text x="%d" y="%.1f" text-anchor="end">%.0f</text>' % (x0 - 5, y + 4, v))
            out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>'
                       % (x0, x0 + PW, y, y))
        out.append('<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle">%s</text>'
                   % (x0 - 50, T + PH // 2, x0 - 50, T + PH // 2, unit))

        def xpos(c):
            return x0 + PW * conns.index(c) / max(len(conns) - 1, 1)
        for c in conns:
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>'
                       % (xpos(c), T + PH + 16, c))
        out.append('<text x="%d" y="%d" text-anchor="middle">connections</text>'
                   % (x0 + PW // 2, T + PH + 32))
        for label, colour, pts in series:
            path = " ".join("%.1f,%.1f" % (xpos(p[0]), T + PH - PH * p[key] / top)
                            for p in pts)
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                       % (colour, path))
    panel(L, "Throughput (requests/s)", 1, "req/s")
    panel(L + PW + GAP, "p99 latency (ms)", 2, "ms")
    for i, (label, colour, _) in enumerate(series):
        y = T + PH + 50
        x = L + i * 170
        out.append('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>' % (x, y - 4, colour))
        out.append('<text x="%d" y="%d">%s</text>' % (x + 20, y, label))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_plot_and_report(args, s3, text):
    """bench/throughput.svg and BENCHMARKS.md in the source tree: the last
    full run, to be committed with the change it measures."""
    svg = plot_svg(s3)
    plot = os.path.join(args.srcdir, "bench", "throughput.svg")
    report = os.path.join(args.srcdir, "BENCHMARKS.md")
    intro = ("# runbox benchmarks\n\n"
             "Produced by `make bench` (bench/bench.py, bench/spawn.c, bench/post.lua); "
             "rerun it to refresh this file and the plot.  Every row was measured side "
             "by side in one run on the machine named below; compare rows with each "
             "other, not with other machines.\n\n"
             "![throughput and p99 against connections](bench/throughput.svg)\n\n")
    try:
        if svg:
            with open(plot, "w") as f:
                f.write(svg)
        body = text.split("\n", 1)[1] if text.startswith("# ") else text
        with open(report, "w") as f:
            f.write(intro + body.lstrip("\n"))
        log("wrote %s and %s" % (report, plot))
    except OSError as e:
        log("cannot write BENCHMARKS.md or the plot (%s)" % e)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS") or 1000))
    ap.add_argument("--duration", type=int, default=int(os.environ.get("DURATION") or 0))
    ap.add_argument("--nginx", default=os.environ.get("NGINX") or shutil.which("nginx")
                    or "/usr/sbin/nginx")
    ap.add_argument("--out")
    args = ap.parse_args()
    args.builddir = os.path.abspath(args.builddir)
    args.srcdir = os.path.abspath(args.srcdir)
    runs = max(10, args.runs)
    seconds = args.duration or max(1, round(runs / 250))
    spawn = os.path.join(args.builddir, "bench", "spawn")

    lockpath = os.path.join(args.builddir, "tests", "e2e.lock")
    os.makedirs(os.path.dirname(lockpath), exist_ok=True)
    lock = open(lockpath, "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        log("waiting for %s (end-to-end tests are running)" % lockpath)
        fcntl.flock(lock, fcntl.LOCK_EX)

    started = time.monotonic()
    busy_start = wait_quiet(int(os.environ.get("QUIET_WAIT") or 60))
    info = machine_info(args.srcdir)
    tmp = tempfile.mkdtemp(prefix="runbox-bench.")
    os.chmod(tmp, 0o755)  # the throughput workers' uids read the programs
    try:
        workdir = os.path.join(tmp, "work")
        os.mkdir(workdir, 0o755)
        os.chmod(workdir, 0o755)
        progs = programs(args.srcdir, workdir)

        s1, bare, spawn_info, how = part_per_run(spawn, args.srcdir, runs)
        s2 = part_throughput(spawn, progs, workdir, max(1, seconds / 2))
        s3, extra = part_http(args, progs, tmp, seconds, progs[0].bare)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    busy_end = cpu_busy()
    versions = []
    for pkg in ("nginx", "wrk", "bubblewrap", "python3-oslo.concurrency", "util-linux"):
        v = dpkg_version(pkg)
        versions.append("%s %s" % (pkg, v) if v else "%s not installed" % pkg)
    header = [
        "Measured %s on **this machine only**: %s; %s; runbox %s.  nginx, "
        "runboxd, the programs and wrk all share these cores, so compare rows with "
        "each other, not with other machines.  Other work on the machine: "
        "%.0f%% CPU busy just before the bench, %.0f%% during part 1, %.0f%% just "
        "after (load average at start %s; parts 2 and 3 flag their noisy points)%s."
        % (info["date"], info["cpu"], info["os"], info["rev"], busy_start * 100,
           spawn_info["other"] * 100, busy_end * 100, info["load"],
           " — **the machine was not idle: expect noise, run again**"
           if max(busy_start, busy_end, spawn_info["other"]) > 0.15 else ""),
        "",
        "Reproduce: `RUNS=%d make bench` (%s; RUNS scales everything).  "
        "Took %.0f s.  %s.  cgroup: %s."
        % (runs, "DURATION=%d s per point of parts 2 and 3" % seconds,
           time.monotonic() - started, "; ".join(versions),
           spawn_info.get("cgroup", "?")),
    ]
    notes = ["Columns: p50/p90/p99 are per run (parts 1, 2) or per request (part 3); "
             "\"per s\" is runs or requests per second.  \"CPU ms/run\" is user + "
             "system time per run of the processes doing the work and of everything "
             "they reaped: part 1 the bench process, part 2 its workers, part 3 nginx, "
             "runboxd (with the programs) and wrk.  \"kthreads\" is the CPU time "
             "kernel threads used per run during the point and until they went quiet "
             "after it: work the kernel defers, such as tearing network namespaces "
             "down (a lower bound: a kernel thread that exits takes its time with it; "
             "and it counts any other kernel-thread activity of the machine).  "
             "\"p50 × bare\" divides by the bare fork+execve+waitpid p50 of the same "
             "program (parts 2 and 3: its 1-worker row; the HTTP baselines use "
             "/bin/true).  \"rate × bare\" divides by the bare throughput of the "
             "same program with min(connections, 2) workers.", ""]
    notes += extra + [""] if extra else []
    notes += targets(s1, s3, progs)
    notes.append("How part 1's rows run:")
    notes.append("")
    for name, cmd in how:
        if cmd:
            notes.append("- %s: `%s`" % (name, cmd))
    text = render([s1, s2, s3], header, notes)

    out = args.out or os.path.join(args.srcdir, "bench", "results", "latest.md")
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
    except OSError as e:
        out = os.path.join(args.builddir, "bench", "results", "latest.md")
        log("cannot write there (%s); writing %s" % (e, out))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    write_plot_and_report(args, s3, text)
    log("table written to %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
