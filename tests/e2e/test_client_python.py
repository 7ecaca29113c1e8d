#!/usr/bin/python3
"""
test_client_python.py - the Python client (client/python) against the real
service: it installs offline into a fresh venv, its typed results carry
exactly what the server answered (text, bytes, judge mode, collect), API
errors become RunboxError with the API's code, a busy server is retried
honouring Retry-After, and its field names are the ones docs/openapi.yaml
gives.  Check's summary line at the end.
"""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq, fail  # noqa: E402

sys.path.insert(0, os.path.join(harness.srcdir(), "client", "python"))
import runbox  # noqa: E402

svc = None
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def client(**kw):
    return runbox.Runbox("http://127.0.0.1:%d" % svc.port, **kw)


@case
def installs_offline_into_a_venv():
    """pip install ./client/python into a new venv, with no package index;
    the installed package runs a program."""
    tmp = tempfile.mkdtemp(prefix="runbox-pyclient.")
    try:
        src = os.path.join(tmp, "src")
        # A copy: the checkout may be read-only (make distcheck).
        shutil.copytree(os.path.join(harness.srcdir(), "client", "python"), src)
        venv = os.path.join(tmp, "venv")
        subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
        pip = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--no-index",
                              "--disable-pip-version-check", src],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(pip.returncode == 0, "pip install failed:\n%s" % pip.stdout.decode()[-800:])
        prog = ("import runbox\n"
                "r = runbox.Runbox('http://127.0.0.1:%d').run(command=['/bin/echo', 'hi'])\n"
                "print(r.status, r.stdout.strip(), runbox.__file__)\n" % svc.port)
        out = subprocess.run([os.path.join(venv, "bin", "python"), "-c", prog],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp)
        text = out.stdout.decode()
        check(out.returncode == 0, "the installed client failed: %s" % text)
        status, word, where = text.split()
        eq((status, word), ("ok", "hi"), "the installed client's run")
        check(where.startswith(venv), "imported from %s, not the venv" % where)
        return "installed with --no-index, ran: %s %s" % (status, word)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@case
def text_run_is_typed():
    """language + code + stdin: a Result with the API's fields, typed."""
    r = client().run(language="python3", code="import sys\nprint(sys.stdin.read()[::-1])",
                     stdin="abc", limits={"cpu_time_ms": 1000})
    check(isinstance(r, runbox.Result), "not a Result: %r" % type(r))
    eq((r.status, r.ok, r.exit_code, r.signal), ("ok", True, 0, None), "status")
    eq(r.stdout, "cba\n", "stdout")
    eq(r.limits.cpu_time_ms, 1000, "limits.cpu_time_ms")
    check(isinstance(r.usage, runbox.Usage) and r.usage.wall_time_ms >= 0,
          "usage: %r" % r.usage)
    eq(r.raw["stdout"], "cba\n", "raw answer")
    return "ok, %d ms" % r.usage.wall_time_ms


@case
def bytes_go_base64_both_ways():
    """Bytes in (NUL, 0xff) switch to base64 mode; outputs come back as
    the exact bytes."""
    data = bytes(range(256))
    r = client().run(command=["/bin/cat"], stdin=data)
    eq(r.status, "ok", "status")
    eq(r.stdout, data, "stdout bytes")
    eq(r.stderr, b"", "stderr bytes")
    return "256 byte values round-tripped"


@case
def judge_mode_and_collect():
    """Judge mode: per-test verdicts and the summary; collect: files."""
    r = client().run(
        language="python3", code="n = int(input())\nprint(n * 2)\nopen('o.txt','w').write(str(n))",
        tests=[{"stdin": "2", "expected_stdout": "4\n"},
               {"stdin": "3", "expected_stdout": "7\n"}],
        collect=["o.txt"])
    eq([t.verdict for t in r.tests], ["accepted", "wrong_answer"], "verdicts")
    eq(r.status, "wrong_answer", "overall status")
    eq(r.summary, {"passed": 1, "failed": 1, "skipped": 0}, "summary")
    eq([t.files for t in r.tests], [{"o.txt": "2"}, {"o.txt": "3"}], "collected files")
    check(all(isinstance(t, runbox.TestResult) for t in r.tests), "typed tests")
    return "accepted, wrong_answer; files collected"


@case
def errors_carry_the_api_code():
    """A limit out of range and an unknown language: RunboxError with the
    API's code, HTTP status and request id."""
    try:
        client().run(command=["/bin/true"], limits={"cpu_time_ms": 10 ** 9})
        check(False, "no error raised")
    except runbox.RunboxError as e:
        eq((e.code, e.status), ("invalid_request", 400), "out-of-range limit")
        check("cpu_time_ms" in e.message, "the message names the field: %r" % e.message)
        check(e.request_id, "no request id")
    try:
        client().run(language="no-such-language", code="")
        check(False, "no error raised")
    except runbox.RunboxError as e:
        eq(e.code, "unknown_language", "unknown language")
    try:
        runbox.Runbox("http://127.0.0.1:1", timeout=5).health()
        check(False, "no error raised")
    except runbox.RunboxError as e:
        eq(e.code, "unreachable", "nothing listening")
    return "invalid_request, unknown_language, unreachable"


@case
def busy_is_retried_after_retry_after():
    """The only slot is held: a request waits queue_timeout_ms for it and
    gets 503 busy with Retry-After; retries=0 raises RunboxError busy,
    while with retries the same run waits its turn and succeeds."""
    holder = []
    t = threading.Thread(target=lambda: holder.append(
        client(retries=0).run(command=["/bin/sleep", "2"])))
    t.start()
    check(harness.wait_until(lambda: svc.get_json("/api/v1/health")[2].get("busy") == 1, 5),
          "the holder never took the slot")
    busy = None
    try:
        client(retries=0).run(command=["/bin/true"])
    except runbox.RunboxError as e:
        busy = e
    check(busy is not None, "no error while the slot was held")
    eq((busy.code, busy.status), ("busy", 503), "the answer to a full server")
    check(busy.retry_after and busy.retry_after >= 1, "Retry-After: %r" % busy.retry_after)
    t0 = time.monotonic()
    r = client(retries=10).run(command=["/bin/echo", "turn"])
    waited = time.monotonic() - t0
    t.join(30)
    eq(r.stdout, "turn\n", "the retried run")
    eq([h.status for h in holder], ["ok"], "the holder")
    return "503 busy (Retry-After %s s), then ran after %.1f s" % (busy.retry_after, waited)


@case
def stream_yields_events_live():
    """stream(): the first stdout event arrives while the program still
    sleeps, events come in order, and the last is the result run() would
    give."""
    t0 = time.monotonic()
    seen = []
    for ev in client().stream(language="sh", code="echo a; sleep 1.5; echo b"):
        seen.append((ev.kind, ev.data, time.monotonic() - t0))
        last = ev
    kinds = [k for k, _, _ in seen]
    eq(kinds[0], "stdout", "first event")
    check(seen[0][2] < 1.0, "the first line arrived after %.2f s" % seen[0][2])
    eq("".join(d for k, d, _ in seen if k == "stdout"), "a\nb\n", "streamed stdout")
    eq(last.kind, "result", "last event")
    eq((last.result.status, last.result.stdout), ("ok", "a\nb\n"), "the result")
    return "%s; first line after %.2f s" % (kinds, seen[0][2])


@case
def jobs_submit_wait_cancel():
    rb = client()
    job = rb.submit(language="python3", code="import sys; print(sys.stdin.read()[::-1])",
                    stdin="abc")
    check(isinstance(job, runbox.Job) and job.state == "queued" and job.id,
          "submit: %r" % (job,))
    done = rb.wait(job.id, timeout=60)
    eq((done.state, done.result.status, done.result.stdout), ("done", "ok", "cba\n"),
       "the waited job")
    direct = rb.run(language="python3", code="import sys; print(sys.stdin.read()[::-1])",
                    stdin="abc")
    eq(done.result.stdout, direct.stdout, "job vs run stdout")
    batch = rb.submit_batch([{"command": ["/bin/echo", str(i)]} for i in range(3)] +
                            [{"language": "python3", "code": b"print(1)"}])
    outs = [rb.wait(j.id, timeout=60).result.stdout for j in batch]
    eq(outs, ["0\n", "1\n", "2\n", b"1\n"], "batch outputs (the last in base64 mode)")
    slow = rb.submit(command=["/bin/sleep", "10"], limits={"wall_time_ms": 15000})
    harness.wait_until(lambda: rb.job(slow.id).state == "running", 20)
    gone = rb.cancel(slow.id)
    eq(gone.state, "cancelled", "cancelled job")
    try:
        rb.cancel(slow.id)
        fail("a second cancel did not raise")
    except runbox.RunboxError as e:
        eq((e.code, e.status), ("job_finished", 409), "second cancel")
    try:
        rb.job("nope")
        fail("a bad id did not raise")
    except runbox.RunboxError as e:
        eq(e.code, "invalid_job_id", "bad id")
    return "submit/wait/batch/cancel"


def openapi_schemas():
    path = os.path.join(harness.srcdir(), "docs", "openapi.yaml")
    with open(path) as f:
        text = "".join(l for l in f if not l.startswith("#"))
    return json.loads(text)["components"]["schemas"]


@case
def field_names_follow_openapi():
    """Every field of the typed results is a property of the matching
    schema in docs/openapi.yaml and every property has a field."""
    schemas = openapi_schemas()
    pairs = [(runbox.Usage, "Usage"), (runbox.Limits, "Limits"), (runbox.Step, "Step"),
             (runbox.TestResult, "TestResult"), (runbox.Result, "RunResponse"),
             (runbox.Language, "Language"), (runbox.Job, "Job")]
    for cls, schema in pairs:
        mine = {f.name for f in dataclasses.fields(cls)} - {"raw"}
        theirs = set(schemas[schema].get("properties", {}))
        eq(sorted(mine), sorted(theirs), "%s vs %s" % (cls.__name__, schema))
    eq(sorted(runbox._client._FIELDS), sorted(schemas["RunRequest"]["properties"]),
       "run()'s arguments vs RunRequest")
    return "%d types and the request's fields match" % len(pairs)


def main():
    global svc
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    # One slot, and a short wait for it, so that busy can be provoked; no
    # per-address rate limit in the way of the retries.
    svc = harness.Service(overrides={"slots": 1, "queue": 2, "queue_timeout_ms": 300,
                                     "http": {"rate_per_second": 10000,
                                              "rate_burst": 10000}})
    why = svc.missing()
    if why:
        print("test_client_python.py: skipped: %s" % why)
        return 77
    wanted = set(sys.argv[1:])
    report = harness.Report("client_python", __file__, svc)
    start_error = None
    try:
        svc.start()
    except harness.HarnessError as e:
        start_error = str(e)
    try:
        for fn in CASES:
            if not wanted or fn.__name__ in wanted:
                report.run(fn, start_error)
    finally:
        if svc.proc is not None:
            problems = svc.stop()
            if problems:
                print("client_python: stopping: %s" % "; ".join(problems))
                report.failures += 1
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
