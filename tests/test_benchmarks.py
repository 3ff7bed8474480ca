"""benchmarks/run_all.py: a quick real run of a cheap part, merging of parts, and RESULTS.md rendering.

The full benchmarks are never run here (they take about an hour); speed targets are checked by
the benchmark scripts, not by tests.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # ``benchmarks/`` is a folder of scripts beside the package, not installed
    sys.path.insert(0, str(REPO))
run_all = importlib.import_module("benchmarks.run_all")
bench_notebooks = importlib.import_module("benchmarks.bench_notebooks")

# Numbers in the shape the benchmark modules return; the cached reload misses its 5 s target.
RESULTS = {
    "machine": {
        "date_utc": "2026-01-01 00:00 UTC",
        "cpu_model": "Test CPU",
        "logical_cores": 2,
        "usable_cores": 2,
        "memory_gb": 8.0,
        "os": "Linux",
        "python": "3.11.0",
        "versions": {"numpy": "2.0", "pandas": "3.0"},
    },
    "parts": {
        "data": {
            "quick": False,
            "started_utc": "2026-01-01 00:00 UTC",
            "load": {"wall_s": 300.0, "other_cpu_cores_mean": 1.2, "load_1min_start": 3.0},
            "results": {
                "rows": 7_062_606,
                "float32_table_gb": 3.03,
                "pandas_read_csv": {
                    "wall_s": 120.0,
                    "rows_per_s": 58855.0,
                    "peak_rss_gb": 7.0,
                    "peak_over_table": 2.31,
                },
                "first_load": {
                    "wall_s": 90.0,
                    "rows_per_s": 78473.0,
                    "peak_rss_gb": 5.0,
                    "peak_over_table": 1.65,
                },
                "cached_reload": {
                    "user_s": 1.8,
                    "system_s": 4.2,
                    "wall_s": 9.0,
                    "rows_per_s": 784734.0,
                    "peak_rss_gb": 3.5,
                    "peak_over_table": 1.16,
                },
                "first_touch_table": {"wall_s": 3.5, "peak_rss_gb": 3.04, "user_s": 0.3, "system_s": 3.1},
                "first_touch_table_runs_s": [3.5, 1.0, 12.0],
                "cached_reload_runs_s": [9.0, 8.0, 15.0],
                "csv_gb": 6.3,
                "cache_gb": 1.1,
                "cached_speedup_over_pandas": 13.33,
            },
        },
        "models": {
            "quick": False,
            "started_utc": "2026-01-01 00:10 UTC",
            "load": {"wall_s": 200.0, "other_cpu_cores_mean": 0.1},
            "results": {
                "cvae_fit_s": 25.0,
                "cvae_epochs_run": 10,
                "cvae_s_per_epoch": 2.5,
                "cvae_train_fraction_of_matmul": 0.05,
                "cvae_train_gflops": 5.0,
                "matmul_gflops": 100.0,
                "cvae_score_numpy_rows_per_s": 2_000_000,
                "cvae_score_dataframe_rows_per_s": 1_200_000,
                "summary": [
                    {"detector": "IF", "fit_time_s": 50.0, "score_rows_per_s": 100_000.0},
                    {"detector": "CVAE", "fit_time_s": 25.0, "score_rows_per_s": 1_000_000.0},
                ],
            },
        },
        "notebooks": {
            "quick": False,
            "started_utc": "2026-01-01 00:20 UTC",
            "load": {"wall_s": 100.0},
            "results": {
                "smoke": {
                    "ok": True,
                    "wall_s": 60.0,
                    "command": "mbm-iot run --smoke",
                    "notebook_s": {"00_a": 5},
                },
                "default": {
                    "ok": False,
                    "wall_s": 30.0,
                    "command": "mbm-iot run",
                    "returncode": 1,
                    "error": "mbm-iot run: notebook 02_cvae.ipynb failed: ValueError: boom",
                },
            },
        },
    },
}


def _headline(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("| ") and label in line)


def test_missed_target_stays_missed_and_is_explained():
    text = run_all.render(RESULTS)
    reload_line = _headline(text, "Cached reload of the whole dataset")
    assert "9 s" in reload_line and "<= 5 s" in reload_line and reload_line.rstrip().endswith("MISSED |")
    assert _headline(text, "CVAE training").rstrip().endswith("met |")
    assert _headline(text, "Peak memory of the cached reload").rstrip().endswith("met |")
    missed = text.split("## Missed targets", 1)[1].split("\n## ", 1)[0]
    assert "Cached reload of the whole dataset (all rows of every file): 9 s, target <= 5 s." in missed
    assert "(9.00, 8.00, 15.00 s) spent 1.80 s of user CPU time" in missed  # quotes the measured numbers
    assert "4.20 s of system CPU time" in missed and "took 3.50, 1.00, 12.00 s" in missed
    assert "| 9 (runs: 9.0, 8.0, 15.0) | 1.8 | 4.2 |" in text
    assert "CVAE training" not in missed
    assert "not measured" in _headline(text, "AfterImage feature extraction")


def test_ratios_come_from_the_same_run():
    text = run_all.render(RESULTS)
    assert "| Cached reload vs pandas.read_csv of the same CSV files (speed-up) | 13.3 x |" in text
    assert f"{107.62 / 25.0:.2f} x" in text
    assert "| IF training time / CVAE training time | 2.00 |" in text
    assert "| CVAE scoring speed / IF scoring speed (evaluation test part) | 10.00 |" in text
    assert "5.0% (5 of 100 GFLOP/s)" in text


def test_shared_machine_failed_notebooks_and_quick_runs_are_reported():
    text = run_all.render(RESULTS)
    assert "Other work was running during the measurement** of: data" in text
    assert (
        "models" not in text.split("Other work was running during the measurement** of:", 1)[1].split("(")[0]
    )
    assert "notebooks (default run)" in text
    assert "notebook 02_cvae.ipynb failed: ValueError: boom" in text
    assert _headline(text, "Notebook series, default run").rstrip().endswith("FAILED |")
    quick = copy.deepcopy(RESULTS)
    quick["parts"]["data"]["quick"] = True
    quick_text = run_all.render(quick)
    assert _headline(quick_text, "Cached reload of the whole dataset").rstrip().endswith("n/a (quick) |")
    assert "do not measure the targets" in quick_text


def test_cli_parses_per_notebook_times():
    out = "executed notebooks: x\nwall time: 00_setup_and_data 12 s, 02_cvae 130 s\n"
    assert bench_notebooks.notebook_seconds(out) == {"00_setup_and_data": 12.0, "02_cvae": 130.0}
    assert bench_notebooks.notebook_seconds("mbm-iot run: notebook failed") == {}


def test_unknown_part_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown benchmark part"):
        run_all.run_all(["gpu"], quick=True, output=tmp_path, progress=False)
    with pytest.raises(SystemExit):
        run_all.main(["--only", "gpu", "--output", str(tmp_path)])


def test_quick_features_run_writes_results_and_keeps_other_parts(tmp_path: Path):
    old_features = {
        "quick": False,
        "started_utc": "2026-01-01 00:05 UTC",
        "load": {"other_cpu_cores_mean": 1.5},
        "results": {"packets_per_s_one_core": 40_000},
    }
    earlier = {"machine": {}, "parts": {"features": old_features, "data": RESULTS["parts"]["data"]}}
    (tmp_path / "results.json").write_text(json.dumps(earlier))
    status = run_all.main(["--quick", "--only", "features", "--output", str(tmp_path)])
    assert status == 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert list(saved["parts"]) == ["features", "data"]  # schema order; the earlier part is kept
    features = saved["parts"]["features"]
    assert features["quick"] is True and "error" not in features
    assert features["commit"] and len(features["commit"].split("+")[0]) >= 7  # the code measured
    assert features["results"]["packets"] == 100_000
    assert features["results"]["packets_per_s_one_core"] > 0
    assert features["load"]["wall_s"] > 0 and features["load"]["other_cpu_cores_mean"] >= 0
    assert saved["machine"]["usable_cores"] >= 1 and saved["machine"]["versions"]["numpy"][0].isdigit()
    text = (tmp_path / "RESULTS.md").read_text()
    assert _headline(text, "AfterImage feature extraction").rstrip().endswith("n/a (quick) |")
    assert "9 s" in _headline(text, "Cached reload of the whole dataset")  # the kept part is rendered
    assert saved["history"] == [  # the replaced run's headline figures are kept
        {
            "part": "features",
            "started_utc": "2026-01-01 00:05 UTC",
            "commit": None,
            "quick": False,
            "other_cpu_cores_mean": 1.5,
            "figures": {"packets_per_s": 40_000},
            "limits": {"packets_per_s": saved["history"][0]["limits"]["packets_per_s"]},
        }
    ]
    assert "other processes used 1.50 cores" in saved["history"][0]["limits"]["packets_per_s"]
    earlier_runs = text.split("## Earlier runs", 1)[1].split("\n## ", 1)[0]
    assert (
        "| 2026-01-01 00:05 UTC | — | features | AfterImage feature extraction, one core | 40,000 packets/s |"
        in (earlier_runs)
    )
    assert "| >= 50,000 | MISSED | 1.5 |" in earlier_runs
    assert (
        "- AfterImage feature extraction, one core: 40,000 packets/s at 2026-01-01 00:05 UTC, target "
        ">= 50,000. At the time: " in text
    )
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_a_failing_series_is_recorded_not_raised():
    report = bench_notebooks.run_series("failing", ["--only", "99_no_such_notebook"], timeout=120)
    assert report["ok"] is False and report["returncode"] == 2
    assert "99_no_such_notebook" in report["error"]
    assert report["command"].startswith("mbm-iot run --only 99_no_such_notebook -o benchmarks/work/")
    assert not (bench_notebooks.WORK / "failing").exists()


def test_render_only_rewrites_results_md(tmp_path: Path):
    (tmp_path / "results.json").write_text(json.dumps(RESULTS))
    assert run_all.main(["--render", "--output", str(tmp_path)]) == 0
    assert (tmp_path / "RESULTS.md").read_text() == run_all.render(RESULTS)
    with pytest.raises(SystemExit):
        run_all.main(["--render", "--output", str(tmp_path / "empty")])


def test_measured_peak_memory_is_the_child_own():
    measure = importlib.import_module("benchmarks._measure").measure
    held = b"\x01" * (300 * 1024**2)  # the spawning process holds 300 MiB (resident: written)
    result = measure("import numpy as np\nX = np.ones(2_500_000, np.float32)\nextra = {'n': len(X)}")
    assert len(held) and result["n"] == 2_500_000
    assert 0.01 < result["peak_rss_gb"] < 0.25
    assert result["wall_s"] > 0 and result["user_s"] >= 0 and result["system_s"] >= 0


def test_a_miss_without_its_explaining_numbers_says_so():
    old = copy.deepcopy(RESULTS)
    for key in ("cached_reload_runs_s", "first_touch_table_runs_s", "first_touch_table"):
        del old["parts"]["data"]["results"][key]
    del old["parts"]["data"]["results"]["cached_reload"]["user_s"]
    missed = run_all.render(old).split("## Missed targets", 1)[1].split("\n## ", 1)[0]
    assert "9 s, target <= 5 s.** This run did not record the numbers that explain it" in missed
    assert "other processes used 1.20 cores" in missed
