"""Run the notebook series with papermill: one run, a batch of runs, or in place.

A run executes ``notebooks/NN_*.ipynb`` in order in a fresh ``python3`` kernel each, with the
working directory set to the run's folder (so nothing a notebook writes by accident lands in the
repository). Parameters go to every notebook's ``parameters`` cell; ``output_dir`` (where the
notebooks pass results to each other) is set to ``<run folder>/artefacts``. Each executed
notebook is written to ``<run folder>/notebooks/`` and rendered to ``<run folder>/html/``, both
atomically. A failing notebook stops the run with :class:`NotebookError`, which names it, quotes
its error and points to the executed copy (``<name>.failed.ipynb``) holding the traceback.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mbm_helpers import workflow
from mbm_helpers.atomic import atomic_path
from mbm_helpers.paths import REPO_ROOT

#: The committed notebook series.
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
#: Jupyter kernel the notebooks run in (the one the project's environment installs).
KERNEL_NAME = "python3"
_SERIES_PATTERN = re.compile(r"^\d\d_[^.]+\.ipynb$")  # not NN_name.failed.ipynb


class NotebookError(RuntimeError):
    """A notebook of the series failed; the message names it and quotes its error."""


@dataclass
class SeriesResult:
    """What one run of the series produced."""

    output_dir: Path
    parameters: dict[str, Any]
    notebooks: list[Path] = field(default_factory=list)
    html: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def artefacts_dir(self) -> Path:
        """The folder the notebooks wrote their results to."""
        return Path(self.parameters.get("output_dir", self.output_dir / "artefacts"))

    def comparison(self) -> pd.DataFrame | None:
        """The final comparison table (one row per detector), if the series got that far."""
        return workflow.read_comparison(self.artefacts_dir)


def series_notebooks(notebooks_dir: str | os.PathLike | None = None) -> list[Path]:
    """The notebooks of the series (``NN_name.ipynb``), in order."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"notebook folder {folder} does not exist")
    found = sorted(p for p in folder.iterdir() if _SERIES_PATTERN.match(p.name))
    if not found:
        raise FileNotFoundError(f"no NN_name.ipynb notebooks in {folder}")
    return found


def select_notebooks(notebooks: Sequence[Path], only: Iterable[str] | None) -> list[Path]:
    """Keep the notebooks whose number or name matches one of ``only`` (``"02"``, ``"02_cvae"``)."""
    if not only:
        return list(notebooks)
    wanted = [str(w).removesuffix(".ipynb") for w in only]
    chosen = [nb for nb in notebooks if any(nb.stem == w or nb.stem.split("_", 1)[0] == w for w in wanted)]
    unknown = [
        w for w in wanted if not any(nb.stem == w or nb.stem.split("_", 1)[0] == w for nb in notebooks)
    ]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; the series has {[nb.stem for nb in notebooks]}")
    return chosen


def parse_value(text: str) -> Any:
    """Turn a command-line parameter value into Python, as papermill's ``-p`` does.

    ``True``/``False``/``None`` (any case), integers and floats are converted; anything else
    stays a string.
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file, with errors that name it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file {path} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from exc


def load_parameters(path: str | os.PathLike) -> dict[str, Any]:
    """Parameters from a YAML mapping file (``name: value`` lines), like papermill's ``-f``."""
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(
            f"{path} must hold a mapping of parameter names to values, not {type(data).__name__}"
        )
    return {str(k): v for k, v in data.items()}


def load_batch(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Parameter sets from a batch YAML file.

    Either a list of mappings, or a mapping with ``runs`` (that list) and optional ``defaults``
    (parameters shared by every run). A run may carry a ``name`` (its folder name).
    """
    data = read_yaml(path)
    defaults: dict[str, Any] = {}
    if isinstance(data, dict):
        extra = set(data) - {"runs", "defaults"}
        if "runs" not in data or extra:
            raise ValueError(
                f"{path}: a batch mapping needs 'runs' (and optionally 'defaults'), got {sorted(data)}"
            )
        defaults = data.get("defaults") or {}
        data = data["runs"]
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise ValueError(f"{path} must hold a non-empty list of parameter mappings (one per run)")
    if not isinstance(defaults, dict):
        raise ValueError(f"{path}: 'defaults' must be a mapping of parameter names to values")
    return [{**defaults, **run} for run in data]


def notebook_parameters(path: str | os.PathLike) -> dict[str, Any]:
    """The parameter names and default values declared in a notebook's ``parameters`` cell."""
    import papermill

    declared = papermill.inspect_notebook(str(path))
    return {name: info["default"] for name, info in declared.items()}


def check_parameters(parameters: Mapping[str, Any], notebooks: Sequence[Path]) -> None:
    """Raise ``ValueError`` for a parameter no notebook declares, or a value the workflow rejects."""
    known: set[str] = set()
    for nb in notebooks:
        known |= set(notebook_parameters(nb))
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; the notebooks take {sorted(known)}")
    workflow.Settings.from_parameters(**{k: v for k, v in parameters.items() if k in workflow.PARAMETERS})


def _absolute_paths(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Make path parameters absolute, since the notebooks run in another working directory."""
    out = dict(parameters)
    if out.get("output_dir") is not None:
        out["output_dir"] = str(Path(out["output_dir"]).expanduser().resolve())
    source = out.get("data_source")
    if isinstance(source, str) and source not in workflow.NAMED_SOURCES:
        out["data_source"] = str(Path(source).expanduser().resolve())
    return out


def _error_text(exc: BaseException) -> str:
    evalue = getattr(exc, "evalue", None)
    ename = getattr(exc, "ename", None)
    return f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"


def execute_notebook(
    source: Path,
    target: Path,
    parameters: Mapping[str, Any] | None,
    *,
    cwd: Path,
    html_dir: Path | None = None,
    failed_dir: Path | None = None,
    progress: bool = True,
    kernel_name: str = KERNEL_NAME,
) -> float:
    """Execute one notebook with papermill into ``target`` (atomically); return the wall time.

    The notebook is executed into a temporary file beside ``target`` and renamed onto it only
    when every cell ran. On failure the executed copy is kept as ``<stem>.failed.ipynb`` (beside
    ``target``, or in ``failed_dir``) and a :class:`NotebookError` is raised. ``source`` may equal
    ``target`` (re-execution in place).
    """
    import papermill

    os.environ.setdefault("PYTHONWARNINGS", "ignore:IProgress not found")  # tqdm without ipywidgets
    target.parent.mkdir(parents=True, exist_ok=True)
    failed = (failed_dir or target.parent) / f"{target.stem}.failed.ipynb"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{target.stem}.", dir=target.parent) as tmp:
        running = Path(tmp) / target.name
        try:
            papermill.execute_notebook(
                str(source),
                str(running),
                parameters=dict(parameters) if parameters else None,
                kernel_name=kernel_name,
                cwd=str(cwd),
                progress_bar=progress,
                request_save_on_cell_execute=True,
            )
        except Exception as exc:
            if running.exists():
                failed.parent.mkdir(parents=True, exist_ok=True)
                os.replace(running, failed)
            where = f"; the executed notebook is {failed}" if failed.exists() else ""
            raise NotebookError(f"notebook {source.name} failed: {_error_text(exc)}{where}") from exc
        tidy_notebook(running)
        os.replace(running, target)
    failed.unlink(missing_ok=True)
    if html_dir is not None:
        write_html(target, html_dir / f"{target.stem}.html")
    return time.perf_counter() - start


#: Log lines TensorFlow's C++ runtime writes to stderr on import (noise in a rendered notebook).
_LOG_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)|I0000 |W0000 |To enable the following "
    r"instructions:|WARNING:tensorflow:\d+ out of the last \d+ calls to .* triggered tf\.function "
    r"retracing).*\n?",
    re.MULTILINE,
)


#: A tqdm progress-bar update: ``desc: NN%|``.
_PROGRESS = re.compile(r"^\s*([^:\n]+): +\d+%\|")


def _tidy_streams(outputs: list) -> list:
    """Drop TensorFlow log noise, then keep only the last update of each progress bar."""
    for out in outputs:
        if out.output_type == "stream" and out.name == "stderr":
            out.text = _LOG_NOISE.sub("", out.text)
    last: dict[str, int] = {}
    for i, out in enumerate(outputs):
        if out.output_type == "stream" and (m := _PROGRESS.match(out.text.split("\r")[-1] or out.text)):
            last[m.group(1)] = i
    kept = []
    for i, out in enumerate(outputs):
        if out.output_type == "stream":
            m = _PROGRESS.match(out.text.split("\r")[-1] or out.text)
            if (m and last[m.group(1)] != i) or not out.text.strip():
                continue
        kept.append(out)
    return kept


def tidy_notebook(path: Path) -> None:
    """Make an executed notebook read well: merge progress-bar updates into their final line
    (nbconvert's ``CoalesceStreamsPreprocessor``), drop TensorFlow's import-time log lines and
    papermill's absolute input/output paths (local to the machine that ran it)."""
    import nbformat
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb = nbformat.read(path, as_version=4)
    coalesce = CoalesceStreamsPreprocessor()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        coalesce.preprocess_cell(cell, {}, i)
        cell.outputs = _tidy_streams(cell.outputs)
        coalesce.preprocess_cell(cell, {}, i)
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        meta.pop(key, None)
    nbformat.write(nb, path)


def write_html(notebook: Path, target: Path) -> Path:
    """Render an executed notebook to a standalone HTML page (figures embedded), atomically."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    with atomic_path(target) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return target


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def run_series(
    parameters: Mapping[str, Any] | None = None,
    *,
    output_dir: str | os.PathLike = "output",
    notebooks_dir: str | os.PathLike | None = None,
    only: Iterable[str] | None = None,
    html: bool = True,
    fresh: bool = False,
    progress: bool = True,
    kernel_name: str = KERNEL_NAME,
) -> SeriesResult:
    """Execute the series in order into ``output_dir``: ``notebooks/``, ``html/``, ``artefacts/``.

    ``parameters`` override the notebooks' defaults; ``output_dir`` (the artefacts folder) is
    ``<output_dir>/artefacts`` unless given. ``only`` runs a subset (numbers or names); each
    notebook rebuilds what earlier ones would have written, or reuses their files (artefacts built
    with the same settings are reused across runs; ``fresh=True`` removes them first).
    """
    notebooks = select_notebooks(series_notebooks(notebooks_dir), only)
    out = Path(output_dir).expanduser().resolve()
    params = {"output_dir": str(out / "artefacts"), **(parameters or {})}
    check_parameters(params, notebooks)
    params = _absolute_paths(params)
    result = SeriesResult(output_dir=out, parameters=params)
    out.mkdir(parents=True, exist_ok=True)
    if fresh:
        workflow.remove_artefacts(result.artefacts_dir)
    for i, nb in enumerate(notebooks, 1):
        _say(progress, f"[{i}/{len(notebooks)}] {nb.name} ...")
        target = out / "notebooks" / nb.name
        seconds = execute_notebook(
            nb,
            target,
            params,
            cwd=out,
            html_dir=out / "html" if html else None,
            progress=progress,
            kernel_name=kernel_name,
        )
        result.notebooks.append(target)
        if html:
            result.html.append(out / "html" / f"{nb.stem}.html")
        result.seconds[nb.stem] = seconds
        _say(progress, f"[{i}/{len(notebooks)}] {nb.name} done in {seconds:.1f} s")
    if html:
        write_index(result)
    return result


def write_index(result: SeriesResult) -> Path:
    """``html/index.html``: links to the rendered notebooks, their wall times, the final table."""
    import html as html_lib

    import nbformat

    items = []
    for nb_path, page in zip(result.notebooks, result.html, strict=True):
        first = nbformat.read(nb_path, as_version=4).cells[0].source.splitlines()[0]
        title = html_lib.escape(first.lstrip("# ").strip() or nb_path.stem)
        items.append(f'<li><a href="{page.name}">{title}</a> ({result.seconds[nb_path.stem]:.0f} s)</li>')
    table = result.comparison()
    shown = {k: v for k, v in result.parameters.items() if k != "output_dir"}
    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>MBM-IoT notebook series</title></head>"
        "<body style='font-family:sans-serif;max-width:60em;margin:2em auto'>"
        f"<h1>MBM-IoT notebook series</h1><p>Parameters: {html_lib.escape(str(shown or 'defaults'))}</p>"
        f"<ol>{''.join(items)}</ol>"
        + (
            ""
            if table is None
            else "<h2>Final comparison</h2>" + table.to_html(index=False, float_format="{:.4g}".format)
        )
        + "</body></html>\n"
    )
    target = result.output_dir / "html" / "index.html"
    with atomic_path(target) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return target


def run_in_place(
    *,
    notebooks_dir: str | os.PathLike | None = None,
    only: Iterable[str] | None = None,
    fresh: bool = True,
    progress: bool = True,
    kernel_name: str = KERNEL_NAME,
) -> dict[str, float]:
    """Re-execute the committed notebooks in place with their default parameters.

    They run in their own folder (as in Jupyter), so their default ``output_dir`` applies; with
    ``fresh`` (default) its artefacts are removed first, so every result is recomputed by the
    current code. A notebook is only replaced once it ran without error (a failed run's copy goes
    to ``output/failed/``); returns wall seconds per notebook.
    """
    notebooks = select_notebooks(series_notebooks(notebooks_dir), only)
    nb_dir = notebooks[0].parent
    failed_dir = workflow.default_output_dir().parent / "failed"  # keep the notebooks folder clean
    if fresh:
        default = ast.literal_eval(str(notebook_parameters(notebooks[0])["output_dir"]))
        workflow.remove_artefacts(workflow.default_output_dir() if default is None else nb_dir / default)
    seconds: dict[str, float] = {}
    for i, nb in enumerate(notebooks, 1):
        _say(progress, f"[{i}/{len(notebooks)}] {nb.name} (in place) ...")
        seconds[nb.stem] = execute_notebook(
            nb, nb, None, cwd=nb.parent, failed_dir=failed_dir, progress=progress, kernel_name=kernel_name
        )
        _say(progress, f"[{i}/{len(notebooks)}] {nb.name} done in {seconds[nb.stem]:.1f} s")
    return seconds


def run_name(index: int, parameters: Mapping[str, Any]) -> str:
    """A folder name for a batch run: its ``name``, else its number and parameters."""
    if parameters.get("name"):
        name = str(parameters["name"])
    else:
        parts = [f"{k}-{v}" for k, v in parameters.items() if k != "output_dir"]
        name = "_".join([f"run{index:02d}", *parts])
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)[:80]


def run_batch(
    runs: Sequence[Mapping[str, Any]],
    *,
    output_dir: str | os.PathLike = "output/batch",
    base_parameters: Mapping[str, Any] | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    only: Iterable[str] | None = None,
    html: bool = True,
    fresh: bool = False,
    progress: bool = True,
    kernel_name: str = KERNEL_NAME,
) -> pd.DataFrame:
    """Run the series once per parameter set, each into ``<output_dir>/<run name>/``.

    Every parameter set is checked before anything runs. A failing run is recorded (status
    ``failed`` and its error) and the others still run. Returns, and writes to
    ``<output_dir>/batch_summary.csv``, one row per run and detector: the run's parameters, its
    status and the comparison table's columns.
    """
    notebooks = select_notebooks(series_notebooks(notebooks_dir), only)
    out = Path(output_dir).expanduser().resolve()
    prepared = []
    for i, run in enumerate(runs, 1):
        name = run_name(i, run)
        params = {**(base_parameters or {}), **{k: v for k, v in run.items() if k != "name"}}
        try:
            check_parameters(params, notebooks)
        except ValueError as exc:
            raise ValueError(f"batch run {i} ({name}): {exc}") from exc
        prepared.append((name, params))
    if len({name for name, _ in prepared}) != len(prepared):
        raise ValueError(f"batch run names must be distinct, got {[n for n, _ in prepared]}")
    # every parameter any run sets, with each run's effective value (its own, else the default)
    varied = [k for k in workflow.PARAMETERS if k != "output_dir" and any(k in p for _, p in prepared)]
    rows = []
    for i, (name, params) in enumerate(prepared, 1):
        _say(progress, f"=== batch run {i}/{len(prepared)}: {name} ===")
        effective = workflow.Settings.from_parameters(**{k: v for k, v in params.items() if k in varied})
        shown = {k: getattr(effective, k) for k in varied}
        start = time.perf_counter()
        try:
            result = run_series(
                params,
                output_dir=out / name,
                notebooks_dir=notebooks_dir,
                only=only,
                html=html,
                fresh=fresh,
                progress=progress,
                kernel_name=kernel_name,
            )
        except NotebookError as exc:
            _say(progress, f"run {name} failed: {exc}")
            rows.append(
                {
                    "run": name,
                    **shown,
                    "status": "failed",
                    "error": str(exc),
                    "seconds": time.perf_counter() - start,
                }
            )
            continue
        table = result.comparison()
        base = {"run": name, **shown, "status": "ok", "error": "", "seconds": sum(result.seconds.values())}
        if table is None or table.empty:
            rows.append(base)
        else:
            rows += [{**base, **rec} for rec in table.to_dict("records")]
    summary = pd.DataFrame(rows)
    tail = [c for c in ("status", "seconds", "error") if c in summary]
    summary = summary[[c for c in summary if c not in tail] + tail]
    with atomic_path(out / "batch_summary.csv") as tmp:
        summary.to_csv(tmp, index=False)
    return summary
