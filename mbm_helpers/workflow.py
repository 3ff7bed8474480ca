"""What the notebooks share: their parameters, the data, and the artefacts they pass on.

Every notebook starts with ``settings = workflow.setup(**parameters)`` and then asks for what it
needs: :func:`get_split`, :func:`get_cvae`, :func:`get_cvae_evaluation`, :func:`get_comparison`.
Each of these loads the artefact from ``output_dir`` when an earlier notebook (or run) wrote it
with the same settings, and otherwise builds it and saves it there, so a notebook runs alone or
reuses the previous notebooks' files. An artefact is a folder holding its files and a
``key.json`` of the settings it was built from; it is written atomically, so a crash never leaves
a half-written artefact that a later notebook would trust.

Artefacts (in ``output_dir``): ``split/`` (train/validation/test Parquet), ``cvae/`` (the trained
CVAE detector), ``cvae_evaluation/`` and ``comparison/`` (evaluation tables as CSV),
``results/`` (small tables the notebooks write for readers and for the runner).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from mbm_helpers.atomic import atomic_path

#: Parameters every notebook's ``parameters`` cell declares.
PARAMETERS = (
    "data_source",
    "scale",
    "smoke",
    "epochs",
    "seed",
    "condition",
    "output_dir",
    "max_rows_per_file",
)
#: ``data_source`` values that are not paths.
NAMED_SOURCES = ("simulated", "download")
CONDITIONS = ("device_type", "device")
#: Smoke mode (tests, quick checks): rows kept per source file and CVAE/AE epochs.
SMOKE_ROWS_PER_FILE = 150
SMOKE_EPOCHS = 2
#: Attack rows kept per (device, attack) file in the test part (a seeded sample).
MAX_ATTACK_ROWS_PER_FILE = 5000
SMOKE_ATTACK_ROWS_PER_FILE = 100
#: Where the runner finds the final comparison table.
COMPARISON_TABLE = Path("results") / "comparison_summary.csv"

T = TypeVar("T")

# Without ipywidgets, tqdm.auto falls back to text bars (fine in notebooks) but warns every time.
warnings.filterwarnings("ignore", message="IProgress not found")


def default_output_dir() -> Path:
    """Where artefacts go when ``output_dir`` is None: ``output/artefacts`` in the repository
    (an editable install, as the Makefile makes), else in the current folder."""
    from mbm_helpers.paths import REPO_ROOT

    root = REPO_ROOT if (REPO_ROOT / "pyproject.toml").exists() else Path.cwd()
    return root / "output" / "artefacts"


@dataclass(frozen=True)
class Settings:
    """Validated notebook parameters (see :func:`setup`)."""

    data_source: str = "simulated"
    scale: float = 1.0
    smoke: bool = False
    epochs: int | None = None
    seed: int = 0
    condition: str = "device_type"
    output_dir: Path | None = None
    max_rows_per_file: int | None = None

    @classmethod
    def from_parameters(cls, **params: Any) -> Settings:
        """Check the parameters and build settings; bad names or values raise ``ValueError``."""
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown}; expected some of {list(PARAMETERS)}")
        p = {**asdict(cls()), **params}
        source = p["data_source"]
        if not isinstance(source, str | os.PathLike) or not str(source):
            raise ValueError(f"data_source must be 'simulated', 'download' or a path, got {source!r}")
        if isinstance(p["scale"], bool) or not isinstance(p["scale"], int | float) or not p["scale"] > 0:
            raise ValueError(f"scale must be a positive number, got {p['scale']!r}")
        if not isinstance(p["smoke"], bool):
            raise ValueError(f"smoke must be True or False, got {p['smoke']!r}")
        for name in ("epochs", "max_rows_per_file"):
            value = p[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if isinstance(p["seed"], bool) or not isinstance(p["seed"], int) or p["seed"] < 0:
            raise ValueError(f"seed must be a non-negative integer, got {p['seed']!r}")
        if p["condition"] not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {p['condition']!r}")
        if p["output_dir"] is not None and (
            not isinstance(p["output_dir"], str | os.PathLike) or not str(p["output_dir"])
        ):
            raise ValueError(f"output_dir must be a folder path or None, got {p['output_dir']!r}")
        return cls(
            data_source=str(source),
            scale=float(p["scale"]),
            smoke=p["smoke"],
            epochs=p["epochs"],
            seed=p["seed"],
            condition=p["condition"],
            output_dir=Path(p["output_dir"]).expanduser()
            if p["output_dir"] is not None
            else default_output_dir(),
            max_rows_per_file=p["max_rows_per_file"],
        )

    @property
    def rows_per_file(self) -> int | None:
        """Rows loaded per source file: ``max_rows_per_file``, at most the smoke cap in smoke mode."""
        if self.smoke:
            return min(self.max_rows_per_file or SMOKE_ROWS_PER_FILE, SMOKE_ROWS_PER_FILE)
        return self.max_rows_per_file

    @property
    def attack_rows_per_file(self) -> int:
        """Attack rows kept per (device, attack) file in the test part."""
        return SMOKE_ATTACK_ROWS_PER_FILE if self.smoke else MAX_ATTACK_ROWS_PER_FILE

    @property
    def train_epochs(self) -> int | None:
        """Epochs for the CVAE and the AEs (``None``: the detectors' own default)."""
        if self.smoke:
            return min(self.epochs or SMOKE_EPOCHS, SMOKE_EPOCHS)
        return self.epochs

    def data_key(self) -> dict[str, Any]:
        """What the split depends on."""
        source = self.data_source
        if source not in NAMED_SOURCES:
            source = str(Path(source).expanduser().resolve())
        scale = self.scale if self.data_source == "simulated" else None
        return {
            "data_source": source,
            "scale": scale,
            "seed": self.seed,
            "rows_per_file": self.rows_per_file,
            "attack_rows_per_file": self.attack_rows_per_file,
        }

    def model_key(self) -> dict[str, Any]:
        """What the trained models and their evaluations depend on."""
        return {
            **self.data_key(),
            "condition": self.condition,
            "epochs": self.train_epochs,
            "smoke": self.smoke,
        }


def setup(**parameters: Any) -> Settings:
    """Validate the notebook's parameters, create ``output_dir`` and set up figures.

    Figures are PNG at 90 dpi with seaborn's whitegrid style, so notebooks stay small and
    readable. Prints the settings in one line.
    """
    settings = Settings.from_parameters(**parameters)
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    _figure_style()
    shown = ", ".join(f"{k}={v}" for k, v in asdict(settings).items() if k != "output_dir")
    print(f"settings: {shown}\nartefacts: {os.path.relpath(settings.output_dir)}")
    return settings


def _figure_style() -> None:
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    plt.rcParams.update({"figure.dpi": 90, "savefig.dpi": 90, "figure.autolayout": False})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython: nothing to configure
        pass


def environment_report() -> pd.DataFrame:
    """Python, key library versions and the CPU/GPU the notebooks run on, as a two-column table."""
    import keras
    import numpy
    import sklearn
    import tensorflow as tf

    rows = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "CPU cores (usable)": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "GPUs visible to TensorFlow": len(tf.config.list_physical_devices("GPU")),
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras backend": keras.backend.backend(),
    }
    return pd.DataFrame({"item": list(rows), "value": [str(v) for v in rows.values()]})


# --------------------------------------------------------------------------- data


def resolve_source(settings: Settings, *, progress: bool = True) -> Path:
    """The folder or archive to load: the generated sample, the download, or the given path."""
    if settings.data_source == "simulated":
        from mbm_helpers.sample_data import ensure_sample

        return ensure_sample(scale=settings.scale, seed=0, progress=progress)
    if settings.data_source == "download":
        from mbm_helpers.download import download_nbaiot

        return Path(download_nbaiot(progress=progress))
    path = Path(settings.data_source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"data_source {settings.data_source!r} is neither 'simulated', 'download' nor an existing "
            f"folder or .zip (looked at {path.resolve()})"
        )
    return path


def load_data(settings: Settings, *, progress: bool = True) -> pd.DataFrame:
    """The tidy N-BaIoT table of the chosen source (capped at ``rows_per_file`` rows per file)."""
    from mbm_helpers.loading import load_nbaiot

    source = resolve_source(settings, progress=progress)
    return load_nbaiot(
        source, max_rows_per_file=settings.rows_per_file, seed=settings.seed, progress=progress
    )


def _artefact(
    folder: Path,
    key: dict[str, Any],
    build: Callable[[], T],
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
    *,
    what: str,
) -> T:
    """Load ``folder`` if its ``key.json`` equals ``key``; else build, save atomically, return."""
    key_file = folder / "key.json"
    if key_file.is_file():
        try:
            stored = json.loads(key_file.read_text())
        except json.JSONDecodeError:
            stored = None
        if stored == key:
            print(f"{what}: reusing {os.path.relpath(folder)}")
            return load(folder)
        print(f"{what}: {os.path.relpath(folder)} was built with other settings; rebuilding it")
    value = build()
    with atomic_path(folder, directory=True) as tmp:
        save(value, tmp)
        (tmp / "key.json").write_text(json.dumps(key, indent=1, sort_keys=True))
    print(f"{what}: saved to {os.path.relpath(folder)}")
    return value


def get_split(settings: Settings, *, table: pd.DataFrame | None = None, progress: bool = True):
    """The train/validation/test split (``preprocessing.Split``), from ``split/`` or built.

    ``table``: the already loaded tidy table of these settings (saves loading it again).
    """
    from mbm_helpers.preprocessing import Split, split_dataset

    def build():
        df = table if table is not None else load_data(settings, progress=progress)
        return split_dataset(df, max_attack_rows_per_file=settings.attack_rows_per_file, seed=settings.seed)

    def save(split, folder: Path) -> None:
        for part in ("train", "validation", "test"):
            getattr(split, part).to_parquet(folder / f"{part}.parquet", index=False)

    def load(folder: Path):
        return Split(**{p: pd.read_parquet(folder / f"{p}.parquet") for p in ("train", "validation", "test")})

    return _artefact(settings.output_dir / "split", settings.data_key(), build, save, load, what="split")


def all_rows(split) -> pd.DataFrame:
    """Train, validation and test parts of a split as one tidy table (for exploration)."""
    return pd.concat([split.train, split.validation, split.test], ignore_index=True)


def make_detectors(settings: Settings) -> dict:
    """The six detectors of the comparison (paper order), configured from the settings.

    The neural ones print one line per training epoch (``verbose=2``).
    """
    from mbm_helpers.detectors import make_detectors as make

    detectors = make(
        condition=settings.condition, epochs=settings.train_epochs, seed=settings.seed, quick=settings.smoke
    )
    for detector in detectors.values():
        if "verbose" in detector.get_params():
            detector.set_params(verbose=2)
    return detectors


def detector_table(detectors: dict) -> pd.DataFrame:
    """One row per detector: its class, threshold groups, training rows and other settings."""
    hidden = ("n_std", "threshold_source", "seed", "verbose", "n_jobs", "max_train_rows", "condition")
    rows = []
    for name, det in detectors.items():
        p = det.get_params()
        if "condition" in p:
            groups = f"one per {p['condition'].replace('_', ' ')}"
        else:
            groups = "one per device" if type(det).__name__ == "AE2Detector" else "one for all devices"
        rows.append(
            {
                "detector": name,
                "class": type(det).__name__,
                "thresholds": f"{groups} (mean + {p['n_std']:g} std)",
                "training rows": f"seeded sample of {p['max_train_rows']:,}"
                if p.get("max_train_rows")
                else "all",
                "settings": ", ".join(f"{k}={v}" for k, v in p.items() if k not in hidden),
            }
        )
    return pd.DataFrame(rows).set_index("detector")


def get_cvae(settings: Settings, split=None, *, progress: bool = True):
    """The trained CVAE detector, from ``cvae/`` or trained on ``split`` (benign train rows)."""
    from mbm_helpers.detectors import CVAEDetector

    def build():
        data = split if split is not None else get_split(settings, progress=progress)
        detector = make_detectors(settings)["CVAE"]
        return detector.fit(data.train, validation=data.validation)

    def save(detector, folder: Path) -> None:
        detector.save(folder / "model")

    return _artefact(
        settings.output_dir / "cvae",
        settings.model_key(),
        build,
        save,
        lambda folder: CVAEDetector.load(folder / "model"),
        what="CVAE",
    )


def _evaluation_artefact(name: str, settings: Settings, build: Callable[[], Any]):
    from mbm_helpers.evaluation import Evaluation

    return _artefact(
        settings.output_dir / name,
        settings.model_key(),
        build,
        lambda ev, folder: ev.save(folder / "tables"),
        lambda folder: Evaluation.load(folder / "tables"),
        what=name,
    )


def get_cvae_evaluation(settings: Settings, split, cvae, *, progress: bool = True):
    """The CVAE's evaluation on the test part with each rule: keys ``either``, ``re``, ``kld``.

    Returned as one ``Evaluation`` whose detector names are ``CVAE`` (the paper's either-rule),
    ``CVAE (RE only)`` and ``CVAE (KLD only)``; the three share the trained model.
    """
    from mbm_helpers.evaluation import evaluate

    def build():
        variants = {
            "CVAE": cvae.with_rule("either"),
            "CVAE (RE only)": cvae.with_rule("re"),
            "CVAE (KLD only)": cvae.with_rule("kld"),
        }
        return evaluate(variants, split, fit=False, progress=progress)

    return _evaluation_artefact("cvae_evaluation", settings, build)


def get_comparison(settings: Settings, split, cvae, *, progress: bool = True):
    """All six detectors evaluated on the same test part; the CVAE is the trained one, reused.

    The five baselines are fitted here on the benign train rows (validation rows for the AEs'
    early stopping). Also writes the summary table the runner prints (``results/``).
    """
    from mbm_helpers.evaluation import evaluate

    def build():
        detectors = make_detectors(settings)
        for name, detector in detectors.items():
            if name == "CVAE":
                continue
            print(f"fitting {name} ...", flush=True)
            detector.fit(split.train, validation=split.validation)
            print(f"fitting {name}: {detector.fit_time_:.1f} s", flush=True)
        detectors["CVAE"] = cvae
        return evaluate(detectors, split, fit=False, progress=progress)

    evaluation = _evaluation_artefact("comparison", settings, build)
    save_result(evaluation.summary, settings, COMPARISON_TABLE.name)
    return evaluation


# --------------------------------------------------------------------------- the paper's claims

#: The paper's reported CVAE training time (seconds, 4-core 3.6 GHz desktop).
PAPER_CVAE_FIT_SECONDS = 107.62


def _best(series: pd.Series) -> tuple[str, float]:
    return str(series.idxmin()), float(series.min())


def paper_claims(evaluation, detector: str = "CVAE") -> pd.DataFrame:
    """Check the paper's claims about the CVAE against an evaluation's numbers.

    One row per claim: ``claim``, ``paper`` (what it reports), ``measured`` (here), ``holds``
    (bool). Rates are means over devices (FPR) and over attacks (FNR), as in Fig. 2's dashed lines.
    """
    fpr = evaluation.fpr_by_device.groupby("detector", observed=True)["fpr"].mean()
    fnr = evaluation.fnr_by_attack.groupby("detector", observed=True)["fnr"].mean()
    times = evaluation.summary.set_index("detector")["fit_time_s"]
    if detector not in fpr.index:
        raise ValueError(f"paper_claims: detector {detector!r} is not in the evaluation ({list(fpr.index)})")
    others = [d for d in fpr.index if d != detector]
    rows = [
        ("CVAE mean FPR over devices below 0.01", "< 0.01", f"{fpr[detector]:.4f}", fpr[detector] < 0.01),
        ("CVAE mean FNR over attacks below 0.01", "< 0.01", f"{fnr[detector]:.4f}", fnr[detector] < 0.01),
    ]
    for name, rate in (("FPR", fpr), ("FNR", fnr)):
        best = _best(rate[others])
        rows.append(
            (
                f"CVAE has the lowest mean {name} of the six",
                "best",
                f"CVAE {rate[detector]:.4f}; best other {best[0]} {best[1]:.4f}",
                rate[detector] <= best[1],
            )
        )
    by_attack = evaluation.fnr_by_attack
    tcp = by_attack[by_attack["attack"] == "gafgyt_tcp"].set_index("detector")["fnr"]
    if detector in tcp.index and len(tcp) > 1:
        rest = tcp.drop(detector)
        missed = [str(d) for d in rest.index if rest[d] > 0.5]
        rows.append(
            (
                "CVAE detects BASHLITE TCP floods (FNR < 0.01, no model better) that another model misses",
                "CVAE best; others miss",
                f"CVAE FNR {tcp[detector]:.4f}; best other {rest.idxmin()} {rest.min():.4f}; "
                f"missed (FNR > 0.5) by {', '.join(missed) or 'none'}",
                tcp[detector] < 0.01 and tcp[detector] <= rest.min() and bool(missed),
            )
        )
    fastest = _best(times.drop(detector))
    rows.append(
        (
            "CVAE trains faster than the other models",
            f"{PAPER_CVAE_FIT_SECONDS} s",
            f"CVAE {times[detector]:.1f} s; fastest other {fastest[0]} {fastest[1]:.1f} s",
            times[detector] <= fastest[1],
        )
    )
    out = pd.DataFrame(rows, columns=["claim", "paper", "measured", "holds"])
    out["holds"] = out["holds"].astype(bool)
    return out


def claims_text(claims: pd.DataFrame, settings: Settings) -> str:
    """A closing paragraph (Markdown) written from :func:`paper_claims` and the run's settings."""
    held = claims[claims["holds"]]["claim"].tolist()
    failed = claims[~claims["holds"]]["claim"].tolist()
    data = {
        "simulated": f"the simulated sample (scale {settings.scale:g})",
        "download": "the downloaded N-BaIoT archive",
    }.get(settings.data_source, f"the data at `{settings.data_source}`")
    measured = claims.set_index("claim")["measured"]
    parts = [
        f"On {data}, the CVAE's mean FPR over devices is {measured.iloc[0]} and its mean FNR over attacks "
        f"{measured.iloc[1]} (the paper reports both below 0.01). {len(held)} of the {len(claims)} claims "
        f"checked {'holds' if len(held) == 1 else 'hold'} here and {len(failed)} "
        f"{'does' if len(failed) == 1 else 'do'} not."
    ]
    if held:
        parts.append("Holding: " + "; ".join(held) + ".")
    if failed:
        parts.append("Not holding: " + "; ".join(failed) + ".")
    parts.append(
        "Training times depend on the machine (the paper used a 4-core 3.6 GHz desktop) and on the "
        "number of training rows, so only their order between models is comparable."
    )
    if settings.data_source == "simulated":
        parts.append(
            "These data are simulated: the comparison shows how the method behaves on traffic built to "
            "resemble N-BaIoT, and neither confirms nor refutes the paper's numbers on real traffic."
        )
    if settings.smoke:
        parts.append(
            "This was a smoke run (few rows, tiny models): the numbers only check that the code runs."
        )
    if settings.rows_per_file is not None and settings.data_source != "simulated":
        parts.append(f"Only the first {settings.rows_per_file:,} rows of each file were used.")
    parts.append("A single seed was run; `mbm-iot batch` with several seeds shows how much the numbers vary.")
    return " ".join(parts)


# --------------------------------------------------------------------------- small result tables


def save_result(table: pd.DataFrame, settings: Settings, name: str) -> Path:
    """Write a result table to ``<output_dir>/results/<name>`` (CSV, atomically)."""
    target = settings.output_dir / "results" / name
    with atomic_path(target) as tmp:
        table.to_csv(tmp, index=False)
    return target


#: The artefact folders the notebooks write (see the module docstring).
ARTEFACTS = ("split", "cvae", "cvae_evaluation", "comparison", "results")


def remove_artefacts(output_dir: str | os.PathLike) -> None:
    """Delete the artefacts a previous run left in ``output_dir`` (only the folders it writes)."""
    import shutil

    for name in ARTEFACTS:
        shutil.rmtree(Path(output_dir) / name, ignore_errors=True)


def read_comparison(artefacts_dir: str | os.PathLike) -> pd.DataFrame | None:
    """The final comparison table a run wrote, or ``None`` if it has not been written."""
    path = Path(artefacts_dir) / COMPARISON_TABLE
    return pd.read_csv(path) if path.is_file() else None
