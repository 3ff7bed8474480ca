"""Run every benchmark and write ``benchmarks/RESULTS.md`` and ``benchmarks/results.json``.

Parts, in the order they run: ``sample`` (simulated sample generation), ``features``
(AfterImage extraction), ``data`` (full-size N-BaIoT conversion and cached reload vs
pandas.read_csv), ``models`` (CVAE and baselines at N-BaIoT size), ``notebooks`` (the series
through ``mbm-iot run``). Each part's numbers and its ratios come from the same run.

    python benchmarks/run_all.py                    # everything (~15 min on 2 shared cores; the first
                                                    # run also writes a ~6 GB full-size CSV folder)
    python benchmarks/run_all.py --only data models # some parts; the others keep their last results
    python benchmarks/run_all.py --quick            # small sizes, a smoke check (benchmarks/work/quick)

While a part runs, the load average and the CPU time used by processes outside the benchmark
are recorded, so the results say when other work shared the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: make ``benchmarks`` and ``mbm_helpers`` importable
    sys.path.insert(0, str(HERE.parent))

from mbm_helpers.atomic import atomic_path  # noqa: E402

#: Parts in the order they run (the notebook series last).
PARTS = ("sample", "features", "data", "models", "notebooks")
MODULES = {name: f"benchmarks.bench_{name}" for name in PARTS}
QUICK_OUTPUT = HERE / "work" / "quick"
LIBRARIES = ("numpy", "pandas", "pyarrow", "tensorflow", "keras", "scikit-learn", "numba", "papermill")
PAPER_CVAE_FIT_S = 107.62
#: Earlier runs' headline figures kept in results.json (oldest dropped first).
HISTORY = 20
#: Mean CPU cores used by processes outside the benchmark above which a part is marked as shared.
BUSY_CORES = 0.25


# -- machine and load ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str:
    for name in (package, f"{package}-cpu"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, Python and library versions, date."""
    mem = _memory_gb()
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(mem, 1) if mem else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in LIBRARIES},
    }


def _busy_cpu_s() -> float | None:
    """Seconds of CPU time the whole machine has spent busy since boot (Linux ``/proc/stat``)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class LoadWatch:
    """Context manager: wall time, load average (start, max) and CPU used by other processes."""

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._samples: list[float] = []

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadWatch:
        self.load_start = os.getloadavg()[0]
        self._t0, self._own0, self._busy0 = time.perf_counter(), _own_cpu_s(), _busy_cpu_s()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        wall = time.perf_counter() - self._t0
        own = _own_cpu_s() - self._own0
        busy = _busy_cpu_s()
        others = None if busy is None or self._busy0 is None else max(0.0, busy - self._busy0 - own)
        self.report = {
            "wall_s": round(wall, 1),
            "load_1min_start": round(self.load_start, 2),
            "load_1min_max": round(max([self.load_start, *self._samples]), 2),
            "own_cpu_cores_mean": round(own / wall, 2) if wall > 0 else None,
            "other_cpu_cores_mean": round(others / wall, 2) if others is not None and wall > 0 else None,
        }


# -- running ------------------------------------------------------------------------------------


def git_commit() -> str | None:
    """The repository's HEAD commit (short), with ``+changes`` if tracked files differ from it."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, timeout=30
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+changes" if dirty else "")) or None


def run_part(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark module's ``run(quick)``; a failure is recorded, not raised."""
    entry: dict[str, Any] = {
        "quick": quick,
        "started_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
    }
    with LoadWatch() as watch:
        try:
            entry["results"] = importlib.import_module(MODULES[name]).run(quick=quick)
        except Exception as exc:  # a broken part must not lose the others' numbers
            entry["error"] = f"{type(exc).__name__}: {exc}"[-3000:]
            entry["traceback"] = traceback.format_exc()[-4000:]
    entry["load"] = watch.report
    if name == "models" and "results" in entry:
        entry["detector_settings"] = detector_settings(quick)
    return entry


def detector_settings(quick: bool = False) -> dict[str, dict[str, Any]]:
    """The size-related settings of ``make_detectors``' detectors (e.g. LOF/SVM training subsample)."""
    from mbm_helpers.detectors import make_detectors

    keys = ("max_train_rows", "max_samples", "n_estimators", "n_neighbors", "hidden", "bottleneck", "epochs")
    out = {}
    for name, det in make_detectors(quick=quick).items():
        if name == "CVAE":  # bench_models trains its own CVAE (settings in its results)
            continue
        params = det.get_params()
        out[name] = {k: params[k] for k in keys if k in params}
    return out


def run_all(parts: list[str], quick: bool, output: Path, progress: bool = True) -> dict[str, Any]:
    """Run ``parts``, merge them into ``output/results.json`` (other parts kept), render RESULTS.md."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown benchmark part(s) {unknown}; the parts are {list(PARTS)}")
    results_path = output / "results.json"
    previous = json.loads(results_path.read_text()) if results_path.is_file() else {}
    runs = dict(previous.get("parts", {}))
    history = list(previous.get("history", []))
    results = {"machine": previous.get("machine", {}), "parts": runs, "history": history}
    for name in [p for p in PARTS if p in parts]:
        if progress:
            print(
                f"[{time.strftime('%H:%M:%S')}] benchmark {name}{' (quick)' if quick else ''} ...", flush=True
            )
        if name in runs and "results" in runs[name]:
            history[:] = [*history, summarize_run(name, runs[name], previous.get("machine"))][-HISTORY:]
        runs[name] = run_part(name, quick)
        if progress:
            status = "FAILED: " + runs[name]["error"] if "error" in runs[name] else "done"
            print(
                f"[{time.strftime('%H:%M:%S')}] {name}: {status} in {runs[name]['load']['wall_s']} s",
                flush=True,
            )
        results = {
            "machine": machine_info(),
            "parts": {p: runs[p] for p in PARTS if p in runs},
            "history": history,
        }
        write_results(results, output)  # after each part, so a later crash keeps the earlier numbers
    return results


def write_results(results: dict[str, Any], output: Path) -> None:
    """Write ``results.json`` and ``RESULTS.md`` into ``output``, each atomically."""
    output.mkdir(parents=True, exist_ok=True)
    with atomic_path(output / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1, default=str) + "\n")
    with atomic_path(output / "RESULTS.md") as tmp:
        tmp.write_text(render(results))


# -- rendering ----------------------------------------------------------------------------------


def _get(results: dict, path: str) -> Any:
    """``results["parts"][part]["results"][key]...`` for ``"part.key.subkey"``, or None."""
    part, *keys = path.split(".")
    node: Any = results.get("parts", {}).get(part, {}).get("results")
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _num(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


@dataclass(frozen=True)
class Target:
    """One headline figure with its target; ``limits`` explains a miss (formatted with ``results``)."""

    name: str
    part: str
    label: str
    value: Callable[[dict], float | None]
    unit: str
    goal: str
    met: Callable[[float, dict], bool]
    limits: str
    #: Context keys the ``limits`` text needs; without them (an older results file) a short note is used.
    needs: tuple[str, ...] = ()

    def explain(self, ctx: dict[str, Any]) -> str:
        """What limited a missed target, quoting the run's numbers."""
        if any(ctx.get(k) in (None, "") for k in self.needs):
            return (
                "This run did not record the numbers that explain it (an earlier version of the "
                f"benchmark); other processes used {ctx.get('other_cores_' + self.part, 'unknown')} cores "
                "on average meanwhile."
            )
        return self.limits.format(**ctx)


TARGETS = (
    Target(
        "cached_reload_s",
        "data",
        "Cached reload of the whole dataset (all rows of every file)",
        lambda r: _get(r, "data.cached_reload.wall_s"),
        "s",
        "<= 5 s",
        lambda v, r: v <= 5.0,
        "The median of the reloads ({reload_runs} s) spent {reload_user:.2f} s of user CPU time (finding "
        "the cache files, decoding the {cache_gib:.2f} GiB lz4 Parquet cache, copying rows into the table) "
        "and {reload_sys:.2f} s of system CPU time, the kernel handing the process fresh memory for "
        "the 3 GiB table. Merely allocating and first touching a float32 array of the table's size took "
        "{touch_runs} s in fresh processes in the same run (the median run: {touch_sys:.2f} s system "
        "time): on this virtual machine fresh memory is slow and its cost varies from one process to "
        "the next; the other processes sharing the {cores} cores ({other_cores} cores busy on average) "
        "stretch the rest. Fixes: a cache the reload can memory-map instead of decoding into fresh "
        "memory (an uncompressed .npy or Arrow IPC file of the feature block, served from the page "
        "cache), and a machine with free cores and cheaper page faults (bare metal).",
        needs=("reload_runs", "reload_user", "reload_sys", "touch_runs", "touch_sys"),
    ),
    Target(
        "cached_reload_peak",
        "data",
        "Peak memory of the cached reload (x the float32 table)",
        lambda r: _get(r, "data.cached_reload.peak_over_table"),
        "x",
        "<= 2 x table",
        lambda v, r: v <= 2.0,
        "The reload peaked at {reload_peak:.2f} GiB for a {data_gib:.2f} GiB table: Arrow buffers of a row "
        "group are held while the block is copied into the table. Smaller row groups or a cache that "
        "is memory-mapped and copied column by column would keep it under 2 x.",
    ),
    Target(
        "first_load_peak",
        "data",
        "Peak memory of the first load (CSV -> cache -> table, x the float32 table)",
        lambda r: _get(r, "data.first_load.peak_over_table"),
        "x",
        "<= 2 x table",
        lambda v, r: v <= 2.0,
        "The first load peaked at {first_peak:.2f} GiB for a {data_gib:.2f} GiB table: CSV parse buffers "
        "and Parquet write buffers are alive together with the table being filled. Converting each file "
        "to the cache and dropping it before the table is built (two passes) would bound it.",
    ),
    Target(
        "packets_per_s",
        "features",
        "AfterImage feature extraction, one core",
        lambda r: _get(r, "features.packets_per_s_one_core"),
        "packets/s",
        ">= 50,000",
        lambda v, r: v >= 50_000,
        "Of {extract_s:.2f} s for {n_packets:,} packets, mapping packets to stream ids in NumPy took "
        "{ids_s:.2f} s and the numba kernel the rest, on one pinned core while other processes used "
        "{other_cores_features} cores. Profiling the kernel's per-packet updates of the stream state, "
        "or extracting several captures in parallel processes, would raise the rate.",
    ),
    Target(
        "cvae_fit_s",
        "models",
        "CVAE training, N-BaIoT-sized benign training set",
        lambda r: _get(r, "models.cvae_fit_s"),
        "s",
        "< 30 s",
        lambda v, r: v < 30.0,
        "Training ran {epochs} epochs at {s_per_epoch} s each and reached {fraction:.1%} of this machine's "
        "float32 matmul FLOP/s, so arithmetic is not the limit: with small dense layers and batches of "
        "{batch} rows, each step's fixed cost in Keras/TensorFlow dominates; other processes used "
        "{other_cores_models} cores on average meanwhile. Fewer, larger steps (a larger batch size) "
        "or a compiled train step (XLA, ``jit_compile=True``) would cut that overhead; an unloaded "
        "machine would help too.",
    ),
    Target(
        "cvae_score_numpy",
        "models",
        "CVAE scoring (NumPy scorer on scaled features)",
        lambda r: _get(r, "models.cvae_score_numpy_rows_per_s"),
        "rows/s",
        ">= 1,000,000",
        lambda v, r: v >= 1_000_000,
        "At {score_numpy:,.0f} rows/s the scorer does {score_fraction:.1%} of this machine's float32 "
        "matmul FLOP/s: its weight matrices are small, which BLAS runs well below its peak, and the "
        "activation, error and KL passes between the layers go over memory; other processes used "
        "{other_cores_models} cores meanwhile. Fusing the layers and the error/KL terms per block of "
        "rows (one numba kernel that keeps a block in cache) would raise it.",
    ),
    Target(
        "cvae_score_dataframe",
        "models",
        "CVAE scoring end to end (tidy DataFrame in, scores out)",
        lambda r: _get(r, "models.cvae_score_dataframe_rows_per_s"),
        "rows/s",
        ">= 1,000,000",
        lambda v, r: v >= 1_000_000,
        "End to end, {score_df:,.0f} rows/s against {score_numpy:,.0f} rows/s for the NumPy scorer alone: "
        "the gap is the work outside the scorer (taking the 115 features out of the DataFrame, the "
        "signed-log scaling and the condition lookup). Doing the scaling inside the scorer's blockwise "
        "loop, on blocks still in cache, would remove most of it.",
    ),
    Target(
        "sample_s",
        "sample",
        "Simulated sample generation at scale 1",
        lambda r: _get(r, "sample.wall_s"),
        "s",
        "< 60 s",
        lambda v, r: v < 60.0,
        "Generation took {sample_s:.1f} s for {sample_rows:,} rows, one file after another on one core "
        "(other processes used {other_cores_sample} cores meanwhile); it simulates the packets and runs "
        "the feature extractor for every file. Generating files in parallel processes would use the "
        "second core.",
    ),
)


#: How each part's numbers were obtained (method, not results).
SCOPE = (
    "- **data**: a folder in the extracted N-BaIoT layout with the official per-file row counts, filled "
    "by repeating (in order) the embedded simulated sample's rows of the same device and class; each "
    "load in a fresh process; the cached reload three times (median shown, all runs listed).",
    "- **features**: `extract_features` on synthetic IoT-like packets (count below) in a process pinned to "
    "one core, best of three after a warm-up call.",
    "- **models**: a synthetic N-BaIoT-sized table (`mbm_helpers.detectors.synthetic`: 9 devices x 61,200 "
    "benign rows, 60% of them, 330,480 rows, for training; N-BaIoT has 555,932 benign rows), default "
    "detector settings, in one process using both cores. The paper's 107.62 s was measured with its own "
    "code and data split on a 3.6 GHz 4-core desktop, so that ratio compares set-ups, not only code.",
    "- **sample**: `generate_sample` at scale 1 in a fresh process (numba kernels compiled beforehand).",
    "- **notebooks**: `python -m mbm_helpers.cli run` (what `mbm-iot run` does) in a fresh process on "
    "the embedded sample (already generated), with HTML rendering; the smoke run, then the default run.",
)


def _other_cores(results: dict, part: str) -> str:
    value = results.get("parts", {}).get(part, {}).get("load", {}).get("other_cpu_cores_mean")
    return "unknown" if value is None else f"{value:.2f}"


def _context(results: dict) -> dict[str, Any]:
    """Numbers the ``limits`` texts quote (0 where a part was not measured)."""

    def g(path: str, default: float = 0.0) -> Any:
        value = _get(results, path)
        return default if value is None else value

    params = g("models.cvae_params", {}) or {}
    return {
        "data_gib": g("data.float32_table_gb"),
        "cache_gib": g("data.cache_gb"),
        "reload_runs": ", ".join(f"{x:.2f}" for x in g("data.cached_reload_runs_s", [])),
        "reload_user": _get(results, "data.cached_reload.user_s"),
        "reload_sys": _get(results, "data.cached_reload.system_s"),
        "touch_runs": ", ".join(f"{x:.2f}" for x in g("data.first_touch_table_runs_s", [])),
        "touch_sys": _get(results, "data.first_touch_table.system_s"),
        "other_cores_data": _other_cores(results, "data"),
        "reload_peak": g("data.cached_reload.peak_rss_gb"),
        "first_peak": g("data.first_load.peak_rss_gb"),
        "cores": results.get("machine", {}).get("usable_cores", "?"),
        "other_cores": _other_cores(results, "data"),
        "other_cores_models": _other_cores(results, "models"),
        "packets": g("features.packets_per_s_one_core"),
        "extract_s": g("features.extract_s"),
        "ids_s": g("features.of_which_stream_ids_s"),
        "n_packets": g("features.packets", 0),
        "other_cores_features": _other_cores(results, "features"),
        "other_cores_sample": _other_cores(results, "sample"),
        "score_fraction": g("models.cvae_score_numpy_rows_per_s")
        * 2
        * g("models.cvae_macs_per_row")
        / max(g("models.matmul_gflops") * 1e9, 1.0),
        "epochs": g("models.cvae_epochs_run"),
        "s_per_epoch": g("models.cvae_s_per_epoch"),
        "fraction": g("models.cvae_train_fraction_of_matmul"),
        "batch": params.get("batch_size", "?"),
        "score_numpy": g("models.cvae_score_numpy_rows_per_s"),
        "score_df": g("models.cvae_score_dataframe_rows_per_s"),
        "sample_s": g("sample.wall_s"),
        "sample_rows": g("sample.rows", 0),
    }


def evaluate_targets(results: dict) -> list[dict[str, Any]]:
    """Each target's value and status: ``met``, ``MISSED``, ``n/a (quick)`` or ``not measured``."""
    out = []
    for t in TARGETS:
        entry = results.get("parts", {}).get(t.part, {})
        value = t.value(results) if "results" in entry else None
        if value is None:
            status = "not measured"
        elif entry.get("quick"):
            status = "n/a (quick)"
        else:
            status = "met" if t.met(value, results) else "MISSED"
        out.append({"target": t, "value": value, "status": status})
    return out


def summarize_run(part: str, entry: dict[str, Any], machine: dict | None = None) -> dict[str, Any]:
    """The headline figures of one part's run (and, for a missed target, what limited it), kept in
    ``history`` when the part is measured again."""
    single = {"parts": {part: entry}, "machine": machine or {}}
    figures = {t.name: t.value(single) for t in TARGETS if t.part == part}
    missed = [
        t
        for t in TARGETS
        if t.part == part and figures[t.name] is not None and not t.met(figures[t.name], single)
    ]
    limits = {} if entry.get("quick") else {t.name: t.explain(_context(single)) for t in missed}
    if part == "notebooks":
        figures |= {f"{k}_run_s": v.get("wall_s") for k, v in entry.get("results", {}).items()}
    return {
        "part": part,
        "started_utc": entry.get("started_utc"),
        "commit": entry.get("commit"),
        "quick": entry.get("quick", False),
        "other_cpu_cores_mean": entry.get("load", {}).get("other_cpu_cores_mean"),
        "figures": {k: v for k, v in figures.items() if v is not None},
        "limits": limits,
        **(
            {"note": "cached reload timed once"}
            if part == "data" and "cached_reload_runs_s" not in entry.get("results", {})
            else {}
        ),
    }


def _earlier_misses(results: dict) -> list[str]:
    """A line for every target missed in a full earlier run, with what limited it then."""
    targets = {t.name: t for t in TARGETS}
    out = []
    for h in results.get("history", []):
        if h.get("quick"):
            continue
        for name, value in h.get("figures", {}).items():
            t = targets.get(name)
            if t is not None and not t.met(value, results):
                why = h.get("limits", {}).get(name)
                out.append(
                    f"- {t.label}: {_num(value)} {t.unit} at {h.get('started_utc', '?')}, target {t.goal}."
                    + (f" At the time: {why}" if why else "")
                )
    return out


def _history_section(results: dict) -> list[str]:
    history = [h for h in results.get("history", []) if h.get("figures")]
    if not history:
        return []
    targets = {t.name: t for t in TARGETS}
    rows = []
    for h in history:
        for name, value in h["figures"].items():
            t = targets.get(name)
            if t is not None:
                status = "n/a (quick)" if h.get("quick") else ("met" if t.met(value, results) else "MISSED")
                label, shown, goal = t.label, f"{_num(value)} {t.unit}", t.goal
            else:
                label, shown, goal, status = (
                    f"Notebook series, {name.removesuffix('_run_s')} run",
                    f"{_num(value)} s",
                    "—",
                    "—",
                )
            rows.append(
                [
                    h.get("started_utc", "—"),
                    h.get("commit") or "—",
                    h["part"] + (f" ({h['note']})" if h.get("note") else ""),
                    label,
                    shown,
                    goal,
                    status,
                    _num(h.get("other_cpu_cores_mean")),
                ]
            )
    return [
        "",
        "## Earlier runs",
        "",
        "The same figures from earlier runs on this machine, replaced by the ones above. They differ "
        "by the other work sharing the cores (last column) and by code changed between runs (the "
        "commit measured, where recorded; `+changes`: with uncommitted edits).",
        "",
        *_md_table(
            ["started", "commit", "part", "figure", "measured", "target", "status", "other processes' cores"],
            rows,
        ),
    ]


def _detector_rows(results: dict) -> list[dict[str, Any]]:
    summary = _get(results, "models.summary") or []
    return [row for row in summary if isinstance(row, dict) and "detector" in row]


def ratios(results: dict) -> list[tuple[str, str]]:
    """(description, value) pairs computed from numbers of the same run."""
    out: list[tuple[str, str]] = []
    speedup = _get(results, "data.cached_speedup_over_pandas")
    pandas_s = _get(results, "data.pandas_read_csv.wall_s")
    first_s = _get(results, "data.first_load.wall_s")
    if speedup is not None:
        out.append(("Cached reload vs pandas.read_csv of the same CSV files (speed-up)", f"{speedup:.1f} x"))
    if pandas_s and first_s:
        out.append(
            (
                "First load (CSV -> cache -> table) vs pandas.read_csv (speed-up)",
                f"{pandas_s / first_s:.2f} x",
            )
        )
    fit = _get(results, "models.cvae_fit_s")
    if fit:
        out.append(
            (
                f"CVAE training vs the paper's {PAPER_CVAE_FIT_S} s on 4 cores (speed-up)",
                f"{PAPER_CVAE_FIT_S / fit:.2f} x",
            )
        )
    fraction = _get(results, "models.cvae_train_fraction_of_matmul")
    if fraction is not None:
        out.append(
            (
                "CVAE training FLOP/s / this machine's float32 matmul FLOP/s",
                f"{fraction:.1%} ({_num(_get(results, 'models.cvae_train_gflops'))} of "
                f"{_num(_get(results, 'models.matmul_gflops'))} GFLOP/s)",
            )
        )
    rows = {str(r["detector"]): r for r in _detector_rows(results)}
    cvae = rows.get("CVAE", {})
    for name, row in rows.items():
        if name == "CVAE" or not cvae.get("fit_time_s") or row.get("fit_time_s") is None:
            continue
        out.append(
            (f"{name} training time / CVAE training time", f"{row['fit_time_s'] / cvae['fit_time_s']:.2f}")
        )
    for name, row in rows.items():
        if name == "CVAE" or not row.get("score_rows_per_s") or cvae.get("score_rows_per_s") is None:
            continue
        out.append(
            (
                f"CVAE scoring speed / {name} scoring speed (evaluation test part)",
                f"{cvae['score_rows_per_s'] / row['score_rows_per_s']:.2f}",
            )
        )
    return out


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _load_section(results: dict) -> list[str]:
    parts = results.get("parts", {})
    rows, shared = [], []
    for name in PARTS:
        load = parts.get(name, {}).get("load")
        if not load:
            continue
        other = load.get("other_cpu_cores_mean")
        if other is not None and other > BUSY_CORES:
            shared.append(name)
        rows.append(
            [
                name,
                parts[name].get("started_utc", "—"),
                parts[name].get("commit") or "—",
                _num(load.get("wall_s")),
                _num(load.get("load_1min_start")),
                _num(load.get("load_1min_max")),
                _num(load.get("own_cpu_cores_mean")),
                _num(other),
            ]
        )
    cores = results.get("machine", {}).get("usable_cores", "?")
    lines = ["## Load during the measurement", ""]
    if shared:
        lines.append(
            f"**Other work was running during the measurement** of: {', '.join(shared)} (processes outside "
            f"the benchmark used more than {BUSY_CORES} of the {cores} cores on average). Absolute times "
            "are therefore pessimistic; ratios measured in the same part are more robust."
        )
    else:
        lines.append("No significant other work was measured while the parts ran.")
    lines += [""] + _md_table(
        [
            "part",
            "started",
            "commit",
            "wall s",
            "load 1-min at start",
            "load 1-min max",
            "benchmark cores (mean)",
            "other processes' cores (mean)",
        ],
        rows,
    )
    return lines


def _details(results: dict) -> list[str]:
    lines: list[str] = []
    parts = results.get("parts", {})
    for name in PARTS:
        entry = parts.get(name)
        if entry is None:
            continue
        lines += ["", f"### {name}{' (quick)' if entry.get('quick') else ''}", ""]
        if "error" in entry:
            lines += ["**This part failed:**", "", "```", entry["error"], "```"]
            continue
        res = entry["results"]
        if name == "data":
            lines.append(
                f"{res['rows']:,} rows; float32 table {res['float32_table_gb']:.2f} GiB; CSV files "
                f"{_num(res.get('csv_gb'))} GiB; Parquet cache {_num(res.get('cache_gb'))} GiB. Each load "
                "runs in a fresh process: pandas.read_csv, the first load, the first-touch reference, then "
                "the cached reload (with enough memory, all of them read files from the page cache)."
            )
            lines.append("")
            lines += _md_table(
                ["load", "wall s", "user CPU s", "system CPU s", "rows/s", "peak RSS GiB", "peak / table"],
                [
                    [
                        label,
                        _num(res[k]["wall_s"])
                        + (
                            f" (runs: {', '.join(map(str, res[k + '_runs_s']))})"
                            if k + "_runs_s" in res
                            else ""
                        ),
                        _num(res[k].get("user_s")),
                        _num(res[k].get("system_s")),
                        _num(res[k].get("rows_per_s")),
                        _num(res[k]["peak_rss_gb"]),
                        _num(res[k].get("peak_over_table")),
                    ]
                    for k, label in (
                        ("pandas_read_csv", "pandas.read_csv (float32) + concat"),
                        ("first_load", "load_nbaiot, first (CSV -> Parquet cache -> table)"),
                        ("cached_reload", "load_nbaiot, cached reload (median run)"),
                        ("first_touch_table", "reference: allocate and first touch a float32 table (median)"),
                    )
                    if k in res
                ],
            )
            reload = res.get("cached_reload", {})
            if reload.get("system_s") is not None and reload.get("user_s") is not None:
                lines += [
                    "",
                    f"Of the cached reload's {reload['user_s'] + reload['system_s']:.2f} s of CPU time, "
                    f"{reload['system_s']:.2f} s is system time: the kernel providing fresh memory for the "
                    "table, a cost that varies from process to process on this virtual machine (see the "
                    "first-touch runs).",
                ]
        elif name == "models":
            lines.append(
                f"Training rows {res.get('train_rows', 0):,}, validation {res.get('validation_rows', 0):,}, "
                f"test {res.get('test_rows', 0):,} (synthetic N-BaIoT-sized table). CVAE settings "
                f"{res.get('cvae_params')}; {res.get('cvae_epochs_run')} epochs, "
                f"{res.get('cvae_s_per_epoch')} s/epoch. Scoring on {res.get('score_rows', 0):,} rows: "
                f"NumPy {_num(res.get('cvae_score_numpy_rows_per_s'))}, "
                f"DataFrame {_num(res.get('cvae_score_dataframe_rows_per_s'))}, Keras predict "
                f"{_num(res.get('cvae_score_keras_predict_rows_per_s'))} rows/s."
            )
            settings = entry.get("detector_settings") or {}
            if settings:
                lines.append(
                    "Size-related settings of the detectors (all fitted on the same training rows; "
                    "`max_train_rows` is a seeded subsample of them; the CVAE's are above): "
                    + "; ".join(f"{k} {v}" for k, v in settings.items())
                    + "."
                )
            rows = _detector_rows(results)
            if rows:
                keys = [k for k in rows[0] if k != "detector"]
                lines += [""] + _md_table(
                    ["detector", *keys], [[r["detector"], *(_num(r.get(k), 4) for k in keys)] for r in rows]
                )
        elif name == "notebooks":
            for run_name, run in res.items():
                status = (
                    "ran" if run.get("ok") else f"FAILED (exit {run.get('returncode')}): {run.get('error')}"
                )
                lines.append(
                    f"- **{run_name}** run `{run.get('command')}`: {status}; wall {run.get('wall_s')} s, "
                    f"largest process peak RSS {run.get('largest_process_peak_rss_gb')} GiB."
                )
                if run.get("notebook_s"):
                    lines.append(
                        "  Per notebook: "
                        + ", ".join(f"{k} {v:.0f} s" for k, v in run["notebook_s"].items())
                        + "."
                    )
        else:
            flat = {k: v for k, v in res.items() if not isinstance(v, (dict, list))}
            lines += _md_table(
                ["figure", "value"], [[k, _num(v, 4) if isinstance(v, float) else v] for k, v in flat.items()]
            )
    return lines


def render(results: dict) -> str:
    """The RESULTS.md text for ``results`` (as written to results.json)."""
    m = results.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    quick = any(p.get("quick") for p in results.get("parts", {}).values())
    lines = [
        "# Benchmarks",
        "",
        "Written by `benchmarks/run_all.py` (do not edit by hand); raw numbers in `benchmarks/results.json`.",
        "Rerun everything with `make benchmarks`, or some parts with "
        "`.venv/bin/python benchmarks/run_all.py --only data models`.",
        "",
    ]
    if quick:
        lines += ["**Quick (smoke-check) sizes: these numbers do not measure the targets.**", ""]
    lines += [
        "## Machine",
        "",
        f"- Date: {m.get('date_utc', '—')} (each part's start time is in the load table below)",
        f"- CPU: {m.get('cpu_model', '—')}; {m.get('usable_cores', '—')} usable of "
        f"{m.get('logical_cores', '—')} logical cores",
        f"- Memory: {m.get('memory_gb', '—')} GiB; {m.get('os', '—')}; Python {m.get('python', '—')}",
        f"- Libraries: {versions}",
        "",
        "## Headline figures",
        "",
    ]
    evaluated = evaluate_targets(results)
    lines += _md_table(
        ["part", "figure", "measured", "target", "status"],
        [
            [
                e["target"].part,
                e["target"].label,
                f"{_num(e['value'])} {e['target'].unit}",
                e["target"].goal,
                e["status"],
            ]
            for e in evaluated
        ],
    )
    nb = _get(results, "notebooks") or {}
    for run_name, run in nb.items():
        status = "ran" if run.get("ok") else "FAILED"
        lines.append(
            f"| notebooks | Notebook series, {run_name} run (`mbm-iot run`) | "
            f"{_num(run.get('wall_s'))} s | — | {status} |"
        )
    ctx = _context(results)
    missed = [e for e in evaluated if e["status"] == "MISSED"]
    lines += ["", "## Ratios (same run)", ""]
    ratio_rows = ratios(results)
    lines += (
        _md_table(["ratio", "value"], [list(r) for r in ratio_rows]) if ratio_rows else ["(none measured)"]
    )
    lines += ["", "## Missed targets", ""]
    if missed:
        for e in missed:
            t = e["target"]
            lines.append(f"- **{t.label}: {_num(e['value'])} {t.unit}, target {t.goal}.** " + t.explain(ctx))
    else:
        lines.append("None of the measured targets was missed in this run.")
    earlier = _earlier_misses(results)
    if earlier:
        lines += ["", "Missed in earlier runs (see *Earlier runs* for their load and code):", "", *earlier]
    failed = [n for n, p in results.get("parts", {}).items() if "error" in p]
    failed += [f"notebooks ({k} run)" for k, r in nb.items() if not r.get("ok")]
    if failed:
        lines += ["", "Parts that failed (no numbers): " + ", ".join(failed) + " — see the details below."]
    lines += ["", "## What was measured", "", *SCOPE]
    lines += (
        [""] + _load_section(results) + _history_section(results) + ["", "## Details"] + _details(results)
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke check (not the targets)")
    parser.add_argument(
        "--only", nargs="+", choices=PARTS, metavar="NAME", help=f"run only these parts: {', '.join(PARTS)}"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="folder for RESULTS.md and results.json (default: benchmarks/, or benchmarks/work/quick "
        "with --quick, so a smoke check never replaces the measured results)",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: rewrite RESULTS.md from the folder's results.json",
    )
    args = parser.parse_args(argv)
    output = args.output or (QUICK_OUTPUT if args.quick else HERE)
    if args.render:
        if not (output / "results.json").is_file():
            parser.error(f"--render: {output / 'results.json'} does not exist")
        write_results(json.loads((output / "results.json").read_text()), output)
        print(f"wrote {output / 'RESULTS.md'}")
        return 0
    results = run_all(list(args.only or PARTS), args.quick, output)
    print(f"wrote {output / 'RESULTS.md'} and {output / 'results.json'}")
    return 1 if any("error" in p for p in results["parts"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
