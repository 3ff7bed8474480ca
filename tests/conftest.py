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


@pytest.fixture
def flat_sample_dir(real_sample_dir: Path, tmp_path: Path) -> Path:
    """Copies of the real rows in the flat mirror layout (``1.gafgyt.scan.csv``), with its extra files."""
    import shutil

    from mbm_helpers import schema

    out = tmp_path / "flat"
    out.mkdir()
    for dev_dir in sorted(p for p in real_sample_dir.iterdir() if p.is_dir()):
        dev_id = schema.device(dev_dir.name).id
        for csv in sorted(dev_dir.rglob("*.csv")):
            if csv.name == "benign_traffic.csv":
                name = f"{dev_id}.benign.csv"
            else:
                name = f"{dev_id}.{csv.parent.name.removesuffix('_attacks')}.{csv.stem}.csv"
            shutil.copyfile(csv, out / name)
    (out / "device_info.csv").write_text("id,name\n1,Danmini_Doorbell\n")
    (out / "features.csv").write_text("feature\nMI_dir_L5_weight\n")
    (out / "data_summary.csv").write_text("device,rows\n1,450\n")
    return out


@pytest.fixture(scope="session")
def make_stored_rar(shared_dir: Path):
    """A function ``(out, files)`` writing a stored RAR with shared/tools/make_stored_rar.py."""
    import subprocess
    import sys

    tool = shared_dir / "tools" / "make_stored_rar.py"
    if not tool.is_file():
        pytest.skip(f"RAR fixture writer not found at {tool}")

    def make(out: Path, files: list[Path]) -> Path:
        subprocess.run([sys.executable, str(tool), str(out), *map(str, files)], check=True)
        return out

    return make
