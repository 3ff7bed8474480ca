"""Threshold arithmetic and the two-factor decision rule."""

from __future__ import annotations

import numpy as np
import pytest

from mbm_helpers.thresholds import lookup, mean_std_threshold, threshold_table, two_factor_predict


def test_mean_std_threshold_arithmetic():
    # mean 2.5, population std sqrt(1.25)
    assert mean_std_threshold([1, 2, 3, 4]) == pytest.approx(2.5 + 3 * np.sqrt(1.25))
    assert mean_std_threshold([1, 2, 3, 4], n_std=1) == pytest.approx(2.5 + np.sqrt(1.25))
    assert mean_std_threshold([7, 7, 7]) == 7.0
    with pytest.raises(ValueError, match="no values"):
        mean_std_threshold([])
    with pytest.raises(ValueError, match="NaN"):
        mean_std_threshold([1.0, np.nan])
    with pytest.raises(ValueError, match="n_std"):
        mean_std_threshold([1.0], n_std=-1)


def test_threshold_table_per_group():
    re = np.array([1.0, 3.0, 10.0, 10.0, 20.0])
    kld = np.array([0.0, 2.0, 5.0, 7.0, 9.0])
    groups = ["a", "a", "b", "b", "b"]
    t = threshold_table({"re": re, "kld": kld}, groups, n_std=2)
    assert list(t.columns) == ["group", "factor", "mean", "std", "threshold"]
    row = t[(t.group == "a") & (t.factor == "re")].iloc[0]
    assert (row["mean"], row["std"], row["threshold"]) == pytest.approx((2.0, 1.0, 4.0))
    row = t[(t.group == "b") & (t.factor == "kld")].iloc[0]
    assert row["threshold"] == pytest.approx(7.0 + 2 * np.std([5.0, 7.0, 9.0]))
    np.testing.assert_allclose(lookup(t, "re", ["b", "a", "a"]), [t.threshold[2], 4.0, 4.0])
    with pytest.raises(KeyError, match="'c'"):
        lookup(t, "re", ["a", "c"])
    with pytest.raises(ValueError, match="group labels"):
        threshold_table({"re": re}, ["a"])


def test_two_factor_truth_table():
    re = np.array([0.5, 2.0, 0.5, 2.0, 1.0])
    kld = np.array([0.5, 0.5, 2.0, 2.0, 1.0])
    np.testing.assert_array_equal(two_factor_predict(re, kld, 1.0, 1.0, "either"), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(two_factor_predict(re, kld, 1.0, 1.0, "re"), [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(two_factor_predict(re, kld, 1.0, 1.0, "kld"), [0, 0, 1, 1, 0])
    # per-row thresholds
    np.testing.assert_array_equal(
        two_factor_predict(re, kld, np.array([0.1, 9, 9, 9, 9]), 9.0), [1, 0, 0, 0, 0]
    )
    with pytest.raises(ValueError, match="rule"):
        two_factor_predict(re, kld, 1.0, 1.0, "both")
