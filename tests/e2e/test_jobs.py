"""
test_jobs.py - jobs (submit now, collect later), end to end through nginx and
runboxd (harness.Service; docs/API.md, "Jobs").

What is checked, on a service with tokens (and anonymous access open):
a job's result equals the /run answer for the same body (but usage);
?wait=S returns as soon as the job ends; a batch of 20 mixed jobs all
finish with the statuses their bodies call for; DELETE of a running job
kills it and frees its slot within a second; a job is visible to the token
that made it only (an anonymous one to whoever holds its id); hostile
inputs get named 4xx and queue nothing; /health and /metrics show the
queue.  Then on a second service (one slot, one runner, ttl_s 6, three
queued jobs per token, a state directory of the test's): a /run goes before queued
jobs (it waits for the running one only); the per-token queue limit
answers 429 with RateLimit headers; queued jobs survive SIGTERM and a
restart and run after it; a job whose runner is killed mid-run ends
"interrupted" and is never run again; a finished job answers "expired"
after ttl_s; the events stream replays a finished job's NDJSON events.

Failures are printed in Check's form, and the last line is Check's summary.
Exit status: 0 when every check passed, 1 otherwise, 77 (skip) when the
service cannot run here.  Names of checks given as arguments run only those.

Environment (from the Makefile): top_srcdir, top_builddir, NGINX, PYTHON3.
"""

import hashlib
import hmac
import http.server
import json
import os
import threading
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from harness import short, fail, check, eq  # noqa: E402,F401

svc = None       # the main service
TOKENS = {}      # label -> token
TMP = None
CHECKS = []


def check_fn(fn):
    CHECKS.append(fn)
    return fn


# ---- helpers ----------------------------------------------------------------

def auth(label):
    return {"Authorization": "Bearer %s" % TOKENS[label]} if label else {}


def submit(body, who="a", service=None, expect=202):
    s = service or svc
    status, hdrs, parsed, raw = s.request_json("POST", "/api/v1/jobs", body, auth(who))
    if expect is not None and status != expect:
        fail("POST /api/v1/jobs: expected %d, got %d %s" % (expect, status, short(raw)))
    return status, hdrs, parsed


def get_job(jid, who="a", service=None, wait=None, timeout=90):
    s = service or svc
    path = "/api/v1/jobs/%s" % jid + ("?wait=%s" % wait if wait is not None else "")
    status, hdrs, parsed, raw = s.request_json("GET", path, None, auth(who), timeout=timeout)
    return status, parsed


def wait_done(jid, who="a", service=None, limit=60):
    deadline = time.monotonic() + limit
    while True:
        status, job = get_job(jid, who, service, wait=10)
        eq(status, 200, "GET job %s (%s)" % (jid, short(job)))
        if job["state"] not in ("queued", "running"):
            return job
        if time.monotonic() > deadline:
            fail("job %s still %s after %d s" % (jid, job["state"], limit))


def without_usage(v):
    if isinstance(v, dict):
        return {k: without_usage(x) for k, x in v.items() if k != "usage"}
    if isinstance(v, list):
        return [without_usage(x) for x in v]
    return v


def error_code(parsed):
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return parsed["error"].get("code")
    return None


def health(service=None):
    status, _, parsed = (service or svc).get_json("/api/v1/health")
    eq(status, 200, "health")
    return parsed


def add_token(config, label):
    p = subprocess.run([svc.runboxd, "--config", config, "--add-token=%s" % label],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise harness.HarnessError("--add-token: %s" % p.stderr.decode(errors="replace"))
    return p.stdout.decode().strip()


PY_HELLO = {"language": "python3", "code": "import sys\nprint('hello', sys.argv[1:])\n",
            "args": ["x", "y"], "stdin": "ignored"}


class Receiver(http.server.BaseHTTPRequestHandler):
    """The callbacks' receiver: /hook/ok answers 200, /hook/flaky 500 the
    first time, /hook/redirect 302 to /hook/target."""
    got = []
    flaky_seen = set()
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with self.lock:
            self.got.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                             body, time.monotonic()))
        if self.path.startswith("/hook/redirect"):
            self.send_response(302)
            self.send_header("Location", "/hook/target")
        elif self.path.startswith("/hook/flaky") and self.path not in self.flaky_seen:
            self.flaky_seen.add(self.path)
            self.send_response(500)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


RECEIVER = None


def received(path_prefix):
    with Receiver.lock:
        return [g for g in Receiver.got if g[0].startswith(path_prefix)]


def hook(path):
    return "http://127.0.0.1:%d/hook/%s" % (RECEIVER.server_address[1], path)


def callback_key(token):
    return hmac.new(token.encode(), b"runbox-callback-v1", hashlib.sha256).digest()


# ---- checks on the main service ----------------------------------------------

@check_fn
def result_equals_run_answer():
    _, _, job = submit(PY_HELLO)
    check(job.get("state") == "queued" and job["id"].startswith(health()["host"] + "-"),
          "202 answer: %s" % short(job))
    check(job.get("created_at"), "created_at: %s" % short(job))
    done = wait_done(job["id"])
    status, _, answer = svc.post_run(PY_HELLO)
    eq(status, 200, "the /run answer")
    eq(done["state"], "done", "state")
    eq(without_usage(done["result"]), without_usage(answer), "job result vs /run answer")
    check(done["created_at"] <= done["started_at"] <= done["finished_at"],
          "timestamps in order: %s" % short(done))
    return "stdout %r" % done["result"]["stdout"]


@check_fn
def wait_returns_when_the_job_ends():
    _, _, job = submit({"language": "python3", "code": "import time\ntime.sleep(1.5)\n"})
    t0 = time.monotonic()
    status, done = get_job(job["id"], wait=40)
    took = time.monotonic() - t0
    eq(status, 200, "GET ?wait=40")
    eq(done["state"], "done", "state after the wait (%.2f s)" % took)
    eq(done["result"]["status"], "ok", "status")
    # The job sleeps 1.5 s; the wait must end with it, long before 40 s.
    check(1.0 <= took < 10.0, "the wait took %.2f s" % took)
    # wait=0 answers at once, whatever the state.
    _, _, job2 = submit({"language": "python3", "code": "import time\ntime.sleep(3)\n"})
    t0 = time.monotonic()
    status, now = get_job(job2["id"], wait=0)
    check(status == 200 and now["state"] in ("queued", "running") and
          time.monotonic() - t0 < 2.0, "wait=0: %d %s" % (status, short(now)))
    wait_done(job2["id"])
    return "returned %.2f s after the submit of a 1.5 s job" % took


@check_fn
def batch_of_twenty_mixed_jobs_all_finish():
    kinds = [
        ({"language": "python3", "code": "print(21 * 2)"}, "ok", "42\n"),
        ({"command": ["/bin/sh", "-c", "echo shell; exit 3"]}, "nonzero_exit", "shell\n"),
        ({"language": "python3", "code": "while True: pass",
          "limits": {"cpu_time_ms": 300}}, "cpu_time_exceeded", ""),
        ({"language": "c", "code": "int main(void){puts(\"c\");return 0;}"},
         "compile_error", None),
        ({"language": "python3", "code": "print(input()[::-1])",
          "tests": [{"stdin": "abc", "expected_stdout": "cba\n"},
                    {"stdin": "xy", "expected_stdout": "nope\n"}]}, "wrong_answer", None),
    ]
    batch = [kinds[i % len(kinds)][0] for i in range(20)]
    _, _, answer = submit({"batch": batch})
    ids = [j["id"] for j in answer["jobs"]]
    eq(len(ids), 20, "ids")
    eq(len(set(ids)), 20, "distinct ids")
    statuses = []
    for i, jid in enumerate(ids):
        job = wait_done(jid, limit=120)
        body, want, stdout = kinds[i % len(kinds)]
        eq(job["state"], "done", "job %d state" % i)
        statuses.append(job["result"]["status"])
        if stdout is not None:
            eq(job["result"].get("stdout"), stdout, "job %d stdout" % i)
    want = [kinds[i % len(kinds)][1] for i in range(20)]
    # The C program has no #include: whether that is a compile error
    # depends on the compiler; it must at least be the same in the batch
    # as in a /run of the same body.
    _, _, direct = svc.post_run(kinds[3][0])
    want = [direct["status"] if w == "compile_error" else w for w in want]
    eq(statuses, want, "statuses in order")
    return "20 done: %s" % ", ".join(sorted(set(statuses)))


@check_fn
def cancel_kills_and_frees_the_slot():
    _, _, job = submit({"language": "python3", "code": "import time\ntime.sleep(30)\n",
                        "limits": {"wall_time_ms": 20000}})
    deadline = time.monotonic() + 30
    while True:
        _, now = get_job(job["id"])
        if now["state"] == "running":
            break
        check(time.monotonic() < deadline, "never started: %s" % short(now))
        time.sleep(0.05)
    time.sleep(0.3)  # the program is running, not just the job
    busy = health()["busy"]
    check(busy >= 1, "a slot is busy while the job runs (%d)" % busy)
    t0 = time.monotonic()
    status, _, parsed, raw = svc.request_json("DELETE", "/api/v1/jobs/%s" % job["id"],
                                              None, auth("a"))
    took = time.monotonic() - t0
    eq(status, 200, "DELETE %s" % short(raw))
    eq(parsed["state"], "cancelled", "state in the DELETE answer")
    check(took < 1.0, "DELETE took %.2f s to stop the run" % took)
    freed = harness.wait_until(lambda: health()["busy"] == 0, 1.0)
    check(freed, "the slot is still busy 1 s after the cancel")
    eq(parsed["result"]["status"], "cancelled", "the run's status")
    # A second DELETE: the job has ended.
    status, _, parsed, _ = svc.request_json("DELETE", "/api/v1/jobs/%s" % job["id"],
                                            None, auth("a"))
    check(status == 409 and error_code(parsed) == "job_finished",
          "second DELETE: %d %s" % (status, short(parsed)))
    return "cancelled in %.2f s" % took


@check_fn
def cancel_a_queued_job():
    # Fill the runners (2) with sleepers, then queue one more and cancel it.
    sleepers = [submit({"language": "python3", "code": "import time\ntime.sleep(3)\n"})[2]
                for _ in range(2)]
    _, _, job = submit(PY_HELLO)
    status, _, parsed, raw = svc.request_json("DELETE", "/api/v1/jobs/%s" % job["id"],
                                              None, auth("a"))
    eq(status, 200, "DELETE %s" % short(raw))
    eq(parsed["state"], "cancelled", "state")
    check(parsed["started_at"] is None and parsed["result"] is None,
          "never started: %s" % short(parsed))
    for s in sleepers:
        wait_done(s["id"])
    _, again = get_job(job["id"])
    eq(again["state"], "cancelled", "still cancelled after the runners were free")
    return "cancelled while queued"


@check_fn
def jobs_belong_to_their_token():
    _, _, mine = submit(PY_HELLO, who="a")
    status, other = get_job(mine["id"], who="b")
    check(status == 404 and error_code(other) == "job_not_found",
          "token b reading token a's job: %d %s" % (status, short(other)))
    status, anon = get_job(mine["id"], who=None)
    check(status == 404, "anonymous reading token a's job: %d" % status)
    status, _, parsed, _ = svc.request_json("DELETE", "/api/v1/jobs/%s" % mine["id"],
                                            None, auth("b"))
    check(status == 404, "token b cancelling token a's job: %d %s" % (status, short(parsed)))
    # Same message for a job that never existed: ids cannot be probed.
    fake = mine["id"][:-32] + "0" * 32
    status, never = get_job(fake, who="b")
    eq(status, 404, "a job that never existed")
    eq(never["error"]["message"].replace(fake, "ID"),
       other["error"]["message"].replace(mine["id"], "ID"), "the two 404s")
    # An anonymous job: whoever holds the id.
    _, _, anon_job = submit(PY_HELLO, who=None)
    eq(wait_done(anon_job["id"], who="b")["state"], "done", "token b reads an anonymous job")
    eq(wait_done(mine["id"], who="a")["state"], "done", "token a reads its own")
    return "404 for other tokens"


@check_fn
def hostile_inputs_get_named_errors():
    queued0 = health()["jobs"]
    bad = []

    def expect(method, path, body, status, code, words, who="a"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        st, _, parsed, raw = svc.request_json(method, path, body, auth(who))
        msg = parsed["error"]["message"] if error_code(parsed) else ""
        if st != status or error_code(parsed) != code or any(w not in msg for w in words):
            bad.append("%s %s: expected %d %s naming %s, got %d %s"
                       % (method, path[:60], status, code, words, st, short(raw, 300)))

    body = {"language": "python3", "code": "print(1)"}
    expect("POST", "/api/v1/jobs", {"batch": [body] * 21}, 400, "invalid_request",
           ["21", "jobs.max_batch"])
    expect("POST", "/api/v1/jobs", {"batch": []}, 400, "invalid_request", ["batch"])
    expect("POST", "/api/v1/jobs", {"batch": body}, 400, "invalid_request", ["batch"])
    expect("POST", "/api/v1/jobs", {"batch": [body], "x": 1}, 400, "invalid_request",
           ["batch"])
    expect("POST", "/api/v1/jobs", {"batch": [body, body, {"language": "cobol9",
                                                         "code": ""}]},
           400, "unknown_language", ["batch[2]", "cobol9"])
    expect("POST", "/api/v1/jobs", {"batch": [body, 7]}, 400, "invalid_request",
           ["batch[1]", "object"])
    expect("POST", "/api/v1/jobs", {"code": "print(1)"}, 400, "invalid_request",
           ["language"])
    expect("POST", "/api/v1/jobs", "{\"batch\": [", 400, "invalid_json", ["JSON"])
    # Many tiny values: the parse budget, before anything else.
    expect("POST", "/api/v1/jobs", '{"batch": [' + ",".join(["[]"] * 700000) + "]}",
           413, "payload_too_large", ["parse_memory_factor"])
    # Bigger than max_body_bytes: nginx refuses it.
    huge = '{"batch": [{"language": "python3", "code": "' + "#" * (17 << 20) + '"}]}'
    st, _, parsed, _ = svc.request_json("POST", "/api/v1/jobs", huge, auth("a"))
    if st != 413 or error_code(parsed) != "payload_too_large":
        bad.append("a 17 MiB batch: %d %s" % (st, short(parsed)))
    # callback_url: only under jobs.callback_allow's prefix, only with a token.
    port = RECEIVER.server_address[1]
    for url in ("http://127.0.0.1:1/hook/x", "http://127.0.0.1:%d/hookx" % port,
                "http://127.0.0.1:%d/other/hook/" % port,
                "https://127.0.0.1:%d/hook/x" % port,
                "http://127.0.0.1:%d.evil.example/hook/x" % port):
        expect("POST", "/api/v1/jobs", dict(body, callback_url=url), 400,
               "invalid_request", ["callback_url", "jobs.callback_allow"])
    for url in (hook("../admin"), hook("a/./b"), hook("%2e%2e/admin"), hook("x#y"),
                hook("a\\b")):
        expect("POST", "/api/v1/jobs", dict(body, callback_url=url), 400,
               "invalid_request", ["callback_url"])
    expect("POST", "/api/v1/jobs", dict(body, callback_url=7), 400, "invalid_request",
           ["callback_url", "string"])
    expect("POST", "/api/v1/jobs", dict(body, callback_url=hook("ok/anon")), 400,
           "invalid_request", ["callback_url", "token"], who=None)
    # Ids.
    host = health()["host"]
    for jid, status, code in (("xyz", 400, "invalid_job_id"),
                              (host + "-" + "g" * 32, 400, "invalid_job_id"),
                              (host + "-" + "A" * 32, 400, "invalid_job_id"),
                              ("-" + "0" * 32, 400, "invalid_job_id"),
                              ("%2e%2e-" + "0" * 32, 404, "job_not_found"),
                              ("x" * 300, 400, "invalid_job_id"),
                              ("otherhost-" + "0" * 32, 404, "job_not_found"),
                              (host + "-" + "0" * 32, 404, "job_not_found")):
        expect("GET", "/api/v1/jobs/" + jid, None, status, code, [])
        expect("DELETE", "/api/v1/jobs/" + jid, None, status, code, [])
    expect("GET", "/api/v1/jobs/otherhost-" + "0" * 32, None, 404, "job_not_found",
           ["otherhost"])
    expect("GET", "/api/v1/jobs/%s-%s/nope" % (host, "0" * 32), None, 404, "not_found", [])
    expect("GET", "/api/v1/jobs/%s-%s?wait=abc" % (host, "0" * 32), None, 400,
           "invalid_request", ["wait"])
    expect("GET", "/api/v1/jobs/%s-%s?wait=100000" % (host, "0" * 32), None, 400,
           "invalid_request", ["wait", "jobs.max_wait_s"])
    expect("PUT", "/api/v1/jobs/%s-%s" % (host, "0" * 32), None, 405,
           "method_not_allowed", [])
    expect("GET", "/api/v1/jobs", None, 405, "method_not_allowed", [])
    st, _, parsed, _ = svc.request_json("POST", "/api/v1/jobs", json.dumps(body),
                                        {"Content-Type": "text/plain",
                                         "Authorization": "Bearer " + TOKENS["a"]})
    if st != 415:
        bad.append("text/plain body: %d %s" % (st, short(parsed)))
    st, _, parsed, _ = svc.request_json("POST", "/api/v1/jobs", json.dumps(body),
                                        {"Authorization": "Bearer wrong"})
    if st != 401:
        bad.append("a wrong token: %d %s" % (st, short(parsed)))
    check(not bad, "\n    ".join(bad))
    after = health()["jobs"]
    eq(after["queued"] + after["running"] + after["finished"],
       queued0["queued"] + queued0["running"] + queued0["finished"],
       "jobs stored after the refusals")
    return "every refusal named, nothing queued"


@check_fn
def health_and_metrics_show_the_queue():
    h = health()["jobs"]
    for k in ("queued", "running", "finished", "oldest_queued_s", "runners"):
        check(k in h, "health jobs.%s: %s" % (k, short(h)))
    check(h["finished"] >= 1, "finished jobs counted: %s" % short(h))
    status, _, raw = svc.request("GET", "/metrics")
    eq(status, 200, "metrics")
    text = raw.decode()
    for line in ('runbox_jobs{state="queued"}', 'runbox_jobs{state="finished"} ',
                 "runbox_jobs_oldest_queued_seconds"):
        check(line in text, "%s in /metrics" % line)
    return "health %s" % short(h)


@check_fn
def events_replay_after_the_job_ended():
    body = {"language": "python3", "code": "print('one', flush=True)\nprint('two')\n"}
    _, _, job = submit(body)
    done = wait_done(job["id"])
    status, hdrs, raw = svc.request("GET", "/api/v1/jobs/%s/events" % job["id"], None,
                                    auth("a"))
    eq(status, 200, "events")
    check(hdrs.get("content-type", "").startswith("application/x-ndjson"),
          "content type %s" % hdrs.get("content-type"))
    events = [json.loads(l) for l in raw.decode().splitlines()]
    check(events and events[-1]["event"] == "result", "last event: %s" % short(events))
    out = "".join(e.get("data", "") for e in events if e["event"] == "stdout")
    eq(out, "one\ntwo\n", "stdout events joined")
    last = dict(events[-1])
    del last["event"]
    eq(without_usage(last), without_usage(done["result"]), "result event vs result")
    return "%d events" % len(events)


@check_fn
def callback_arrives_signed_and_verifies():
    _, _, job = submit(dict(PY_HELLO, callback_url=hook("ok/1")))
    done = wait_done(job["id"])
    check(harness.wait_until(lambda: received("/hook/ok/1"), 10), "no callback in 10 s")
    path, hdrs, body, _ = received("/hook/ok/1")[0]
    ts = hdrs.get("x-runbox-timestamp", "")
    sig = hdrs.get("x-runbox-signature", "")
    check(ts.isdigit() and abs(int(ts) - time.time()) < 60, "timestamp %r" % ts)
    want = "sha256=" + hmac.new(callback_key(TOKENS["a"]), ts.encode() + b"." + body,
                                hashlib.sha256).hexdigest()
    check(hmac.compare_digest(sig, want), "signature %r, expected %r" % (sig, want))
    forged = "sha256=" + hmac.new(callback_key(TOKENS["b"]), ts.encode() + b"." + body,
                                  hashlib.sha256).hexdigest()
    check(sig != forged, "token b's key gives the same signature")
    eq(hdrs.get("x-runbox-job"), job["id"], "X-Runbox-Job")
    eq(hdrs.get("content-type"), "application/json", "Content-Type")
    sent = json.loads(body)
    eq((sent["id"], sent["state"]), (job["id"], "done"), "the callback's job")
    eq(sent["result"], done["result"], "the callback's result")
    ok = harness.wait_until(lambda: get_job(job["id"])[1]["callback"]["state"] == "sent", 5)
    check(ok, "callback state: %s" % short(get_job(job["id"])[1].get("callback")))
    eq(len(received("/hook/ok/1")), 1, "deliveries")
    return "verified %s" % sig[:20]


@check_fn
def callback_retries_and_never_follows_redirects():
    _, _, flaky = submit(dict(PY_HELLO, callback_url=hook("flaky/1")))
    _, _, moved = submit(dict(PY_HELLO, callback_url=hook("redirect/1")))
    check(harness.wait_until(lambda: len(received("/hook/flaky/1")) >= 2, 15),
          "flaky: %d attempts in 15 s" % len(received("/hook/flaky/1")))
    times = [g[3] for g in received("/hook/flaky/1")]
    check(times[1] - times[0] >= 0.8, "the retry came %.2f s after the first try"
          % (times[1] - times[0]))
    ok = harness.wait_until(lambda: get_job(moved["id"])[1]["callback"]["state"] == "failed",
                            15)
    cb = get_job(moved["id"])[1]["callback"]
    check(ok and cb["attempts"] == 2 and "redirect" in (cb.get("error") or ""),
          "redirected callback: %s" % short(cb))
    eq(received("/hook/target"), [], "requests that followed the redirect")
    eq(len(received("/hook/redirect/1")), 2, "attempts at the redirecting URL")
    cbf = get_job(flaky["id"])[1]["callback"]
    eq((cbf["state"], cbf["attempts"]), ("sent", 2), "the flaky one")
    return "retried after %.2f s; redirect not followed" % (times[1] - times[0])


@check_fn
def cli_submit_wait_cancel():
    cli = os.path.join(svc.builddir, "client", "runbox")
    check(os.access(cli, os.X_OK), "%s is not built" % cli)
    env = dict(os.environ, RUNBOX_URL="http://127.0.0.1:%d" % svc.port,
               RUNBOX_TOKEN=TOKENS["a"])
    prog = os.path.join(TMP, "exit3.py")
    with open(prog, "w") as f:
        f.write("import sys\nprint('hi', sys.argv[1:])\nsys.exit(3)\n")

    def cli_run(*args):
        p = subprocess.run([cli] + list(args), env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    rc, out, err = cli_run("submit", prog, "a1")
    jid = out.strip()
    check(rc == 0 and jid.startswith(health()["host"] + "-"), "submit: %d %r %r"
          % (rc, out, err))
    rc, out, err = cli_run("wait", jid)
    eq((rc, out), (3, "hi ['a1']\n"), "wait: the program's output and exit code (%r)" % err)
    eq(get_job(jid)[1]["state"], "done", "the job's state")
    sleeper = os.path.join(TMP, "sleep.py")
    with open(sleeper, "w") as f:
        f.write("import time\ntime.sleep(30)\n")
    rc, out, _ = cli_run("submit", "--wall-time-ms", "20000", sleeper)
    sid = out.strip()
    harness.wait_until(lambda: get_job(sid)[1]["state"] == "running", 20)
    rc, out, err = cli_run("cancel", sid)
    eq((rc, out), (0, "%s cancelled\n" % sid), "cancel (%r)" % err)
    rc, out, err = cli_run("wait", jid[:-4] + "0000")
    check(rc == 250 and "job_not_found" in err, "wait for no job: %d %r" % (rc, err))
    rc, out, err = cli_run("wait", "../x")
    check(rc == 252 and "not a job ID" in err, "a bad id: %d %r" % (rc, err))
    rc, out, err = cli_run("submit", "--stream", prog)
    check(rc == 252, "submit --stream: %d %r" % (rc, err))
    return "submit, wait (exit 3), cancel"


def stop_leaves_nothing():
    problems = svc.stop()
    check(not problems, "stopping the service:\n    %s" % "\n    ".join(problems))
    return "stopped cleanly"


# ---- the second service: restarts, limits, expiry ---------------------------

STATE = None
SECOND = None


def second_service(ttl_s=6):
    s = harness.Service(overrides={
        "auth": {"tokens_file": TOKENS_FILE,
                 "open": ["/api/v1/languages", "/api/v1/health", "/metrics"]},
        "slots": 1, "queue": 2, "queue_timeout_ms": 6000,
        "jobs": {"runners": 1, "ttl_s": ttl_s, "max_queued_per_token": 3}},
        extra_env={"RUNBOX_STATE_DIR": STATE})
    return s


def restart_check(fn):
    CHECKS.append(fn)
    fn.second = True
    return fn


@restart_check
def sync_runs_go_before_queued_jobs():
    # One slot.  Three 3 s jobs: the first runs, two wait.  A /run sent
    # while the first runs gets the slot when it ends, before the second
    # job starts: it waits at most ~3 s.  If queued jobs went first it
    # would wait 6 s and get 503 busy at queue_timeout_ms (6 s).  (Two
    # things give it the slot: the pool's semaphore wakes the waiting
    # request when the job ends, and the runner takes no slot while a
    # request waits; this checks the outcome, not which of them did it.)
    sleeper = {"language": "python3", "code": "import time\ntime.sleep(3)\n"}
    first = submit(sleeper, service=SECOND)[2]
    ok = harness.wait_until(
        lambda: get_job(first["id"], service=SECOND)[1]["state"] == "running", 10)
    check(ok, "the first job never started")
    rest = submit({"batch": [sleeper, sleeper]}, who="b", service=SECOND)[2]["jobs"]
    t0 = time.monotonic()
    status, _, answer, _ = SECOND.request_json("POST", "/api/v1/run",
                                               {"command": ["/bin/echo", "sync"]}, auth("a"))
    took = time.monotonic() - t0
    check(status == 200 and answer["stdout"] == "sync\n",
          "the /run after %.2f s: %d %s" % (took, status, short(answer)))
    check(took < 5.0, "the /run waited %.2f s" % took)
    second = wait_done(rest[0]["id"], "b", SECOND)
    first_done = get_job(first["id"], service=SECOND)[1]
    check(second["started_at"] >= first_done["finished_at"], "jobs overlapped in one slot")
    for j in rest:
        wait_done(j["id"], "b", SECOND)
    return "the /run waited %.2f s (a queued job would have made it 6 s)" % took


@restart_check
def queue_limit_per_token_is_429():
    sleeper = {"language": "python3", "code": "import time\ntime.sleep(2)\n"}
    submit(sleeper, service=SECOND)           # the runner takes it
    time.sleep(0.5)
    st, hdrs, parsed = submit({"batch": [PY_HELLO] * 4}, service=SECOND, expect=None)
    check(st == 429 and error_code(parsed) == "rate_limited",
          "4 more than 3 allowed: %d %s" % (st, short(parsed)))
    check("jobs.max_queued_per_token" in parsed["error"]["message"], "message names the key")
    eq(hdrs.get("ratelimit-limit"), "3", "RateLimit-Limit")
    check("ratelimit-remaining" in hdrs and "retry-after" in hdrs, "headers %s" % hdrs)
    # Another token has its own allowance.
    st, _, _ = submit({"batch": [PY_HELLO] * 3}, who="b", service=SECOND, expect=None)
    eq(st, 202, "token b's three")
    return "429 with RateLimit-Limit 3"


@restart_check
def queued_jobs_survive_sigterm_and_restart():
    global SECOND
    first = submit({"language": "python3", "code": "import time\ntime.sleep(2)\nprint('first')",
                    "limits": {"wall_time_ms": 10000}}, service=SECOND)[2]
    harness.wait_until(lambda: get_job(first["id"], service=SECOND)[1]["state"] == "running",
                       10)
    rest = submit({"batch": [{"language": "python3", "code": "print(%d)" % i}
                             for i in range(3)]}, who="b", service=SECOND)[2]["jobs"]
    for j in rest:
        eq(get_job(j["id"], "b", SECOND)[1]["state"], "queued", "before the stop")
    problems = SECOND.stop()   # SIGTERM: the running job finishes, the rest wait
    check(not problems, "stop: %s" % problems)
    # Its result must outlive the restart, however long the start takes
    # (it probes every language's toolchain in its one slot): a ttl far
    # longer than that.  finished_jobs_expire_after_ttl goes back to 6 s.
    SECOND = second_service(ttl_s=600)
    SECOND.start()
    done = wait_done(first["id"], service=SECOND)
    check(done["state"] == "done" and (done["result"] or {}).get("stdout") == "first\n",
          "the job running at SIGTERM did not finish: %s" % short(done))
    outs = [wait_done(j["id"], "b", SECOND)["result"]["stdout"] for j in rest]
    eq(outs, ["0\n", "1\n", "2\n"], "queued jobs ran after the restart")
    return "3 queued jobs ran after the restart"


@restart_check
def a_job_whose_runner_dies_is_never_rerun():
    marker = os.path.join(TMP, "runs")
    body = {"command": ["/bin/sh", "-c", "sleep 3; echo ran"],
            "limits": {"wall_time_ms": 10000}}
    _, _, job = submit(body, service=SECOND)
    ok = harness.wait_until(
        lambda: get_job(job["id"], service=SECOND)[1]["state"] == "running", 10)
    check(ok, "the job never started")
    runners = [p for p in harness.children(SECOND.master_pid())
               if "runboxd-runner" in open("/proc/%d/comm" % p).read()]
    eq(len(runners), 1, "runner processes (%s)" % runners)
    os.kill(runners[0], signal.SIGKILL)
    job = wait_done(job["id"], service=SECOND, limit=15)
    eq(job["state"], "done", "state")
    eq(error_code(job), "interrupted", "error")
    check(job["result"] is None, "no result: %s" % short(job))
    started = job["started_at"]
    time.sleep(1.0)  # the new runner would take it again now if it could
    again = get_job(job["id"], service=SECOND)[1]
    check(again["state"] == "done" and again["started_at"] == started,
          "not run again: %s" % short(again))
    del marker
    return "interrupted: %s" % job["error"]["message"][:60]


@restart_check
def finished_jobs_expire_after_ttl():
    global SECOND
    problems = SECOND.stop()
    check(not problems, "stop: %s" % problems)
    SECOND = second_service(ttl_s=6)
    SECOND.start()
    _, _, job = submit(PY_HELLO, service=SECOND)
    done = wait_done(job["id"], service=SECOND)
    eq(done["state"], "done", "state")
    ok = harness.wait_until(
        lambda: get_job(job["id"], service=SECOND)[1]["state"] == "expired", 15, 0.2)
    check(ok, "still %s 15 s after a 6 s ttl" % get_job(job["id"], service=SECOND)[1])
    _, gone = get_job(job["id"], service=SECOND)
    check(gone["result"] is None and error_code(gone) == "expired",
          "expired job: %s" % short(gone))
    st, _, parsed, _ = SECOND.request_json("GET", "/api/v1/jobs/%s/events" % job["id"],
                                           None, auth("a"))
    check(st == 410 and error_code(parsed) == "expired", "events: %d %s" % (st, parsed))
    return "expired"


def second_stops_cleanly():
    problems = SECOND.stop()
    check(not problems, "stopping:\n    %s" % "\n    ".join(problems))
    mode = os.stat(STATE).st_mode & 0o777
    check(os.path.exists(os.path.join(STATE, "jobs.db")) and mode == 0o700,
          "the state directory kept the store, mode %o" % mode)
    return "stopped cleanly"


TOKENS_FILE = None


def main():
    global svc, TMP, STATE, SECOND, TOKENS_FILE, RECEIVER
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    probe = harness.Service()
    why = probe.missing()
    if why:
        print("test_jobs.py: skipped: %s" % why)
        return 77
    TMP = tempfile.mkdtemp(prefix="runbox-jobs.")
    os.chmod(TMP, 0o755)
    TOKENS_FILE = os.path.join(TMP, "tokens.sha256")
    STATE = os.path.join(TMP, "state")
    RECEIVER = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=RECEIVER.serve_forever, daemon=True).start()
    svc = harness.Service(overrides={
        "auth": {"tokens_file": TOKENS_FILE,
                 "open": ["/api/v1/languages", "/api/v1/health", "/metrics",
                          "/api/v1/run", "/api/v1/jobs"]},
        "jobs": {"callback_allow": [hook("")], "callback_attempts": 2}})
    TOKENS["a"] = add_token(svc.config, "a")
    TOKENS["b"] = add_token(svc.config, "b")
    wanted = set(sys.argv[1:])
    first = [f for f in CHECKS if not getattr(f, "second", False)]
    second = [f for f in CHECKS if getattr(f, "second", False)]
    names = set(f.__name__ for f in CHECKS)
    if wanted - names:
        print("test_jobs.py: no such check: %s" % ", ".join(sorted(wanted - names)))
        return 2
    first = [f for f in first if not wanted or f.__name__ in wanted]
    second = [f for f in second if not wanted or f.__name__ in wanted]
    report = harness.Report("jobs", __file__, svc)
    try:
        if first:
            err = None
            try:
                svc.start()
                print("jobs: service on port %d" % svc.port)
            except Exception as e:  # noqa: BLE001
                err = "%s: %s" % (type(e).__name__, e)
            for fn in first:
                report.run(fn, err)
            report.run(stop_leaves_nothing, err)
        if second:
            SECOND = second_service()
            err = None
            try:
                SECOND.start()
                print("jobs: second service on port %d" % SECOND.port)
            except Exception as e:  # noqa: BLE001
                err = "%s: %s" % (type(e).__name__, e)
            for fn in second:
                report.run(fn, err)
            report.run(second_stops_cleanly, err)
    finally:
        for s in (svc, SECOND):
            if s is not None and s.proc is not None and s.proc.poll() is None:
                s._abort()
        status = report.finish()
        RECEIVER.shutdown()
        shutil.rmtree(TMP, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
