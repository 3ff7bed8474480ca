"""Reading CSVs out of the official zip and RAR members; corrupt and truncated archives."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mbm_helpers import loading
from mbm_helpers.archive import rar4_crcs
from mbm_helpers.errors import DataError
from mbm_helpers.loading import load_nbaiot

RAR = "Ecobee_Thermostat/mirai_attacks.rar"


def _rewrite_zip(src: Path, out: Path, edit: Callable[[str, bytes], bytes]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, edit(info.filename, zin.read(info.filename)))
    return out


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x01  # a one-bit change: often still a valid number, so only a CRC can catch it
    return bytes(b)


@pytest.fixture
def nested_with_rars(real_sample_dir: Path, tmp_path: Path, make_stored_rar) -> Path:
    """The extracted layout with each device's attack folders packed back into stored RARs on disk."""
    out = tmp_path / "with_rars"
    for dev in sorted(p for p in real_sample_dir.iterdir() if p.is_dir()):
        (out / dev.name).mkdir(parents=True)
        shutil.copyfile(dev / "benign_traffic.csv", out / dev.name / "benign_traffic.csv")
        for botnet in ("gafgyt", "mirai"):
            make_stored_rar(
                out / dev.name / f"{botnet}_attacks.rar", [dev / f"{botnet}_attacks" / "scan.csv"]
            )
    return out


def test_rars_on_disk_read_like_the_extracted_layout(
    nested_with_rars: Path, real_sample_dir: Path, tmp_path: Path
) -> None:
    expected = load_nbaiot(real_sample_dir, cache=False, progress=False)
    pd.testing.assert_frame_equal(load_nbaiot(nested_with_rars, cache=False, progress=False), expected)
    pd.testing.assert_frame_equal(
        load_nbaiot(nested_with_rars, cache=tmp_path / "c", progress=False), expected
    )


def test_rar_members_are_ordered_by_schema_not_archive(
    real_sample_dir: Path, tmp_path: Path, make_stored_rar
) -> None:
    dev = tmp_path / "src" / "Danmini_Doorbell"
    dev.mkdir(parents=True)
    scan = real_sample_dir / "Danmini_Doorbell" / "gafgyt_attacks" / "scan.csv"
    combo = tmp_path / "combo.csv"
    lines = scan.read_text().splitlines()
    combo.write_text("\n".join([lines[0], *lines[1:11]]) + "\n")
    make_stored_rar(dev / "gafgyt_attacks.rar", [scan, combo])  # scan first inside the RAR
    df = load_nbaiot(tmp_path / "src", cache=False, progress=False)
    assert df["attack"].unique().tolist() == ["gafgyt_combo", "gafgyt_scan"]
    assert (df["attack"] == "gafgyt_combo").sum() == 10 and (df["attack"] == "gafgyt_scan").sum() == 150


def test_stored_rar_crcs_are_read(real_sample_zip: Path) -> None:
    crcs = rar4_crcs((str(real_sample_zip), RAR))
    assert list(crcs) == ["scan.csv"] and isinstance(crcs["scan.csv"], int)


def test_flipped_bit_in_rar_member_is_caught(real_sample_zip: Path, tmp_path: Path) -> None:
    bad = _rewrite_zip(real_sample_zip, tmp_path / "bad.zip", lambda n, d: _flip(d, 5000) if n == RAR else d)
    with pytest.raises(
        DataError, match=r"bad.zip!Ecobee_Thermostat/mirai_attacks.rar!scan.csv: corrupt RAR member"
    ):
        load_nbaiot(bad, cache=tmp_path / "cache", progress=False)
    assert not list((tmp_path / "cache").rglob("Ecobee_Thermostat.mirai_scan.*"))


def test_truncated_rar_member_is_caught(real_sample_zip: Path, tmp_path: Path) -> None:
    bad = _rewrite_zip(
        real_sample_zip, tmp_path / "cut.zip", lambda n, d: d[: len(d) // 2] if n == RAR else d
    )
    with pytest.raises(
        DataError, match=r"cut.zip!Ecobee_Thermostat/mirai_attacks.rar: corrupt or truncated RAR"
    ):
        load_nbaiot(bad, cache=tmp_path / "cache", progress=False)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.startswith(".")]


def test_corrupt_rar_header_is_caught(real_sample_zip: Path, tmp_path: Path) -> None:
    bad = _rewrite_zip(real_sample_zip, tmp_path / "hdr.zip", lambda n, d: _flip(d, 25) if n == RAR else d)
    with pytest.raises(DataError, match=r"hdr.zip!Ecobee_Thermostat/mirai_attacks.rar: corrupt"):
        load_nbaiot(bad, cache=False, progress=False)


def test_truncated_zip_is_caught(real_sample_zip: Path, tmp_path: Path) -> None:
    raw = real_sample_zip.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(
        DataError, match=r"cut.zip is neither a folder nor a zip archive \(truncated or corrupt"
    ):
        load_nbaiot(cut, cache=False, progress=False)


def test_corrupt_zip_member_is_caught(real_sample_zip: Path, tmp_path: Path) -> None:
    member = "Danmini_Doorbell/benign_traffic.csv"
    good = _rewrite_zip(real_sample_zip, tmp_path / "good.zip", lambda n, d: d)
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo(member)
    raw[info.header_offset + 30 + len(member) + 2000] ^= 0x01  # inside the stored member's data
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(raw))
    with pytest.raises(
        DataError, match=r"bad.zip!Danmini_Doorbell/benign_traffic.csv: cannot read zip member.*CRC"
    ):
        load_nbaiot(bad, cache=False, progress=False)


def test_unknown_rar_and_member_names(real_sample_dir: Path, tmp_path: Path, make_stored_rar) -> None:
    dev = tmp_path / "src" / "Danmini_Doorbell"
    dev.mkdir(parents=True)
    flood = tmp_path / "flood.csv"
    shutil.copyfile(real_sample_dir / "Danmini_Doorbell" / "mirai_attacks" / "scan.csv", flood)
    make_stored_rar(dev / "mirai_attacks.rar", [flood])
    with pytest.raises(DataError, match=r"mirai_attacks.rar!flood.csv: unknown N-BaIoT attack file 'flood'"):
        load_nbaiot(tmp_path / "src", cache=False, progress=False)
    (dev / "mirai_attacks.rar").rename(dev / "extras.rar")
    with pytest.raises(DataError, match="unrecognised archive name 'extras.rar'"):
        load_nbaiot(tmp_path / "src", cache=False, progress=False)


def test_cached_reload_does_not_open_rars(real_sample_zip: Path, tmp_path: Path, monkeypatch) -> None:
    first = load_nbaiot(real_sample_zip, cache=tmp_path, progress=False)

    def fail(*args, **kwargs):
        raise AssertionError("a cached reload opened a RAR or parsed a CSV")

    monkeypatch.setattr(loading, "rar_members", fail)
    monkeypatch.setattr(loading, "iter_rar_members", fail)
    monkeypatch.setattr(loading, "read_nbaiot_csv", fail)
    pd.testing.assert_frame_equal(load_nbaiot(real_sample_zip, cache=tmp_path, progress=False), first)


def test_non_rar4_archives_are_listed_by_libarchive(
    real_sample_zip: Path, real_sample_dir: Path, monkeypatch
) -> None:
    """RAR 5 has no RAR 4 headers to walk: members are then listed and checked by libarchive alone."""
    from mbm_helpers import archive

    monkeypatch.setattr(archive, "rar4_crcs", lambda location: None)
    rars = [e for e in loading.list_sources(real_sample_zip) if isinstance(e, loading.RarSource)]
    assert len(rars) == 4 and all(archive.rar_members(r) == ["scan.csv"] for r in rars)
    pd.testing.assert_frame_equal(
        load_nbaiot(real_sample_zip, cache=False, progress=False),
        load_nbaiot(real_sample_dir, cache=False, progress=False),
    )
