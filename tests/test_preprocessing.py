"""Split protocol, feature matrix and the signed-log scaler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mbm_helpers import schema
from mbm_helpers.detectors.synthetic import synthetic_table
from mbm_helpers.errors import DataError
from mbm_helpers.preprocessing import SignedLogScaler, conditions, feature_matrix, label_codes, split_dataset

DEVICES = ["Danmini_Doorbell", "Ecobee_Thermostat", "Samsung_SNH_1011_N_Webcam"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    df = synthetic_table(devices=DEVICES, benign_rows=100, attack_rows=30, seed=1)
    # shuffle so the split must sort by `row` itself
    return df.sample(frac=1.0, random_state=0).reset_index(drop=True)


def test_split_is_chronological_per_device(table):
    split = split_dataset(table)
    for dev in DEVICES:
        tr = split.train[split.train.device == dev]["row"]
        va = split.validation[split.validation.device == dev]["row"]
        te = split.test[(split.test.device == dev) & (split.test.attack == "benign")]["row"]
        assert (len(tr), len(va), len(te)) == (60, 20, 20)
        assert tr.max() < va.min() and va.max() < te.min()
    assert (split.train.attack == "benign").all() and (split.validation.attack == "benign").all()
    n_attack = (table.attack != "benign").sum()
    assert (split.test.attack != "benign").sum() == n_attack
    assert split.train.index.equals(pd.RangeIndex(len(split.train)))
    assert split.train["device"].dtype == table["device"].dtype


def test_attack_cap_is_seeded_sample(table):
    a = split_dataset(table, max_attack_rows_per_file=7, seed=3)
    b = split_dataset(table, max_attack_rows_per_file=7, seed=3)
    c = split_dataset(table, max_attack_rows_per_file=7, seed=4)
    counts = a.test[a.test.attack != "benign"].groupby(["device", "attack"], observed=True).size()
    assert (counts == 7).all()
    assert len(counts) == len(DEVICES) * 5 + 2 * 5  # webcam has no mirai
    pd.testing.assert_frame_equal(a.test, b.test)
    assert not a.test["row"].equals(c.test["row"])


def test_describe_counts_rows(table):
    d = split_dataset(table, fractions=(0.5, 0.25, 0.25)).describe()
    assert list(d.columns) == ["part", "device", "attack", "n"]
    assert d.loc[d.part == "train", "n"].sum() == 150
    got = d[(d.part == "test") & (d.device == DEVICES[0]) & (d.attack == "gafgyt_tcp")]["n"].item()
    assert got == 30


@pytest.mark.parametrize("fractions", [(0.5, 0.2, 0.2), (0.0, 0.5, 0.5), (0.6, -0.1, 0.5), (1.0,)])
def test_bad_fractions(table, fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_dataset(table, fractions=fractions)


def test_missing_column_is_named(table):
    with pytest.raises(DataError, match="HH_jit_L0.1_mean"):
        split_dataset(table.drop(columns="HH_jit_L0.1_mean"))
    with pytest.raises(DataError, match="'row'"):
        split_dataset(table.drop(columns="row"))


def test_feature_matrix_and_nan(table):
    X = feature_matrix(table)
    assert X.dtype == np.float32 and X.shape == (len(table), 115)
    bad = table.copy()
    bad.loc[5, "H_L1_mean"] = np.inf
    with pytest.raises(DataError, match="H_L1_mean"):
        feature_matrix(bad)


def test_conditions(table):
    assert set(conditions(table, "device_type")) == {"doorbell", "thermostat", "webcam"}
    assert set(conditions(table, "device")) == set(DEVICES)
    with pytest.raises(ValueError, match="condition"):
        conditions(table, "botnet")


def test_scaler_standardises_training_rows_and_copes_with_huge_values():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.lognormal(np.log(1.5e9), 0.1, 500),  # HH_jit mean-like
            rng.lognormal(np.log(1e17), 1.0, 500),  # HH_jit variance-like
            -rng.lognormal(-2, 1.0, 500),  # small negative covariances
            np.full(500, 3.0),  # constant
            -rng.lognormal(-20, 1.0, 500),  # ~1e-9: numerically constant after the log, kept near 0
        ]
    )
    sc = SignedLogScaler().fit(X)
    Z = sc.transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, :3].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(Z[:, :3].std(axis=0), 1.0, atol=1e-4)
    assert np.abs(Z[:, 3]).max() < 1e-6  # constant feature: scale 1, not a division by zero
    assert np.abs(Z[:, 4]).max() < 1e-6
    assert np.isfinite(sc.transform(X * 1e3)).all()
    with pytest.raises(DataError, match="expected 5 features"):
        sc.transform(X[:, :3])
    X[3, 1] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        SignedLogScaler().fit(X)


def test_scaler_on_real_rows_keeps_heldout_benign_bounded(real_sample_dir):
    benign = pd.concat(
        [
            pd.read_csv(real_sample_dir / d / "benign_traffic.csv")
            for d in ("Danmini_Doorbell", "Ecobee_Thermostat")
        ]
    )
    assert list(benign.columns) == list(schema.FEATURES)
    X = benign.to_numpy(np.float64)
    assert np.abs(X).max() > 1e15  # the ranges the scaler has to cope with
    Z = SignedLogScaler().fit(X[::2]).transform(X[1::2])
    assert np.isfinite(Z).all() and np.abs(Z).max() < 50


def test_label_codes_categorical_and_plain():
    cat = pd.Series(pd.Categorical(["b", "a", "b"], categories=["a", "b", "c"]))
    np.testing.assert_array_equal(label_codes(cat, ["b", "a"], what="x"), [0, 1, 0])
    np.testing.assert_array_equal(label_codes(pd.Series(["a", "b"]), ["b", "a"], what="x"), [1, 0])
    with pytest.raises(DataError, match="device type 'c' was not in the training rows"):
        label_codes(pd.Series(pd.Categorical(["a", "c"])), ["a", "b"], what="device type")
