#!/usr/bin/python3
"""
test_api.py - end-to-end tests of the runbox API: real HTTP requests through
real nginx and runboxd, started by conf/run.sh (see harness.py).

Each test is a function; they run in the order written, against one
service, and a failure never stops the others.  The last lines are in
Check's format so tests/run-suite picks the summary up:

    test_api.py:LINE:F:e2e:test_name:0: reason
    96%: Checks: 52, Failures: 2, Errors: 0

Exit status: 0 when everything passed, 1 otherwise, 77 (skip) when the
service cannot run here (not root, nginx or runboxd missing).

The service runs with the shipped conf/runboxd.json except nginx's
per-client rate limits ("http"), raised: every request here comes from
127.0.0.1, hundreds within seconds.

Environment (from the Makefile): top_srcdir, top_builddir, NGINX, PYTHON3.
"""

import base64
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET_NAME = "RUNBOX_E2E_SECRET"
SECRET_VALUE = "e2e-%d-do-not-leak" % os.getpid()

svc = None      # the running service (harness.Service)
CFG = None      # the runboxd config in use (svc.config)
LANGS = None    # conf/languages.json
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# ---- assertions ------------------------------------------------------------

# short(), fail(), check() and eq() are shared with the other suites.
from harness import short, fail, check, eq  # noqa: E402,F401


class Cases:
    """Several cases in one test: each is tried, every failure reported."""

    def __init__(self):
        self.failures = []

    def run(self, label, fn, *args):
        try:
            fn(*args)
        except AssertionError as e:
            self.failures.append("[%s] %s" % (label, e))

    def done(self):
        if self.failures:
            fail("%d case(s) failed:\n    %s" % (len(self.failures),
                                                  "\n    ".join(self.failures)))


def run(req, timeout=60):
    """POST /api/v1/run expecting 200 and a run result; the result."""
    status, hdrs, body = svc.post_run(req, timeout=timeout)
    if status != 200:
        fail("request %s: expected HTTP 200, got %d %s" % (short(req, 200), status,
                                                           short(body)))
    check(isinstance(body, dict), "the 200 body is not a JSON object: %s" % short(body))
    check(hdrs.get("content-type", "").startswith("application/json"),
          "Content-Type is %r" % hdrs.get("content-type"))
    return body


def expect_status(body, status, what="status"):
    if body.get("status") != status:
        fail("%s: expected %r, got %r (message %r, exit_code %r, signal %r, "
             "stdout %s, stderr %s%s)" % (
                 what, status, body.get("status"), body.get("message"),
                 body.get("exit_code"), body.get("signal"),
                 short(body.get("stdout"), 200), short(body.get("stderr"), 300),
                 ", compile.stderr %s" % short(body["compile"].get("stderr"), 300)
                 if isinstance(body.get("compile"), dict) else ""))


def check_error_body(status, hdrs, body, http, code, needles, what):
    if status != http:
        fail("%s: expected HTTP %d, got %d %s" % (what, http, status, short(body)))
    check(hdrs.get("content-type", "").startswith("application/json"),
          "%s: Content-Type of the error is %r" % (what, hdrs.get("content-type")))
    check(isinstance(body, dict) and isinstance(body.get("error"), dict),
          "%s: no {\"error\": {...}} JSON body: %s" % (what, short(body)))
    err = body["error"]
    check(isinstance(err.get("message"), str) and err["message"],
          "%s: error.message missing: %s" % (what, short(body)))
    eq(err.get("code"), code, "%s: error.code" % what)
    for n in needles:
        check(n in err["message"], "%s: error.message %r does not mention %r"
              % (what, err["message"], n))
    return err["message"]


def expect_error(req, http, code, *needles):
    """POST req (a dict or a raw body) to /api/v1/run expecting an error."""
    status, hdrs, body = svc.post_run(req)
    return check_error_body(status, hdrs, body, http, code, needles,
                            "request %s" % short(req, 160))


STEP_KEYS = {"status", "message", "exit_code", "signal", "stdout", "stderr",
             "stdout_truncated", "stderr_truncated", "usage"}
USAGE_KEYS = {"cpu_time_ms", "user_time_ms", "system_time_ms", "wall_time_ms",
              "max_rss_bytes", "disk_bytes"}
LIMIT_KEYS = {"cpu_time_ms", "wall_time_ms", "memory_bytes", "stack_bytes",
              "processes", "open_files", "file_size_bytes", "output_bytes",
              "disk_bytes"}


def check_step_shape(step, what):
    check(isinstance(step, dict), "%s is not an object: %s" % (what, short(step)))
    missing = STEP_KEYS - set(step)
    check(not missing, "%s lacks %s" % (what, sorted(missing)))
    check(isinstance(step["status"], str), "%s.status is not a string" % what)
    check(isinstance(step["message"], str), "%s.message is not a string" % what)
    check(step["exit_code"] is None or isinstance(step["exit_code"], int),
          "%s.exit_code is %r" % (what, step["exit_code"]))
    check(step["signal"] is None or isinstance(step["signal"], str),
          "%s.signal is %r" % (what, step["signal"]))
    for k in ("stdout", "stderr"):
        check(isinstance(step[k], str), "%s.%s is not a string" % (what, k))
    for k in ("stdout_truncated", "stderr_truncated"):
        check(isinstance(step[k], bool), "%s.%s is not a boolean" % (what, k))
    u = step["usage"]
    check(isinstance(u, dict) and set(u) == USAGE_KEYS,
          "%s.usage keys: expected %s, got %s" % (what, sorted(USAGE_KEYS),
                                                 short(u)))
    for k, v in u.items():
        check(isinstance(v, int) and not isinstance(v, bool) and v >= 0,
              "%s.usage.%s is %r" % (what, k, v))


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def unb64(s):
    return base64.b64decode(s.encode("ascii"), validate=True)


# ---- health and languages --------------------------------------------------

@test
def test_health():
    status, hdrs, body = svc.get_json("/api/v1/health")
    eq(status, 200, "GET /api/v1/health status")
    check(hdrs.get("content-type", "").startswith("application/json"),
          "Content-Type is %r" % hdrs.get("content-type"))
    check(isinstance(body, dict), "body is not an object: %s" % short(body))
    eq(body.get("status"), "ok", "health.status")
    check(isinstance(body.get("version"), str) and body["version"],
          "health.version is %r" % body.get("version"))
    eq(body.get("slots"), CFG["slots"], "health.slots")
    check(isinstance(body.get("busy"), int) and 0 <= body["busy"] <= CFG["slots"],
          "health.busy is %r" % body.get("busy"))
    check(isinstance(body.get("isolation"), dict),
          "health.isolation is %r" % body.get("isolation"))
    iso = body["isolation"]
    # As root with namespaces (this suite's config), runs are forks in a
    # long-lived box per slot, with every namespace but the user's.
    if CFG["sandbox"].get("namespaces", True) and os.geteuid() == 0:
        eq(iso.get("box"), "one long-lived box per slot: a run is a fork in it",
           "health.isolation.box")
        eq(iso.get("namespaces"), ["pid", "mount", "network", "ipc", "uts", "cgroup"],
           "health.isolation.namespaces")
        eq(iso.get("identity", {}).get("own_uid_per_slot"), True,
           "health.isolation.identity.own_uid_per_slot")
    # The path is matched without its query string.
    status, _, body = svc.get_json("/api/v1/health?verbose=1")
    eq(status, 200, "GET /api/v1/health?verbose=1 status")


@test
def test_languages():
    status, _, body = svc.get_json("/api/v1/languages")
    eq(status, 200, "GET /api/v1/languages status")
    check(isinstance(body, list), "body is not an array: %s" % short(body))
    ids = [lang.get("id") for lang in body if isinstance(lang, dict)]
    conf = {lang["id"]: lang for lang in LANGS["languages"]}
    # Every served language is a configured one; which toolchains are
    # installed is the languages suite's business (check_languages).
    check(set(ids) <= set(conf), "served but not configured: %s" % sorted(set(ids) - set(conf)))
    check({"c", "python3", "sh"} <= set(ids), "c, python3 and sh not all served: %s" % ids)
    for lang in body:
        what = "language %r" % lang.get("id")
        for k in ("id", "name", "version", "sample"):
            check(isinstance(lang.get(k), str) and lang[k],
                  "%s: %s is %r" % (what, k, lang.get(k)))
        eq(lang.get("compiled"), "compile" in conf[lang["id"]], "%s: compiled" % what)
        eq(lang["name"], conf[lang["id"]]["name"], "%s: name" % what)
        eq(lang["sample"], conf[lang["id"]]["sample"], "%s: sample" % what)


@test
def test_language_samples_run():
    _, _, langs = svc.get_json("/api/v1/languages")
    cases = Cases()
    for lang in langs:
        def one(lang=lang):
            body = run({"language": lang["id"], "code": lang["sample"]})
            expect_status(body, "ok", "%s sample" % lang["id"])
            check(body["stdout"].startswith("Hello"),
                  "%s sample printed %r" % (lang["id"], body["stdout"]))
        cases.run(lang["id"], one)
    cases.done()


# ---- each language ---------------------------------------------------------

@test
def test_python_print():
    body = run({"language": "python3", "code": "print(42)\n"})
    check_step_shape(body, "result")
    expect_status(body, "ok")
    eq(body["exit_code"], 0, "exit_code")
    eq(body["signal"], None, "signal")
    eq(body["stdout"], "42\n", "stdout")
    eq(body["stderr"], "", "stderr")
    eq(body["stdout_truncated"], False, "stdout_truncated")
    eq(body["limits"], CFG["default_limits"], "effective limits (the defaults)")
    check("compile" not in body, "an interpreted language has a compile step: %s"
          % short(body.get("compile")))


@test
def test_sh_echo():
    body = run({"language": "sh", "code": "echo hello from sh\n"})
    expect_status(body, "ok")
    eq(body["stdout"], "hello from sh\n", "stdout")
    eq(body["exit_code"], 0, "exit_code")


C_HELLO = '#include <stdio.h>\nint main(void)\n{\n\tputs("hello, world");\n\treturn 0;\n}\n'


@test
def test_c_hello():
    body = run({"language": "c", "code": C_HELLO})
    check_step_shape(body, "result")
    expect_status(body, "ok")
    eq(body["stdout"], "hello, world\n", "stdout")
    check("compile" in body, "no compile step in a C result")
    check_step_shape(body["compile"], "compile")
    eq(body["compile"]["status"], "ok", "compile.status")
    eq(body["compile"]["exit_code"], 0, "compile.exit_code")
    check(isinstance(body["compile"].get("limits"), dict),
          "compile.limits is %r" % body["compile"].get("limits"))


@test
def test_c_compile_error():
    body = run({"language": "c", "code": "int main(void)\n{\n\treturn 0\n}\n"})
    expect_status(body, "compile_error")
    check("compile" in body, "no compile step in a compile_error result")
    check(body["compile"]["status"] != "ok",
          "compile.status is ok for a syntax error")
    check("error" in body["compile"]["stderr"],
          "compile.stderr does not mention the error: %s"
          % short(body["compile"]["stderr"]))
    eq(body["stdout"], "", "stdout of a program that did not run")
    eq(body["exit_code"], None, "exit_code of a program that did not run")


@test
def test_c_exit_code():
    body = run({"language": "c", "code": "int main(void)\n{\n\treturn 3;\n}\n"})
    expect_status(body, "nonzero_exit")
    eq(body["exit_code"], 3, "exit_code")
    eq(body["signal"], None, "signal")
    eq(body["compile"]["status"], "ok", "compile.status")


# ---- command mode ----------------------------------------------------------

@test
def test_command_with_args():
    body = run({"command": ["/bin/echo", "hi"], "args": ["x"]})
    expect_status(body, "ok")
    eq(body["stdout"], "hi x\n", "stdout")
    check("compile" not in body, "command mode has a compile step")


@test
def test_command_found_through_path():
    body = run({"command": ["echo", "via", "PATH"]})
    expect_status(body, "ok")
    eq(body["stdout"], "via PATH\n", "stdout")


@test
def test_command_never_through_a_shell():
    argv = ["/bin/echo", "$HOME", ";", "ls", "|", "*", "$(id)", "`id`", "&&"]
    body = run({"command": argv})
    expect_status(body, "ok")
    eq(body["stdout"], " ".join(argv[1:]) + "\n", "stdout (every word literal)")


@test
def test_command_not_found():
    cases = Cases()

    def one(argv):
        body = run({"command": argv})
        expect_status(body, "exec_failed")
        check("execve" in body["message"],
              "message %r does not mention execve" % body["message"])
        eq(body["exit_code"], None, "exit_code")
    cases.run("absolute path", one, ["/nonexistent/e2e-program"])
    cases.run("PATH search", one, ["no-such-program-e2e"])
    cases.done()


@test
def test_command_in_unreachable_directory():
    """A command under a directory the slot user cannot enter (a checkout in
    root's 0700 home, a `mktemp -d` folder): exec_failed naming that
    directory, not a bare "Permission denied".  Made under /usr/local: the
    run's root shows only the allow-list (sandbox.root.bind), which has /usr;
    anywhere else the program would not exist for the run."""
    top = tempfile.mkdtemp(prefix="runbox-e2e-closed.", dir="/usr/local")
    try:
        os.chmod(top, 0o700)
        prog = os.path.join(top, "bin", "prog")
        os.mkdir(os.path.dirname(prog), 0o755)
        with open(prog, "w") as f:
            f.write("#!/bin/sh\necho ran\n")
        os.chmod(prog, 0o755)
        body = run({"command": [prog]})
        expect_status(body, "exec_failed")
        m = re.fullmatch(r"execve (\S+): permission denied: the run's user "
                         r"\(uid (\d+)\) cannot enter (\S+) \(mode 0700\)", body["message"])
        check(m, "message %r does not name the directory" % body["message"])
        eq(m.group(1), prog, "the program named")
        eq(m.group(3), top, "the directory named")
        base = CFG["sandbox"]["uid_base"]
        check(base <= int(m.group(2)) < base + CFG["slots"],
              "uid %s is not a slot uid" % m.group(2))
        eq(body["exit_code"], None, "exit_code")
        # Once the directory may be searched the same program runs: it was
        # the directory, not the program.
        os.chmod(top, 0o711)
        body = run({"command": [prog]})
        expect_status(body, "ok")
        eq(body["stdout"], "ran\n", "stdout")
    finally:
        shutil.rmtree(top, ignore_errors=True)


# ---- stdin, args, env, files -----------------------------------------------

@test
def test_stdin_arrives():
    code = "import sys\ndata = sys.stdin.read()\nprint(len(data), data.upper(), end='')\n"
    body = run({"language": "python3", "code": code, "stdin": "line one\nline 2\n"})
    expect_status(body, "ok")
    eq(body["stdout"], "16 LINE ONE\nLINE 2\n", "stdout")


@test
def test_large_stdin_through_cat():
    # More than any pipe buffer in both directions at once.
    data = "".join("%07d\n" % i for i in range(40000))  # 320000 bytes
    body = run({"command": ["/bin/cat"], "stdin": data,
                "limits": {"output_bytes": 1048576}})
    expect_status(body, "ok")
    eq(len(body["stdout"]), len(data), "stdout length")
    check(body["stdout"] == data, "stdout differs from stdin")


@test
def test_args_arrive():
    args = ["a b", "", "--flag", "caf\u00e9", "$HOME", "*"]
    code = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"
    body = run({"language": "python3", "code": code, "args": args})
    expect_status(body, "ok")
    eq(json.loads(body["stdout"]), args, "sys.argv[1:]")


def env_lines(out):
    env = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


@test
def test_default_env_is_the_safe_set():
    body = run({"command": ["/usr/bin/env"]})
    expect_status(body, "ok")
    env = env_lines(body["stdout"])
    check(SECRET_NAME not in env,
          "%s from the service's environment reached the program" % SECRET_NAME)
    eq(sorted(env), ["HOME", "LANG", "PATH", "TMPDIR"], "variables of a command")
    eq(env["PATH"], CFG["environment"]["PATH"], "PATH")
    eq(env["LANG"], CFG["environment"]["LANG"], "LANG")


@test
def test_python_env_adds_only_its_own():
    code = "import json, os\nprint(json.dumps(dict(os.environ)))\n"
    body = run({"language": "python3", "code": code})
    expect_status(body, "ok")
    env = json.loads(body["stdout"])
    check(SECRET_NAME not in env,
          "%s from the service's environment reached the program" % SECRET_NAME)
    py_conf = next(lang for lang in LANGS["languages"] if lang["id"] == "python3")
    extra = set(env) - {"HOME", "LANG", "PATH", "TMPDIR"}
    check(extra <= set(py_conf.get("env", {})),
          "unexpected variables for python3: %s" % sorted(extra))
    eq(sorted(extra), sorted(py_conf.get("env", {})), "python3's own variables")


@test
def test_env_arrives():
    body = run({"command": ["/usr/bin/env"],
                "env": {"E2E_FOO": "bar baz=qux", "LANG": "C", "_x1": ""}})
    expect_status(body, "ok")
    env = env_lines(body["stdout"])
    eq(env.get("E2E_FOO"), "bar baz=qux", "E2E_FOO")
    eq(env.get("LANG"), "C", "LANG (the request overrides the default)")
    eq(env.get("_x1"), "", "_x1")
    eq(env.get("PATH"), CFG["environment"]["PATH"], "PATH (kept)")
    eq(sorted(env), sorted(["E2E_FOO", "HOME", "LANG", "PATH", "TMPDIR", "_x1"]),
       "variables")


@test
def test_home_is_the_working_directory():
    code = ("import os\n"
            "open(os.path.join(os.environ['HOME'], 'probe'), 'w').write('x')\n"
            "print(os.getcwd()); print(os.environ['HOME']); print(os.environ['TMPDIR'])\n"
            "print(sorted(os.listdir('.')))\n")
    body = run({"language": "python3", "code": code})
    expect_status(body, "ok")
    lines = body["stdout"].splitlines()
    eq(len(lines), 4, "lines printed")
    cwd, home, tmp = lines[:3]
    eq(home, cwd, "HOME")
    eq(tmp, cwd, "TMPDIR")
    # The box's fixed path: nothing of the host's work root or slot.
    eq(cwd, "/box", "the working directory")
    eq(lines[3], "['main.py', 'probe']", "files in the working directory")


@test
def test_files_arrive():
    files = {"data.txt": "hello\nfiles \u2713\n", "empty": "", "-dash": "d"}
    body = run({"command": ["/bin/cat", "data.txt", "empty", "--", "-dash"],
                "files": files})
    expect_status(body, "ok")
    eq(body["stdout"], "hello\nfiles \u2713\nd", "stdout")
    body = run({"language": "python3", "files": {"in.txt": "42"},
                "code": "print(int(open('in.txt').read()) + 1)\n"})
    expect_status(body, "ok", "python reading a file")
    eq(body["stdout"], "43\n", "python reading a file: stdout")


# ---- encodings -------------------------------------------------------------

@test
def test_base64_round_trips_every_byte():
    data = bytes(range(256)) * 4
    body = run({"command": ["/bin/cat"], "encoding": "base64", "stdin": b64(data)})
    expect_status(body, "ok")
    eq(unb64(body["stdout"]), data, "stdout bytes")
    eq(body["stderr"], "", "stderr (base64 of nothing)")
    # code and files are base64 too; stderr comes back base64.
    code = b"printf 'x\\000y\\377'; cat blob >&2\n"
    blob = bytes(range(255, -1, -1))
    body = run({"language": "sh", "encoding": "base64", "code": b64(code),
                "files": {"blob": b64(blob)}})
    expect_status(body, "ok", "sh in base64 mode")
    eq(unb64(body["stdout"]), b"x\0y\xff", "stdout bytes of sh")
    eq(unb64(body["stderr"]), blob, "stderr bytes of sh")


@test
def test_utf8_mode_replaces_invalid_bytes():
    body = run({"language": "sh",
                "code": "printf 'a\\377b\\376\\377c caf\\303\\251\\n'; printf '\\377' >&2\n"})
    expect_status(body, "ok")
    eq(body["stdout"], "a\ufffdb\ufffd\ufffdc caf\u00e9\n", "stdout")
    eq(body["stderr"], "\ufffd", "stderr")
    body = run({"command": ["/bin/cat"], "stdin": "nul\u0000inside"})
    eq(body["stdout"], "nul\u0000inside", "a NUL byte survives utf-8 mode")


# ---- limits ----------------------------------------------------------------

@test
def test_limits_are_echoed():
    body = run({"command": ["/bin/true"],
                "limits": {"cpu_time_ms": 1234, "output_bytes": 4096}})
    expect_status(body, "ok")
    want = dict(CFG["default_limits"], cpu_time_ms=1234, output_bytes=4096)
    eq(body["limits"], want, "effective limits")
    body = run({"command": ["/bin/true"], "limits": CFG["max_limits"]})
    expect_status(body, "ok", "every limit at its maximum")
    eq(body["limits"], CFG["max_limits"], "effective limits at the maximum")


@test
def test_wall_time_exceeded():
    t0 = time.monotonic()
    body = run({"command": ["/bin/sleep", "10"], "limits": {"wall_time_ms": 500}})
    elapsed = time.monotonic() - t0
    expect_status(body, "wall_time_exceeded")
    check(elapsed < 3.0, "the request took %.1f s for a 500 ms wall limit" % elapsed)
    eq(body["exit_code"], None, "exit_code")
    eq(body["signal"], "SIGKILL", "signal")
    check(500 <= body["usage"]["wall_time_ms"] < 3000,
          "usage.wall_time_ms is %r" % body["usage"]["wall_time_ms"])


@test
def test_wall_time_kills_the_whole_group():
    # The background sleep keeps stdout open: the run must still end.
    t0 = time.monotonic()
    body = run({"language": "sh", "code": "sleep 10 &\nsleep 10\n",
                "limits": {"wall_time_ms": 500}})
    elapsed = time.monotonic() - t0
    expect_status(body, "wall_time_exceeded")
    check(elapsed < 3.0, "the request took %.1f s for a 500 ms wall limit" % elapsed)


@test
def test_cpu_time_exceeded():
    t0 = time.monotonic()
    body = run({"language": "python3", "code": "while True:\n    pass\n",
                "limits": {"cpu_time_ms": 300}})
    elapsed = time.monotonic() - t0
    expect_status(body, "cpu_time_exceeded")
    check(body["usage"]["cpu_time_ms"] >= 300,
          "usage.cpu_time_ms is %r" % body["usage"]["cpu_time_ms"])
    eq(body["exit_code"], None, "exit_code")
    check(elapsed < 5.0, "the request took %.1f s for a 300 ms CPU limit" % elapsed)


@test
def test_output_exceeded():
    body = run({"command": ["/usr/bin/yes"], "limits": {"output_bytes": 1000}})
    expect_status(body, "output_exceeded")
    eq(len(body["stdout"]), 1000, "stdout length")
    eq(body["stdout"], "y\n" * 500, "stdout")
    eq(body["stdout_truncated"], True, "stdout_truncated")
    eq(body["stderr_truncated"], False, "stderr_truncated")
    body = run({"language": "sh", "code": "yes err >&2\n",
                "limits": {"output_bytes": 1000}})
    expect_status(body, "output_exceeded", "stderr flood: status")
    eq(len(body["stderr"]), 1000, "stderr flood: stderr length")
    eq(body["stderr_truncated"], True, "stderr flood: stderr_truncated")


C_WRITE_FILE = r'''#include <fcntl.h>
#include <unistd.h>
int main(void)
{
	static char buf[1024];
	int fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 2;
	for (int i = 0; i < 64; i++)
		if (write(fd, buf, sizeof buf) < 0)
			return 3;
	return 0;
}
'''


@test
def test_file_size_exceeded():
    body = run({"language": "c", "code": C_WRITE_FILE,
                "limits": {"file_size_bytes": 4096}})
    expect_status(body, "file_size_exceeded")
    eq(body["signal"], "SIGXFSZ", "signal")
    eq(body["exit_code"], None, "exit_code")
    # The same program within the limit is fine.
    body = run({"language": "c", "code": C_WRITE_FILE,
                "limits": {"file_size_bytes": 65536}})
    expect_status(body, "ok", "64 KiB within a 64 KiB limit")


@test
def test_signaled():
    body = run({"language": "c",
                "code": "#include <signal.h>\nint main(void)\n{\n\traise(SIGSEGV);\n\treturn 0;\n}\n"})
    expect_status(body, "signaled")
    eq(body["signal"], "SIGSEGV", "signal")
    eq(body["exit_code"], None, "exit_code")
    body = run({"language": "python3",
                "code": "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n"})
    expect_status(body, "signaled", "python killing itself")
    eq(body["signal"], "SIGTERM", "python killing itself: signal")


C_TOUCH_512M = r'''#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	size_t n = (size_t)512 << 20;
	volatile char *p = malloc(n);
	if (!p)
		return 9;
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	printf("touched %zu\n", n);
	return 0;
}
'''


@test
def test_memory_limit_is_enforced():
    # With a memory cgroup the kill is reported as memory_exceeded; with
    # only RLIMIT_AS the allocation fails inside the program instead.
    _, _, health = svc.get_json("/api/v1/health")
    mechanism = str((health or {}).get("isolation", {}).get("mechanism", ""))
    allowed = (("memory_exceeded",) if "memory" in mechanism else
               ("memory_exceeded", "nonzero_exit", "signaled"))
    cases = Cases()

    def one(req, label):
        body = run(req)
        check(body["status"] in allowed,
              "%s: status %r (message %r, exit_code %r) for 512 MiB under a 128 MiB "
              "limit; expected %s (isolation: %r)" % (
                  label, body["status"], body["message"], body["exit_code"],
                  " or ".join(allowed), mechanism))
        check("touched" not in body["stdout"] and "allocated" not in body["stdout"],
              "%s: 512 MiB were used under a 128 MiB limit" % label)
    lim = {"memory_bytes": 128 * 1024 * 1024}
    cases.run("python3", one, {"language": "python3", "limits": lim,
                               "code": "b = bytearray(512 * 1024 * 1024)\n"
                                       "print('allocated', len(b))\n"}, "python3")
    cases.run("c", one, {"language": "c", "code": C_TOUCH_512M, "limits": lim}, "c")
    cases.done()


# ---- bad requests ----------------------------------------------------------

@test
def test_invalid_json():
    cases = Cases()
    for raw in ("{", "", "{\"command\": [\"/bin/true\"],}", "nul", "{'a': 1}",
                "{\"command\": [\"/bin/true\"], \"command\": [\"/bin/true\"]}"):
        cases.run(repr(raw), expect_error, raw, 400, "invalid_json")
    cases.done()


@test
def test_body_not_an_object():
    cases = Cases()
    for raw in ("[1, 2]", "42", "\"run\"", "null", "true"):
        cases.run(raw, expect_error, raw, 400, "invalid_request", "object")
    cases.done()


@test
def test_unknown_field():
    expect_error({"command": ["/bin/true"], "timeout": 5}, 400, "invalid_request",
                 "timeout")


@test
def test_language_and_command_together():
    expect_error({"language": "sh", "code": "true", "command": ["/bin/true"]},
                 400, "invalid_request", "language", "command")


@test
def test_neither_language_nor_command():
    cases = Cases()
    cases.run("{}", expect_error, {}, 400, "invalid_request", "language", "command")
    cases.run("stdin only", expect_error, {"stdin": "x", "code": "echo"}, 400,
              "invalid_request", "language", "command")
    cases.done()


@test
def test_code_with_command_and_language_without_code():
    cases = Cases()
    cases.run("code with command", expect_error,
              {"command": ["/bin/true"], "code": "x"}, 400, "invalid_request", "code")
    cases.run("language without code", expect_error,
              {"language": "sh"}, 400, "invalid_request", "code")
    cases.done()


@test
def test_wrong_types():
    cmd = ["/bin/true"]
    table = [
        ({"language": "sh", "code": 42}, "code"),
        ({"language": "sh", "code": None}, "code"),
        ({"language": 42, "code": ""}, "language"),
        ({"command": "/bin/echo hi"}, "command"),
        ({"command": None}, "command"),
        ({"command": []}, "command"),
        ({"command": ["/bin/echo", 1]}, "command[1]"),
        ({"command": [""]}, "command[0]"),
        ({"command": cmd, "args": "x"}, "args"),
        ({"command": cmd, "args": ["a", 2]}, "args[1]"),
        ({"command": cmd, "args": {"a": "b"}}, "args"),
        ({"command": cmd, "stdin": 5}, "stdin"),
        ({"command": cmd, "stdin": ["x"]}, "stdin"),
        ({"command": cmd, "files": ["a"]}, "files"),
        ({"command": cmd, "files": {"a": 1}}, "files"),
        ({"command": cmd, "env": "X=1"}, "env"),
        ({"command": cmd, "env": {"X": 1}}, "env.X"),
        ({"command": cmd, "encoding": 5}, "encoding"),
        ({"command": cmd, "encoding": "latin1"}, "encoding"),
        ({"command": cmd, "limits": "fast"}, "limits"),
        ({"command": cmd, "limits": [1000]}, "limits"),
        ({"command": cmd, "limits": None}, "limits"),
    ]
    cases = Cases()
    for req, field in table:
        cases.run(json.dumps(req), expect_error, req, 400, "invalid_request", field)
    cases.done()


@test
def test_invalid_limits():
    cases = Cases()
    mx = CFG["max_limits"]
    for name in sorted(LIMIT_KEYS):
        path = "limits." + name
        top = mx[name]
        for bad in ("100", 1.5, True, None):
            cases.run("%s=%r" % (path, bad), expect_error,
                      {"command": ["/bin/true"], "limits": {name: bad}},
                      400, "invalid_request", path)
        for bad in (0, -1, top + 1, 2 ** 63 - 1):
            cases.run("%s=%r" % (path, bad), expect_error,
                      {"command": ["/bin/true"], "limits": {name: bad}},
                      400, "invalid_request", path, str(top))
    cases.run("unknown limit", expect_error,
              {"command": ["/bin/true"], "limits": {"cpu_ms": 5}},
              400, "invalid_request", "limits.cpu_ms")
    cases.done()


@test
def test_bad_base64():
    cases = Cases()
    cases.run("code", expect_error,
              {"language": "sh", "encoding": "base64", "code": "!!!!"},
              400, "invalid_request", "code", "base64")
    cases.run("stdin", expect_error,
              {"command": ["/bin/cat"], "encoding": "base64", "stdin": "@@@@"},
              400, "invalid_request", "stdin", "base64")
    cases.run("files", expect_error,
              {"command": ["/bin/cat"], "encoding": "base64", "files": {"f": "*"}},
              400, "invalid_request", "files", "base64")
    cases.done()


@test
def test_bad_file_names():
    cases = Cases()
    for name in ("../x", "a//b", "a/./b", "a/", "pkg/../x", ".", "..", "", "/etc/passwd", "a\nb"):
        cases.run(repr(name), expect_error,
                  {"command": ["/bin/true"], "files": {name: "x"}},
                  400, "invalid_request", "files")
    cases.run("the source file's name", expect_error,
              {"language": "python3", "code": "pass", "files": {"main.py": "x"}},
              400, "invalid_request", "main.py")
    cases.done()


@test
def test_bad_env_names():
    cases = Cases()
    for name in ("1X", "A-B", "", "A=B", "A B"):
        cases.run(repr(name), expect_error,
                  {"command": ["/bin/true"], "env": {name: "x"}},
                  400, "invalid_request", "env")
    cases.done()


@test
def test_unknown_language():
    expect_error({"language": "cobol-74", "code": "DISPLAY 'HI'."}, 400,
                 "unknown_language", "cobol-74")


@test
def test_method_not_allowed():
    cases = Cases()

    def one(method, path, allow):
        status, hdrs, body, _ = svc.request_json(method, path,
                                                 "{}" if method != "GET" else None)
        check_error_body(status, hdrs, body, 405, "method_not_allowed", [allow],
                         "%s %s" % (method, path))
        eq(hdrs.get("allow"), allow, "%s %s: Allow header" % (method, path))
    cases.run("GET run", one, "GET", "/api/v1/run", "POST")
    cases.run("PUT run", one, "PUT", "/api/v1/run", "POST")
    cases.run("DELETE run", one, "DELETE", "/api/v1/run", "POST")
    cases.run("POST languages", one, "POST", "/api/v1/languages", "GET")
    cases.run("POST health", one, "POST", "/api/v1/health", "GET")
    cases.done()


@test
def test_not_found():
    cases = Cases()

    def one(method, path):
        status, hdrs, body, _ = svc.request_json(
            method, path, '{"command":["/bin/true"]}' if method == "POST" else None)
        check_error_body(status, hdrs, body, 404, "not_found", [],
                         "%s %s" % (method, path))
    for method, path in (("GET", "/api/v1/nope"), ("POST", "/api/v1/nope"),
                         ("GET", "/api/v2/run"), ("POST", "/api/v2/run"),
                         ("POST", "/api/v1/run/"), ("GET", "/api/")):
        cases.run("%s %s" % (method, path), one, method, path)
    cases.done()


def padded_body(total):
    """A valid run request of exactly total bytes: wc -c counts its stdin."""
    head, tail = b'{"command":["/usr/bin/wc","-c"],"stdin":"', b'"}'
    n = total - len(head) - len(tail)
    return head + b"x" * n + tail, n


@test
def test_payload_too_large():
    big, _ = padded_body(2 * CFG["max_body_bytes"])
    status, hdrs, body, raw = svc.request_json("POST", "/api/v1/run", big)
    check_error_body(status, hdrs, body, 413, "payload_too_large",
                     [str(CFG["max_body_bytes"])], "a body twice max_body_bytes")
    over, _ = padded_body(CFG["max_body_bytes"] + 1)
    status, hdrs, body, raw = svc.request_json("POST", "/api/v1/run", over)
    check_error_body(status, hdrs, body, 413, "payload_too_large", [],
                     "a body one byte over max_body_bytes")


@test
def test_body_of_exactly_max_bytes_is_accepted():
    body_bytes, n = padded_body(CFG["max_body_bytes"])
    body = run(body_bytes)
    expect_status(body, "ok")
    eq(body["stdout"].strip(), str(n), "bytes wc counted")


# ---- resilience (1) --------------------------------------------------------

@test
def test_killed_idle_worker_is_replaced():
    before = svc.worker_pids()
    check(before, "no runboxd workers found under the master")
    eq(len(before), CFG["slots"] + CFG["queue"], "workers (slots + queue)")
    # An idle worker: no program running and no connection from nginx,
    # only the listening socket (a worker holding one of nginx's kept-alive
    # connections is test_worker_killed_between_requests_loses_none's
    # business).  This test runs before the concurrent ones so that most
    # workers are still free of such connections.
    table = harness.processes()
    idle = [p for p in before
            if not harness.children(p, table) and harness.socket_count(p) == 1]
    check(idle, "every worker holds a connection from nginx: none is idle")
    victim = idle[0]
    os.kill(victim, signal.SIGKILL)
    check(harness.wait_until(lambda: not harness.alive(victim), 5.0, 0.001),
          "worker %d did not die" % victim)
    bad = []
    for i in range(20):
        status, _, body = svc.post_run({"command": ["/bin/echo", str(i)]})
        if status != 200 or body.get("stdout") != "%d\n" % i:
            bad.append("request %d: HTTP %d %s" % (i, status, short(body, 200)))
    check(not bad, "after killing worker %d:\n    %s" % (victim, "\n    ".join(bad)))

    def replaced():
        now = svc.worker_pids()
        return victim not in now and len(now) == len(before)
    check(harness.wait_until(replaced, 5.0, 0.05),
          "workers did not return to %d (now %d, victim %d %s)"
          % (len(before), len(svc.worker_pids()), victim,
             "still there" if victim in svc.worker_pids() else "gone"))


# ---- concurrency and overload ----------------------------------------------

@test
def test_concurrent_requests_match():
    n, nthreads = 64, 16
    results = [None] * n
    lock = threading.Lock()
    todo = list(range(n))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            token = "tok-%d-%s" % (i, "z" * (i % 7))
            req = {"language": "sh",
                   "code": 'printf "req %s %s\\n" "$1" "$(cat)"\nexit "$1"\n',
                   "args": [str(i)], "stdin": token}
            try:
                results[i] = (token, svc.post_run(req))
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = (token, e)

    threads = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    problems = []
    for i, r in enumerate(results):
        if r is None:
            problems.append("request %d: no answer" % i)
            continue
        token, got = r
        if isinstance(got, Exception):
            problems.append("request %d: %r" % (i, got))
            continue
        status, _, body = got
        if status != 200 or not isinstance(body, dict):
            problems.append("request %d: HTTP %d %s" % (i, status, short(body, 200)))
            continue
        want = ("ok" if i == 0 else "nonzero_exit", i, "req %d %s\n" % (i, token))
        have = (body.get("status"), body.get("exit_code"), body.get("stdout"))
        if have != want:
            problems.append("request %d: expected %r, got %r" % (i, want, have))
    check(not problems, "%d of %d responses wrong:\n    %s"
          % (len(problems), n, "\n    ".join(problems[:20])))


def health_busy():
    status, _, body = svc.get_json("/api/v1/health", timeout=10)
    return body.get("busy") if status == 200 and isinstance(body, dict) else None


def release(pids, name="release"):
    """Create NAME in each process's working directory (through
    /proc/PID/cwd, whatever mount namespace it is in)."""
    for pid in pids:
        try:
            with open("/proc/%d/cwd/%s" % (pid, name), "w"):
                pass
        except OSError:
            pass  # it is gone already


@test
def test_busy_when_every_slot_is_taken():
    slots = CFG["slots"]
    marker = "e2e-hold-%d" % os.getpid()
    results = [None] * slots
    holders = []

    def find_holders():
        table = harness.processes()
        return [p for p in harness.find_by_cmdline(r"main\.sh %s$" % marker, table)
                if table[p][0] == "sh"]

    def hold(i):
        # Each program waits for a file the test creates in its working
        # directory: no timing guess holds the slots.
        try:
            results[i] = svc.post_run({
                "language": "sh",
                "code": 'while [ ! -e release ]; do sleep 0.02; done\necho released\n',
                "args": [marker], "limits": {"wall_time_ms": 15000}})
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = e
    threads = [threading.Thread(target=hold, args=(i,)) for i in range(slots)]
    for t in threads:
        t.start()
    try:
        ready = harness.wait_until(
            lambda: len(find_holders()) == slots and health_busy() == slots, 10.0, 0.05)
        holders = find_holders()
        check(ready, "the %d slot holders never all ran (%d found, health.busy %r)"
              % (slots, len(holders), health_busy()))
        t0 = time.monotonic()
        status, hdrs, body = svc.post_run({"command": ["/bin/true"]})
        waited = time.monotonic() - t0
        check_error_body(status, hdrs, body, 503, "busy", [],
                         "a run while every slot is held")
        check("retry-after" in hdrs, "a 503 busy without Retry-After: %s" % hdrs)
        qt = CFG["queue_timeout_ms"] / 1000.0
        check(qt * 0.8 <= waited < qt + 5,
              "busy came after %.2f s; queue_timeout_ms is %d" % (waited, qt * 1000))
    finally:
        release(find_holders())
        for t in threads:
            t.join(30)
        for p in find_holders():  # only if releasing failed: ours, by pid
            os.kill(p, signal.SIGKILL)
    bad = [r for r in results
           if not (isinstance(r, tuple) and r[0] == 200 and r[2].get("status") == "ok"
                   and r[2].get("stdout") == "released\n")]
    check(not bad, "%d slot holders did not end ok: %s" % (len(bad), short(bad[:3])))


# ---- resilience (2) --------------------------------------------------------

@test
def test_worker_killed_between_requests_loses_none():
    # nginx may keep FastCGI connections open (upstream keepalive); a worker
    # that dies between requests then leaves one of them dead, and nginx
    # must not hand the next request to it.  Whether it has noticed by then
    # is a race, so this is tried many times: each round kills an idle
    # worker (one holding such a connection when there is one) and, as soon
    # as it is dead, sends a request, which must succeed.
    rounds, bad, connected_rounds = 40, [], 0
    for rnd in range(rounds):
        workers = svc.worker_pids()
        table = harness.processes()
        idle = [p for p in workers if not harness.children(p, table)]
        connected = [p for p in idle if harness.socket_count(p) > 1]
        check(idle, "round %d: no idle worker" % rnd)
        victim = (connected or idle)[0]
        connected_rounds += bool(connected)
        os.kill(victim, signal.SIGKILL)
        # Once it is dead, not before: a worker woken in accept() by the
        # signal takes a connection that is already queued before it dies,
        # and that request is lost with it (a race of the test, not a
        # defect: a crash can always lose the request in hand).
        check(harness.wait_until(lambda: not harness.alive(victim), 5.0, 0.001),
              "round %d: worker %d did not die" % (rnd, victim))
        status, _, body = svc.post_run({"command": ["/bin/echo", str(rnd)]})
        if status != 200 or body.get("stdout") != "%d\n" % rnd:
            bad.append("round %d (%s worker): HTTP %d %s"
                       % (rnd, "connected" if connected else "idle", status,
                          short(body, 160)))
        check(harness.wait_until(
            lambda: victim not in svc.worker_pids() and
            len(svc.worker_pids()) == len(workers), 5.0, 0.01),
            "round %d: the killed worker was not replaced" % rnd)
    check(not bad, "%d of %d requests failed right after a worker was killed "
          "(%d rounds killed a worker holding a connection from nginx):\n    %s"
          % (len(bad), rounds, connected_rounds, "\n    ".join(bad)))


@test
def test_worker_killed_mid_run():
    marker = "e2e-mid-run-%d" % os.getpid()
    before = svc.worker_pids()
    result = {}

    def client():
        try:
            result["r"] = svc.request_json("POST", "/api/v1/run", {
                "command": ["/bin/sh", "-c", "sleep 30 & sleep 31; wait", marker],
                "limits": {"wall_time_ms": 20000}}, timeout=60)
        except Exception as e:  # noqa: BLE001 - reported below
            result["r"] = e
    t = threading.Thread(target=client)
    t.start()
    program_pids = []
    problems = []
    try:
        def find_program():
            # The worker running it: the one holding the other end of the
            # program's stdout pipe (the program itself runs in the slot's
            # box, under the master, or under the worker without boxes).
            workers = svc.worker_pids()
            table = harness.processes()
            for pid in harness.find_by_cmdline(marker, table):
                out = harness.fd_targets(pid).get(1, "")
                if not out.startswith("pipe:"):
                    continue
                for w in workers:
                    if out in harness.fd_targets(w).values():
                        return pid, w
            return None
        found = harness.wait_until(find_program, 10.0, 0.02)
        check(found, "the program of the request never appeared with a worker "
              "holding its stdout")
        prog, worker = found

        def sleeps():
            table = harness.processes()
            return [p for p in harness.descendants(prog, table)
                    if table[p][0] == "sleep"]
        check(harness.wait_until(lambda: len(sleeps()) == 2, 5.0, 0.02),
              "the program's two sleeps never started: %s" % sleeps())
        # Everything of this run.
        program_pids = [prog] + harness.descendants(prog)
        os.kill(worker, signal.SIGKILL)

        t.join(30)
        r = result.get("r")
        if t.is_alive():
            problems.append("the request did not end within 30 s of its worker's death")
        elif not isinstance(r, tuple):
            problems.append("the request failed: %r" % (r,))
        else:
            # nginx answers for the dead worker: a 5xx in the API's JSON
            # (502 "unavailable": the run may have started, so no retry is
            # invited; a 503 must say when to retry).
            status, hdrs, body, _ = r
            err = body.get("error") if isinstance(body, dict) else None
            if status not in (502, 503) or not isinstance(err, dict) or \
                    not isinstance(err.get("code"), str) or \
                    not hdrs.get("content-type", "").startswith("application/json"):
                problems.append("the request whose worker was killed: expected a "
                                "502/503 JSON error, got %d %s (Content-Type %r)"
                                % (status, short(body, 200), hdrs.get("content-type")))
            elif status == 503 and "retry-after" not in hdrs:
                problems.append("a 503 for the dead worker's request without Retry-After")
        if not harness.wait_until(
                lambda: not [p for p in program_pids if harness.alive(p)], 5.0, 0.05):
            problems.append(
                "the killed worker's program outlived it by 5 s: %s" % ", ".join(
                    "%d uid %s (%s)" % (p, harness.proc_uid(p),
                                        " ".join(harness.proc_cmdline(p)))
                    for p in program_pids if harness.alive(p)))
        if not harness.wait_until(lambda: len(svc.worker_pids()) == len(before),
                                  5.0, 0.05):
            problems.append("workers did not return to %d (now %d)"
                            % (len(before), len(svc.worker_pids())))
        if not harness.wait_until(lambda: health_busy() == 0, 5.0, 0.05):
            problems.append("the dead worker's slot was not given back (busy %r)"
                            % health_busy())
    finally:
        # Whatever the service left behind is ours to end, by pid.
        for p in program_pids:
            if harness.alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        t.join(30)
    check(not problems, "after SIGKILL to the worker running a request:\n    %s"
          % "\n    ".join(problems))


@test
def test_overload_burst_is_answered_promptly():
    # slots + queue + 8 requests at once, each running 0.3 s: by design 16
    # run, 16 wait for a slot (at most queue_timeout_ms, then 503 busy) and
    # the rest wait in the socket's backlog for a free worker.  Every one
    # must be answered, 200 or 503 busy, within seconds.  A worker that
    # sits on an idle kept-alive connection from the other nginx worker
    # cannot take a new one, so a burst may wait for nginx's keepalive
    # timeout instead; it depends on how connections fall between nginx's
    # workers, hence a few rounds.
    n = CFG["slots"] + CFG["queue"] + 8
    bound = CFG["queue_timeout_ms"] / 1000.0 + 10.0
    for rnd in range(4):
        results = [None] * n

        def one(i):
            t0 = time.monotonic()
            try:
                got = svc.post_run({"command": ["/bin/sleep", "0.3"]}, timeout=bound)
            except Exception as e:  # noqa: BLE001 - reported below
                got = e
            results[i] = (got, time.monotonic() - t0)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(bound + 10)
        bad = []
        for i, r in enumerate(results):
            if r is None:
                bad.append("request %d: no answer" % i)
                continue
            got, dt = r
            if isinstance(got, Exception):
                bad.append("request %d: no answer after %.1f s (%s)"
                           % (i, dt, type(got).__name__))
                continue
            status, _, body = got
            code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
            if not ((status == 200 and body.get("status") == "ok") or
                    (status == 503 and code == "busy")):
                bad.append("request %d: HTTP %d %s" % (i, status, short(body, 160)))
        check(not bad, "round %d, %d requests at once: %d not answered properly "
              "within %.0f s:\n    %s" % (rnd, n, len(bad), bound,
                                            "\n    ".join(bad[:10])))


@test
def test_service_still_answers():
    body = run({"language": "python3", "code": "print('still here')\n"})
    expect_status(body, "ok")
    eq(body["stdout"], "still here\n", "stdout")


@test
def test_nothing_left_after_the_runs():
    eq(health_busy(), 0, "health.busy")
    root = svc.work_root()
    slots = sorted(d for d in os.listdir(root) if d.startswith("slot-"))
    eq(len(slots), CFG["slots"], "slot directories in %s" % root)
    others = sorted(set(os.listdir(root)) - set(slots))
    eq(others, [], "other entries in %s" % root)
    leftovers = {}
    for d in slots:
        entries = os.listdir(os.path.join(root, d))
        if entries:
            leftovers[d] = entries
    eq(leftovers, {}, "leftover run directories")
    # No program of ours is still running: a process of a slot uid below
    # our master or working in our work root (other services on this host
    # may use the same uids).
    uids = range(CFG["sandbox"]["uid_base"], CFG["sandbox"]["uid_base"] + CFG["slots"])
    table = harness.processes()
    master = svc.master_pid()
    below = set(harness.descendants(master, table)) if master else set()

    def ours(pid):
        if pid in below:
            return True
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError:
            return False
        return cwd == root or cwd.startswith(root + "/")
    running = [(p, harness.proc_uid(p), " ".join(harness.proc_cmdline(p)))
               for p in table if harness.proc_uid(p) in uids and ours(p)]
    eq(running, [], "processes of ours running as a slot uid")


@test
def test_stop_leaves_nothing():
    runtime = svc.runtime
    check(runtime and os.path.isdir(runtime), "runtime directory %r unknown" % runtime)
    check(os.path.exists(os.path.join(runtime, "runboxd.sock")),
          "no socket in %s before stopping" % runtime)
    check(svc.nginx_pids(), "no nginx process before stopping")
    problems = svc.stop()
    check(not problems, "after SIGTERM to run.sh:\n    %s" % "\n    ".join(problems))


# ---- runner ----------------------------------------------------------------

def where(tb, name):
    """The line of the test function (or, failing that, of this file)
    closest to the failure."""
    line = mine = 0
    for frame in traceback.extract_tb(tb):
        if os.path.abspath(frame.filename) == os.path.abspath(__file__):
            line = frame.lineno
            if frame.name == name:
                mine = frame.lineno
    return mine or line


def main():
    global svc, CFG, LANGS
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    # The shipped configuration, except nginx's per-client rate limits:
    # every request here comes from 127.0.0.1, hundreds of them in seconds,
    # and rate limiting is not what this suite is about.
    shipped = os.path.join(harness.srcdir(), "conf", "runboxd.json")
    with open(shipped) as f:
        overrides = None
        if "http" in json.load(f):
            overrides = {"http": {"rate_per_second": 1000000, "rate_burst": 1000000,
                                  "connections_per_client": 60000}}
    svc = harness.Service(extra_env={SECRET_NAME: SECRET_VALUE}, overrides=overrides)
    why = svc.missing()
    if why:
        svc._remove_config()
        print("test_api.py: skipped: %s" % why)
        return 77
    with open(svc.config) as f:
        CFG = json.load(f)
    with open(os.path.join(svc.srcdir, "conf", CFG.get("languages_file",
                                                        "languages.json"))) as f:
        LANGS = json.load(f)

    failures = errors = 0
    t_start = time.monotonic()
    start_error = died = None
    try:
        try:
            svc.start()
            print("e2e: service on port %d, runtime %s" % (svc.port, svc.runtime))
        except Exception as e:  # noqa: BLE001 - every test reports it
            start_error = "%s: %s" % (type(e).__name__, e)
            print("e2e: the service did not start: %s" % start_error)
        sys.stdout.flush()
        for fn in TESTS:
            t0 = time.monotonic()
            kind, msg, line = None, None, 0
            if start_error:
                kind, msg = "E", "the service did not start (see above)"
            elif died and fn is not test_stop_leaves_nothing:
                kind, msg = "E", "the service is not running: %s" % died
            else:
                try:
                    fn()
                except AssertionError as e:
                    kind, msg, line = "F", str(e), where(e.__traceback__, fn.__name__)
                except Exception as e:  # noqa: BLE001 - an error, not a stop
                    kind, line = "E", where(e.__traceback__, fn.__name__)
                    msg = "%s: %s" % (type(e).__name__, e)
            dt = time.monotonic() - t0
            if (not start_error and not died and fn is not test_stop_leaves_nothing
                    and svc.proc.poll() is not None):
                died = "run.sh exited with %s during %s" % (svc.proc.returncode,
                                                            fn.__name__)
                print("e2e: the service stopped: %s" % died)
            if kind:
                if kind == "F":
                    failures += 1
                else:
                    errors += 1
                print("test_api.py:%d:%s:e2e:%s:0: %s" % (line, kind, fn.__name__, msg))
            else:
                print("e2e: %-45s ok (%.2f s)" % (fn.__name__, dt))
            sys.stdout.flush()
    finally:
        if svc.proc is not None and svc.proc.poll() is None:
            svc._abort()
        svc._remove_config()
        if failures or errors:
            print("e2e: service log (last lines):\n" + svc.log_text(80))

    n = len(TESTS)
    passed = n - failures - errors
    print("e2e: %d tests in %.1f s" % (n, time.monotonic() - t_start))
    print("%d%%: Checks: %d, Failures: %d, Errors: %d"
          % (passed * 100 // n if n else 0, n, failures, errors))
    return 1 if failures or errors else 0


if __name__ == "__main__":
    sys.exit(main())
