"""Run one measurement in a fresh Python process and read its wall time and peak memory.

Peak memory is the child's own peak RSS (``VmHWM`` where Linux provides it: ``ru_maxrss``
survives ``exec`` and would include the RSS of the spawning process), so measurements do not see
each other's memory, nor the runner's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_WRAPPER = """
import json, resource, sys, time
{setup}
_r0 = resource.getrusage(resource.RUSAGE_SELF)
_u0, _s0 = _r0.ru_utime, _r0.ru_stime
_t0 = time.perf_counter()
{body}
_wall = time.perf_counter() - _t0
_ru = resource.getrusage(resource.RUSAGE_SELF)
try:  # this process's own peak; ru_maxrss keeps the parent's RSS at spawn time across exec
    _peak_kb = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
except (OSError, IndexError, ValueError):
    _peak_kb = _ru.ru_maxrss
print("@@RESULT@@" + json.dumps({{"wall_s": _wall,
    "peak_rss_gb": _peak_kb / 1024**2,
    "user_s": _ru.ru_utime - _u0, "system_s": _ru.ru_stime - _s0,
    **(extra if "extra" in dir() else {{}})}}))
"""


def measure(body: str, setup: str = "", timeout: float = 3600) -> dict:
    """Time ``body`` (after ``setup``) in a new interpreter; return wall_s, peak_rss_gb, the body's
    user_s and system_s CPU time (this process's threads), and ``extra``.

    The body may set a dict named ``extra`` with more numbers to report.
    """
    code = _WRAPPER.format(setup=textwrap.dedent(setup), body=textwrap.dedent(body))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("@@RESULT@@"))
    return json.loads(line.removeprefix("@@RESULT@@"))
