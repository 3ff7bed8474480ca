"""Benchmark: generating the embedded simulated sample (target: scale 1.0 in under a minute, 2 cores).

Runs ``generate_sample`` in a fresh process into a scratch folder and reports wall time, peak
memory, rows, packets per second of rows written and the size on disk. ``--quick`` uses scale 0.1.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

try:  # run as a script or imported by run_all
    from benchmarks._measure import measure
except ImportError:  # pragma: no cover
    from _measure import measure

WORK = Path(__file__).resolve().parent / "work" / "bench_sample"
TARGET_S = 60.0


def run(quick: bool = False) -> dict:
    """Time one generation at scale 1.0 (0.1 if ``quick``); return the numbers."""
    scale = 0.1 if quick else 1.0
    out = WORK / f"scale{scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    result = measure(
        f"""
        generate_sample({str(out)!r}, scale={scale}, seed=0, progress=False)
        """,
        setup="""
        from mbm_helpers.sample_data import generate_sample
        import mbm_helpers.afterimage  # compile/load the numba kernel outside the timing
        import numpy as np
        from mbm_helpers.simulator import simulate_file
        simulate_file(1, "benign", 10)
        """,
    )
    manifest = json.loads((out / "SIMULATED.json").read_text())
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    report = {
        "scale": scale,
        "wall_s": round(result["wall_s"], 2),
        "peak_rss_gb": round(result["peak_rss_gb"], 3),
        "files": len(manifest["rows"]),
        "rows": manifest["total_rows"],
        "rows_per_s": round(manifest["total_rows"] / result["wall_s"]),
        "size_mb": round(size / 1e6, 1),
        "target_s": TARGET_S if not quick else None,
        "meets_target": (result["wall_s"] < TARGET_S) if not quick else None,
    }
    shutil.rmtree(out, ignore_errors=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scale 0.1 instead of 1.0")
    print(json.dumps(run(quick=parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
