#!/usr/bin/python3
"""The cost of each isolation layer end to end: four runboxd + nginx pairs
side by side — everything on, without cgroups, without namespaces, without
either — and POST {"command":["/bin/true"]} sent to them in turn, round after
round, over keep-alive connections.  Prints the median and p90 latency of
each.  Not a test: numbers depend on the machine.

  top_srcdir=... top_builddir=... bench/isolation_http.py [ROUNDS]
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("top_srcdir", ".")
BUILD = os.environ.get("top_builddir", ".")
VARIANTS = [("all isolation (runboxd default)", {}),
            ("without cgroups", {"cgroups": False}),
            ("without namespaces", {"namespaces": False}),
            ("without cgroups and namespaces", {"cgroups": False, "namespaces": False})]


def start(i, sandbox, top):
    d = os.path.join(top, "v%d" % i)
    os.makedirs(d)
    cfg = json.load(open(os.path.join(SRC, "conf", "runboxd.json")))
    cfg["languages_file"] = os.path.join(SRC, "conf", "languages.json")
    cfg["sandbox"].update(sandbox)
    cfg["sandbox"]["uid_base"] = cfg["sandbox"]["gid_base"] = 63000 + 100 * i
    cfg["http"] = {"rate_per_second": 1000000, "rate_burst": 1000000,
                   "connections_per_client": 60000}
    path = os.path.join(d, "runboxd.json")
    json.dump(cfg, open(path, "w"))
    port = 18700 + i
    log = open(os.path.join(d, "log"), "w")
    env = {k: v for k, v in os.environ.items() if k != "NGINX"}
    p = subprocess.Popen(["sh", os.path.join(SRC, "conf", "run.sh"), "--builddir", BUILD,
                          "--srcdir", SRC, "--port", str(port), "--config", path],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    return p, port, os.path.join(d, "log")


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    top = tempfile.mkdtemp(prefix="rbx-iso-bench.")
    os.chmod(top, 0o755)
    procs = []
    try:
        for i, (_, sandbox) in enumerate(VARIANTS):
            procs.append(start(i, sandbox, top))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
                "runbox: serving" in open(log).read() for _, _, log in procs):
            time.sleep(0.1)
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                 for _, port, _ in procs]
        body = json.dumps({"command": ["/bin/true"]})
        times = [[] for _ in procs]
        for r in range(rounds + 20):
            for i, c in enumerate(conns):
                t0 = time.monotonic()
                c.request("POST", "/api/v1/run", body=body,
                          headers={"Content-Type": "application/json"})
                resp = c.getresponse()
                data = resp.read()
                dt = (time.monotonic() - t0) * 1000
                if resp.status != 200 or json.loads(data)["status"] != "ok":
                    raise SystemExit("variant %d: %d %r" % (i, resp.status, data[:200]))
                if r >= 20:
                    times[i].append(dt)
        print("POST {\"command\":[\"/bin/true\"]} through nginx, %d rounds, the four "
              "services in turn (this machine, %d cores)" % (rounds, os.cpu_count()))
        print("%-36s %9s %9s" % ("", "p50 ms", "p90 ms"))
        for (name, _), t in zip(VARIANTS, times):
            t.sort()
            print("%-36s %9.2f %9.2f" % (name, t[len(t) // 2], t[len(t) * 9 // 10]))
    finally:
        for p, _, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _, _ in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
