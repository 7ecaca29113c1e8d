"""
harness.py - run the real service (conf/run.sh: runboxd + nginx) for the
end-to-end tests and talk HTTP to it.

    svc = Service(extra_env={"RUNBOX_E2E_SECRET": "..."})
    svc.start()                     # free port, waits for "serving" + health
    status, headers, body = svc.post_run({"command": ["/bin/echo", "hi"]})
    problems = svc.stop()           # SIGTERM to run.sh; [] when all is gone

run.sh runs in a session of its own, so "our" processes are the ones in
that session (nginx and runboxd never call setsid; sandboxed programs do,
and are found through their parents instead).  The runtime directory is
read from runboxd's own command line (--work-root RUNTIME/work).

Only the standard library: the tests run under Debian's /usr/bin/python3.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import sys
import time
import traceback


class HarnessError(Exception):
    """The service could not be started or inspected."""


def env_path(name, default=None):
    v = os.environ.get(name)
    return v if v else default


def srcdir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.abspath(env_path("top_srcdir", os.path.join(here, "..", "..")))


def builddir():
    return os.path.abspath(env_path("top_builddir", srcdir()))


def free_port():
    """A loopback port nobody listens on right now (bind to port 0)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---- /proc ----------------------------------------------------------------

def proc_stat(pid):
    """(comm, state, ppid, sid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may hold spaces and parentheses: split at the last ')'.
    lp, rp = data.index("("), data.rindex(")")
    comm = data[lp + 1:rp]
    rest = data[rp + 2:].split()
    return comm, rest[0], int(rest[1]), int(rest[3])


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []


def proc_uid(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return None


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def processes():
    """{pid: (comm, state, ppid, sid)} for every live (non-zombie) process."""
    out = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[1] != "Z":
            out[pid] = st
    return out


def children(pid, table=None):
    table = table if table is not None else processes()
    return sorted(p for p, st in table.items() if st[2] == pid)


def descendants(pid, table=None):
    """Every live process below pid (children, their children...)."""
    table = table if table is not None else processes()
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop(), table)
        out.extend(kids)
        todo.extend(kids)
    return sorted(out)


def ancestors(pid, table=None):
    """pid's parent, grandparent... up to (not including) pid 0."""
    table = table if table is not None else processes()
    out = []
    while pid in table and table[pid][2] > 0:
        pid = table[pid][2]
        out.append(pid)
    return out


def _unnamed_unix_sockets(pid):
    """Inodes of the unix sockets without an address in pid's network
    namespace: socketpairs (a worker's box channel to the master)."""
    out = set()
    try:
        with open("/proc/%d/net/unix" % pid) as f:
            next(f)
            for line in f:
                cols = line.split()
                if len(cols) == 7:
                    out.add(cols[6])
    except (OSError, StopIteration):
        pass
    return out


def socket_count(pid):
    """How many sockets pid holds open (0 when it is gone), not counting
    socketpairs (a worker's box channel to the master is one): the
    listening socket and connections."""
    n = 0
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return 0
    pairs = _unnamed_unix_sockets(pid)
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] not in pairs:
            n += 1
    return n


def fd_targets(pid):
    """{fd: link target} of pid's open files ({} when it is gone)."""
    out = {}
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    return out


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[1] != "Z"


def wait_until(pred, timeout, interval=0.02):
    """Poll pred() until it is true or timeout seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---- the service ------------------------------------------------------------

class Service:
    # runboxd runs every language's version command before it serves (45
    # toolchains: tens of seconds on a busy 2-core machine).
    START_TIMEOUT = 150.0
    # runboxd waits for busy workers up to queue_timeout_ms +
    # judge.max_total_wall_ms + 30 s (92 s with the shipped config).
    STOP_TIMEOUT = 100.0

    def __init__(self, extra_env=None, config=None, overrides=None):
        """extra_env: added to run.sh's environment.  config: the runboxd
        config (default: the shipped conf/runboxd.json).  overrides: a dict
        deep-merged into a copy of that config, which is then the one used
        (self.config); the copy lives in a directory of its own, removed
        when the service stops."""
        self.srcdir = srcdir()
        self.builddir = builddir()
        self.nginx = env_path("NGINX") or "/usr/sbin/nginx"
        self.runboxd = os.path.join(self.builddir, "service", "runboxd")
        self.base_config = config or os.path.join(self.srcdir, "conf", "runboxd.json")
        self._confdir = None
        self.config = (self._derive_config(overrides) if overrides
                       else self.base_config)
        self.extra_env = dict(extra_env or {})
        self.proc = None
        self.port = None
        self.runtime = None
        self.lines = []
        self._lines_lock = threading.Lock()
        self._serving = threading.Event()
        self._reader = None

    def _derive_config(self, overrides):
        def merge(into, extra):
            for k, v in extra.items():
                if isinstance(v, dict) and isinstance(into.get(k), dict):
                    merge(into[k], v)
                else:
                    into[k] = v
        with open(self.base_config) as f:
            cfg = json.load(f)
        merge(cfg, overrides)
        # Relative paths in the config are relative to its own directory.
        base = os.path.dirname(os.path.abspath(self.base_config))
        lf = cfg.get("languages_file", "languages.json")
        cfg["languages_file"] = os.path.join(base, lf)
        auth = cfg.get("auth")
        if isinstance(auth, dict) and isinstance(auth.get("tokens_file"), str):
            auth["tokens_file"] = os.path.join(base, auth["tokens_file"])
        self._confdir = tempfile.mkdtemp(prefix="runbox-e2e-conf.")
        os.chmod(self._confdir, 0o755)
        path = os.path.join(self._confdir, "runboxd.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return path

    def _remove_config(self):
        if self._confdir:
            shutil.rmtree(self._confdir, ignore_errors=True)
            self._confdir = None

    # -- prerequisites --

    def missing(self):
        """Why the service cannot run here (a reason to skip), or None."""
        if os.geteuid() != 0:
            return "runboxd must run as root (it gives each slot its own uid)"
        if not os.access(self.runboxd, os.X_OK):
            return "%s is not built" % self.runboxd
        if not os.access(self.nginx, os.X_OK):
            return "nginx not found (%s)" % self.nginx
        for tool in ("/usr/bin/curl",):
            if not os.access(tool, os.X_OK):
                return "%s is needed by conf/run.sh" % tool
        return None

    # -- start / stop --

    def _read_stderr(self, stream):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lines_lock:
                self.lines.append(line)
            if line.startswith("runbox: serving http://"):
                self._serving.set()
        stream.close()

    def log_text(self, last=60):
        with self._lines_lock:
            return "\n".join(self.lines[-last:])

    def _launch(self, port, metrics_port):
        env = dict(os.environ)
        env.update(self.extra_env)
        env["NGINX"] = self.nginx
        self.lines = []
        self.runtime = None
        self._serving = threading.Event()
        self.proc = subprocess.Popen(
            ["/bin/sh", os.path.join(self.srcdir, "conf", "run.sh"),
             "--port", str(port), "--metrics-port", str(metrics_port),
             "--builddir", self.builddir,
             "--srcdir", self.srcdir, "--config", self.config],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.port = port
        self.metrics_port = metrics_port
        self._reader = threading.Thread(target=self._read_stderr,
                                        args=(self.proc.stderr,), daemon=True)
        self._reader.start()

    # nginx's own words when the port is taken (it retries bind() for
    # about 2.5 s, then gives up; run.sh may take longer to notice).  Only
    # then is another port worth a try.
    PORT_CLASH = ("Address already in use", "still could not bind()")

    def _port_clash(self):
        text = self.log_text(200)
        return any(w in text for w in self.PORT_CLASH)

    def start(self, attempts=4):
        """Start run.sh on a free port; retry when the port was taken."""
        why, earlier = "", []
        for _ in range(attempts):
            self._launch(free_port(), free_port())
            deadline = time.monotonic() + self.START_TIMEOUT
            while time.monotonic() < deadline:
                if self.runtime is None:
                    # Known early, so that a failed start can be cleaned up
                    # even if run.sh leaves its directory behind.
                    try:
                        self._find_runtime()
                    except HarnessError:
                        pass
                if self._serving.wait(0.05) or self.proc.poll() is not None:
                    break
                if "still could not bind()" in self.log_text(20):
                    break
            if self._serving.is_set() and self.proc.poll() is None:
                # run.sh only says "serving" once curl got a health 200;
                # check it ourselves all the same.
                if wait_until(self._health_ok, 5.0, 0.05):
                    self._find_runtime()
                    return self
                why = "health never answered 200"
            elif self.proc.poll() is not None:
                why = "run.sh exited with %s" % self.proc.returncode
            elif self._port_clash():
                why = "port %d was taken" % self.port
            else:
                why = "no 'serving' line within %.0f s" % self.START_TIMEOUT
            clash = self._port_clash()
            earlier.append("port %d: %s" % (self.port, why))
            log = self.log_text()
            self._abort(final=False)
            if not clash:
                break  # retrying will not help
        raise HarnessError("service did not start (%s)\n%s" % ("; ".join(earlier), log))

    def _health_ok(self):
        try:
            status, _, _ = self.request("GET", "/api/v1/health", timeout=2)
            return status == 200
        except (OSError, http.client.HTTPException):
            return False

    def _find_runtime(self):
        master = self.master_pid()
        if master is None:
            raise HarnessError("no runboxd master under run.sh (pid %d)" % self.proc.pid)
        argv = proc_cmdline(master)
        for i, a in enumerate(argv[:-1]):
            if a == "--work-root":
                self.runtime = os.path.dirname(argv[i + 1].rstrip("/"))
                return
        raise HarnessError("runboxd's command line has no --work-root: %r" % argv)

    def our_processes(self):
        """Live processes in run.sh's session or naming our runtime dir."""
        if self.proc is None:
            return {}
        sid = self.proc.pid
        found = {}
        for pid, st in processes().items():
            if pid == os.getpid():
                continue
            if st[3] == sid:
                found[pid] = st[0]
            elif self.runtime and any(self.runtime in a for a in proc_cmdline(pid)):
                found[pid] = st[0]
        return found

    def stop(self):
        """SIGTERM to run.sh, wait; return a list of what was left behind."""
        problems = []
        if self.proc is None:
            return ["the service was never started"]
        if self.proc.poll() is not None:
            problems.append("run.sh had already exited with %s" % self.proc.returncode)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append("run.sh did not exit within %.0f s of SIGTERM"
                                % self.STOP_TIMEOUT)
        if self._reader:
            self._reader.join(5)
        rc = self.proc.poll()
        if rc not in (None, 0) and not problems:
            problems.append("run.sh exited with %s after SIGTERM" % rc)
        if "runbox: stopped" not in self.log_text(200):
            problems.append("run.sh did not say 'runbox: stopped'")
        # Everything is waited for by run.sh, runboxd and nginx before run.sh
        # exits; the short poll only absorbs the kernel's asynchronous exit.
        if not wait_until(lambda: not self.our_processes(), 3.0):
            left = self.our_processes()
            if left:
                problems.append("processes left behind: %s" % ", ".join(
                    "%d (%s)" % (p, c) for p, c in sorted(left.items())))
        if self.runtime:
            sock = os.path.join(self.runtime, "runboxd.sock")
            if os.path.exists(sock):
                problems.append("socket %s still exists" % sock)
            if os.path.exists(self.runtime):
                problems.append("runtime directory %s still exists" % self.runtime)
        else:
            problems.append("the runtime directory was never found")
        self._abort()
        return problems

    def _signal_session(self, sig):
        """Send sig to every process of run.sh's session but run.sh."""
        for pid in self.our_processes():
            if pid != self.proc.pid:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

    def _abort(self, grace=3.0, final=True):
        """After a failure: stop run.sh, forcibly if need be, by pid.

        SIGTERM to run.sh first so that it removes its runtime directory.
        run.sh handles the signal only between commands, so if it is stuck
        (in a curl that never returns, say) its session gets SIGTERM too:
        runboxd and nginx stop cleanly, curl ends, and run.sh goes on to
        its cleanup.  Only then SIGKILL, and the runtime directory it made
        is removed here."""
        if self.proc is None:
            return
        if self.runtime is None:
            try:
                self._find_runtime()
            except HarnessError:
                pass
        for step in ("run.sh", "session", "kill"):
            if self.proc.poll() is not None:
                break
            if step == "run.sh":
                self.proc.send_signal(signal.SIGTERM)
            elif step == "session":
                self._signal_session(signal.SIGTERM)
            else:
                self._signal_session(signal.SIGKILL)
                self.proc.kill()
            try:
                self.proc.wait(grace if step != "session" else self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        # Anything of ours still alive (an nginx whose master was lost...).
        if wait_until(lambda: not self.our_processes(), 1.0):
            pass
        else:
            self._signal_session(signal.SIGKILL)
        if self.runtime and os.path.basename(self.runtime).startswith("runbox-run."):
            shutil.rmtree(self.runtime, ignore_errors=True)
        if final:
            self._remove_config()

    # -- processes of the service --

    def master_pid(self):
        """The runboxd master: the runboxd process whose parent is run.sh."""
        table = processes()
        for pid in children(self.proc.pid, table):
            if table[pid][0] == "runboxd":
                return pid
        return None

    def nginx_pids(self):
        table = processes()
        return [p for p, st in table.items()
                if st[3] == self.proc.pid and st[0] == "nginx"]

    def worker_pids(self):
        master = self.master_pid()
        if master is None:
            return []
        table = processes()
        return [p for p in children(master, table) if table[p][0] == "runboxd"]

    def work_root(self):
        return os.path.join(self.runtime, "work")

    # -- HTTP --

    def request(self, method, path, body=None, headers=None, timeout=60, source=None):
        """One HTTP request on a fresh connection: (status, headers, bytes).
        headers are a dict with lower-case names.  /metrics goes to its
        own listener (run.sh --metrics-port).  source: the client's
        address (another one in 127.0.0.0/8 is another client)."""
        port = self.metrics_port if path.split("?")[0] == "/metrics" else self.port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                          source_address=(source, 0) if source else None)
        try:
            hdrs = dict(headers or {})
            if isinstance(body, str):
                body = body.encode("utf-8")
            if body is not None:
                hdrs.setdefault("Content-Type", "application/json")
            try:
                conn.request(method, path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # nginx may answer (413) and close before reading it all;
                # its answer is still waiting to be read.
                pass
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def request_json(self, method, path, body=None, headers=None, timeout=60):
        """Like request(), the body parsed as JSON (None when it is not)."""
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        status, hdrs, data = self.request(method, path, body, headers, timeout)
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        return status, hdrs, parsed, data

    def post_run(self, req, timeout=60):
        """POST /api/v1/run with req (a dict, or a raw str/bytes body):
        (status, headers, json)."""
        status, hdrs, parsed, _ = self.request_json("POST", "/api/v1/run", req,
                                                    timeout=timeout)
        return status, hdrs, parsed

    def get_json(self, path, timeout=30):
        status, hdrs, parsed, _ = self.request_json("GET", path, timeout=timeout)
        return status, hdrs, parsed


# ---- assertions shared by the suites ---------------------------------------

def short(v, n=400):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def eq(got, want, what):
    if got != want:
        fail("%s: expected %s, got %s" % (what, short(want), short(got)))


def find_by_cmdline(pattern, table=None):
    """Live pids whose command line (joined by spaces) matches pattern."""
    table = table if table is not None else processes()
    rx = re.compile(pattern)
    return sorted(p for p in table if rx.search(" ".join(proc_cmdline(p))))


# ---- running checks and reporting in Check's format -------------------------

class Report:
    """Runs a suite's checks one at a time against one service: each failure
    printed as file:line:F|E:suite:name:0: message (the line of the check
    that failed), each success as one line, and at the end Check's summary
    line.  A failing check never stops the others."""

    def __init__(self, suite, test_file, svc):
        self.suite, self.file, self.svc = suite, os.path.abspath(test_file), svc
        self.n = self.failures = self.errors = self.skipped = 0
        self.t_start = time.monotonic()

    def _where(self, tb, name):
        line = mine = 0
        for frame in traceback.extract_tb(tb):
            if os.path.abspath(frame.filename) == self.file:
                line = frame.lineno
                if frame.name == name:
                    mine = frame.lineno
        return mine or line

    def skip(self, fn, why):
        self.n += 1
        self.skipped += 1
        print("SKIP: %s: %s" % (fn.__name__, why), flush=True)

    def run(self, fn, start_error=None, after=None):
        """Run fn (unless the service did not start); after() returns
        problems left behind (processes, files) that fail the check too."""
        self.n += 1
        t0 = time.monotonic()
        kind, msgs, line, observed = None, [], 0, ""
        if start_error:
            kind, msgs = "E", ["the service did not start: " + start_error]
        else:
            try:
                observed = fn() or ""
            except AssertionError as e:
                kind, line = "F", self._where(e.__traceback__, fn.__name__)
                msgs.append(str(e))
            except Exception as e:  # noqa: BLE001 - an error, not a stop
                kind, line = "E", self._where(e.__traceback__, fn.__name__)
                msgs.append("%s: %s" % (type(e).__name__, e))
            problems = after() if after else None
            if problems:
                kind = kind or "F"
                msgs.append("aftercare: " + "; ".join(problems))
        if kind == "F":
            self.failures += 1
        elif kind == "E":
            self.errors += 1
        if kind:
            print("%s:%d:%s:%s:%s:0: %s" % (os.path.basename(self.file), line, kind,
                                            self.suite, fn.__name__, " | ".join(msgs)))
        else:
            print("%s: %-38s ok (%.2f s): %s" % (self.suite, fn.__name__,
                                                 time.monotonic() - t0, observed))
        sys.stdout.flush()

    def finish(self, log_lines=40):
        """Stop a service left running, show its log after a failure, print
        the summary; the exit status."""
        if self.svc.proc is not None and self.svc.proc.poll() is None:
            self.svc._abort()
        if self.failures or self.errors:
            print("%s: service log (last lines):\n%s" % (self.suite,
                                                        self.svc.log_text(log_lines)))
        passed = self.n - self.failures - self.errors - self.skipped
        print("%s: %d checks (%d skipped) in %.1f s" % (
            self.suite, self.n, self.skipped, time.monotonic() - self.t_start))
        print("%d%%: Checks: %d, Failures: %d, Errors: %d"
              % (passed * 100 // self.n if self.n else 0, self.n, self.failures,
                 self.errors))
        return 1 if self.failures or self.errors else 0


def run_checks(suite, test_file, svc, checks, final=None, started=None, epilogue=None):
    """A suite's main loop: the checks named on the command line (default:
    all; an unknown name exits 2), then final (the stop check); the
    service is started once, and a failed start is every check's error.
    started(svc) may print what was started; epilogue() runs before the
    summary.  Returns the exit status."""
    wanted = set(sys.argv[1:])
    unknown = wanted - set(fn.__name__ for fn in checks)
    if unknown:
        print("%s: no such check: %s" % (os.path.basename(test_file),
                                         ", ".join(sorted(unknown))))
        return 2
    chosen = [fn for fn in checks if not wanted or fn.__name__ in wanted]
    if final:
        chosen.append(final)
    report = Report(suite, test_file, svc)
    start_error = None
    try:
        try:
            svc.start()
            print(started(svc) if started else
                  "%s: service on port %d" % (suite, svc.port))
        except Exception as e:  # noqa: BLE001 - every check reports it
            start_error = "%s: %s" % (type(e).__name__, e)
        sys.stdout.flush()
        for fn in chosen:
            report.run(fn, start_error)
    finally:
        if epilogue:
            epilogue()
        status = report.finish()
    return status
