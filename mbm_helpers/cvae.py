"""The Conditional VAE of MBM-IoT in Keras 3: custom layers, model builder and fast scoring.

The training model takes ``[x, k_onehot]`` and returns ``{"x_hat": x', "kl": per-sample KL}``. Its loss is
reconstruction + ``beta`` * KL: the reconstruction term is compiled (squared error), the KL term is
added by the explicit :class:`KLDivergence` layer with ``self.add_loss``. Scoring is deterministic:
RE(x) = mean squared error between x and the decoding of ``(z_mean, k)``; KLD(x) = closed-form KL
of ``N(z_mean, exp(z_log_var))`` to ``N(0, I)``. :class:`NumpyCVAE` computes both from the trained
weights in plain NumPy: ~1.0-1.3 million rows/s on 2 busy cores against ~0.2-0.3 million for
``Model.predict`` (``benchmarks/bench_models.py``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ banner out of notebooks
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

#: Default architecture (chosen by measurement, see benchmarks/bench_models.py).
DEFAULT_HIDDEN: tuple[int, ...] = (64, 32)
DEFAULT_LATENT_DIM = 8


def auto_batch_size(n_rows: int, *, steps_per_epoch: int = 128, largest: int = 1024) -> int:
    """Batch size giving about ``steps_per_epoch`` steps per epoch: a power of 2 in [32, ``largest``].

    Small training sets (a scaled-down sample, one device's rows) then still get enough gradient
    steps per epoch, while N-BaIoT-sized ones use large, fast batches (1024 from ~130,000 rows).
    """
    return int(min(largest, max(32, 2 ** round(np.log2(max(n_rows, 1) / steps_per_epoch)))))


@keras.saving.register_keras_serializable(package="mbm_iot")
class Sampling(layers.Layer):
    """Reparameterisation ``z = z_mean + exp(z_log_var / 2) * eps``, ``eps ~ N(0, I)``.

    Draws from its own seeded ``keras.random.SeedGenerator`` while training; at inference
    (``training=False``) it returns ``z_mean`` so predictions are deterministic.
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        z_mean, z_log_var = inputs
        if not training:
            return z_mean
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="mbm_iot")
class KLDivergence(layers.Layer):
    """Per-sample KL of ``N(z_mean, exp(z_log_var))`` to ``N(0, I)``; adds ``beta`` * batch mean as loss.

    ``KL = -0.5 * sum(1 + z_log_var - z_mean**2 - exp(z_log_var))`` over the latent axis.
    Returns the per-sample KL, shape ``(batch,)``.
    """

    def __init__(self, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        kl = -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
        self.add_loss(self.beta * ops.mean(kl))
        return kl

    def compute_output_shape(self, input_shape):
        return input_shape[0][:-1]

    def get_config(self) -> dict:
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="mbm_iot")
def sum_squared_error(y_true, y_pred):
    """Per-sample sum of squared errors over features (unit-variance Gaussian log-likelihood)."""
    return ops.sum(ops.square(y_true - y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="mbm_iot")
def predicted_value(y_true, y_pred):
    """Metric helper: the prediction itself (logs the mean per-sample KL)."""
    return y_pred


class CVAEModels(NamedTuple):
    """Training model (inputs ``[x, k_onehot]``, outputs ``{"x_hat", "kl"}``), encoder, decoder."""

    model: keras.Model
    encoder: keras.Model
    decoder: keras.Model


def _mlp(h, sizes: tuple[int, ...], prefix: str):
    for i, size in enumerate(sizes):
        h = layers.Dense(size, activation="relu", name=f"{prefix}_dense_{i}")(h)
    return h


def build_cvae(
    n_features: int,
    n_conditions: int,
    *,
    hidden: tuple[int, ...] = DEFAULT_HIDDEN,
    latent_dim: int = DEFAULT_LATENT_DIM,
    beta: float = 1.0,
    seed: int = 0,
    learning_rate: float = 1e-3,
) -> CVAEModels:
    """Build and compile the CVAE (functional Keras 3 model).

    Encoder ``[x, k] -> hidden (ReLU) -> (z_mean, z_log_var)``; decoder
    ``[z, k] -> reversed hidden (ReLU) -> x'`` (linear). Loss per sample: sum of squared errors over
    the features + ``beta`` * KL (the ELBO of a unit-variance Gaussian decoder); the logged
    ``reconstruction`` metric is that sum. ``seed`` seeds the weights and the ``Sampling`` layer.
    """
    if n_features < 1 or n_conditions < 1 or latent_dim < 1 or not all(h >= 1 for h in hidden):
        raise ValueError(
            f"sizes must be positive: n_features={n_features}, n_conditions={n_conditions}, "
            f"hidden={hidden}, latent_dim={latent_dim}"
        )
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    keras.utils.set_random_seed(seed)
    hidden = tuple(int(h) for h in hidden)
    x_in = keras.Input((n_features,), name="x")
    k_in = keras.Input((n_conditions,), name="k")
    h = _mlp(layers.Concatenate(name="encoder_concat")([x_in, k_in]), hidden, "encoder")
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    encoder = keras.Model([x_in, k_in], [z_mean, z_log_var], name="encoder")

    z_in = keras.Input((latent_dim,), name="z")
    k_dec = keras.Input((n_conditions,), name="k_decoder")
    h = _mlp(layers.Concatenate(name="decoder_concat")([z_in, k_dec]), hidden[::-1], "decoder")
    x_out = layers.Dense(n_features, name="x_reconstructed")(h)
    decoder = keras.Model([z_in, k_dec], x_out, name="decoder")

    zm, zlv = encoder([x_in, k_in])
    kl = KLDivergence(beta=beta, name="kl_divergence")([zm, zlv])
    z = Sampling(seed=seed, name="sampling")([zm, zlv])
    # The per-sample KL is a (loss-free) output so that the KL layer is part of the functional
    # graph (a dangling layer would be dropped with its add_loss) and can be logged as a metric.
    model = keras.Model([x_in, k_in], {"x_hat": decoder([z, k_in]), "kl": kl}, name="cvae")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"x_hat": sum_squared_error, "kl": None},
        metrics={
            "x_hat": [keras.metrics.MeanMetricWrapper(sum_squared_error, name="reconstruction")],
            "kl": [keras.metrics.MeanMetricWrapper(predicted_value, name="kl")],
        },
    )
    return CVAEModels(model, encoder, decoder)


def training_targets(X: np.ndarray) -> dict[str, np.ndarray]:
    """The ``y`` that ``CVAEModels.model.fit`` expects: ``x`` itself and a dummy for the KL output."""
    return {"x_hat": X, "kl": np.zeros(len(X), np.float32)}


def history_frame(history: dict) -> dict[str, list[float]]:
    """Keras history keys (``x_hat_reconstruction``, ``val_kl_kl``, ...) renamed to
    ``loss``, ``reconstruction``, ``kl`` and their ``val_`` twins."""
    out = {}
    for key, values in history.items():
        base = key.removeprefix("val_")
        name = {"x_hat_reconstruction": "reconstruction", "kl_kl": "kl"}.get(base, base)
        out[("val_" if key.startswith("val_") else "") + name] = [float(v) for v in values]
    return out


def kl_divergence(z_mean: np.ndarray, z_log_var: np.ndarray) -> np.ndarray:
    """Closed-form per-sample KL(N(z_mean, exp(z_log_var)) || N(0, I)) in NumPy."""
    z_mean = np.asarray(z_mean, dtype=np.float64)
    z_log_var = np.asarray(z_log_var, dtype=np.float64)
    return -0.5 * np.sum(1.0 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1)


def dense_stack(model: keras.Model, prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) float32 pairs of the Dense layers whose names start with ``prefix``."""
    return [
        (
            keras.ops.convert_to_numpy(layer.kernel).astype(np.float32),
            keras.ops.convert_to_numpy(layer.bias).astype(np.float32),
        )
        for layer in model.layers
        if isinstance(layer, layers.Dense) and layer.name.startswith(prefix)
    ]


class NumpyCVAE:
    """Deterministic CVAE scoring in plain NumPy from a trained encoder/decoder's weights.

    The one-hot condition enters the first layer of each half as a row lookup of its kernel
    (``W_k[k]``) instead of a concatenation, which saves a matmul and a copy.
    """

    def __init__(self, models: CVAEModels, *, chunk_rows: int = 1024, n_jobs: int | None = None):
        enc, dec = models.encoder, models.decoder
        self.encoder_layers = dense_stack(enc, "encoder_dense")
        self.z_mean_layer = dense_stack(enc, "z_mean")[0]
        self.z_log_var_layer = dense_stack(enc, "z_log_var")[0]
        self.decoder_layers = dense_stack(dec, "decoder_dense") + dense_stack(dec, "x_reconstructed")
        self.n_features = int(enc.inputs[0].shape[-1])
        self.latent_dim = self.z_mean_layer[0].shape[1]
        self.chunk_rows = chunk_rows
        self.n_jobs = n_jobs or os.cpu_count() or 1
        self._prepare()

    def _prepare(self) -> None:
        """Precompute contiguous kernels: feature part of each first layer, per-condition bias
        rows (one-hot kernel rows + bias), and the z_mean / z_log_var heads fused in one matmul."""
        (W, b), nf = self.encoder_layers[0], self.n_features
        self._enc_x, self._enc_k = np.ascontiguousarray(W[:nf]), np.ascontiguousarray(W[nf:] + b)
        W, b = self.decoder_layers[0]
        ld = self.latent_dim
        self._dec_z, self._dec_k = np.ascontiguousarray(W[:ld]), np.ascontiguousarray(W[ld:] + b)
        self._head_W = np.ascontiguousarray(np.hstack([self.z_mean_layer[0], self.z_log_var_layer[0]]))
        self._head_b = np.hstack([self.z_mean_layer[1], self.z_log_var_layer[1]])

    def _chunk(self, X: np.ndarray, k: np.ndarray, *, decode: bool):
        h = X @ self._enc_x
        h += self._enc_k[k]  # one-hot k times its kernel rows = a row lookup (bias folded in)
        np.maximum(h, 0.0, out=h)
        for W, b in self.encoder_layers[1:]:
            h = h @ W
            h += b
            np.maximum(h, 0.0, out=h)
        head = h @ self._head_W
        head += self._head_b
        z_mean, z_log_var = head[:, : self.latent_dim], head[:, self.latent_dim :]
        if not decode:
            return z_mean, None, None
        np.minimum(z_log_var, 80.0, out=z_log_var)  # exp stays finite in float32 (KLD of ~e^80)
        h = z_mean @ self._dec_z
        h += self._dec_k[k]
        for W, b in self.decoder_layers[1:]:
            np.maximum(h, 0.0, out=h)
            h = h @ W
            h += b
        h -= X
        re = np.einsum("ij,ij->i", h, h) / X.shape[1]
        kld = -0.5 * (1.0 + z_log_var - np.square(z_mean) - np.exp(z_log_var)).sum(axis=1)
        return z_mean, re, kld

    def _map(self, fn, n: int) -> None:
        """Run ``fn(start)`` over row chunks: single-threaded BLAS, chunks spread over a thread pool.

        Small matmuls scale badly with multi-threaded BLAS (thread hand-offs dominate, worst on a
        busy machine), so each chunk runs on one BLAS thread and ``n_jobs`` chunks run at once
        (NumPy releases the GIL in matmuls and ufuncs).
        """
        starts = range(0, n, self.chunk_rows)
        with threadpool_limits(1, user_api="blas"):
            if self.n_jobs == 1 or len(starts) == 1:
                for s in starts:
                    fn(s)
            else:
                with ThreadPoolExecutor(self.n_jobs) as pool:
                    list(pool.map(fn, starts))

    def scores(self, X: np.ndarray, k: np.ndarray, *, preprocess=None) -> tuple[np.ndarray, np.ndarray]:
        """Per-row (RE, KLD) as float64 arrays; ``k`` holds condition indices.

        ``preprocess`` (e.g. ``SignedLogScaler.transform_block``) is applied to each chunk of
        ``X`` just before scoring it, so raw features are scaled while they are in cache.
        """
        X = np.asarray(X, dtype=np.float32)
        k = np.asarray(k)
        re = np.empty(len(X), np.float64)
        kld = np.empty(len(X), np.float64)
        c = self.chunk_rows

        def one(s: int) -> None:
            x = X[s : s + c] if preprocess is None else preprocess(X[s : s + c])
            _, re[s : s + c], kld[s : s + c] = self._chunk(x, k[s : s + c], decode=True)

        self._map(one, len(X))
        return re, kld

    def encode(self, X: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``z_mean`` of every row."""
        X = np.asarray(X, dtype=np.float32)
        k = np.asarray(k)
        out = np.empty((len(X), self.latent_dim), np.float32)
        c = self.chunk_rows

        def one(s: int) -> None:
            out[s : s + c] = self._chunk(X[s : s + c], k[s : s + c], decode=False)[0]

        self._map(one, len(X))
        return out
