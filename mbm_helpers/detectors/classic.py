"""Classic one-model-for-all-devices baselines: Isolation Forest, LOF (novelty), one-class SVM.

All three work on the signed-log standardised features and share one global threshold
(mean + n_std * std of their benign training scores). Raw scores are made non-negative so the
score / threshold ratio of ``score_samples`` is meaningful:

* IF: ``-IsolationForest.score_samples`` (the anomaly score of Liu et al., in (0, 1]).
* LOF: ``-LocalOutlierFactor.score_samples`` (the local outlier factor, ~1 for inliers).
* OCSVM: ``max_train - OneClassSVM.score_samples`` floored at 0, where ``max_train`` is the largest
  training value (the RBF decision value is a density-like sum, higher = more normal).

LOF and the RBF one-class SVM cost O(n_train) per scored row (and the SVM O(n_train^2) to fit),
so both are fitted on a seeded random subsample of at most ``max_train_rows`` benign training
rows (exact models, not approximations); IF uses ``max_samples`` rows per tree as usual.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from mbm_helpers.detectors.base import BaseDetector


def subsample(n: int, max_rows: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random subsample of at most ``max_rows`` of ``n`` rows."""
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


class IsolationForestDetector(BaseDetector):
    """Isolation Forest on all devices' benign rows (one model, one threshold)."""

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_samples="auto",
        n_jobs: int | None = None,
        n_std: float = 3.0,
        threshold_source: str = "train",
        seed: int = 0,
    ):
        super().__init__(n_std=n_std, threshold_source=threshold_source)
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit_model(self, X, Z, validation, Z_val) -> None:
        self.model_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            n_jobs=self.n_jobs,
            random_state=self.seed,
        ).fit(Z)

    def _raw_scores(self, X, Z) -> dict[str, np.ndarray]:
        return {"score": -self.model_.score_samples(Z)}


class LOFDetector(BaseDetector):
    """Local Outlier Factor (``novelty=True``) fitted on a seeded subsample of ``max_train_rows``."""

    def __init__(
        self,
        *,
        n_neighbors: int = 20,
        max_train_rows: int | None = 5000,
        n_jobs: int | None = None,
        n_std: float = 3.0,
        threshold_source: str = "train",
        seed: int = 0,
    ):
        super().__init__(n_std=n_std, threshold_source=threshold_source)
        self.n_neighbors = n_neighbors
        self.max_train_rows = max_train_rows
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit_model(self, X, Z, validation, Z_val) -> None:
        self.train_rows_ = subsample(len(Z), self.max_train_rows, self.seed)
        self.model_ = LocalOutlierFactor(n_neighbors=self.n_neighbors, novelty=True, n_jobs=self.n_jobs).fit(
            Z[self.train_rows_]
        )

    def _raw_scores(self, X, Z) -> dict[str, np.ndarray]:
        return {"score": -self.model_.score_samples(Z)}


class OneClassSVMDetector(BaseDetector):
    """RBF one-class SVM fitted on a seeded subsample of ``max_train_rows`` benign rows."""

    def __init__(
        self,
        *,
        nu: float = 0.05,
        gamma="scale",
        max_train_rows: int | None = 5000,
        n_std: float = 3.0,
        threshold_source: str = "train",
        seed: int = 0,
    ):
        super().__init__(n_std=n_std, threshold_source=threshold_source)
        self.nu = nu
        self.gamma = gamma
        self.max_train_rows = max_train_rows
        self.seed = seed

    def _fit_model(self, X, Z, validation, Z_val) -> None:
        self.train_rows_ = subsample(len(Z), self.max_train_rows, self.seed)
        self.model_ = OneClassSVM(nu=self.nu, gamma=self.gamma).fit(Z[self.train_rows_])
        self.max_train_score_ = float(self.model_.score_samples(Z[self.train_rows_]).max())

    def _raw_scores(self, X, Z) -> dict[str, np.ndarray]:
        return {"score": np.maximum(self.max_train_score_ - self.model_.score_samples(Z), 0.0)}
