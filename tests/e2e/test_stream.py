"""
test_stream.py - live output (Accept: application/x-ndjson), a client that
hangs up stopping its run, and merge_output, end to end through nginx and
runboxd (harness.Service; docs/API.md, "Streamed answers").

What is checked: the first line of a program that prints, sleeps 1.5 s and
prints again arrives long before the second; the last event equals the
non-streaming answer for the same request (everything but usage); a
client that closes mid-run, streaming or not, frees the slot within 1 s,
leaves no process and is counted as cancelled; judge tests stream in
order as each ends; merged output keeps the order of a program that
alternates between the two streams; a character split across writes
arrives whole in utf-8 mode, and base64 events carry the exact bytes;
errors before the stream are ordinary JSON answers; the stream's budget.

Failures are printed in Check's form, and the last line is Check's summary.
Exit status: 0 when every check passed, 1 otherwise, 77 (skip) when the
service cannot run here.  Names of checks given as arguments run only those.

Environment (from the Makefile): top_srcdir, top_builddir, NGINX, PYTHON3.
"""

import base64
import http.client
import json
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from harness import short, fail, check, eq  # noqa: E402,F401

svc = None      # harness.Service
CFG = None      # the service's config
CHECKS = []
NDJSON = "application/x-ndjson"


def check_fn(fn):
    CHECKS.append(fn)
    return fn


# ---- helpers ----------------------------------------------------------------

class Stream:
    """A streamed POST /api/v1/run: the head at once, then events as they
    come, each with the time it arrived (seconds after the request)."""

    def __init__(self, req, timeout=60):
        self.conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=timeout)
        self.t0 = time.monotonic()
        self.conn.request("POST", "/api/v1/run", body=json.dumps(req).encode(),
                          headers={"Content-Type": "application/json", "Accept": NDJSON})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}

    def next(self):
        """(seconds, event) or None at the end."""
        line = self.resp.readline()
        if not line:
            return None
        check(line.endswith(b"\n"), "an event line without its newline: %s" % short(line))
        return time.monotonic() - self.t0, json.loads(line.decode("utf-8"))

    def all(self):
        out = []
        while True:
            e = self.next()
            if e is None:
                return out
            out.append(e)

    def close(self):
        self.conn.close()


def stream(req):
    """The events of a whole streamed run: [(t, event)]; checks the head."""
    s = Stream(req)
    try:
        eq(s.status, 200, "HTTP status of the stream")
        eq(s.headers.get("content-type"), NDJSON, "Content-Type")
        check("content-length" not in s.headers, "a streamed answer with a length")
        events = s.all()
    finally:
        s.close()
    check(events, "no event at all")
    eq(events[-1][1].get("event"), "result", "the last event")
    for _, e in events[:-1]:
        check(e.get("event") != "result", "a result event before the end")
    return events


def without_usage(v):
    """v with every usage and wall-clock dependent field dropped."""
    if isinstance(v, dict):
        return {k: without_usage(x) for k, x in v.items() if k != "usage"}
    if isinstance(v, list):
        return [without_usage(x) for x in v]
    return v


def joined(events, kind):
    return "".join(e["data"] for _, e in events if e.get("event") == kind)


def slot_processes():
    base = CFG["sandbox"]["uid_base"]
    uids = range(base, base + CFG["slots"])
    return sorted(p for p in harness.processes() if harness.proc_uid(p) in uids)


def busy():
    return svc.get_json("/api/v1/health")[2].get("busy")


def cancelled_runs():
    status, _, data = svc.request("GET", "/metrics")
    check(status == 200, "/metrics: %d" % status)
    m = re.search(rb'^runbox_runs_total\{language="command",status="cancelled"\} (\d+)$',
                  data, re.M)
    return int(m.group(1)) if m else 0


def same_as_answer(req, events):
    """The result event is the non-streamed answer (but usage)."""
    status, _, answer = svc.post_run(req)
    eq(status, 200, "the non-streamed answer's status")
    result = dict(events[-1][1])
    del result["event"]
    eq(without_usage(result), without_usage(answer), "result event vs the answer")
    return answer


# ---- checks -----------------------------------------------------------------

@check_fn
def first_line_arrives_at_once():
    """print; sleep 1.5 s; print: the first line is there before 0.5 s."""
    req = {"command": ["/bin/sh", "-c", "echo first; /bin/sleep 1.5; echo second"],
           "limits": {"wall_time_ms": 5000}}
    s = Stream(req)
    try:
        eq(s.status, 200, "HTTP status")
        eq(s.headers.get("content-type"), NDJSON, "Content-Type")
        t, e = s.next()
        eq(e, {"event": "stdout", "data": "first\n"}, "the first event")
        check(t < 0.5, "the first line arrived after %.3f s" % t)
        t2, e2 = s.next()
        eq(e2, {"event": "stdout", "data": "second\n"}, "the second event")
        check(t2 > 1.4, "the second line arrived after %.3f s, before the sleep ended" % t2)
        rest = s.all()
    finally:
        s.close()
    eq([e["event"] for _, e in rest], ["result"], "events after the output")
    eq(rest[0][1]["stdout"], "first\nsecond\n", "the result's stdout")
    return "first line after %.3f s, second after %.3f s" % (t, t2)


@check_fn
def result_equals_the_answer():
    """Command and compiled language: the last event is the answer, and
    the output events joined are the answer's outputs."""
    req = {"command": ["/bin/sh", "-c", "echo out; echo err >&2; echo more; exit 3"]}
    events = stream(req)
    answer = same_as_answer(req, events)
    eq(answer["status"], "nonzero_exit", "status")
    eq(joined(events, "stdout"), answer["stdout"], "stdout events joined")
    eq(joined(events, "stderr"), answer["stderr"], "stderr events joined")
    langs = [l["id"] for l in svc.get_json("/api/v1/languages")[2]]
    check("c" in langs, "no C language to compile: %s" % langs)
    req = {"language": "c", "code": "#include <stdio.h>\nint main(void){"
           "puts(\"hi\");fflush(stdout);fputs(\"oops\\n\",stderr);return 0;}\n"}
    events = stream(req)
    kinds = [e["event"] for _, e in events]
    eq(kinds[0], "compile", "the first event of a compiled language")
    answer = same_as_answer(req, events)
    compile_event = dict(events[0][1])
    del compile_event["event"]
    eq(without_usage(compile_event), without_usage(answer["compile"]),
       "compile event vs the answer's compile")
    eq(joined(events, "stdout"), "hi\n", "C stdout events")
    eq(joined(events, "stderr"), "oops\n", "C stderr events")
    return "events: %s" % kinds


def hang_up(streamed):
    """A 10 s sleep; the client closes after 0.5 s: the slot is free
    within 1 s, no process of the run is left, metrics say cancelled."""
    check(busy() == 0, "a slot is busy before the request")
    check(not slot_processes(), "slot processes before: %s" % slot_processes())
    before = cancelled_runs()
    body = json.dumps({"command": ["/bin/sleep", "10"],
                       "limits": {"wall_time_ms": 15000}}).encode()
    conn = socket.create_connection(("127.0.0.1", svc.port), timeout=30)
    try:
        conn.sendall(b"POST /api/v1/run HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\n" +
                     (b"Accept: application/x-ndjson\r\n" if streamed else b"") +
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        check(harness.wait_until(slot_processes, 5), "the sleep never started")
        if streamed:
            conn.settimeout(5)
            head = conn.recv(4096)
            check(head.startswith(b"HTTP/1.1 200"), "stream head: %s" % short(head))
        time.sleep(0.5)
    finally:
        conn.close()
    closed = time.monotonic()
    free = harness.wait_until(lambda: busy() == 0, 5, 0.02)
    took = time.monotonic() - closed
    check(free, "the slot is still busy 5 s after the client left")
    check(took < 1.0, "the slot was freed %.2f s after the client left" % took)
    check(harness.wait_until(lambda: not slot_processes(), 1),
          "processes of the run left: %s" % slot_processes())
    check(harness.wait_until(lambda: cancelled_runs() == before + 1, 2),
          "runbox_runs_total{status=\"cancelled\"} went from %d to %d"
          % (before, cancelled_runs()))
    check(harness.wait_until(lambda: re.search(r"POST /api/v1/run .*cancelled",
                                                 svc.log_text(200)), 2),
          "no log line with cancelled: %s" % svc.log_text(5)[-600:])
    return "slot free %.3f s after the hang-up" % took


@check_fn
def hang_up_while_streaming():
    return hang_up(True)


@check_fn
def hang_up_without_streaming():
    return hang_up(False)


@check_fn
def judge_tests_stream_in_order():
    """Three tests of 0.4 s each: a test event as each ends, in order, and
    a result equal to the answer."""
    req = {"command": ["/bin/sh", "-c", "/bin/sleep 0.4; cat"],
           "tests": [{"stdin": "a", "expected_stdout": "a"},
                     {"stdin": "b", "expected_stdout": "x"},
                     {"stdin": "c", "expected_stdout": "c"}]}
    events = stream(req)
    tests = [(t, e) for t, e in events if e["event"] == "test"]
    eq([e["index"] for _, e in tests], [0, 1, 2], "test event indices")
    eq([e["verdict"] for _, e in tests], ["accepted", "wrong_answer", "accepted"],
       "verdicts")
    eq(list(tests[0][1])[:2], ["event", "index"], "the first keys of a test event")
    gaps = [tests[i + 1][0] - tests[i][0] for i in range(2)]
    check(all(g > 0.3 for g in gaps), "test events not spaced by the runs: %s" % gaps)
    check(events[-1][0] - tests[0][0] > 0.6, "the first test event came with the result")
    answer = same_as_answer(req, events)
    for i, (_, e) in enumerate(tests):
        entry = dict(e)
        del entry["event"], entry["index"]
        eq(without_usage(entry), without_usage(answer["tests"][i]), "test %d's event" % i)
    eq(joined(events, "stdout"), "abc", "the tests' stdout events")
    return "gaps %s s" % ["%.2f" % g for g in gaps]


@check_fn
def merged_output_keeps_order():
    """A program alternating between stdout and stderr (each write flushed,
    a pause between): merge_output gives one stdout in that order, stderr
    empty, streamed or not."""
    script = "; ".join("echo o%d; /bin/sleep 0.05; echo e%d >&2; /bin/sleep 0.05" % (i, i)
                       for i in range(4))
    want = "".join("o%d\ne%d\n" % (i, i) for i in range(4))
    req = {"command": ["/bin/sh", "-c", script], "merge_output": True}
    events = stream(req)
    answer = same_as_answer(req, events)
    eq(answer["stdout"], want, "merged stdout")
    eq(answer["stderr"], "", "merged stderr")
    eq(joined(events, "stdout"), want, "stdout events")
    check(not [e for _, e in events if e["event"] == "stderr"], "a stderr event")
    check(len([e for _, e in events if e["event"] == "stdout"]) > 1,
          "the merged output came in one event")
    status, _, plain = svc.post_run(dict(req, merge_output=False))
    eq((plain["stdout"], plain["stderr"]), ("o0\no1\no2\no3\n", "e0\ne1\ne2\ne3\n"),
       "without merge_output")
    return "merged: %s" % short(answer["stdout"])


@check_fn
def split_character_arrives_whole():
    """€ (E2 82 AC) written as E2 82, a pause, AC: no event holds half of
    it in utf-8 mode; base64 events carry exactly the bytes."""
    script = "printf '\\342\\202'; /bin/sleep 0.2; printf '\\254\\n'; printf '\\377'"
    req = {"command": ["/bin/sh", "-c", script]}
    events = stream(req)
    datas = [e["data"] for _, e in events if e["event"] == "stdout"]
    check("\ufffd\ufffd" not in "".join(datas[:1]), "the split character was replaced")
    eq("".join(datas), "\u20ac\n\ufffd", "stdout events joined")
    check(any("\u20ac" in d for d in datas), "no event holds the whole character")
    same_as_answer(req, events)
    events = stream(dict(req, encoding="base64"))
    chunks = [base64.b64decode(e["data"]) for _, e in events if e["event"] == "stdout"]
    check(len(chunks) >= 2, "base64: one chunk only, the pause is not seen: %s" % chunks)
    eq(b"".join(chunks), b"\xe2\x82\xac\n\xff", "base64 events joined")
    eq(base64.b64decode(events[-1][1]["stdout"]), b"\xe2\x82\xac\n\xff", "base64 result")
    return "utf-8 events %s; base64 chunks %s" % (datas, chunks)


@check_fn
def output_cap_applies_to_the_stream():
    """output_bytes caps what the events carry exactly as the answer."""
    req = {"command": ["/bin/sh", "-c", "echo 0123456789; /bin/sleep 0.1; "
                       "echo abcdefghij; echo never"],
           "limits": {"output_bytes": 15}}
    events = stream(req)
    res = events[-1][1]
    eq(res["status"], "output_exceeded", "status")
    eq(joined(events, "stdout"), "0123456789\nabcd", "stdout events")
    eq(res["stdout"], "0123456789\nabcd", "the result's stdout")
    return "capped at 15 bytes"


@check_fn
def errors_before_the_stream_are_json():
    """A bad request asking for a stream gets the usual JSON error."""
    for body, code, word in (({"command": ["/bin/true"], "merge_output": "yes"}, 400,
                              "merge_output"),
                             ({"language": "nope", "code": ""}, 400, "nope")):
        conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=30)
        try:
            conn.request("POST", "/api/v1/run", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json", "Accept": NDJSON})
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        eq(r.status, code, "status for %s" % short(body))
        check(r.getheader("Content-Type", "").startswith("application/json"),
              "Content-Type %s" % r.getheader("Content-Type"))
        err = json.loads(data)["error"]
        check(word in err["message"], "the message does not name %s: %s" % (word, err))
    return "400 JSON"


@check_fn
def stream_budget_counts_the_repeats():
    """Three tests at a 1 MiB output cap fit http.max_response_bytes as one
    answer but not as a stream (outputs sent as they come and again in the
    result): the stream is refused up front, the answer is not."""
    cap = CFG["max_limits"]["output_bytes"]
    req = {"command": ["/bin/true"], "tests": [{}] * 3,
           "limits": {"output_bytes": cap, "wall_time_ms": 1000}}
    max_bytes = CFG["http"]["max_response_bytes"]
    answer_worst = 4096 + 3 * (4096 + 2 * (cap * 6 + 2))
    check(answer_worst <= max_bytes < 2 * answer_worst,
          "the config does not allow this check: max_response_bytes %d, cap %d"
          % (max_bytes, cap))
    status, _, plain = svc.post_run(req)
    eq(status, 200, "the non-streamed request")
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=30)
    try:
        conn.request("POST", "/api/v1/run", body=json.dumps(req).encode(),
                     headers={"Content-Type": "application/json", "Accept": NDJSON})
        r = conn.getresponse()
        err = json.loads(r.read())["error"]
    finally:
        conn.close()
    eq(r.status, 400, "the streamed request")
    check("streamed answer" in err["message"] and "max_response_bytes" in err["message"],
          "message: %s" % err["message"])
    return err["message"][:120]


# ---- runner ----------------------------------------------------------------

def stop_leaves_nothing():
    problems = svc.stop()
    check(not problems, "stopping the service:\n    %s" % "\n    ".join(problems))
    return "stopped cleanly"


def main():
    global svc, CFG
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    svc = harness.Service()
    why = svc.missing()
    if why:
        print("test_stream.py: skipped: %s" % why)
        return 77
    with open(svc.config) as f:
        CFG = json.load(f)
    return harness.run_checks("stream", __file__, svc, CHECKS, stop_leaves_nothing)


if __name__ == "__main__":
    sys.exit(main())
