#!/usr/bin/python3
"""SIGHUP reloads runboxd's config, languages and tokens without dropping
in-flight runs; a bad new config is refused with a log line and the old one
stays in force.

Prints Check's summary line; exits 1 on any failure.
"""
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

results = []


def record(name, ok, why=""):
    results.append((name, ok))
    print(("ok: %s" % name) if ok else "FAIL: %s: %s" % (name, why), flush=True)


def default_cpu(svc):
    status, _, body = svc.get_json("/api/v1/health")
    return body["limits"]["default"]["cpu_time_ms"] if status == 200 else None


def reloads_under_traffic(svc, master, cfg):
    """Repeated SIGHUPs while workers read 1 MiB bodies and write ~6 MB
    answers: a worker stops only between requests, so not one body is cut
    (invalid_json) and not one answer is truncated."""
    cfg["slots"] -= 1  # back to what is in force, so the reloads succeed
    with open(svc.config, "w") as f:
        json.dump(cfg, f)
    big_in = {"command": ["/usr/bin/wc", "-c"], "stdin": "x" * (1 << 20)}
    # Three tests, each 1 MiB on stdout and on stderr: a ~6 MB answer.
    big_out = {"command": ["/bin/sh", "-c",
                           "head -c 1048576 /dev/zero | tr '\\0' a; "
                           "head -c 1048576 /dev/zero | tr '\\0' b >&2"],
               "limits": {"output_bytes": 1 << 20},
               "tests": [{"stdin": ""}] * 3}
    errors, counts = [], {"in": 0, "out": 0}
    done = threading.Event()
    lock = threading.Lock()

    def client(kind):
        while not done.is_set():
            try:
                if kind == "in":
                    status, _, body = svc.post_run(big_in, timeout=60)
                    good = status == 200 and body.get("stdout") == "%d\n" % (1 << 20)
                else:
                    status, _, body = svc.post_run(big_out, timeout=60)
                    good = (status == 200 and len(body.get("tests", [])) == 3 and all(
                        t.get("stdout") == "a" * (1 << 20) and
                        t.get("stderr") == "b" * (1 << 20) for t in body["tests"]))
            except Exception as e:  # a reset or a cut answer
                status, body, good = None, repr(e), False
            with lock:
                counts[kind] += 1
                if not good:
                    errors.append("%s: %r %s" % (kind, status, harness.short(body, 200)))

    threads = [threading.Thread(target=client, args=(k,)) for k in ("in", "in", "out", "out")]
    for t in threads:
        t.start()
    reloads = 0
    try:
        for _ in range(6):
            # Each reload only once some requests are in flight.
            target = sum(counts.values()) + 4
            harness.wait_until(lambda: sum(counts.values()) >= target, 30)
            os.kill(master, signal.SIGHUP)
            reloads += 1
        harness.wait_until(lambda: sum(counts.values()) >= target + 8, 30)
    finally:
        done.set()
        for t in threads:
            t.join(120)
    record("%d reloads under large bodies and answers: no request hurt" % reloads,
           not errors and counts["in"] > 0 and counts["out"] > 0,
           "%d of %d requests failed: %s" % (len(errors), sum(counts.values()),
                                             "; ".join(errors[:5])))
    print("reloads: %d requests in, %d out, across %d reloads"
          % (counts["in"], counts["out"], reloads))


def main():
    svc = harness.Service(overrides={"http": {"rate_per_second": 10000, "rate_burst": 10000}})
    why = svc.missing()
    if why:
        print("test_reload.py: skipped: %s" % why)
        return 77
    try:
        svc.start()
        master = svc.master_pid()
        before = default_cpu(svc)
        workers_before = set(svc.worker_pids())

        # A run in flight across the reload.
        inflight = {}

        def long_run():
            inflight["r"] = svc.post_run({"command": ["/bin/sh", "-c", "sleep 2; echo survived"]})
        t = threading.Thread(target=long_run)
        t.start()
        harness.wait_until(lambda: svc.get_json("/api/v1/health")[2].get("busy", 0) >= 1, 5)

        with open(svc.config) as f:
            cfg = json.load(f)
        cfg["default_limits"]["cpu_time_ms"] = before - 1
        with open(svc.config, "w") as f:
            json.dump(cfg, f)
        os.kill(master, signal.SIGHUP)
        changed = harness.wait_until(lambda: default_cpu(svc) == before - 1, 10)
        record("a good config is in force after SIGHUP", changed,
               "default cpu_time_ms still %r" % default_cpu(svc))
        t.join(30)
        status, _, body = inflight.get("r", (None, None, None))
        record("the run in flight survived the reload",
               status == 200 and body.get("status") == "ok" and body.get("stdout") == "survived\n",
               "%r %s" % (status, harness.short(body)))
        record("workers were replaced",
               harness.wait_until(lambda: not (set(svc.worker_pids()) & workers_before), 10),
               "old workers still there: %r" % (set(svc.worker_pids()) & workers_before))
        record("the master stayed", svc.master_pid() == master)

        # A bad config is refused; the service keeps the one in force.
        with open(svc.config, "w") as f:
            f.write('{"slots": "many"')
        os.kill(master, signal.SIGHUP)
        refused = harness.wait_until(lambda: "reload refused" in svc.log_text(200), 10)
        record("a bad config is refused with a log line", refused, svc.log_text(5))
        status, _, body = svc.post_run({"command": ["/bin/echo", "still"]})
        record("the service still answers with the old config",
               status == 200 and body.get("stdout") == "still\n" and default_cpu(svc) == before - 1,
               "%r %s" % (status, harness.short(body)))
        cfg["slots"] = cfg["slots"] + 1
        with open(svc.config, "w") as f:
            json.dump(cfg, f)
        os.kill(master, signal.SIGHUP)
        record("a change that needs a restart is refused",
               harness.wait_until(lambda: "change only with a restart" in svc.log_text(200), 10),
               svc.log_text(5))
        reloads_under_traffic(svc, master, cfg)
    except harness.HarnessError as e:
        record("service", False, str(e))
    finally:
        problems = svc.stop()
        record("clean stop", not problems, "; ".join(problems or []))
    n = len(results)
    failed = sum(1 for _, ok in results if not ok)
    print("%d%%: Checks: %d, Failures: %d, Errors: 0" % ((n - failed) * 100 // n, n, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
