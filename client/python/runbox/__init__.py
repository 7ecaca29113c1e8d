"""runbox - a client for the runbox code execution service (API v1).

    from runbox import Runbox
    rb = Runbox("http://127.0.0.1:8080", token=None)
    r = rb.run(language="python3", code="print(input()[::-1])", stdin="abc")
    print(r.status, r.stdout)          # ok cba
    for ev in rb.stream(language="sh", code="echo a; sleep 1; echo b"):
        print(ev.kind, ev.data or "")  # stdout a, then stdout b, then result
    job = rb.submit(language="python3", code="print(42)")   # queued, at once
    print(rb.wait(job.id).result.stdout)                    # 42

Standard library only.  Results are typed (Result, TestResult, Step,
Usage, Limits); every field keeps the API's name (docs/openapi.yaml).
Errors are RunboxError with the API's code.  503 (every slot busy) and
429 (rate limited) mean the program did not run, so they are retried,
honouring Retry-After, up to `retries` times.
"""

from ._client import Runbox, RunboxError
from ._types import Event, Job, Language, Limits, Result, Step, TestResult, Usage

__all__ = ["Runbox", "RunboxError", "Result", "Step", "TestResult", "Usage",
           "Limits", "Language", "Event", "Job"]
__version__ = "0.1.0"
