"""The ``mbm-iot`` command: run the notebook series, regenerate it, prepare or download data."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

DESCRIPTION = """\
MBM-IoT teaching notebooks: a Conditional VAE learns one baseline per IoT device type from
benign N-BaIoT traffic and flags attacks by reconstruction error OR KL divergence.

commands:
  run        run the notebook series (embedded simulated sample by default) into an output
             folder: executed notebooks, HTML pages, artefacts; prints the comparison table
  batch      run the series once per parameter set of a YAML file, each into its own folder,
             and print a summary table across runs
  notebooks  re-execute the committed notebooks in place with their default parameters
  data       generate the embedded sample if needed (or read a given source) and summarise it
  download   download the official N-BaIoT archive (about 1.7 GB) and check its SHA-256
"""

PARAM_HELP = """\
notebook parameters (-p NAME VALUE, or NAME: VALUE lines in a YAML file given with -f):
  data_source        "simulated" (default), "download", or a path to an N-BaIoT folder or .zip
  scale              size of the simulated sample (1.0 = the default sample)
  smoke              True for a quick check: few rows, 2 epochs, tiny models
  epochs             training epochs of the CVAE and the AEs (None = the models' default)
  seed               random seed of the split's sampling and of the models
  condition          what the CVAE is conditioned on: "device_type" (paper) or "device"
  max_rows_per_file  rows read per source file (None = all; e.g. 20000 for the full dataset)
  output_dir         where notebooks pass results to each other (run/batch default: OUTPUT/artefacts;
                     in the notebooks themselves None, i.e. output/artefacts in the repository)
"""

EPILOG_RUN = (
    PARAM_HELP
    + """
examples:
  mbm-iot run
  mbm-iot run --smoke -o output/smoke
  mbm-iot run -p condition device -p seed 1 -o output/by-device
  mbm-iot run -p data_source ~/data/nbaiot.zip -p max_rows_per_file 20000 --only 00 01
"""
)

EPILOG_BATCH = (
    PARAM_HELP
    + """
batch file: a list of parameter mappings, or a mapping with 'defaults' and 'runs', e.g.
  defaults: {smoke: false}
  runs:
    - {name: seed0, seed: 0}
    - {name: seed1, seed: 1}
    - {name: by-device, condition: device}
"""
)


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    from mbm_helpers import runner

    params: dict[str, Any] = {}
    if getattr(args, "parameters_file", None):
        params.update(runner.load_parameters(args.parameters_file))
    for name, value in getattr(args, "parameter", None) or []:
        params[name] = runner.parse_value(value)
    if getattr(args, "smoke", False):
        params["smoke"] = True
    return params


def _add_run_options(p: argparse.ArgumentParser, default_output: str) -> None:
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="set a notebook parameter (repeatable); True/False/None and numbers are converted",
    )
    p.add_argument(
        "-f",
        "--parameters-file",
        metavar="YAML",
        help="YAML mapping of notebook parameters (-p options override it)",
    )
    p.add_argument(
        "-o",
        "--output",
        default=default_output,
        metavar="FOLDER",
        help=f"output folder (default: {default_output})",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NOTEBOOK",
        help="run only these notebooks, by number or name (e.g. --only 00 02_cvae)",
    )
    p.add_argument("--smoke", action="store_true", help="shortcut for -p smoke True")
    p.add_argument("--no-html", action="store_true", help="do not render HTML pages")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="delete artefacts of earlier runs first (by default, ones built with the same "
        "settings are reused)",
    )
    p.add_argument(
        "--notebooks-dir", metavar="FOLDER", help="folder of the NN_*.ipynb series (default: notebooks/)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mbm-iot`` (sub-commands run, batch, notebooks, data, download)."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="mbm-iot", description=DESCRIPTION, formatter_class=raw)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the notebook series into an output folder",
        formatter_class=raw,
        description="Run the notebooks in order with papermill; write the executed\n"
        "notebooks, their HTML and the artefacts; print the final comparison table.",
        epilog=EPILOG_RUN,
    )
    _add_run_options(run, "output")

    batch = sub.add_parser(
        "batch",
        help="run the series once per parameter set of a YAML file",
        formatter_class=raw,
        epilog=EPILOG_BATCH,
        description="Run the series for each parameter set, each into OUTPUT/<run name>/,\n"
        "then write OUTPUT/batch_summary.csv and print it. -p/-f parameters apply to\n"
        "every run (a run's own values win).",
    )
    batch.add_argument("runs", metavar="RUNS_YAML", help="YAML file listing the parameter sets")
    _add_run_options(batch, "output/batch")

    nbs = sub.add_parser(
        "notebooks",
        help="re-execute the committed notebooks in place",
        description="Re-execute notebooks/NN_*.ipynb in place with their default "
        "parameters (embedded sample, scale 1), so they render for readers. A notebook "
        "is replaced only if it ran without error.",
    )
    nbs.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="only these notebooks (number or name)")
    nbs.add_argument(
        "--notebooks-dir", metavar="FOLDER", help="folder of the NN_*.ipynb series (default: notebooks/)"
    )
    nbs.add_argument(
        "--reuse",
        action="store_true",
        help="reuse artefacts of an earlier run with the same settings (default: recompute all)",
    )
    nbs.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    data = sub.add_parser(
        "data",
        help="generate the embedded sample if needed and summarise it",
        description="Generate the embedded simulated sample (unless --source is given), "
        "load it and print rows per device and class.",
    )
    data.add_argument(
        "--source",
        default="simulated",
        help='"simulated" (default), "download", or an N-BaIoT folder or .zip',
    )
    data.add_argument("--scale", type=float, default=1.0, help="simulated sample size (default 1.0)")
    data.add_argument("--seed", type=int, default=0, help="simulated sample seed (default 0)")
    data.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    down = sub.add_parser(
        "download",
        help="download the official N-BaIoT archive",
        description="Download the official N-BaIoT zip from the UCI repository (about "
        "1.7 GB), resume if interrupted, and check its pinned SHA-256. Use the printed "
        "path as data_source.",
    )
    down.add_argument("--dest", metavar="FOLDER", help="folder to download into (default: data/raw)")
    down.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def _format(table: pd.DataFrame) -> str:
    return table.to_string(index=False, float_format=lambda x: f"{x:.4g}")


def _ensure_sample_first(params: dict[str, Any], quiet: bool) -> None:
    """Generate the embedded sample in the terminal (with progress) before the notebooks need it."""
    if params.get("data_source", "simulated") == "simulated":
        from mbm_helpers.sample_data import ensure_sample

        folder = ensure_sample(scale=float(params.get("scale", 1.0)), seed=0, progress=not quiet)
        print(f"embedded sample: {folder}")


def cmd_run(args: argparse.Namespace) -> int:
    from mbm_helpers import runner

    params = _parameters(args)
    notebooks = runner.select_notebooks(runner.series_notebooks(args.notebooks_dir), args.only)
    runner.check_parameters(params, notebooks)
    _ensure_sample_first(params, args.quiet)
    result = runner.run_series(
        params,
        output_dir=args.output,
        notebooks_dir=args.notebooks_dir,
        only=args.only,
        html=not args.no_html,
        fresh=args.fresh,
        progress=not args.quiet,
    )
    print(f"\nexecuted notebooks: {result.output_dir / 'notebooks'}")
    if result.html:
        print(f"HTML pages:         {result.output_dir / 'html'} (start at index.html)")
    print(f"artefacts:          {result.artefacts_dir}")
    print("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()))
    table = result.comparison()
    if table is not None:
        print("\nfinal comparison (test part; FPR over devices, FNR over attacks):")
        print(_format(table))
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from mbm_helpers import runner

    runs = runner.load_batch(args.runs)
    summary = runner.run_batch(
        runs,
        output_dir=args.output,
        base_parameters=_parameters(args),
        notebooks_dir=args.notebooks_dir,
        only=args.only,
        html=not args.no_html,
        fresh=args.fresh,
        progress=not args.quiet,
    )
    print(f"\nbatch summary ({Path(args.output) / 'batch_summary.csv'}):")
    print(_format(summary.drop(columns=["error"], errors="ignore")))
    failed = summary.loc[summary["status"] == "failed"] if "status" in summary else summary.iloc[:0]
    for _, row in failed.iterrows():
        print(f"run {row['run']} failed: {row['error']}", file=sys.stderr)
    return 1 if len(failed) else 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    from mbm_helpers import runner

    seconds = runner.run_in_place(
        notebooks_dir=args.notebooks_dir, only=args.only, fresh=not args.reuse, progress=not args.quiet
    )
    print(
        f"re-executed in place in {args.notebooks_dir or runner.NOTEBOOKS_DIR}: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    )
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from mbm_helpers.loading import load_nbaiot, summarize

    if args.source == "simulated":
        from mbm_helpers.sample_data import ensure_sample

        source = ensure_sample(scale=args.scale, seed=args.seed, progress=not args.quiet)
    elif args.source == "download":
        from mbm_helpers.download import download_nbaiot

        source = download_nbaiot(progress=not args.quiet)
    else:
        source = Path(args.source).expanduser()
        if not source.exists():
            raise FileNotFoundError(f"--source {args.source!r} does not exist")
    df = load_nbaiot(source, progress=not args.quiet)
    print(f"data: {source}\n{len(df):,} rows, {df['device'].nunique()} devices\n")
    print(summarize(df).to_string())
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from mbm_helpers.download import download_nbaiot

    kwargs: dict[str, Any] = {"progress": not args.quiet}
    if args.dest:
        kwargs["dest_dir"] = Path(args.dest)
    path = download_nbaiot(**kwargs)
    print(f"N-BaIoT archive: {path}\nuse it with: mbm-iot run -p data_source {path}")
    return 0


COMMANDS = {
    "run": cmd_run,
    "batch": cmd_batch,
    "notebooks": cmd_notebooks,
    "data": cmd_data,
    "download": cmd_download,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mbm-iot``; returns the exit status (0 ok, 1 a notebook failed, 2 bad input)."""
    from mbm_helpers.runner import NotebookError

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except NotebookError as exc:
        print(f"mbm-iot {args.command}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as exc:
        print(f"mbm-iot {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
