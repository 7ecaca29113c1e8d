#!/usr/bin/python3
"""
bench/jobs.py - throughput of queued jobs against synchronous runs.

The same N bodies (default 1000 `python3 pass`) go through the service
twice, through nginx:
  sync  N POST /api/v1/run from C concurrent clients (C = jobs.runners,
        the parallelism jobs get), each waiting for its answer;
  jobs  N jobs submitted in batches of jobs.max_batch (20), then collected:
        the clock stops when the last one has finished.
Both on one service (slots 16, jobs.runners C), one after the other.

    top_builddir=BUILD top_srcdir=SRC flock /tmp/runbox-tests.lock \\
        /usr/bin/python3 bench/jobs.py [N] [C]

Prints one line per mode (runs/s, and the jobs' submit time), and the ratio.
"""

import concurrent.futures
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "e2e"))
import harness  # noqa: E402

BODY = {"language": "python3", "code": "pass"}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    c = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    svc = harness.Service(overrides={"jobs": {"runners": c, "max_queued_per_token": n,
                                              "max_queued": max(n, 10000)},
                                     "http": {"rate_per_second": 100000,
                                              "rate_burst": 100000}})
    why = svc.missing()
    if why:
        print("bench/jobs.py: skipped: %s" % why)
        return 77
    svc.start()
    try:
        # Warm up: the first runs pay for caches.
        for _ in range(10):
            svc.post_run(BODY)

        def one(_):
            status, _, parsed = svc.post_run(BODY)
            return status == 200 and parsed.get("status") == "ok"

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(c) as pool:
            ok = sum(pool.map(one, range(n)))
        sync_s = time.monotonic() - t0

        t0 = time.monotonic()
        ids = []
        for i in range(0, n, 20):
            status, _, parsed, raw = svc.request_json(
                "POST", "/api/v1/jobs", json.dumps({"batch": [BODY] * min(20, n - i)}))
            if status != 202:
                raise SystemExit("submit: %d %r" % (status, raw[:200]))
            ids += [j["id"] for j in parsed["jobs"]]
        submit_s = time.monotonic() - t0
        done_ok = 0
        for jid in ids:
            while True:
                status, _, job, _ = svc.request_json("GET", "/api/v1/jobs/%s?wait=30" % jid)
                if job["state"] not in ("queued", "running"):
                    break
            done_ok += job["state"] == "done" and job["result"]["status"] == "ok"
        jobs_s = time.monotonic() - t0
    finally:
        svc.stop()
    print("sync: %d runs (%d ok) from %d clients in %.1f s: %.1f runs/s"
          % (n, ok, c, sync_s, n / sync_s))
    print("jobs: %d jobs (%d ok) on %d runners in %.1f s: %.1f jobs/s "
          "(submitted in %.2f s, %.0f jobs/s)"
          % (n, done_ok, c, jobs_s, n / jobs_s, submit_s, n / submit_s))
    print("jobs/sync throughput: %.2f" % (sync_s / jobs_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
