"""Anomaly thresholds (mean + n_std * std of benign scores) and the two-factor decision rule."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

RULES = ("either", "re", "kld")
THRESHOLD_COLUMNS = ("group", "factor", "mean", "std", "threshold")


def mean_std_threshold(values, n_std: float = 3.0) -> float:
    """``mean(values) + n_std * std(values)`` (population std, ``ddof=0``) of finite benign scores."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("mean_std_threshold: no values to compute a threshold from")
    if not np.isfinite(v).all():
        raise ValueError("mean_std_threshold: values contain NaN or inf")
    if not np.isfinite(n_std) or n_std < 0:
        raise ValueError(f"n_std must be a finite number >= 0, got {n_std!r}")
    return float(v.mean() + n_std * v.std())


def threshold_table(
    scores: Mapping[str, np.ndarray] | pd.DataFrame, groups, n_std: float = 3.0
) -> pd.DataFrame:
    """Tidy table (group, factor, mean, std, threshold): one row per group x score column.

    ``scores`` maps factor names (e.g. ``re``, ``kld``) to per-row values; ``groups`` gives each
    row's group (condition label, device, or one constant for a global threshold).
    """
    groups = np.asarray(groups).astype(str)
    frame = pd.DataFrame({f: np.asarray(v, dtype=np.float64) for f, v in dict(scores).items()})
    if len(frame) != len(groups):
        raise ValueError(f"threshold_table: {len(frame)} scores but {len(groups)} group labels")
    rows = []
    for group in sorted(set(groups.tolist())):
        mask = groups == group
        for factor in frame.columns:
            v = frame[factor].to_numpy()[mask]
            th = mean_std_threshold(v, n_std)
            rows.append((group, factor, float(v.mean()), float(v.std()), th))
    return pd.DataFrame(rows, columns=list(THRESHOLD_COLUMNS))


def lookup(table: pd.DataFrame, factor: str, groups) -> np.ndarray:
    """Each row's threshold for ``factor``; a group missing from ``table`` raises ``KeyError``."""
    sub = table[table["factor"] == factor].set_index("group")["threshold"]
    groups = np.asarray(groups).astype(str)
    unknown = sorted(set(groups.tolist()) - set(sub.index))
    if unknown:
        raise KeyError(
            f"no {factor!r} threshold for group {unknown[0]!r}; known groups: {', '.join(sub.index)}"
        )
    codes = pd.Index(sub.index).get_indexer(groups)
    return sub.to_numpy()[codes]


def two_factor_predict(re, kld, th_re, th_kld, rule: str = "either") -> np.ndarray:
    """Attack (True) if RE > TH_RE or KLD > TH_KLD (``rule="either"``); ``"re"``/``"kld"`` use one factor.

    Thresholds may be scalars or per-row arrays. Equal to the threshold is not an attack.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    re_hit = np.asarray(re) > np.asarray(th_re)
    kld_hit = np.asarray(kld) > np.asarray(th_kld)
    if rule == "re":
        return re_hit
    if rule == "kld":
        return kld_hit
    return re_hit | kld_hit
