"""The per-file Parquet cache: location, keys, staleness, corrupt entries and the array fill."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mbm_helpers import cache as cache_mod
from mbm_helpers import schema
from mbm_helpers.cache import fill_rows, read_into, write_table
from mbm_helpers.csv_reader import FLOAT32_SCHEMA, read_nbaiot_csv
from mbm_helpers.errors import DataError
from mbm_helpers.loading import load_nbaiot


def _parquets(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def test_default_cache_folder_and_cache_false(real_sample_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MBM_DATA_DIR", str(tmp_path / "data"))
    load_nbaiot(real_sample_dir, cache=False, progress=False)
    assert not (tmp_path / "data").exists()
    load_nbaiot(real_sample_dir, progress=False)
    files = _parquets(tmp_path / "data" / "cache")
    assert len(files) == 6 and all(f.parent.name == f"nbaiot-v{cache_mod.FORMAT_VERSION}" for f in files)
    names = sorted(f.name.split(".")[0] + "." + f.name.split(".")[1] for f in files)
    assert names == sorted(
        f"{d}.{a}"
        for d in ("Danmini_Doorbell", "Ecobee_Thermostat")
        for a in ("benign", "gafgyt_scan", "mirai_scan")
    )
    meta = pq.read_metadata(files[0])
    arrow_schema = meta.schema.to_arrow_schema()
    assert arrow_schema.field("features").type == pa.binary(4 * 115)  # one row-major row per value
    assert json.loads(arrow_schema.metadata[b"features"]) == list(schema.FEATURES)
    assert meta.num_rows == 150
    assert meta.row_group(0).column(0).compression.lower() == cache_mod.COMPRESSION


def test_cache_values_round_trip_exactly(real_sample_dir: Path, tmp_path: Path) -> None:
    load_nbaiot(real_sample_dir, cache=tmp_path, progress=False)
    path = next(p for p in _parquets(tmp_path) if p.name.startswith("Ecobee_Thermostat.gafgyt_scan."))
    csv = real_sample_dir / "Ecobee_Thermostat" / "gafgyt_attacks" / "scan.csv"
    expected = pd.read_csv(csv, dtype=np.float64).to_numpy().astype(np.float32)
    got = np.full(expected.shape, np.nan, np.float32)
    read_into(path, got)
    np.testing.assert_array_equal(got, expected)
    raw = pq.read_table(path).column("features").combine_chunks().buffers()[1]  # the documented format
    np.testing.assert_array_equal(
        np.frombuffer(raw, "<f4", count=expected.size).reshape(expected.shape), expected
    )


def test_changed_source_is_reconverted(real_sample_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(real_sample_dir, src)
    cache = tmp_path / "cache"
    before = load_nbaiot(src, cache=cache, progress=False)
    path = src / "Danmini_Doorbell" / "benign_traffic.csv"
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[0] = "12345.5"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    after = load_nbaiot(src, cache=cache, progress=False)
    assert before.iloc[0, 0] != 12345.5 and after.iloc[0, 0] == np.float32(12345.5)
    pd.testing.assert_frame_equal(after.iloc[1:], before.iloc[1:])
    assert len(_parquets(cache)) == 7  # the stale entry is left, but never read


def test_corrupt_cache_file_is_rebuilt(real_sample_dir: Path, tmp_path: Path) -> None:
    expected = load_nbaiot(real_sample_dir, cache=tmp_path, progress=False)
    victim = _parquets(tmp_path)[0]
    victim.write_bytes(victim.read_bytes()[:100])
    pd.testing.assert_frame_equal(load_nbaiot(real_sample_dir, cache=tmp_path, progress=False), expected)
    assert pq.read_metadata(victim).num_rows == 150
    pq.write_table(pa.table({"x": np.zeros(150, np.float32)}), victim)  # readable, but not our format
    pd.testing.assert_frame_equal(load_nbaiot(real_sample_dir, cache=tmp_path, progress=False), expected)
    assert pq.read_metadata(victim).schema.to_arrow_schema().names == ["features"]


def test_read_into_by_row_group(real_sample_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cache_mod, "ROW_GROUP_SIZE", 16)
    table = read_nbaiot_csv(real_sample_dir / "Danmini_Doorbell" / "benign_traffic.csv", "benign")
    values = np.column_stack([c.to_numpy() for c in table.columns])
    path = tmp_path / "t.parquet"
    write_table(table, path)
    assert pq.ParquetFile(path).num_row_groups == 10
    for k in (1, 16, 40, 150):
        out = np.full((k, schema.N_FEATURES), -1, np.float32)
        read_into(path, out)
        np.testing.assert_array_equal(out, values[:k])
    rows = np.array([0, 3, 15, 16, 17, 100, 149])  # across group boundaries, some groups skipped
    out = np.full((len(rows), schema.N_FEATURES), -1, np.float32)
    read_into(path, out, rows)
    np.testing.assert_array_equal(out, values[rows])
    with pytest.raises(DataError, match="fewer than needed"):
        read_into(path, np.empty((151, schema.N_FEATURES), np.float32))
    with pytest.raises(ValueError, match="does not match"):
        read_into(path, np.empty((3, schema.N_FEATURES), np.float32), rows)


def test_write_table_rejects_other_schemas(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="115 float32"):
        write_table(pa.table({"a": pa.array([1.0])}), tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_fill_rows_across_blocks_and_chunks() -> None:
    rng = np.random.default_rng(0)
    n = 20_000  # more than one fill block
    values = rng.standard_normal((n, schema.N_FEATURES)).astype(np.float32)
    cols = [pa.chunked_array([values[:7_000, j], values[7_000:, j]]) for j in range(schema.N_FEATURES)]
    table = pa.Table.from_arrays(cols, schema=FLOAT32_SCHEMA)
    out = np.zeros((n + 10, schema.N_FEATURES), np.float32)
    fill_rows(table, out[5 : n + 5])
    np.testing.assert_array_equal(out[5 : n + 5], values)
    assert not out[:5].any() and not out[n + 5 :].any()
    with pytest.raises(ValueError, match="does not match"):
        fill_rows(table, out[:10])
