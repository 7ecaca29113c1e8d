"""HTTP for the runbox client: urllib, JSON, retries that keep a run
exactly-once (only answers that prove nothing ran are retried)."""

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from ._types import Event, Job, Language, Result

# Answers that say the program did not run: safe to send again.
RETRYABLE = {429, 503}


class RunboxError(Exception):
    """An error answer of the API, or no answer at all.

    code: the API's error code ("invalid_request", "busy", ...), or
    "unreachable" when no HTTP answer came; status: the HTTP status (0
    when unreachable); message: the API's sentence; request_id: the
    X-Request-Id of the answer; retry_after: seconds, when given."""

    def __init__(self, code, message, status=0, request_id=None, retry_after=None):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after


def _b64(value):
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("ascii")


_FIELDS = ("language", "code", "command", "args", "stdin", "files", "env", "limits",
           "tests", "compare", "stop_on_failure", "collect", "encoding", "merge_output",
           "compile_options")


def _request(given):
    """The JSON body of a run request from run()'s or stream()'s arguments,
    and whether it goes in base64 mode."""
    unknown = set(given) - set(_FIELDS) - {"self"}
    if unknown:
        raise TypeError("unknown argument(s): %s" % ", ".join(sorted(unknown)))
    g = {k: given.get(k) for k in _FIELDS}
    texts = [g["code"], g["stdin"]] + list((g["files"] or {}).values())
    for t in g["tests"] or []:
        texts += [t.get("stdin"), t.get("expected_stdout")]
    b64 = g["encoding"] == "base64" or any(isinstance(v, (bytes, bytearray)) for v in texts)
    enc = _b64 if b64 else (lambda v: v)
    body = {}
    for k in ("language", "compare", "collect"):
        if g[k] is not None:
            body[k] = list(g[k]) if k == "collect" else g[k]
    if g["code"] is not None:
        body["code"] = enc(g["code"])
    if g["command"] is not None:
        body["command"] = list(g["command"])
    if g["args"] is not None:
        body["args"] = list(g["args"])
    if g["compile_options"] is not None:
        body["compile_options"] = list(g["compile_options"])
    if g["stdin"] is not None:
        body["stdin"] = enc(g["stdin"])
    if g["files"] is not None:
        body["files"] = {name: enc(data) for name, data in g["files"].items()}
    if g["env"] is not None:
        body["env"] = dict(g["env"])
    if g["limits"] is not None:
        lim = g["limits"]
        body["limits"] = lim.to_json() if hasattr(lim, "to_json") else dict(lim)
    if g["tests"] is not None:
        body["tests"] = [{k: enc(v) if k in ("stdin", "expected_stdout") else v
                          for k, v in t.items()} for t in g["tests"]]
    for k in ("stop_on_failure", "merge_output"):
        if g[k] is not None:
            body[k] = bool(g[k])
    if b64:
        body["encoding"] = "base64"
    return body, b64


class Runbox:
    """A runbox server.

    url: where nginx serves runbox (e.g. "http://127.0.0.1:8080");
    token: a bearer token when the server has tokens; timeout: seconds
    per HTTP request; retries: how many times a 503 (busy) or 429 (rate
    limited) answer is retried after waiting its Retry-After (at most
    max_wait seconds each)."""

    def __init__(self, url, token=None, timeout=120.0, retries=3, max_wait=30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self._b64 = {}  # job id -> whether it was submitted in base64 mode

    # -- endpoints -----------------------------------------------------------

    def run(self, language=None, code=None, command=None, args=None, stdin=None,
            files=None, env=None, limits=None, tests=None, compare=None,
            stop_on_failure=None, collect=None, encoding=None, merge_output=None,
            compile_options=None):
        """POST /api/v1/run.  Give language and code, or command (argv).
        compile_options: options for the compiler, from the language's
        allow-list (Language.compile_options).

        Text (str) goes as UTF-8.  If code, stdin, a file or a test's
        stdin/expected_stdout is bytes, or encoding="base64", the request
        is sent in base64 mode and every output comes back as bytes.
        tests: a list of {"stdin": ..., "expected_stdout": ..., "args": [...]}.
        limits: a dict (or runbox.Limits) of the API's limit names."""
        body, b64 = _request(locals())
        return Result.from_json(self._call("POST", "/api/v1/run", body), b64)

    def stream(self, **request):
        """The same request as run(), answered live: yields Event objects
        as the server sends them (kind "compile", "stdout", "stderr",
        "test", "error"), and last an Event of kind "result" whose
        .result is the Result run() would have returned.  Closing the
        generator early hangs up, which cancels the run on the server."""
        body, b64 = _request(request)
        resp = self._open("POST", "/api/v1/run", body, accept="application/x-ndjson")
        with resp:
            for line in resp:
                if not line.strip():
                    continue
                yield Event.from_json(json.loads(line.decode("utf-8")), b64)

    def submit(self, callback_url=None, **request):
        """POST /api/v1/jobs: the same request as run(), queued; returns
        the Job (state "queued") at once.  callback_url (with a token):
        where the server POSTs the finished job, signed (docs/API.md)."""
        body, b64 = _request(request)
        if callback_url is not None:
            body["callback_url"] = callback_url
        job = Job.from_json(self._call("POST", "/api/v1/jobs", body), b64)
        self._b64[job.id] = b64
        return job

    def submit_batch(self, requests):
        """POST /api/v1/jobs with {"batch": [...]}: requests is a list of
        dicts of run()'s arguments (and callback_url); all are queued or
        none; returns the Jobs in the same order."""
        bodies, modes = [], []
        for r in requests:
            r = dict(r)
            cb = r.pop("callback_url", None)
            body, b64 = _request(r)
            if cb is not None:
                body["callback_url"] = cb
            bodies.append(body)
            modes.append(b64)
        answer = self._call("POST", "/api/v1/jobs", {"batch": bodies})
        jobs = [Job.from_json(o, m) for o, m in zip(answer["jobs"], modes)]
        for j, m in zip(jobs, modes):
            self._b64[j.id] = m
        return jobs

    def job(self, job_id, wait=None):
        """GET /api/v1/jobs/{id}: the Job now, or (wait=S) as soon as it
        finishes or S seconds pass (S at most the server's jobs.max_wait_s)."""
        path = "/api/v1/jobs/%s" % urllib.parse.quote(str(job_id), safe="")
        if wait is not None:
            path += "?wait=%d" % int(wait)
        return Job.from_json(self._call("GET", path), self._b64.get(job_id, False))

    def wait(self, job_id, timeout=None, step=30):
        """The Job once it has finished: held requests of at most step
        seconds each, until timeout seconds (None: no limit) have passed,
        then the Job as it is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = step if deadline is None else max(0, min(step, deadline - time.monotonic()))
            job = self.job(job_id, wait=int(left))
            if job.finished or (deadline is not None and time.monotonic() >= deadline):
                return job

    def cancel(self, job_id):
        """DELETE /api/v1/jobs/{id}: the Job, cancelled (a running one is
        killed).  RunboxError "job_finished" when it had already ended."""
        path = "/api/v1/jobs/%s" % urllib.parse.quote(str(job_id), safe="")
        return Job.from_json(self._call("DELETE", path), self._b64.get(job_id, False))

    def languages(self):
        """GET /api/v1/languages: the languages this server offers."""
        return [Language.from_json(o) for o in self._call("GET", "/api/v1/languages")]

    def health(self):
        """GET /api/v1/health, as a dict."""
        return self._call("GET", "/api/v1/health")

    # -- HTTP ----------------------------------------------------------------

    def _call(self, method, path, body=None):
        with self._open(method, path, body) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def _open(self, method, path, body=None, accept="application/json"):
        """The HTTP answer (a file-like object) of a 2xx; RunboxError
        otherwise, after retrying what proves nothing ran."""
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Accept": accept}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        attempt = 0
        while True:
            req = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
            try:
                return urllib.request.urlopen(req, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                err = self._error(e)
                if e.code in RETRYABLE and attempt < self.retries:
                    attempt += 1
                    time.sleep(min(err.retry_after or 1, self.max_wait))
                    continue
                raise err from None
            except (urllib.error.URLError, OSError) as e:
                # The request may or may not have reached the server: a
                # run is never sent twice on a guess.
                raise RunboxError("unreachable", str(getattr(e, "reason", e))) from None

    @staticmethod
    def _error(e):
        raw = e.read()
        try:
            obj = json.loads(raw.decode("utf-8"))["error"]
            code, message = obj["code"], obj["message"]
        except (ValueError, KeyError, TypeError):
            code, message = "http_%d" % e.code, raw.decode("utf-8", "replace")[:200]
        retry = e.headers.get("Retry-After")
        try:
            retry = float(retry) if retry is not None else None
        except ValueError:
            retry = None
        return RunboxError(code, message, e.code, e.headers.get("X-Request-Id"), retry)
