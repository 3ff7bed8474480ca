"""``BaseDetector``: the interface every MBM-IoT detector shares (scikit-learn style).

``fit(X, validation=None)`` takes tidy benign training rows (115 features + ``device`` and
``device_type``); ``scores(X)`` gives raw, non-negative per-factor anomaly scores (higher = more
anomalous); thresholds are ``mean + n_std * std`` of the benign training (or validation) scores per
threshold group; ``score_samples`` is the largest score / threshold ratio over factors (> 1 means
flagged) and ``predict`` flags rows whose ratio exceeds 1.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from mbm_helpers import thresholds as th
from mbm_helpers.errors import DataError
from mbm_helpers.preprocessing import (
    CONDITIONS,
    SignedLogScaler,
    check_tidy,
    conditions,
    feature_matrix,
    label_codes,
)

THRESHOLD_SOURCES = ("train", "validation")


class BaseDetector(BaseEstimator):
    """Common fitting, validation, thresholding and prediction logic.

    Subclasses set ``factors`` (score column names) and implement ``_fit_model(X, Z, validation,
    Z_val)`` and ``_raw_scores(X, Z) -> dict[factor, array]``, where ``Z`` is the scaled feature
    matrix; they may override ``_groups(X)`` (threshold group per row; default one global group).
    """

    factors: tuple[str, ...] = ("score",)
    #: Label columns a detector needs besides the features.
    needs: tuple[str, ...] = ("device",)

    def __init__(self, *, n_std: float = 3.0, threshold_source: str = "train"):
        self.n_std = n_std
        self.threshold_source = threshold_source

    # -- to implement -------------------------------------------------------------------------
    def _fit_model(self, X: pd.DataFrame, Z: np.ndarray, validation, Z_val) -> None:
        raise NotImplementedError

    def _raw_scores(self, X: pd.DataFrame, Z: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    #: Column whose value picks a row's threshold group (None: one global group "all").
    group_column: str | None = None

    def _score_frame(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """Raw scores of a checked frame (detectors may fuse scaling and scoring here)."""
        return self._raw_scores(X, self.scaler_.transform(X))

    def _groups(self, X: pd.DataFrame) -> np.ndarray:
        if self.group_column is None:
            return np.full(len(X), "all", dtype=object)
        return (
            conditions(X, self.group_column)
            if self.group_column in CONDITIONS
            else (X[self.group_column].astype(str).to_numpy().astype(object))
        )

    def _group_index(self, X: pd.DataFrame) -> np.ndarray:
        """Row -> position of its group in ``self.thresholds_`` groups; unknown groups raise."""
        known = list(dict.fromkeys(self.thresholds_["group"]))
        if self.group_column is None:
            return np.zeros(len(X), np.int64)
        return label_codes(X[self.group_column], known, what=f"{type(self).__name__}: {self.group_column}")

    def _threshold_matrix(self) -> np.ndarray:
        """Thresholds as an array (group, factor) in ``thresholds_`` group order and ``factors`` order."""
        table = self.thresholds_.pivot(index="group", columns="factor", values="threshold")
        return table.loc[list(dict.fromkeys(self.thresholds_["group"])), list(self.factors)].to_numpy()

    # -- public API ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, validation: pd.DataFrame | None = None) -> BaseDetector:
        """Fit the scaler, the model and the thresholds on benign rows; return ``self``."""
        self._check_params()
        if self.threshold_source == "validation" and validation is None:
            raise ValueError("threshold_source='validation' needs the validation rows in fit()")
        start = time.perf_counter()
        self._check_frame(X, "fit", benign=True)
        Z = self._scale_fit(X)
        Z_val = None
        if validation is not None:
            self._check_frame(validation, "fit(validation)", benign=True)
            Z_val = self.scaler_.transform(validation)
        self._fit_model(X, Z, validation, Z_val)
        source, Z_src = (X, Z) if self.threshold_source == "train" else (validation, Z_val)
        raw = self._raw_scores(source, Z_src)
        self.thresholds_ = th.threshold_table(raw, self._groups(source), self.n_std)
        self.fit_time_ = time.perf_counter() - start
        return self

    def scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """Raw per-factor anomaly scores, one row per input row (same index as ``X``)."""
        check_is_fitted(self, "thresholds_")
        self._check_frame(X, "scores")
        self._group_index(X)  # unknown groups fail before any work
        raw = self._score_frame(X)
        return pd.DataFrame({f: raw[f] for f in self.factors}, index=X.index)

    def ratios(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each factor's score divided by the threshold of the row's group."""
        sc = self.scores(X)
        thresholds = self._threshold_matrix()[self._group_index(X)]
        out = {}
        for f in self._active_factors():
            t = thresholds[:, self.factors.index(f)]
            # = score / threshold for the (usual) positive thresholds; stays monotone and > 1 exactly
            # when score > threshold even if a degenerate threshold is 0 or negative.
            out[f] = 1.0 + (sc[f].to_numpy() - t) / np.maximum(np.abs(t), 1e-12)
        return pd.DataFrame(out, index=X.index)

    def score_samples(self, X: pd.DataFrame) -> np.ndarray:
        """One anomaly score per row: max over factors of score / threshold (> 1 = flagged)."""
        return self.ratios(X).to_numpy().max(axis=1)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Boolean array, True where a row is flagged as an attack."""
        return self.score_samples(X) > 1.0

    # -- helpers ------------------------------------------------------------------------------
    def _active_factors(self) -> tuple[str, ...]:
        return self.factors

    def _check_params(self) -> None:
        if self.threshold_source not in THRESHOLD_SOURCES:
            raise ValueError(
                f"threshold_source must be one of {THRESHOLD_SOURCES}, got {self.threshold_source!r}"
            )
        if not np.isfinite(self.n_std) or self.n_std < 0:
            raise ValueError(f"n_std must be a finite number >= 0, got {self.n_std!r}")

    def _scale_fit(self, X: pd.DataFrame) -> np.ndarray:
        features = feature_matrix(X)
        self.scaler_ = SignedLogScaler().fit(features)
        return self.scaler_.transform(features)

    def _check_frame(self, X, where: str, *, benign: bool = False) -> None:
        name = type(self).__name__
        check_tidy(X, what=f"{name}.{where}", need=self.needs)
        if len(X) == 0:
            raise DataError(f"{name}.{where}: no rows")
        if benign and "attack" in X.columns and (X["attack"].astype(str) != "benign").any():
            bad = X.loc[X["attack"].astype(str) != "benign", "attack"].iloc[0]
            raise DataError(f"{name}.{where}: training rows must be benign, found attack {bad!r}")
