"""Benchmark: wall time of the notebook series, run as a user runs it (``mbm-iot run``).

Each run is a fresh ``python -m mbm_helpers.cli run ...`` process (papermill starts a fresh
kernel per notebook) on the embedded simulated sample, into a scratch folder under
``benchmarks/work``, with HTML rendering, as ``make run`` does:

- the smoke run (``--smoke``: few rows, tiny models, 2 epochs);
- the default run (no parameters: the whole scale-1 sample, the models' default settings).

The embedded sample is generated first (outside the timing; its generation is timed by
``bench_sample``). A failing notebook is recorded (exit status, the CLI's error message), not
raised, so the results say honestly that the series did not run. ``--quick`` does the smoke run only.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

try:  # run as a script or imported by run_all
    from benchmarks._measure import measure
except ImportError:  # pragma: no cover
    from _measure import measure

WORK = Path(__file__).resolve().parent / "work" / "bench_notebooks"
RUNS = {"smoke": ["--smoke"], "default": []}
_WALL_LINE = re.compile(r"^wall time: (.*)$", re.MULTILINE)

_BODY = """
import resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "mbm_helpers.cli", "run", *ARGS],
                      capture_output=True, text=True)
extra = {"returncode": proc.returncode, "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-2000:],
         "largest_process_peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2}
"""


def notebook_seconds(stdout: str) -> dict[str, float]:
    """Per-notebook wall times from the CLI's ``wall time: 00_x 12 s, 01_y 3 s`` line."""
    found = _WALL_LINE.findall(stdout)
    if not found:
        return {}
    out = {}
    for item in found[-1].split(", "):
        name, seconds, _unit = item.rsplit(" ", 2)
        out[name] = float(seconds)
    return out


def _shown(arg: str) -> str:
    """A command-line argument as shown in the results: paths relative to the repository."""
    repo = WORK.parents[2]
    return str(Path(arg).relative_to(repo)) if arg.startswith(str(repo)) else arg


def run_series(name: str, args: list[str], timeout: float = 3600) -> dict:
    """Time one ``mbm-iot run`` with ``args`` into a scratch folder; return its numbers."""
    out = WORK / name
    shutil.rmtree(out, ignore_errors=True)
    cli_args = [*args, "-o", str(out), "-q"]
    result = measure(_BODY, setup=f"ARGS = {cli_args!r}", timeout=timeout)
    report = {
        "command": "mbm-iot run " + " ".join(_shown(a) for a in cli_args),
        "ok": result["returncode"] == 0,
        "wall_s": round(result["wall_s"], 1),
        "largest_process_peak_rss_gb": round(result["largest_process_peak_rss_gb"], 2),
        "notebook_s": notebook_seconds(result["stdout"]),
    }
    if not report["ok"]:
        report["returncode"] = result["returncode"]
        report["error"] = (result["stderr"].strip().splitlines() or ["(no error output)"])[-1][:1000]
    shutil.rmtree(out, ignore_errors=True)
    return report


def run(quick: bool = False) -> dict:
    """Run the smoke series (and, unless ``quick``, the default series); return the numbers."""
    from mbm_helpers.sample_data import ensure_sample

    ensure_sample(progress=False)
    names = ["smoke"] if quick else list(RUNS)
    return {name: run_series(name, RUNS[name]) for name in names}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the smoke run only")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
