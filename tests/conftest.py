"""Shared test fixtures: the real N-BaIoT rows in ../shared, when present."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (real N-BaIoT sample rows)."""
    if not (SHARED / "nbaiot-sample").is_dir():
        pytest.skip(f"real N-BaIoT sample rows not found at {SHARED / 'nbaiot-sample'}")
    return SHARED


@pytest.fixture(scope="session")
def real_sample_dir(shared_dir: Path) -> Path:
    """Real rows in the extracted layout: 2 devices x (benign, gafgyt scan, mirai scan) x 150 rows."""
    return shared_dir / "nbaiot-sample"


@pytest.fixture(scope="session")
def real_sample_zip(shared_dir: Path) -> Path:
    """The same real rows packed as the official archive (RAR members inside)."""
    path = shared_dir / "nbaiot-sample-official.zip"
    if not path.is_file():
        pytest.skip(f"official-layout sample archive not found at {path}")
    return path
