"""Tests of the embedded simulated sample: layout, manifest, determinism, errors, loader round trip."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mbm_helpers import schema
from mbm_helpers.sample_data import (
    DEFAULT_ATTACK_ROWS,
    DEFAULT_BENIGN_ROWS,
    GENERATOR_VERSION,
    MANIFEST,
    MIN_ROWS,
    describe,
    ensure_sample,
    generate_sample,
    relative_path,
    rows_per_file,
)

SCALE = 0.02  # 60 benign rows, MIN_ROWS attack rows


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sim") / "sample", scale=SCALE, seed=0, progress=False)


def test_rows_per_file_scales_with_a_minimum():
    assert rows_per_file("benign") == DEFAULT_BENIGN_ROWS >= 3000
    assert rows_per_file("mirai_syn") == DEFAULT_ATTACK_ROWS >= 500
    assert rows_per_file("benign", 0.1) == round(DEFAULT_BENIGN_ROWS * 0.1)
    assert rows_per_file("gafgyt_tcp", 1e-6) == MIN_ROWS


def test_layout_manifest_and_readme(small):
    for d in schema.DEVICES:
        for _, label in schema.files_of(d.name):
            assert (small / relative_path(d.name, label)).is_file()
    assert not (small / "Ennio_Doorbell" / "mirai_attacks").exists()
    assert not (small / "Samsung_SNH_1011_N_Webcam" / "mirai_attacks").exists()
    manifest = json.loads((small / MANIFEST).read_text())
    assert manifest["simulated"] is True and manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["seed"] == 0 and manifest["scale"] == SCALE
    assert len(manifest["rows"]) == 89
    assert manifest["rows"]["Danmini_Doorbell/benign_traffic.csv"] == rows_per_file("benign", SCALE)
    assert "SIMULATED" in (small / "README.txt").read_text()
    assert not [p for p in small.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_csv_header_and_float32_round_trip(small):
    path = small / "Ecobee_Thermostat" / "gafgyt_attacks" / "udp.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(schema.FEATURES)
    df = pd.read_csv(path, dtype=np.float32)
    assert list(df.columns) == list(schema.FEATURES) and len(df) == rows_per_file("gafgyt_udp", SCALE)
    assert np.isfinite(df.to_numpy()).all()
    # writing the parsed float32 values again reproduces the file byte for byte
    again = "\n".join(",".join(f"{float(v):.9g}" for v in row) for row in df.to_numpy()) + "\n"
    assert again == "\n".join(lines[1:]) + "\n"


def test_same_seed_gives_byte_identical_files(small, tmp_path):
    again = generate_sample(tmp_path / "again", scale=SCALE, seed=0, devices=[1, 4], progress=False)
    full = _digests(small)
    csvs = {rel: digest for rel, digest in _digests(again).items() if rel.endswith(".csv")}
    assert len(csvs) == 22 and all(full[rel] == digest for rel, digest in csvs.items())
    other = generate_sample(tmp_path / "other", scale=SCALE, seed=1, devices=[1], progress=False)
    rel = "Danmini_Doorbell/benign_traffic.csv"
    assert _digests(other)[rel] != full[rel]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0}, "scale"),
        ({"scale": -1.0}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"seed": -3}, "seed"),
        ({"devices": ["Toaster"]}, "Toaster"),
    ],
)
def test_wrong_parameters_raise_clear_errors(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_sample(tmp_path / "bad", progress=False, **kwargs)
    assert not (tmp_path / "bad").exists()


def test_refuses_to_replace_a_folder_that_is_not_a_sample(tmp_path):
    (tmp_path / "keep.txt").write_text("not mine")
    with pytest.raises(ValueError, match="not a simulated sample"):
        generate_sample(tmp_path, scale=SCALE, devices=[1], progress=False)
    assert (tmp_path / "keep.txt").read_text() == "not mine"


def test_ensure_sample_reuses_a_current_folder_and_regenerates_old_ones(small, tmp_path, monkeypatch):
    monkeypatch.setenv("MBM_DATA_DIR", str(tmp_path))
    expected = tmp_path / f"simulated-scale{SCALE:g}-seed0"
    shutil.copytree(small, expected)
    stamp = (expected / MANIFEST).stat().st_mtime_ns
    assert ensure_sample(SCALE, seed=0, progress=False) == expected
    assert (expected / MANIFEST).stat().st_mtime_ns == stamp  # reused, not regenerated
    manifest = json.loads((expected / MANIFEST).read_text())
    manifest["generator_version"] = "0-old"
    (expected / MANIFEST).write_text(json.dumps(manifest))
    assert ensure_sample(SCALE, seed=0, out_dir=expected, progress=False) == expected
    assert json.loads((expected / MANIFEST).read_text())["generator_version"] == GENERATOR_VERSION
    assert _digests(expected) == _digests(small)
    with pytest.raises(ValueError, match="scale"):
        ensure_sample(0, out_dir=expected, progress=False)


def test_loader_reads_the_sample(small):
    loading = pytest.importorskip("mbm_helpers.loading")
    df = loading.load_nbaiot(small, cache=False, progress=False)
    assert list(df.columns[:115]) == list(schema.FEATURES)
    assert len(df) == sum(json.loads((small / MANIFEST).read_text())["rows"].values())
    counts = df.groupby(["device", "attack"], observed=True).size()
    assert counts[("Danmini_Doorbell", "benign")] == rows_per_file("benign", SCALE)
    assert set(df["attack"].unique()) == set(schema.CLASSES)


def test_describe_says_simulated_and_how_to_switch():
    text = describe()
    assert "simulated" in text and "mbm-iot download" in text and "load_nbaiot(" in text
