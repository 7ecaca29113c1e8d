#!/usr/bin/python3
"""Scale-out throughput: one execution host against two, each pinned to its
own core with taskset, behind the front nginx (conf/nginx-front.conf.in).

Builds the same private network as tests/cluster/test_cluster.py (its own
namespaces; nothing outside them is addressed), runs wrk inside the front's
namespace, and prints requests/s and latency for /bin/true and python3
`pass`, with 1 host and with 2.  Not a test: numbers depend on the machine.

  bench/cluster.py [SECONDS]     (run by hand, as root, from the build tree:
                                  top_srcdir=... top_builddir=... bench/cluster.py)
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "cluster"))
import test_cluster as tc  # noqa: E402

LUA = """
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(body, seconds, conns):
    env = dict(os.environ, BODY=json.dumps(body))
    out = subprocess.run(
        ["nsenter", "--net=/run/netns/" + tc.FRONT_NS, "wrk", "-t", "2", "-c", str(conns),
         "-d", "%ds" % seconds, "--latency", "-s", LUA_PATH,
         "http://127.0.0.1:%d/api/v1/run" % tc.FRONT_PORT],
        env=env, capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (float(rps.group(1)) if rps else 0.0, p50.group(1) if p50 else "?",
            p99.group(1) if p99 else "?", int(non2xx.group(1)) if non2xx else 0)


def start_front(top, hosts):
    servers = "\n".join("        server 10.213.%d.2:%d max_fails=2 fail_timeout=5s;"
                        % (h.k, tc.HOST_PORT) for h in hosts)
    conf = "user root;\n" + tc.render_front(hosts[0].config, top).replace("@SERVERS@",
                                                                         servers)
    path = os.path.join(top, "front-%d.conf" % len(hosts))
    open(path, "w").write(conf)
    p = subprocess.Popen(["nsenter", "--net=/run/netns/" + tc.FRONT_NS, tc.NGINX, "-c", path,
                          "-p", top, "-e", os.path.join(top, "front-error.log")],
                         start_new_session=True,
                         env={k: v for k, v in os.environ.items() if k != "NGINX"})
    time.sleep(0.5)
    return p


def main():
    global LUA_PATH
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    top = tempfile_dir()
    LUA_PATH = os.path.join(top, "post.lua")
    open(LUA_PATH, "w").write(LUA)
    hosts = [tc.Host(k, top) for k in (1, 2)]
    rows = []
    try:
        tc.build_network()
        for core, h in enumerate(hosts):
            h.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(h.ready() for h in hosts):
            time.sleep(0.1)
        # Pin each host (runboxd, its workers, its nginx) to its own core.
        for core, h in enumerate(hosts):
            for pid in h.pids():
                subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for n in (1, 2):
            front = start_front(top, hosts[:n])
            for name, body in (("/bin/true", {"command": ["/bin/true"]}),
                               ("python3 pass", {"language": "python3", "code": "pass"})):
                wrk(body, 1, 8)  # warm-up
                rps, p50, p99, bad = wrk(body, seconds, 8)
                rows.append((n, name, rps, p50, p99, bad))
            front.terminate()
            front.wait()
    finally:
        for h in hosts:
            h.stop()
        tc.remove_network()
        subprocess.run(["rm", "-rf", top])
    print("scale-out on this machine (%d cores), 8 connections, %d s each" %
          (os.cpu_count(), seconds))
    print("%-6s %-14s %10s %8s %8s %8s" % ("hosts", "program", "req/s", "p50", "p99", "non-2xx"))
    for r in rows:
        print("%-6d %-14s %10.0f %8s %8s %8d" % r)


def tempfile_dir():
    import tempfile
    d = tempfile.mkdtemp(prefix="rbx-bench-cluster.")
    os.chmod(d, 0o755)
    return d


if __name__ == "__main__":
    main()
