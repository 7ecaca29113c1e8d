#!/usr/bin/python3
"""docs/openapi.yaml against real answers.

Sends a range of requests (every status of a single run, compile_error,
judge mode, collected files, jobs, every error the service produces) and checks
each answer against the schema that docs/openapi.yaml gives for its path,
method and HTTP status: required fields, types, enums, nullable, no
undocumented fields.  Also checks that every documented path answers.

Prints Check's summary line; exits 1 on any failure.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

results = []


def load_spec():
    path = os.path.join(harness.srcdir(), "docs", "openapi.yaml")
    text = "".join(l for l in open(path) if not l.startswith("#"))
    return json.loads(text)


SPEC = load_spec()


def resolve(schema):
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = SPEC["components"]["schemas"][name]
    return schema


def validate(value, schema, path="$"):
    """Problems of value against a (small) OpenAPI 3.0 schema."""
    s = resolve(schema)
    errs = []
    if value is None:
        return [] if s.get("nullable") else ["%s: null not allowed" % path]
    t = s.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return ["%s: %r is not an integer" % (path, value)]
        if "minimum" in s and value < s["minimum"]:
            errs.append("%s: %r < %r" % (path, value, s["minimum"]))
    elif t in types and not isinstance(value, types[t]):
        return ["%s: %r is not a %s" % (path, value, t)]
    if "enum" in s and value not in s["enum"]:
        errs.append("%s: %r not in %r" % (path, value, s["enum"]))
    if t == "object":
        props = s.get("properties", {})
        for r in s.get("required", []):
            if r not in value:
                errs.append("%s: missing %r" % (path, r))
        extra = s.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                errs += validate(v, props[k], "%s.%s" % (path, k))
            elif extra is False:
                errs.append("%s: undocumented field %r" % (path, k))
            elif isinstance(extra, dict):
                errs += validate(v, extra, "%s.%s" % (path, k))
    if t == "array":
        if len(value) < s.get("minItems", 0):
            errs.append("%s: fewer than %d items" % (path, s["minItems"]))
        for i, v in enumerate(value):
            errs += validate(v, s.get("items", {}), "%s[%d]" % (path, i))
    return errs


def spec_path(path):
    """The documented path that path is an instance of ({id} matches one
    segment), or ""."""
    path = path.split("?")[0]
    if path in SPEC["paths"]:
        return path
    for p in SPEC["paths"]:
        if "{" in p and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), path):
            return p
    return ""


def check_answer(name, svc, method, path, body=None, headers=None):
    status, hdrs, parsed, raw = svc.request_json(method, path, body, headers)
    op = SPEC["paths"].get(spec_path(path), {}).get(method.lower())
    if op is None and status == 404:
        op = {"responses": {"404": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}
    problems = []
    if op is None:
        problems.append("%s %s is not documented" % (method, path))
    else:
        resp = op["responses"].get(str(status))
        if resp is None:
            problems.append("HTTP %d is not documented for %s %s" % (status, method, path))
        elif "content" not in resp:
            # A documented answer without a body (204).
            if raw:
                problems.append("HTTP %d is documented without a body, got %r"
                                % (status, raw[:200]))
        else:
            content = resp.get("content", {})
            ctype = hdrs.get("content-type", "").split(";")[0]
            if ctype not in content:
                problems.append("content type %r not documented" % ctype)
            elif ctype == "application/x-ndjson":
                # Every line is one event; the last is the result, which
                # is a RunResponse.
                lines = raw.split(b"\n")
                if lines[-1] != b"" or len(lines) < 2:
                    problems.append("the stream does not end with a newline: %r" % raw[-200:])
                events = [json.loads(l) for l in lines[:-1]]
                for i, e in enumerate(events):
                    problems += validate(e, content[ctype]["schema"], "event[%d]" % i)
                last = dict(events[-1]) if events else {}
                if last.pop("event", None) != "result":
                    problems.append("the last event is not the result")
                else:
                    problems += validate(last, SPEC["components"]["schemas"]["RunResponse"],
                                         "result")
                    parsed = last
            elif ctype == "application/json":
                if parsed is None:
                    problems.append("body is not JSON: %r" % raw[:200])
                else:
                    problems += validate(parsed, content[ctype]["schema"])
    results.append((name, not problems, "; ".join(problems[:5])))
    print(("ok: %s (%d)" % (name, status)) if not problems else
          "FAIL: %s (%d): %s" % (name, status, "; ".join(problems[:5])), flush=True)
    return status, parsed


def main():
    svc = harness.Service()
    why = svc.missing()
    if why:
        print("test_openapi.py: skipped: %s" % why)
        return 77
    try:
        svc.start()
        run = "/api/v1/run"
        cases = [
            ("ok", {"language": "python3", "code": "print(1)"}),
            ("nonzero_exit", {"language": "sh", "code": "exit 3"}),
            ("signaled", {"language": "sh", "code": "kill -SEGV $$"}),
            ("cpu_time_exceeded", {"language": "sh", "code": "while :; do :; done",
                                   "limits": {"cpu_time_ms": 200}}),
            ("wall_time_exceeded", {"command": ["/bin/sleep", "5"],
                                    "limits": {"wall_time_ms": 200}}),
            ("memory_exceeded", {"language": "python3", "code": "x = bytearray(200 << 20)",
                                 "limits": {"memory_bytes": 64 << 20}}),
            ("output_exceeded", {"command": ["/usr/bin/yes"], "limits": {"output_bytes": 100}}),
            ("file_size_exceeded", {"language": "c", "code":
                                    "#include <stdio.h>\nint main(void){FILE*f=fopen(\"x\",\"w\");"
                                    "for(int i=0;i<1000000;i++)fputs(\"xxxxxxxx\",f);return 0;}",
                                    "limits": {"file_size_bytes": 4096}}),
            ("exec_failed", {"command": ["/nonexistent"]}),
            ("compile_error", {"language": "c", "code": "int main( {"}),
            ("judge mode", {"language": "python3", "code": "print(input())",
                            "tests": [{"stdin": "a", "expected_stdout": "a"},
                                      {"stdin": "b", "expected_stdout": "c"},
                                      {"stdin": "c"}], "stop_on_failure": True}),
            ("collect", {"command": ["/bin/sh", "-c", "echo hi > out.txt; ln -s /etc/passwd l"],
                         "collect": ["out.txt", "l", "missing"]}),
            ("base64", {"command": ["/bin/cat"], "stdin": "AP8=", "encoding": "base64"}),
            ("invalid_json", "{"),
            ("invalid_request", {"command": ["/bin/true"], "bogus": 1}),
            ("unknown_language", {"language": "cobol-74", "code": ""}),
        ]
        ndjson = {"Accept": "application/x-ndjson"}
        cases += [
            ("merge_output", {"command": ["/bin/sh", "-c", "echo a; echo b >&2"],
                              "merge_output": True}),
            ("streamed", {"command": ["/bin/sh", "-c", "echo a; echo b >&2"]}, ndjson),
            ("streamed judge mode", {"language": "c", "code": "int main(void){return 0;}",
                                     "tests": [{}, {}]}, ndjson),
        ]
        seen = set()
        for name, body, *hdrs in cases:
            status, parsed = check_answer("POST %s: %s" % (run, name), svc, "POST", run, body,
                                          hdrs[0] if hdrs else None)
            if isinstance(parsed, dict):
                seen.add(parsed.get("status") or parsed.get("error", {}).get("code"))
        for status_name in ("ok", "nonzero_exit", "signaled", "cpu_time_exceeded",
                            "wall_time_exceeded", "memory_exceeded", "output_exceeded",
                            "file_size_exceeded", "exec_failed", "compile_error"):
            ok = status_name in seen
            results.append(("status %s observed" % status_name, ok, "seen %r" % sorted(seen)))
            if not ok:
                print("FAIL: status %s was not produced (seen %r)" % (status_name, sorted(seen)))
        check_answer("GET /api/v1/run (405)", svc, "GET", run)
        # Every documented path answers a preflight; without an Origin it
        # is a plain OPTIONS: 204, Allow, no body.
        for p in sorted(SPEC["paths"]):
            if "options" not in SPEC["paths"][p]:
                results.append(("OPTIONS %s documented" % p, False, "no options operation"))
                continue
            concrete = p.replace("{id}", "h-0000")
            status, _ = check_answer("OPTIONS %s" % p, svc, "OPTIONS", concrete)
            if status != 204:
                results.append(("OPTIONS %s is 204" % p, False, "got %d" % status))
        check_answer("GET /api/v1/languages", svc, "GET", "/api/v1/languages")
        check_answer("GET /api/v1/health", svc, "GET", "/api/v1/health")
        check_answer("GET /metrics", svc, "GET", "/metrics")
        check_answer("GET /api/v1/nope (404)", svc, "GET", "/api/v1/nope")
        check_answer("POST /api/v1/health (405)", svc, "POST", "/api/v1/health", {})
        # Jobs: submit, wait, the result (a RunResponse), events, errors.
        jobs = "/api/v1/jobs"
        _, job = check_answer("POST %s" % jobs, svc, "POST", jobs,
                              {"language": "python3", "code": "print(1)"})
        check_answer("POST %s: batch" % jobs, svc, "POST", jobs,
                     {"batch": [{"command": ["/bin/true"]}, {"command": ["/bin/false"]}]})
        check_answer("POST %s: invalid_request" % jobs, svc, "POST", jobs, {"batch": []})
        check_answer("GET %s (405)" % jobs, svc, "GET", jobs)
        jid = job["id"] if isinstance(job, dict) and "id" in job else "x"
        _, done = check_answer("GET %s/{id}?wait=30" % jobs, svc, "GET",
                               "%s/%s?wait=30" % (jobs, jid))
        result = done.get("result") if isinstance(done, dict) else None
        problems = (validate(result, SPEC["components"]["schemas"]["RunResponse"], "result")
                    if result is not None else ["no result: %r" % (done,)])
        results.append(("a job's result is a RunResponse", not problems, "; ".join(problems)))
        check_answer("GET %s/{id}/events" % jobs, svc, "GET", "%s/%s/events" % (jobs, jid))
        check_answer("DELETE %s/{id} (409)" % jobs, svc, "DELETE", "%s/%s" % (jobs, jid))
        check_answer("GET %s/{id} (400)" % jobs, svc, "GET", jobs + "/nope")
        check_answer("GET %s/{id} (404)" % jobs, svc, "GET", "%s/%s" % (jobs, jid[:-4] + "0000"))
        with open(svc.config) as f:
            max_body = json.load(f)["max_body_bytes"]
        status, _, _ = svc.request("POST", run, b"{" + b" " * (max_body + 1) + b"}")
        results.append(("413 answer", status == 413, "got %d" % status))
    except harness.HarnessError as e:
        results.append(("service", False, str(e)))
        print("FAIL: service: %s" % e)
    finally:
        problems = svc.stop()
        results.append(("clean stop", not problems, "; ".join(problems or [])))
    n = len(results)
    failed = sum(1 for _, ok, _ in results if not ok)
    print("%d%%: Checks: %d, Failures: %d, Errors: 0" % ((n - failed) * 100 // n, n, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
