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
