"""Run one measurement in a fresh Python process and read its wall time and peak memory.

Peak memory is the child's own ``ru_maxrss``, so measurements do not see each other's memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_WRAPPER = """
import json, resource, sys, time
{setup}
_t0 = time.perf_counter()
{body}
_wall = time.perf_counter() - _t0
print("@@RESULT@@" + json.dumps({{"wall_s": _wall,
    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    **(extra if "extra" in dir() else {{}})}}))
"""


def measure(body: str, setup: str = "", timeout: float = 3600) -> dict:
    """Time ``body`` (after ``setup``) in a new interpreter; return wall_s, peak_rss_gb and ``extra``.

    The body may set a dict named ``extra`` with more numbers to report.
    """
    code = _WRAPPER.format(setup=textwrap.dedent(setup), body=textwrap.dedent(body))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("@@RESULT@@"))
    return json.loads(line.removeprefix("@@RESULT@@"))
