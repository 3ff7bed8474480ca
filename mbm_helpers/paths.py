"""Where the project keeps data: the embedded simulated sample, caches and downloads.

The root is ``$MBM_DATA_DIR`` if set, else the repository's ``data/`` folder (an editable
install, as the Makefile makes), else ``~/.cache/mbm-iot``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """The folder that holds generated data, caches and downloads."""
    if env := os.environ.get("MBM_DATA_DIR"):
        return Path(env).expanduser()
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / "data"
    return Path.home() / ".cache" / "mbm-iot"


def simulated_dir(scale: float = 1.0, seed: int = 0) -> Path:
    """Folder of the embedded simulated sample for a scale and seed (``data/simulated`` by default)."""
    if scale == 1.0 and seed == 0:
        return data_root() / "simulated"
    return data_root() / f"simulated-scale{scale:g}-seed{seed}"


def cache_dir() -> Path:
    """Folder of the Parquet caches."""
    return data_root() / "cache"


def downloads_dir() -> Path:
    """Folder the official archive is downloaded into."""
    return data_root() / "raw"
