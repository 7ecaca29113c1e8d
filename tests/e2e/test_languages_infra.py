#!/usr/bin/python3
"""
test_languages_infra.py - what languages.json entries may ask of the
service, end to end through nginx (docs/API.md: "Languages", "compile
options", "Files"; README: the keys of conf/languages.json).

The service runs with a languages file of this suite's own (written here,
not shipped): python3 as shipped; "memsh", an sh whose env and argv use the
limit placeholders, with its own default and minimum limits; "cc", gcc with
a compile_options allow-list and a placeholder in its compile argv (sized
from compile_limits); "ghost", whose toolchain is not installed; "broken",
whose version command fails.  Checked: the missing languages are not listed
by GET /api/v1/languages, are listed with their reasons in /health and are
refused by name; the placeholders reach the program from each step's
limits; min_limits; compile_options accepted and refused by name; a Python
package in folders (run and judge mode); folders in collect, and a link
planted in place of a folder is not followed; SIGHUP probes again (a
language installed since is served).

Prints Check's lines; exits 0, 1 on failure, 77 when the service cannot run
here.  Names of checks given as arguments run only those.
"""

import json
import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import short, check, eq  # noqa: E402

MiB = 1 << 20
GHOST = "/usr/bin/runbox-test-no-such-toolchain"

svc = None
TMP = None        # this suite's directory (languages file, a fake toolchain)
LANGS_FILE = None
TOOLDIRS = []     # made by a check, removed at the end
CHECKS = []


def check_fn(fn):
    CHECKS.append(fn)
    return fn


def shipped_language(lid):
    with open(os.path.join(harness.srcdir(), "conf", "languages.json")) as f:
        return next(l for l in json.load(f)["languages"] if l["id"] == lid)


def languages(ghost_run=GHOST):
    """The suite's languages file (ghost_run: the ghost's program)."""
    return {"languages": [
        shipped_language("python3"),
        {"id": "memsh", "name": "sh with limits", "source_file": "main.sh",
         "run": ["/bin/sh", "{file}", "mem={memory_mb}", "{args}"],
         "env": {"MEM": "{memory_mb}", "MEMB": "{memory_bytes}", "PROCS": "{processes}",
                 "STACK": "{stack_kb}", "BRACE": "{{memory_mb}"},
         "limits": {"memory_bytes": 128 * MiB, "processes": 24},
         "min_limits": {"memory_bytes": 64 * MiB},
         # The probe gets the placeholders and env of a run at the defaults.
         "version_command": ["/bin/sh", "-c", "echo 0.{processes}.$MEM"]},
        {"id": "cc", "name": "C with options", "source_file": "main.c",
         "compile": ["/usr/bin/gcc", "{compile_options}", "-DCOMPILE_MB={memory_mb}",
                     "-o", "main", "{file}"],
         "compile_limits": {"memory_bytes": 512 * MiB, "cpu_time_ms": 10000,
                            "wall_time_ms": 20000, "processes": 16},
         "compile_options": ["^-O[0-3]$", "^-std=[a-z0-9+]+$", "^-Wall$",
                             "^-D[A-Za-z_][A-Za-z0-9_]*(=[^ ]*)?$", "^-lm$"],
         "run": ["./main", "{args}"],
         "version_command": ["/usr/bin/gcc", "-dumpfullversion"]},
        {"id": "ghost", "name": "Not installed", "source_file": "main.g",
         "run": [ghost_run, "{file}"],
         "version_command": [ghost_run, "--version"],
         "debian_packages": ["runbox-ghost", "runbox-ghost-libs"]},
        {"id": "broken", "name": "Version fails", "source_file": "main.b",
         "run": ["/bin/sh", "{file}"],
         "version_command": ["/bin/sh", "-c", "echo no luck >&2; exit 3"]},
    ]}


def write_languages(doc):
    with open(LANGS_FILE + ".new", "w") as f:
        json.dump(doc, f, indent=1)
    os.rename(LANGS_FILE + ".new", LANGS_FILE)


def run(req, status=200):
    st, _, body = svc.post_run(req)
    eq(st, status, "HTTP status of %s (body %s)" % (short(json.dumps(req), 200),
                                                    short(json.dumps(body), 300)))
    return body


def expect_error(req, code, *words):
    body = run(req, 400)
    err = body.get("error", {})
    eq(err.get("code"), code, "error code")
    for w in words:
        check(w in err.get("message", ""), "message %r lacks %r" % (err.get("message"), w))
    return err["message"]


# ---- presence --------------------------------------------------------------

@check_fn
def missing_languages_in_health_not_served():
    st, _, langs = svc.get_json("/api/v1/languages")
    eq(st, 200, "GET /api/v1/languages")
    ids = [l["id"] for l in langs]
    eq(sorted(ids), ["cc", "memsh", "python3"], "languages served")
    memsh = next(l for l in langs if l["id"] == "memsh")
    eq(memsh["version"], "0.24.128", "memsh's version (its probe's placeholders and env)")
    eq(memsh["min_limits"], {"memory_bytes": 64 * MiB}, "memsh's min_limits")
    eq(memsh["limits"]["memory_bytes"], 128 * MiB, "memsh's default memory")
    cc = next(l for l in langs if l["id"] == "cc")
    eq(cc["compile_options"][0], "^-O[0-3]$", "cc's first option pattern")
    st, _, health = svc.get_json("/api/v1/health")
    eq(st, 200, "GET /api/v1/health")
    missing = {m["id"]: m["reason"] for m in health["languages_missing"]}
    eq(sorted(missing), ["broken", "ghost"], "languages_missing ids")
    eq(missing["ghost"], "%s: not installed (Debian packages runbox-ghost, "
       "runbox-ghost-libs)" % GHOST, "ghost's reason")
    check(missing["broken"].startswith("version command /bin/sh:") and
          "3" in missing["broken"], "broken's reason: %r" % missing["broken"])
    msg = expect_error({"language": "ghost", "code": "x"}, "unknown_language",
                       'language "ghost" is not installed here', GHOST,
                       "runbox-ghost")
    expect_error({"language": "broken", "code": "x"}, "unknown_language",
                 'language "broken" is not installed here')
    expect_error({"language": "cobol2", "code": "x"}, "unknown_language",
                 'language "cobol2" is not offered here')
    return "ghost and broken missing; %s" % short(msg, 120)


# ---- placeholders and limits ----------------------------------------------

@check_fn
def placeholders_reach_the_program():
    code = 'echo "$MEM $1 $MEMB $PROCS $STACK $BRACE ${2:-}"\n'
    body = run({"language": "memsh", "code": code, "args": ["x"]})
    eq(body["status"], "ok", "status")
    # The language's own defaults: 128 MiB, 24 processes; the server's stack.
    st, _, health = svc.get_json("/api/v1/health")
    stack_kb = health["limits"]["default"]["stack_bytes"] // 1024
    eq(body["stdout"], "128 mem=128 %d 24 %d {memory_mb} x\n" % (128 * MiB, stack_kb),
       "expanded from the language's default limits")
    body = run({"language": "memsh", "code": code,
                "limits": {"memory_bytes": 200 * MiB + 12345, "processes": 5}})
    eq(body["stdout"], "200 mem=200 %d 5 %d {memory_mb} \n" % (200 * MiB + 12345, stack_kb),
       "expanded from the request's limits")
    # Judge mode: every test's run gets them too.
    body = run({"language": "memsh", "code": code, "limits": {"memory_bytes": 96 * MiB},
                "tests": [{"expected_stdout": "96 mem=96 %d 24 %d {memory_mb} \n"
                           % (96 * MiB, stack_kb)}] * 2})
    eq([t["verdict"] for t in body["tests"]], ["accepted"] * 2, "judge mode")
    return "MEM, argv and judge tests see the step's limits"


@check_fn
def min_limits_refused_by_name():
    msg = expect_error({"language": "memsh", "code": "true",
                        "limits": {"memory_bytes": 32 * MiB}},
                       "invalid_request", "limits.memory_bytes: memsh needs at least %d"
                       % (64 * MiB))
    expect_error({"language": "memsh", "code": "true", "limits": {"memory_bytes": 32 * MiB},
                  "tests": [{"stdin": ""}]},
                 "invalid_request", "limits.memory_bytes: memsh needs at least")
    # At the minimum: runs.  Another language has no such minimum.
    eq(run({"language": "memsh", "code": "true",
            "limits": {"memory_bytes": 64 * MiB}})["status"], "ok", "at the minimum")
    eq(run({"language": "python3", "code": "pass",
            "limits": {"memory_bytes": 32 * MiB}})["status"], "ok", "python3 at 32 MiB")
    return msg


@check_fn
def compile_options_allowed_and_refused():
    code = ("#include <stdio.h>\nint main(void){printf(\"%d %d %d\\n\", GREETING, "
            "COMPILE_MB, __OPTIMIZE__ + 0);return 0;}\n")
    body = run({"language": "cc", "code": code, "compile_options": ["-O2", "-DGREETING=7"]})
    eq(body["status"], "ok", "status (compile: %s)" % short(json.dumps(body.get("compile")), 300))
    # COMPILE_MB comes from compile_limits (512 MiB), not the run's.
    eq(body["stdout"], "7 512 1\n", "the options and {memory_mb} reached gcc")
    # -O0: __OPTIMIZE__ is not defined, so the program does not build.
    body = run({"language": "cc", "code": code, "compile_options": ["-O0", "-DGREETING=1"]})
    eq(body["status"], "compile_error", "-O0 reached gcc (__OPTIMIZE__ undefined)")
    check("__OPTIMIZE__" in body["compile"]["stderr"], "gcc's message: %s"
          % short(body["compile"]["stderr"], 200))
    msg = expect_error({"language": "cc", "code": code,
                        "compile_options": ["-O0", "-fplugin=x"]},
                       "invalid_request", "compile_options[1]", "-fplugin=x")
    expect_error({"language": "cc", "code": code, "compile_options": ["-DX=1 -o/etc/x"]},
                 "invalid_request", "compile_options[0]")
    expect_error({"language": "python3", "code": "pass", "compile_options": ["-O2"]},
                 "invalid_request", "compile_options[0]", "python3 takes no compile options")
    return msg


# ---- folders ---------------------------------------------------------------

PKG = {"pkg/__init__.py": "",
       "pkg/util.py": "def answer():\n    return 42\n",
       "pkg/data/words.txt": "alpha beta\n"}
MAIN = ("import os\nfrom pkg.util import answer\n"
        "os.makedirs('out/deep', exist_ok=True)\n"
        "open('out/deep/r.txt', 'w').write('r%d' % answer())\n"
        "print(answer(), open('pkg/data/words.txt').read().split()[1])\n")


@check_fn
def python_package_in_folders():
    body = run({"language": "python3", "code": MAIN, "files": PKG,
                "collect": ["out/deep/r.txt", "pkg/util.py"]})
    eq((body["status"], body["stdout"]), ("ok", "42 beta\n"),
       "status and stdout (stderr %s)" % short(body.get("stderr"), 300))
    files = body["files"]
    eq(files["out/deep/r.txt"].get("content"), "r42", "collected out/deep/r.txt")
    eq(files["pkg/util.py"].get("content"), PKG["pkg/util.py"], "collected pkg/util.py")
    # Judge mode: each test gets its own copy, folders included.
    body = run({"language": "python3", "code": MAIN, "files": PKG,
                "tests": [{"expected_stdout": "42 beta\n"}] * 2})
    eq([t["verdict"] for t in body["tests"]], ["accepted"] * 2,
       "judge mode (%s)" % short(json.dumps(body["tests"]), 300))
    expect_error({"language": "python3", "code": "", "files": {"../x.py": ""}},
                 "invalid_request", 'file name \\"../x.py\\"'.replace("\\", ""), "..")
    expect_error({"language": "python3", "code": "", "files": {"/etc/x": ""}},
                 "invalid_request", "must be relative")
    expect_error({"language": "python3", "code": "", "files": {"a//b": ""}},
                 "invalid_request", "empty part")
    expect_error({"language": "python3", "code": "", "files": {"a/./b": ""}},
                 "invalid_request", '"." part')
    expect_error({"language": "python3", "code": "", "files": {"/".join("abcdefghij"): ""}},
                 "invalid_request", "more than 8 folders")
    return "import pkg.util, collect out/deep/r.txt, 2 judge tests"


@check_fn
def link_in_place_of_a_folder_not_followed():
    # The program replaces its folder "out" by a link to /etc and "pkg" by
    # a link to a directory of root's: collecting through them is refused.
    code = ("import os, shutil\nshutil.rmtree('pkg')\nos.symlink('/etc', 'out')\n"
            "os.symlink('/root', 'pkg')\nprint('planted')\n")
    body = run({"language": "python3", "code": code, "files": PKG,
                "collect": ["out/passwd", "pkg/util.py", "out/hostname"]})
    eq(body["stdout"], "planted\n", "the program ran (stderr %s)" % short(body.get("stderr")))
    eq(sorted(body["files"]), ["out/hostname", "out/passwd", "pkg/util.py"], "collected names")
    for name, f in body["files"].items():
        check("content" not in f, "%s was read through a link: %s"
              % (name, short(json.dumps(f), 200)))
        check("not a folder" in (f.get("error") or ""), "%s: error %r" % (name, f.get("error")))
    return body["files"]["out/passwd"]["error"]


# ---- reload ----------------------------------------------------------------

@check_fn
def sighup_probes_again():
    # The ghost's toolchain appears (a copy of dash under a new name), in a
    # directory shown to ghost's runs: not under /tmp (each run has its own
    # /tmp over it), so not in a build tree that is (a checkout made with
    # mktemp -d), and one the slot uids can reach (not under /root).
    tooldir = tempfile.mkdtemp(prefix="runbox-e2e-langs-tool.", dir="/var/tmp")
    TOOLDIRS.append(tooldir)
    os.chmod(tooldir, 0o755)
    tool = os.path.join(tooldir, "ghostc")
    shutil.copy("/bin/dash", tool)
    os.chmod(tool, 0o755)
    doc = languages(ghost_run=tool)
    ghost = next(l for l in doc["languages"] if l["id"] == "ghost")
    ghost["version_command"] = [tool, "-c", "echo 9.8.7"]
    ghost["paths"] = [tooldir]
    write_languages(doc)
    before = set(svc.worker_pids())
    os.kill(svc.master_pid(), signal.SIGHUP)

    def served():
        st, _, langs = svc.get_json("/api/v1/languages")
        return st == 200 and "ghost" in [l["id"] for l in langs]
    check(harness.wait_until(served, 30, 0.2),
          "ghost not served after SIGHUP; log:\n%s" % svc.log_text(20))
    st, _, health = svc.get_json("/api/v1/health")
    eq([m["id"] for m in health["languages_missing"]], ["broken"], "still missing")
    body = run({"language": "ghost", "code": "echo ghost here\n"})
    eq((body["status"], body["stdout"]), ("ok", "ghost here\n"), "a ghost run")
    check(set(svc.worker_pids()) != before, "the workers were replaced")
    return "ghost served after SIGHUP"


def stop_leaves_nothing():
    problems = svc.stop()
    check(not problems, "stopping the service:\n    %s" % "\n    ".join(problems))
    return "stopped cleanly"


def main():
    global svc, TMP, LANGS_FILE
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    TMP = tempfile.mkdtemp(prefix="runbox-e2e-langs.")
    os.chmod(TMP, 0o755)
    LANGS_FILE = os.path.join(TMP, "languages.json")
    try:
        write_languages(languages())
        svc = harness.Service(overrides={"languages_file": LANGS_FILE})
        why = svc.missing()
        if why:
            print("test_languages_infra.py: skipped: %s" % why)
            return 77
        return harness.run_checks("languages_infra", __file__, svc, CHECKS,
                                  stop_leaves_nothing)
    finally:
        for d in [TMP] + TOOLDIRS:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
