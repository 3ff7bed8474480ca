"""load_nbaiot on the real sample rows in all three layouts, filters, sampling, summarize, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mbm_helpers import schema
from mbm_helpers.errors import DataError
from mbm_helpers.loading import load_nbaiot, summarize

FILES = [
    ("benign", "benign_traffic.csv"),
    ("gafgyt_scan", "gafgyt_attacks/scan.csv"),
    ("mirai_scan", "mirai_attacks/scan.csv"),
]
DEVICES = ["Danmini_Doorbell", "Ecobee_Thermostat"]


def _expected(real_sample_dir: Path) -> pd.DataFrame:
    """The expected feature values, read independently with pandas (float64 -> float32)."""
    parts = []
    for dev in DEVICES:
        for _, rel in FILES:
            parts.append(pd.read_csv(real_sample_dir / dev / rel, dtype=np.float64).astype(np.float32))
    return pd.concat(parts, ignore_index=True)


def _copy_sample(real_sample_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "nested"
    shutil.copytree(real_sample_dir, out)
    return out


def test_extracted_layout_gives_tidy_table(real_sample_dir: Path, tmp_path: Path) -> None:
    df = load_nbaiot(real_sample_dir, cache=tmp_path / "cache", progress=False)
    assert list(df.columns) == [*schema.FEATURES, *schema.LABEL_COLUMNS]
    assert isinstance(df.index, pd.RangeIndex) and len(df) == 900
    assert (df.dtypes.iloc[:115] == np.float32).all()
    assert df["row"].dtype == np.int32
    for col, cats in [
        ("device", schema.DEVICE_NAMES),
        ("device_type", schema.DEVICE_TYPES),
        ("botnet", schema.BOTNETS),
        ("attack", schema.CLASSES),
    ]:
        assert isinstance(df[col].dtype, pd.CategoricalDtype)
        assert list(df[col].cat.categories) == list(cats)
    expected_labels = [(d, a) for d in DEVICES for a, _ in FILES for _ in range(150)]
    assert list(zip(df["device"], df["attack"], strict=True)) == expected_labels
    assert df["row"].tolist() == list(range(150)) * 6
    assert df["device_type"].iloc[0] == "doorbell" and df["device_type"].iloc[-1] == "thermostat"
    assert df["botnet"].iloc[150] == "gafgyt" and df["botnet"].iloc[300] == "mirai"
    expected = _expected(real_sample_dir)
    np.testing.assert_array_equal(df[list(schema.FEATURES)].to_numpy(), expected.to_numpy())
    assert df["HH_jit_L0.01_mean"].max() > 1e8  # realistic raw scale, not rescaled


def test_three_layouts_give_identical_tables(
    real_sample_dir: Path, real_sample_zip: Path, flat_sample_dir: Path, tmp_path: Path
) -> None:
    nested = load_nbaiot(real_sample_dir, cache=False, progress=False)
    for source in (real_sample_zip, flat_sample_dir):
        pd.testing.assert_frame_equal(load_nbaiot(source, cache=False, progress=False), nested)
        cached = tmp_path / source.name
        pd.testing.assert_frame_equal(load_nbaiot(source, cache=cached, progress=False), nested)
        pd.testing.assert_frame_equal(load_nbaiot(source, cache=cached, progress=False), nested)


def test_features_are_one_c_order_block(real_sample_dir: Path, tmp_path: Path) -> None:
    df = load_nbaiot(real_sample_dir, cache=tmp_path, progress=False)
    X = df.iloc[:, :115].to_numpy()
    assert X.dtype == np.float32 and X.flags["C_CONTIGUOUS"]
    assert np.shares_memory(X, df.iloc[:, :115].to_numpy())  # no copy on access


def test_filters(real_sample_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    df = load_nbaiot(real_sample_dir, devices=[2], classes=["gafgyt"], cache=cache, progress=False)
    assert set(df["device"]) == {"Ecobee_Thermostat"} and set(df["attack"]) == {"gafgyt_scan"}
    assert len(df) == 150
    df = load_nbaiot(
        real_sample_dir,
        devices="Danmini_Doorbell",
        classes=["benign", "mirai_scan"],
        cache=cache,
        progress=False,
    )
    assert df["attack"].unique().tolist() == ["benign", "mirai_scan"] and len(df) == 300
    with pytest.raises(ValueError, match="unknown N-BaIoT device 12"):
        load_nbaiot(real_sample_dir, devices=[12], cache=False, progress=False)
    with pytest.raises(ValueError, match="unknown N-BaIoT class 'mirai_flood'"):
        load_nbaiot(real_sample_dir, classes=["mirai_flood"], cache=False, progress=False)
    with pytest.raises(DataError, match="no N-BaIoT files .* match"):
        load_nbaiot(real_sample_dir, classes=["mirai_ack"], cache=False, progress=False)


@pytest.mark.parametrize("cache", [False, True])
def test_row_cap_head_and_random(real_sample_dir: Path, tmp_path: Path, cache: bool) -> None:
    where = tmp_path if cache else False
    full = load_nbaiot(real_sample_dir, cache=where, progress=False)
    head = load_nbaiot(real_sample_dir, max_rows_per_file=20, cache=where, progress=False)
    assert len(head) == 120 and head["row"].tolist() == list(range(20)) * 6
    rnd = load_nbaiot(
        real_sample_dir, max_rows_per_file=20, sampling="random", seed=3, cache=where, progress=False
    )
    assert len(rnd) == 120
    for (dev, attack), part in rnd.groupby(["device", "attack"], observed=True):
        rows = part["row"].to_numpy()
        assert (np.diff(rows) > 0).all() and rows.max() < 150  # chronological, unique, original positions
        src = full[(full["device"] == dev) & (full["attack"] == attack)].set_index("row")
        np.testing.assert_array_equal(part.iloc[:, :115].to_numpy(), src.loc[rows].iloc[:, :115].to_numpy())
    again = load_nbaiot(
        real_sample_dir, max_rows_per_file=20, sampling="random", seed=3, cache=where, progress=False
    )
    pd.testing.assert_frame_equal(rnd, again)
    other = load_nbaiot(
        real_sample_dir, max_rows_per_file=20, sampling="random", seed=4, cache=where, progress=False
    )
    assert not np.array_equal(other["row"].to_numpy(), rnd["row"].to_numpy())
    # A device's sample does not depend on which other devices are loaded.
    one = load_nbaiot(
        real_sample_dir,
        devices=[2],
        max_rows_per_file=20,
        sampling="random",
        seed=3,
        cache=where,
        progress=False,
    )
    np.testing.assert_array_equal(one["row"].to_numpy(), rnd["row"].to_numpy()[60:])
    big = load_nbaiot(real_sample_dir, max_rows_per_file=10_000, cache=where, progress=False)
    pd.testing.assert_frame_equal(big, full)


def test_bad_parameters(real_sample_dir: Path) -> None:
    with pytest.raises(ValueError, match="sampling"):
        load_nbaiot(real_sample_dir, sampling="tail", cache=False, progress=False)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="max_rows_per_file"):
            load_nbaiot(real_sample_dir, max_rows_per_file=bad, cache=False, progress=False)
    with pytest.raises(ValueError, match="cache"):
        load_nbaiot(real_sample_dir, cache=3, progress=False)


def test_summarize(real_sample_dir: Path) -> None:
    df = load_nbaiot(real_sample_dir, cache=False, progress=False)
    table = summarize(df)
    assert list(table.index) == [*DEVICES, "total"]
    assert list(table.columns) == ["device_type", *schema.CLASSES, "total"]
    assert table.loc["Danmini_Doorbell", "device_type"] == "doorbell"
    assert table.loc["Ecobee_Thermostat", "gafgyt_scan"] == 150
    assert table.loc["Ecobee_Thermostat", "mirai_ack"] == 0
    assert table.loc["total", "benign"] == 300 and table.loc["total", "total"] == 900
    part = summarize(df[df["device"] == "Ecobee_Thermostat"].iloc[:200])
    assert list(part.index) == ["Ecobee_Thermostat", "total"] and part.loc["total", "total"] == 200
    with pytest.raises(DataError, match="attack"):
        summarize(df.drop(columns="attack"))


# --- bad input: clear errors, nothing half-written ---------------------------------------------


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _load_error(src: Path, tmp_path: Path, match: str, bad: str) -> None:
    """Loading fails with ``match``; the cache holds no temporary file and nothing for file ``bad``."""
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=match):
        load_nbaiot(src, cache=cache, progress=False)
    names = [p.name for p in cache.rglob("*") if p.is_file()]
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    assert not [n for n in names if n.startswith(bad + ".")]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda h: h[:-1], r"missing column\(s\) HpHp_L0.01_pcc"),
        (lambda h: [*h, "label"], r"unexpected column\(s\) label"),
        (lambda h: [h[1], h[0], *h[2:]], r"out of order: position 0 is 'MI_dir_L5_mean'"),
        (
            lambda h: [h[0].upper(), *h[1:]],
            r"missing column\(s\) MI_dir_L5_weight.*unexpected column\(s\) MI_DIR",
        ),
    ],
)
def test_wrong_header_names_the_problem(real_sample_dir: Path, tmp_path: Path, edit, match: str) -> None:
    src = _copy_sample(real_sample_dir, tmp_path)
    path = src / "Ecobee_Thermostat" / "mirai_attacks" / "scan.csv"
    lines = _lines(path)
    lines[0] = ",".join(edit(lines[0].split(",")))
    path.write_text("\n".join(lines) + "\n")
    _load_error(
        src,
        tmp_path,
        f"Ecobee_Thermostat/mirai_attacks/scan.csv: header .*{match}",
        "Ecobee_Thermostat.mirai_scan",
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("nan", r"'HH_L1_mean' \(2 NaN\)"),
        ("inf", r"'HH_L1_mean' \(2 inf\)"),
        ("", r"'HH_L1_mean' \(2 missing\)"),
        ("1e300", r"'HH_L1_mean' \(2 beyond the float32 range\)"),
        ("abc", r"column 'HH_L1_mean'.*abc"),
    ],
)
def test_bad_values_are_reported_not_dropped(
    real_sample_dir: Path, tmp_path: Path, value: str, match: str
) -> None:
    src = _copy_sample(real_sample_dir, tmp_path)
    path = src / "Danmini_Doorbell" / "benign_traffic.csv"
    lines = _lines(path)
    col = schema.FEATURES.index("HH_L1_mean")
    for i in (5, 77):
        cells = lines[i].split(",")
        cells[col] = value
        lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    _load_error(src, tmp_path, f"benign_traffic.csv.*{match}", "Danmini_Doorbell.benign")
    with pytest.raises(DataError, match=match):
        load_nbaiot(src, cache=False, progress=False)


def test_short_row_empty_and_header_only_files(real_sample_dir: Path, tmp_path: Path) -> None:
    src = _copy_sample(real_sample_dir, tmp_path)
    path = src / "Danmini_Doorbell" / "gafgyt_attacks" / "scan.csv"
    lines = _lines(path)
    lines[3] = ",".join(lines[3].split(",")[:-1])
    path.write_text("\n".join(lines) + "\n")
    _load_error(
        src,
        tmp_path,
        r"scan.csv: not a valid N-BaIoT CSV .*Expected 115 columns",
        "Danmini_Doorbell.gafgyt_scan",
    )
    path.write_text("")
    _load_error(src, tmp_path, "scan.csv: empty file", "Danmini_Doorbell.gafgyt_scan")
    path.write_text(lines[0] + "\r\n")
    _load_error(src, tmp_path, "scan.csv: no data rows", "Danmini_Doorbell.gafgyt_scan")


def test_crlf_and_official_extras_are_handled(real_sample_dir: Path, tmp_path: Path) -> None:
    src = _copy_sample(real_sample_dir, tmp_path)
    path = src / "Danmini_Doorbell" / "benign_traffic.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    (src / "demonstrate_structure.csv").write_bytes(_lines(path)[0].encode() + b"\r\n")
    quoted = src / "Ecobee_Thermostat" / "benign_traffic.csv"  # a CSV writer may quote the names
    lines = _lines(quoted)
    lines[0] = ",".join(f'"{c}"' for c in lines[0].split(","))
    quoted.write_text("\n".join(lines) + "\n")
    (src / "N_BaIoT_dataset_description_v1.txt").write_text("description")
    pd.testing.assert_frame_equal(
        load_nbaiot(src, cache=False, progress=False),
        load_nbaiot(real_sample_dir, cache=False, progress=False),
    )


@pytest.mark.parametrize(
    ("rel", "match"),
    [
        ("Acme_Toaster/benign_traffic.csv", "unknown N-BaIoT device folder 'Acme_Toaster'"),
        ("Danmini_Doorbell/gafgyt_attacks/flood.csv", "unknown N-BaIoT attack file 'flood'"),
        ("Danmini_Doorbell/notes.csv", "unrecognised N-BaIoT file"),
        ("Ennio_Doorbell/mirai_attacks/scan.csv", "Ennio_Doorbell has no Mirai data"),
        ("12.benign.csv", "unknown N-BaIoT device id '12'"),
        ("1.mirai.flood.csv", "unknown N-BaIoT attack file 'flood'"),
    ],
)
def test_unknown_file_and_device_names(real_sample_dir: Path, tmp_path: Path, rel: str, match: str) -> None:
    src = _copy_sample(real_sample_dir, tmp_path)
    (src / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(real_sample_dir / "Danmini_Doorbell" / "benign_traffic.csv", src / rel)
    with pytest.raises(DataError, match=match):
        load_nbaiot(src, cache=False, progress=False)


def test_single_device_folder(real_sample_dir: Path) -> None:
    df = load_nbaiot(real_sample_dir / "Ecobee_Thermostat", cache=False, progress=False)
    assert set(df["device"]) == {"Ecobee_Thermostat"} and len(df) == 450


def test_no_nbaiot_files(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no N-BaIoT files found in"):
        load_nbaiot(tmp_path, cache=False, progress=False)
    with pytest.raises(DataError, match="does not exist"):
        load_nbaiot(tmp_path / "missing", cache=False, progress=False)
    (tmp_path / "file.bin").write_bytes(b"\0" * 100)
    with pytest.raises(DataError, match="neither a folder nor a zip"):
        load_nbaiot(tmp_path / "file.bin", cache=False, progress=False)


def test_same_file_twice_is_an_error(real_sample_dir: Path, flat_sample_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(real_sample_dir / "Danmini_Doorbell", flat_sample_dir / "Danmini_Doorbell")
    with pytest.raises(DataError, match="Danmini_Doorbell benign found twice"):
        load_nbaiot(flat_sample_dir, cache=False, progress=False)
