"""``CVAEDetector``: MBM-IoT, one CVAE conditioned on device type (or device), two-factor rule."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd

from mbm_helpers import cvae
from mbm_helpers.atomic import atomic_path
from mbm_helpers.detectors.base import BaseDetector
from mbm_helpers.errors import DataError
from mbm_helpers.preprocessing import CONDITIONS, SignedLogScaler, conditions, feature_matrix, label_codes
from mbm_helpers.thresholds import RULES

_FACTORS_OF_RULE = {"either": ("re", "kld"), "re": ("re",), "kld": ("kld",)}
_MODEL_FILE, _META_FILE = "cvae.keras", "detector.json"


class CVAEDetector(BaseDetector):
    """MBM-IoT: a CVAE conditioned on ``condition`` with per-condition RE and KLD thresholds.

    Scores: ``re`` = MSE between scaled x and the decoding of ``(z_mean, k)``; ``kld`` = KL of the
    encoder's posterior to N(0, I). Thresholds per condition value: mean + ``n_std`` * std of
    the benign training (or validation) scores. ``rule``: "either" (RE or KLD over threshold,
    the paper's two-factor rule), "re" or "kld".

    Defaults (measured with ``benchmarks/bench_models.py`` on 330,480 x 115 synthetic benign
    training rows on 2 shared CPU cores, and on the simulated sample): encoder
    115+k -> 64 -> 32 -> z (8), mirrored decoder; Adam 1e-3; at most 12 epochs with early stopping
    (patience 3, best weights restored) on the validation loss when validation rows are given.
    At N-BaIoT size training took 23-27 s (9 epochs, ~2.6-3.0 s each; the paper: 107.62 s).
    Batch size ``None`` = :func:`mbm_helpers.cvae.auto_batch_size`: 1024 at N-BaIoT size, ~128
    steps per epoch on small sets (on the 16,200-row simulated training set a fixed batch of
    1024 left the model under-trained: mean FNR 0.14, against 0.046 with the automatic 128).
    ``seed`` makes training repeatable.
    """

    needs = ("device", "device_type")

    def __init__(
        self,
        *,
        condition: str = "device_type",
        rule: str = "either",
        latent_dim: int = cvae.DEFAULT_LATENT_DIM,
        hidden: tuple[int, ...] = cvae.DEFAULT_HIDDEN,
        beta: float = 1.0,
        epochs: int = 12,
        batch_size: int | None = None,
        patience: int = 3,
        learning_rate: float = 1e-3,
        n_std: float = 3.0,
        threshold_source: str = "train",
        seed: int = 0,
        verbose: int | str = 0,
    ):
        super().__init__(n_std=n_std, threshold_source=threshold_source)
        self.condition = condition
        self.rule = rule
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.learning_rate = learning_rate
        self.seed = seed
        self.verbose = verbose

    factors = ("re", "kld")

    def _check_params(self) -> None:
        super()._check_params()
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {self.condition!r}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")
        for name in ("epochs", "latent_dim") + (("batch_size",) if self.batch_size is not None else ()):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience!r}")

    def _active_factors(self) -> tuple[str, ...]:
        return _FACTORS_OF_RULE[self.rule]

    @property
    def group_column(self) -> str:
        """Thresholds are per value of the condition (device type or device)."""
        return self.condition

    def _condition_index(self, X: pd.DataFrame) -> np.ndarray:
        if self.condition not in X.columns:
            raise DataError(f"CVAEDetector: missing column {self.condition!r}")
        return label_codes(X[self.condition], self.conditions_, what=f"CVAEDetector: {self.condition}")

    def _one_hot(self, X: pd.DataFrame) -> np.ndarray:
        return np.eye(len(self.conditions_), dtype=np.float32)[self._condition_index(X)]

    def _fit_model(self, X, Z, validation, Z_val) -> None:
        import keras

        self.conditions_ = sorted(set(conditions(X, self.condition).tolist()))
        self.models_ = cvae.build_cvae(
            Z.shape[1],
            len(self.conditions_),
            hidden=tuple(self.hidden),
            latent_dim=int(self.latent_dim),
            beta=self.beta,
            seed=self.seed,
            learning_rate=self.learning_rate,
        )
        self.batch_size_ = int(self.batch_size or cvae.auto_batch_size(len(Z)))
        callbacks, val_data = [], None
        if validation is not None:
            val_data = ([Z_val, self._one_hot(validation)], cvae.training_targets(Z_val))
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=self.patience, restore_best_weights=True
                )
            )
        hist = self.models_.model.fit(
            [Z, self._one_hot(X)],
            cvae.training_targets(Z),
            validation_data=val_data,
            epochs=int(self.epochs),
            batch_size=self.batch_size_,
            shuffle=True,
            callbacks=callbacks,
            verbose=self.verbose,
        )
        frame = pd.DataFrame(cvae.history_frame(hist.history))
        order = [c for c in ("loss", "reconstruction", "kl") for c in (c, f"val_{c}") if c in frame]
        frame = frame[order + [c for c in frame if c not in order]]
        frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
        self.history_ = frame
        self._scorer = cvae.NumpyCVAE(self.models_)

    def _score_frame(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        # fused: each chunk of raw features is scaled right before it is scored (one memory pass)
        re, kld = self._scorer.scores(
            feature_matrix(X), self._condition_index(X), preprocess=self.scaler_.transform_block
        )
        return {"re": re, "kld": kld}

    def _raw_scores(self, X, Z) -> dict[str, np.ndarray]:
        re, kld = self._scorer.scores(Z, self._condition_index(X))
        return {"re": re, "kld": kld}

    def with_rule(self, rule: str) -> CVAEDetector:
        """A copy using ``rule`` ("either", "re", "kld") that shares this trained model."""
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        other = copy.copy(self)
        other.rule = rule
        return other

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """``z_mean`` of every row, shape (n, latent_dim), for latent-space plots."""
        self._check_frame(X, "encode")
        Z = self.scaler_.transform(X)
        return self._scorer.encode(Z, self._condition_index(X))

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save to folder ``path`` (``cvae.keras`` + ``detector.json``), atomically; return it."""
        if not hasattr(self, "models_"):
            raise ValueError("CVAEDetector.save: fit the detector first")
        path = Path(path)
        meta = {
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()},
            "conditions": list(self.conditions_),
            "scaler": {"mean": self.scaler_.mean_.tolist(), "scale": self.scaler_.scale_.tolist()},
            "thresholds": self.thresholds_.to_dict(orient="list"),
            "history": self.history_.to_dict(orient="list"),
            "fit_time": self.fit_time_,
            "batch_size_used": self.batch_size_,
        }
        with atomic_path(path, directory=True) as tmp:
            self.models_.model.save(tmp / _MODEL_FILE)
            (tmp / _META_FILE).write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> CVAEDetector:
        """Load a detector saved with :meth:`save`; it scores exactly as the saved one did."""
        import keras

        path = Path(path)
        model_file, meta_file = path / _MODEL_FILE, path / _META_FILE
        for f in (model_file, meta_file):
            if not f.is_file():
                raise FileNotFoundError(f"CVAEDetector.load: {f} not found")
        meta = json.loads(meta_file.read_text())
        params = meta["params"]
        params["hidden"] = tuple(params["hidden"])
        det = cls(**params)
        model = keras.saving.load_model(model_file, compile=False)
        det.models_ = cvae.CVAEModels(model, model.get_layer("encoder"), model.get_layer("decoder"))
        det.conditions_ = meta["conditions"]
        scaler = SignedLogScaler()
        scaler.mean_ = np.asarray(meta["scaler"]["mean"], dtype=np.float64)
        scaler.scale_ = np.asarray(meta["scaler"]["scale"], dtype=np.float64)
        scaler.n_features_in_ = len(scaler.mean_)
        det.scaler_ = scaler
        det.thresholds_ = pd.DataFrame(meta["thresholds"])
        det.history_ = pd.DataFrame(meta["history"])
        det.fit_time_ = meta["fit_time"]
        det.batch_size_ = meta["batch_size_used"]
        det._scorer = cvae.NumpyCVAE(det.models_)
        return det
