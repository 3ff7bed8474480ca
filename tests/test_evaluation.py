"""Metric definitions on hand-made cases, evaluation tables, save/load and the figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mbm_helpers import plots  # noqa: E402
from mbm_helpers.detectors.base import BaseDetector  # noqa: E402
from mbm_helpers.detectors.synthetic import synthetic_table  # noqa: E402
from mbm_helpers.evaluation import (  # noqa: E402
    Evaluation,
    evaluate,
    false_negative_rate,
    false_positive_rate,
)
from mbm_helpers.preprocessing import split_dataset  # noqa: E402


def test_rates_on_hand_made_cases():
    y_true = [0, 0, 0, 0, 1, 1, 1]
    y_pred = [0, 1, 0, 0, 1, 0, 0]
    assert false_positive_rate(y_true, y_pred) == pytest.approx(1 / 4)
    assert false_negative_rate(y_true, y_pred) == pytest.approx(2 / 3)
    assert false_positive_rate([1, 1], [0, 1]) != false_positive_rate([1, 1], [0, 1])  # NaN: no negatives
    assert false_negative_rate([True, False], [True, True]) == 0.0
    with pytest.raises(ValueError, match="shape"):
        false_positive_rate([0, 1], [0])


class _Oracle(BaseDetector):
    """A fake detector whose score is a known function of the rows, to check the tables exactly."""

    def _fit_model(self, X, Z, validation, Z_val):
        pass

    def _raw_scores(self, X, Z):
        # attack rows of gafgyt_* score high, mirai_* low; benign rows 1..n by row
        attack = X["attack"].astype(str).to_numpy() if "attack" in X else np.full(len(X), "benign")
        base = X["row"].to_numpy(float) % 5 + 1.0
        return {"score": np.where(np.char.startswith(attack.astype(str), "gafgyt"), 1e6, base)}


@pytest.fixture(scope="module")
def split():
    df = synthetic_table(
        devices=["Danmini_Doorbell", "Ecobee_Thermostat"],
        benign_rows=50,
        attack_rows=10,
        attacks=["gafgyt_scan", "mirai_scan"],
        seed=0,
    )
    return split_dataset(df)


def test_evaluate_tables_on_oracle(split, tmp_path):
    ev = evaluate({"oracle": _Oracle(n_std=0.0)}, split, progress=False)
    # threshold = mean of training scores (n_std = 0): rows % 5 + 1 over rows 0..29 -> mean 3
    assert ev.fpr_by_device["n"].tolist() == [10, 10]
    # benign test rows 40..49 -> scores 1..5 twice; flagged where > 3: 4 of 10
    np.testing.assert_allclose(ev.fpr_by_device["fpr"], [0.4, 0.4])
    fnr = ev.fnr_by_attack.set_index("attack")
    assert fnr.loc["gafgyt_scan", "fnr"] == 0.0 and fnr.loc["gafgyt_scan", "n"] == 20
    assert fnr.loc["mirai_scan", "fnr"] == pytest.approx(0.6)  # same scores as benign rows 40..49
    auc = ev.roc_auc_by_attack.set_index("attack")["roc_auc"]
    assert auc["gafgyt_scan"] == 1.0 and auc["mirai_scan"] == pytest.approx(0.5)
    assert len(ev.fnr_by_device_attack) == 4
    s = ev.summary.iloc[0]
    assert s["fpr_mean"] == pytest.approx(0.4) and s["fnr_mean"] == pytest.approx(0.3)
    assert s["roc_auc_macro"] == pytest.approx(0.75) and s["score_rows_per_s"] > 0
    ev.save(tmp_path / "ev")
    back = Evaluation.load(tmp_path / "ev")
    pd.testing.assert_frame_equal(
        back.fnr_by_attack.astype({"detector": str}), ev.fnr_by_attack.astype({"detector": str})
    )
    with pytest.raises(FileNotFoundError, match="fpr_by_device.csv"):
        Evaluation.load(tmp_path)


def test_figures(split):
    ev = evaluate({"a": _Oracle(), "b": _Oracle(n_std=0.0)}, split, progress=False)
    fig = plots.plot_fig2(ev)
    titles = [ax.get_title() for ax in fig.axes]
    assert "Training time" in titles and any("1 - FNR" in t for t in titles)
    hist = pd.DataFrame(
        {
            "epoch": [1, 2],
            "reconstruction": [3.0, 2.0],
            "kl": [1.0, 1.5],
            "val_reconstruction": [3.1, 2.2],
            "val_kl": [1.1, 1.4],
        }
    )
    assert len(plots.plot_training_history(hist).axes) == 2
    scores = pd.DataFrame({"re": np.linspace(0.1, 2, 20), "kld": np.linspace(1, 5, 20)})
    labels = pd.DataFrame({"device_type": ["doorbell"] * 20, "attack": ["benign"] * 10 + ["mirai_scan"] * 10})
    th = pd.DataFrame(
        {
            "group": ["doorbell"] * 2,
            "factor": ["re", "kld"],
            "mean": [0, 0],
            "std": [1, 1],
            "threshold": [1.0, 3.0],
        }
    )
    assert len(plots.plot_score_distributions(scores, labels, th).axes) == 2
    fig = plots.plot_latent_space(np.random.default_rng(0).normal(size=(30, 4)), ["a", "b", "c"] * 10)
    assert fig.axes[0].get_xlabel().startswith("PC1")
    with pytest.raises(ValueError, match="labels"):
        plots.plot_latent_space(np.zeros((3, 2)), ["a"])
    matplotlib.pyplot.close("all")
