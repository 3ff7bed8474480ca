"""The embedded default data set: N-BaIoT-shaped rows generated from SIMULATED network traffic.

The real N-BaIoT archive is 1.7 GB, too big for a quick offline start, so by default the notebooks
run on a small data set that ``mbm_helpers`` generates on first use. It is not real data:

- ``mbm_helpers.simulator`` simulates, for each of the nine N-BaIoT devices, the packets its switch
  port would carry: benign traffic modelled on what such a device does (a doorbell's cloud
  keep-alives and video when rung, a thermostat's periodic telemetry, a baby monitor's audio and
  video stream, cameras streaming to a recorder or a phone), and for each attack file the packets
  the infected device emits in that Mirai or BASHLITE attack, mixed with its ongoing benign traffic
  and its C&C connection;
- the same AfterImage feature extractor as N-BaIoT (``mbm_helpers.afterimage``) turns the packets
  into the 115 features, one row per packet;
- the rows are written in the extracted N-BaIoT layout (``<Device>/benign_traffic.csv``,
  ``<Device>/gafgyt_attacks/<attack>.csv``, ``<Device>/mirai_attacks/<attack>.csv``), so the same
  loader reads them: ``load_nbaiot(ensure_sample())``.

Generation is deterministic: the same seed and scale give byte-identical files. The doorbell and
thermostat behaviour was calibrated against real N-BaIoT rows (``benchmarks/CALIBRATION.md``), but
results on simulated data are a teaching aid, not a reproduction of the paper's numbers. To use the
real data set, download it (``mbm-iot download``) and pass the official zip or an extracted folder
to ``load_nbaiot(path_to_zip_or_folder)``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mbm_helpers import paths, schema
from mbm_helpers.atomic import atomic_path
from mbm_helpers.simulator import simulate_file

#: Bump whenever the simulator's output changes: ``ensure_sample`` then regenerates old folders.
GENERATOR_VERSION = "3"
#: Rows per device at scale 1.0: benign file, and each attack file.
DEFAULT_BENIGN_ROWS = 3000
DEFAULT_ATTACK_ROWS = 500
#: Fewest rows a file gets at any scale.
MIN_ROWS = 20
#: CSV float format: nine significant digits round-trip every float32 exactly.
FLOAT_FORMAT = "%.9g"
MANIFEST = "SIMULATED.json"

_README = """SIMULATED DATA - NOT THE REAL N-BaIoT DATA SET

{description}

Generator version {version}, seed {seed}, scale {scale:g}. Row counts per file: {manifest}.
"""


def describe() -> str:
    """A plain-language paragraph on what the default data are (for READMEs and notebooks)."""
    return (
        "The default data are simulated, not recorded: mbm_helpers simulates the network packets of "
        "the nine N-BaIoT IoT devices (benign behaviour per device type, and the ten Mirai and "
        "BASHLITE attacks as an infected device emits them, mixed with its benign and C&C traffic), "
        "computes the same 115 AfterImage features as N-BaIoT from them, and writes the rows in the "
        "N-BaIoT folder layout. The generator is deterministic in its seed and was calibrated against "
        "real N-BaIoT rows of two devices. For the real data set run `mbm-iot download` and pass the "
        "zip or an extracted folder to `load_nbaiot(path_to_zip_or_folder)`."
    )


def rows_per_file(label: str, scale: float = 1.0) -> int:
    """Rows of a file of class ``label`` at ``scale``: ``round(default * scale)``, at least ``MIN_ROWS``."""
    default = DEFAULT_BENIGN_ROWS if label == "benign" else DEFAULT_ATTACK_ROWS
    return max(MIN_ROWS, round(default * scale))


def relative_path(device: str, label: str) -> str:
    """Where a device's file of class ``label`` sits in the extracted N-BaIoT layout."""
    if label == "benign":
        return f"{device}/benign_traffic.csv"
    botnet, attack = label.split("_", 1)
    return f"{device}/{botnet}_attacks/{attack}.csv"


def _check(scale: float, seed: int, devices) -> list[str]:
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if devices is None:
        return list(schema.DEVICE_NAMES)
    if isinstance(devices, str | int):
        devices = [devices]
    names = []
    for d in devices:
        try:
            names.append(schema.device(d).name)
        except KeyError as err:
            raise ValueError(str(err.args[0])) from None
    return [n for n in schema.DEVICE_NAMES if n in names]


def write_csv(path: Path, values: np.ndarray) -> None:
    """Write feature rows under the N-BaIoT header, floats as ``FLOAT_FORMAT``, ``\\n`` line ends."""
    with open(path, "w", newline="\n") as f:
        f.write(",".join(schema.FEATURES) + "\n")
        np.savetxt(f, values, fmt=FLOAT_FORMAT, delimiter=",")


def generate_sample(
    out_dir: str | os.PathLike,
    *,
    scale: float = 1.0,
    seed: int = 0,
    devices=None,
    progress: bool = True,
) -> Path:
    """Generate the simulated sample into ``out_dir`` (replaced atomically) and return it.

    ``out_dir`` must be new, empty or an earlier simulated sample (it is replaced as a whole).

    ``devices`` (names or ids; default all nine) limits the devices; ``scale`` multiplies the rows
    per file (3,000 benign and 500 per attack at 1.0). Wrong parameters raise ``ValueError``.
    """
    names = _check(scale, seed, devices)
    out_dir = Path(out_dir)
    if out_dir.is_file() or (
        out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file()
    ):
        raise ValueError(
            f"{out_dir} exists and is not a simulated sample (no {MANIFEST}); generate_sample replaces its "
            "output folder, so give a new or empty folder"
        )
    jobs = [(name, label) for name in names for _, label in schema.files_of(name)]
    counts: dict[str, int] = {}
    with atomic_path(out_dir, directory=True) as tmp:
        for name, label in tqdm(jobs, desc="simulating N-BaIoT sample", unit="file", disable=not progress):
            rel = relative_path(name, label)
            values = simulate_file(name, label, rows_per_file(label, scale), seed=int(seed))
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            write_csv(tmp / rel, values)
            counts[rel] = len(values)
        manifest = {
            "simulated": True,
            "generator_version": GENERATOR_VERSION,
            "seed": int(seed),
            "scale": float(scale),
            "devices": names,
            "float_format": FLOAT_FORMAT,
            "rows": counts,
            "total_rows": sum(counts.values()),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / "README.txt").write_text(
            _README.format(
                description=__doc__.strip(),
                version=GENERATOR_VERSION,
                seed=seed,
                scale=scale,
                manifest=MANIFEST,
            )
        )
    return out_dir


def _is_current(folder: Path, scale: float, seed: int) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return (
        manifest.get("generator_version") == GENERATOR_VERSION
        and manifest.get("seed") == seed
        and manifest.get("scale") == float(scale)
        and manifest.get("devices") == list(schema.DEVICE_NAMES)
        and all((folder / rel).is_file() for rel in manifest.get("rows", {}))
    )


def ensure_sample(
    scale: float = 1.0, seed: int = 0, out_dir: str | os.PathLike | None = None, progress: bool = True
) -> Path:
    """The simulated sample's folder (``paths.simulated_dir(scale, seed)`` unless ``out_dir``).

    Generated (all nine devices) only when missing or made by another generator version, seed or scale.
    """
    _check(scale, seed, None)
    folder = Path(out_dir) if out_dir is not None else paths.simulated_dir(scale, seed)
    if not _is_current(folder, scale, seed):
        generate_sample(folder, scale=scale, seed=seed, progress=progress)
    return folder
