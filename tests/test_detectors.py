"""Every detector: fit / scores / score_samples / predict, thresholds, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mbm_helpers.detectors import (
    DETECTOR_NAMES,
    AE2Detector,
    CVAEDetector,
    OneClassSVMDetector,
    make_detectors,
)
from mbm_helpers.detectors.synthetic import synthetic_table
from mbm_helpers.errors import DataError
from mbm_helpers.preprocessing import split_dataset

DEVICES = ["Danmini_Doorbell", "Ecobee_Thermostat", "Ennio_Doorbell"]
ATTACKS = ["gafgyt_udp", "mirai_syn", "mirai_udpplain"]  # large shifts: any detector must catch them


@pytest.fixture(scope="module")
def split():
    df = synthetic_table(devices=DEVICES, benign_rows=400, attack_rows=60, attacks=ATTACKS, seed=5)
    return split_dataset(df)


@pytest.fixture(scope="module")
def fitted(split):
    dets = make_detectors(quick=True, seed=0)
    return {name: det.fit(split.train, split.validation) for name, det in dets.items()}


def test_make_detectors_keys_in_paper_order():
    assert tuple(make_detectors(quick=True)) == DETECTOR_NAMES == ("IF", "LOF", "SVM", "AE1", "AE2", "CVAE")
    full = make_detectors(condition="device", epochs=3, seed=4)
    assert full["CVAE"].condition == "device" and full["CVAE"].epochs == 3 and full["AE2"].seed == 4


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_fit_score_predict(fitted, split, name):
    det = fitted[name]
    test = split.test
    sc = det.scores(test)
    assert list(sc.columns) == (["re", "kld"] if name == "CVAE" else ["score"])
    assert len(sc) == len(test) and (sc.to_numpy() >= 0).all()
    s = det.score_samples(test)
    np.testing.assert_array_equal(det.predict(test), s > 1)
    assert list(det.thresholds_.columns) == ["group", "factor", "mean", "std", "threshold"]
    t = det.thresholds_
    np.testing.assert_allclose(t["threshold"], t["mean"] + 3.0 * t["std"])
    assert det.fit_time_ > 0
    y = (test["attack"] != "benign").to_numpy()
    assert roc_auc_score(y, s) > 0.9
    # a mean + 3 std threshold flags few benign training rows
    assert det.predict(split.train).mean() < 0.1


def test_threshold_groups(fitted):
    assert set(fitted["CVAE"].thresholds_["group"]) == {"doorbell", "thermostat"}
    assert set(fitted["AE2"].thresholds_["group"]) == set(DEVICES)
    assert set(fitted["IF"].thresholds_["group"]) == {"all"}


def test_cvae_rules_history_and_encode(fitted, split):
    det = fitted["CVAE"]
    ratios = det.ratios(split.test)
    re_only, kld_only = det.with_rule("re"), det.with_rule("kld")
    assert re_only.models_ is det.models_
    np.testing.assert_array_equal(re_only.predict(split.test), ratios["re"].to_numpy() > 1)
    np.testing.assert_array_equal(kld_only.predict(split.test), ratios["kld"].to_numpy() > 1)
    np.testing.assert_array_equal(
        det.predict(split.test), re_only.predict(split.test) | kld_only.predict(split.test)
    )
    assert det.rule == "either"
    assert {"epoch", "loss", "reconstruction", "kl", "val_loss"} <= set(det.history_.columns)
    assert det.encode(split.test).shape == (len(split.test), 4)


def test_cvae_training_is_repeatable(split):
    a = CVAEDetector(hidden=(8,), latent_dim=2, epochs=1, batch_size=128, seed=3).fit(split.train)
    b = CVAEDetector(hidden=(8,), latent_dim=2, epochs=1, batch_size=128, seed=3).fit(split.train)
    pd.testing.assert_frame_equal(a.scores(split.test), b.scores(split.test))


def test_threshold_source_validation(split):
    det = OneClassSVMDetector(max_train_rows=300, threshold_source="validation").fit(
        split.train, split.validation
    )
    ratios = det.score_samples(split.validation)
    assert (ratios > 1).mean() < 0.05
    with pytest.raises(ValueError, match="validation rows"):
        OneClassSVMDetector(threshold_source="validation").fit(split.train)


def test_bad_input_errors(fitted, split):
    det = fitted["CVAE"]
    webcam = synthetic_table(devices=["Samsung_SNH_1011_N_Webcam"], benign_rows=10, attacks=[], seed=0)
    with pytest.raises(DataError, match="webcam"):
        det.score_samples(webcam)
    with pytest.raises(DataError, match="Provision_PT_838"):
        fitted["AE2"].predict(
            synthetic_table(devices=["Provision_PT_838_Security_Camera"], benign_rows=10, attacks=[])
        )
    bad = split.test.head(20).copy()
    bad.loc[3, "HpHp_L0.01_pcc"] = np.nan
    for name in ("IF", "CVAE"):
        with pytest.raises(DataError, match="HpHp_L0.01_pcc"):
            fitted[name].scores(bad)
    with pytest.raises(DataError, match="MI_dir_L5_weight"):
        det.scores(split.test.drop(columns="MI_dir_L5_weight"))
    with pytest.raises(DataError, match="must be benign"):
        AE2Detector(epochs=1).fit(split.test)
    with pytest.raises(ValueError, match="condition"):
        CVAEDetector(condition="botnet").fit(split.train)
    with pytest.raises(ValueError, match="rule"):
        det.with_rule("both")
    with pytest.raises(ValueError, match="threshold_source"):
        OneClassSVMDetector(threshold_source="test").fit(split.train)
