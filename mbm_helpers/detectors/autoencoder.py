"""Autoencoder baselines: ``AE1Detector`` (one AE for all devices), ``AE2Detector`` (one per device).

Dense autoencoder ``115 -> hidden -> bottleneck -> reversed hidden -> 115`` (ReLU, linear output),
MSE loss, Adam, batch size ``mbm_helpers.cvae.auto_batch_size`` by default, early stopping on the
validation rows when given. Score: per-row MSE, computed in
NumPy from the trained weights. Thresholds: one global one for AE1, one per device for AE2.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from mbm_helpers.cvae import auto_batch_size
from mbm_helpers.detectors.base import BaseDetector
from mbm_helpers.preprocessing import label_codes

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_autoencoder(
    n_features: int, *, hidden=(64, 32), bottleneck: int = 8, seed: int = 0, learning_rate: float = 1e-3
):
    """A compiled Keras dense autoencoder (MSE loss)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    x = keras.Input((n_features,), name="x")
    h = x
    for i, size in enumerate((*hidden, bottleneck, *hidden[::-1])):
        h = layers.Dense(size, activation="relu", name=f"ae_dense_{i}")(h)
    out = layers.Dense(n_features, name="ae_out")(h)
    model = keras.Model(x, out, name="autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


def _weights(model) -> list[tuple[np.ndarray, np.ndarray]]:
    import keras
    from keras import layers

    return [
        (
            keras.ops.convert_to_numpy(layer.kernel).astype(np.float32),
            keras.ops.convert_to_numpy(layer.bias).astype(np.float32),
        )
        for layer in model.layers
        if isinstance(layer, layers.Dense)
    ]


def reconstruction_mse(weights, Z: np.ndarray, chunk_rows: int = 2048) -> np.ndarray:
    """Per-row MSE of a dense ReLU autoencoder given as (kernel, bias) pairs, in NumPy."""
    out = np.empty(len(Z), np.float64)
    for s in range(0, len(Z), chunk_rows):
        x = Z[s : s + chunk_rows]
        h = x
        for i, (W, b) in enumerate(weights):
            h = h @ W + b
            if i < len(weights) - 1:
                np.maximum(h, 0.0, out=h)
        h -= x
        out[s : s + chunk_rows] = np.einsum("ij,ij->i", h, h) / x.shape[1]
    return out


class _AEBase(BaseDetector):
    factors = ("score",)

    def __init__(
        self,
        *,
        hidden=(64, 32),
        bottleneck: int = 8,
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
        self.hidden = hidden
        self.bottleneck = bottleneck
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.learning_rate = learning_rate
        self.seed = seed
        self.verbose = verbose

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("epochs", "bottleneck") + (("batch_size",) if self.batch_size is not None else ()):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")

    def _train_one(self, Z: np.ndarray, Z_val: np.ndarray | None, seed: int):
        import keras

        model = build_autoencoder(
            Z.shape[1],
            hidden=tuple(self.hidden),
            bottleneck=int(self.bottleneck),
            seed=seed,
            learning_rate=self.learning_rate,
        )
        callbacks = []
        if Z_val is not None and len(Z_val):
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=self.patience, restore_best_weights=True
                )
            )
        hist = model.fit(
            Z,
            Z,
            validation_data=(Z_val, Z_val) if callbacks else None,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size or auto_batch_size(len(Z))),
            shuffle=True,
            callbacks=callbacks,
            verbose=self.verbose,
        )
        return _weights(model), pd.DataFrame(hist.history)


class AE1Detector(_AEBase):
    """One autoencoder for all devices, one global threshold (the paper's AE1)."""

    def _fit_model(self, X, Z, validation, Z_val) -> None:
        self.weights_, self.history_ = self._train_one(Z, Z_val, self.seed)

    def _raw_scores(self, X, Z) -> dict[str, np.ndarray]:
        return {"score": reconstruction_mse(self.weights_, Z)}


class AE2Detector(_AEBase):
    """One autoencoder and one threshold per device (the paper's AE2); unseen devices raise."""

    group_column = "device"

    def _fit_model(self, X, Z, validation, Z_val) -> None:
        from tqdm.auto import tqdm

        devices = self._groups(X)
        val_devices = self._groups(validation) if validation is not None else None
        self.weights_, histories = {}, []
        names = sorted(set(devices.tolist()))
        for i, dev in enumerate(tqdm(names, desc="AE2 devices", disable=not self.verbose)):
            zv = Z_val[val_devices == dev] if Z_val is not None else None
            self.weights_[dev], hist = self._train_one(Z[devices == dev], zv, self.seed + i)
            histories.append(hist.assign(device=dev))
        self.history_ = pd.concat(histories, ignore_index=True)

    def _raw_scores(self, X, Z) -> dict[str, np.ndarray]:
        names = list(self.weights_)
        idx = label_codes(X["device"], names, what="AE2Detector: device")
        out = np.empty(len(Z), np.float64)
        for i in np.unique(idx):
            mask = idx == i
            out[mask] = reconstruction_mse(self.weights_[names[i]], Z[mask])
        return {"score": out}
