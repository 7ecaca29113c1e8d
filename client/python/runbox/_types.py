"""The typed answers of the API.  Field names are the API's own; a field
the server adds later is kept in `raw` (the whole answer as parsed)."""

import base64
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional, Union

Bytes = Union[str, bytes]


def _known(cls, obj):
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in obj.items() if k in names}


@dataclass
class Usage:
    cpu_time_ms: int = 0
    user_time_ms: int = 0
    system_time_ms: int = 0
    wall_time_ms: int = 0
    max_rss_bytes: int = 0
    disk_bytes: int = 0

    @classmethod
    def from_json(cls, obj):
        return cls(**_known(cls, obj or {}))


@dataclass
class Limits:
    cpu_time_ms: Optional[int] = None
    wall_time_ms: Optional[int] = None
    memory_bytes: Optional[int] = None
    stack_bytes: Optional[int] = None
    processes: Optional[int] = None
    open_files: Optional[int] = None
    file_size_bytes: Optional[int] = None
    output_bytes: Optional[int] = None
    disk_bytes: Optional[int] = None

    @classmethod
    def from_json(cls, obj):
        return cls(**_known(cls, obj or {}))

    def to_json(self):
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


def _output(value, base64_mode):
    if value is None:
        return None
    return base64.b64decode(value, validate=True) if base64_mode else value


def _files(obj, base64_mode):
    """Collected files: name -> bytes/str, or name -> RunboxFileError text."""
    out = {}
    for name, entry in (obj or {}).items():
        if "error" in entry:
            out[name] = FileError(entry["error"])
        else:
            out[name] = _output(entry.get("content"), base64_mode)
    return out


class FileError(str):
    """A file named in `collect` that could not be returned (the reason)."""


@dataclass
class Step:
    """One program run: the run itself, or the compile step."""
    status: str = ""
    message: str = ""
    exit_code: Optional[int] = None
    signal: Optional[Union[str, int]] = None
    stdout: Bytes = ""
    stderr: Bytes = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    usage: Usage = field(default_factory=Usage)
    limits: Optional[Limits] = None

    @classmethod
    def from_json(cls, obj, base64_mode=False):
        kw = _known(cls, obj)
        kw["usage"] = Usage.from_json(obj.get("usage"))
        kw["limits"] = Limits.from_json(obj["limits"]) if "limits" in obj else None
        for k in ("stdout", "stderr"):
            if k in obj:
                kw[k] = _output(obj[k], base64_mode)
        return cls(**kw)

    @property
    def ok(self):
        return self.status == "ok"


@dataclass
class TestResult(Step):
    """One test of judge mode: a Step plus its verdict (accepted,
    wrong_answer, skipped or the run's status) and collected files."""
    verdict: str = ""
    files: Optional[Dict[str, Any]] = None

    @classmethod
    def from_json(cls, obj, base64_mode=False):
        step = Step.from_json(obj, base64_mode)
        kw = {f.name: getattr(step, f.name) for f in fields(Step)}
        kw["verdict"] = obj.get("verdict", "")
        kw["files"] = _files(obj["files"], base64_mode) if "files" in obj else None
        return cls(**kw)


@dataclass
class Result(Step):
    """The answer to a run: its status (ok, nonzero_exit, signaled, the
    limit statuses, exec_failed, compile_error, or in judge mode ok /
    the first failing test's verdict), outputs, usage, the compile step,
    collected files and judge-mode tests."""
    compile: Optional[Step] = None
    files: Optional[Dict[str, Any]] = None
    tests: Optional[List[TestResult]] = None
    summary: Optional[Dict[str, int]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, obj, base64_mode=False):
        step = Step.from_json(obj, base64_mode)
        kw = {f.name: getattr(step, f.name) for f in fields(Step)}
        if "compile" in obj:
            kw["compile"] = Step.from_json(obj["compile"], base64_mode)
        if "files" in obj:
            kw["files"] = _files(obj["files"], base64_mode)
        if "tests" in obj:
            kw["tests"] = [TestResult.from_json(t, base64_mode) for t in obj["tests"]]
        kw["summary"] = obj.get("summary")
        kw["raw"] = obj
        return cls(**kw)


@dataclass
class Language:
    id: str
    name: str = ""
    version: str = ""
    compiled: bool = False
    sample: str = ""
    packages: List[str] = field(default_factory=list)
    compile_options: List[str] = field(default_factory=list)
    limits: Optional[Limits] = None
    min_limits: Optional[Limits] = None

    @classmethod
    def from_json(cls, obj):
        kw = _known(cls, obj)
        for k in ("limits", "min_limits"):
            if kw.get(k) is not None:
                kw[k] = Limits.from_json(kw[k])
        return cls(**kw)


@dataclass
class Event:
    """One line of a streamed answer.  kind: "compile", "stdout",
    "stderr", "test", "result" or "error"; data: the output chunk (str,
    or bytes in base64 mode); index and test: a judge test as it ends;
    step: the compile step; result: the final Result; error: the API
    error object; raw: the line as parsed."""
    kind: str
    data: Optional[Bytes] = None
    index: Optional[int] = None
    test: Optional["TestResult"] = None
    step: Optional[Step] = None
    result: Optional[Result] = None
    error: Optional[Dict[str, str]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, obj, base64_mode=False):
        kind = obj.get("event", "")
        ev = cls(kind=kind, raw=obj)
        if kind in ("stdout", "stderr"):
            ev.data = _output(obj.get("data"), base64_mode)
        elif kind == "test":
            ev.index = obj.get("index")
            ev.test = TestResult.from_json(obj, base64_mode)
        elif kind == "compile":
            ev.step = Step.from_json(obj, base64_mode)
        elif kind == "result":
            ev.result = Result.from_json({k: v for k, v in obj.items() if k != "event"},
                                         base64_mode)
        elif kind == "error":
            ev.error = obj.get("error")
        return ev


@dataclass
class Job:
    """A job (submit now, collect later).  state: "queued", "running",
    "done", "cancelled" or "expired"; result: the Result of the run once
    it ran (None before, and when error says why there is none:
    "interrupted", "cancelled", "expired", ...); callback: the callback's
    {state, attempts, error} when the job has a callback_url; the
    timestamps are the API's strings (UTC, RFC 3339) or None."""
    id: str
    state: str
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    result: Optional[Result] = None
    error: Optional[Dict[str, str]] = None
    callback: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self):
        """The job will not change any more (but to expire)."""
        return self.state not in ("queued", "running")

    @classmethod
    def from_json(cls, obj, base64_mode=False):
        kw = _known(cls, obj)
        kw.pop("result", None)
        job = cls(raw=obj, **kw)
        if obj.get("result") is not None:
            job.result = Result.from_json(obj["result"], base64_mode)
        return job
