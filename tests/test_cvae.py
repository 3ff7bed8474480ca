"""CVAE layers and model: KL formula, sampling, NumPy scoring, save/load in a fresh process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from mbm_helpers import cvae
from mbm_helpers.detectors import CVAEDetector
from mbm_helpers.detectors.synthetic import synthetic_table
from mbm_helpers.preprocessing import split_dataset

DEVICES = ["Danmini_Doorbell", "Ecobee_Thermostat", "Ennio_Doorbell"]


def test_kl_closed_form_known_values():
    # KL(N(0,1)||N(0,1)) = 0; KL(N(1,1)||N(0,1)) = 0.5 per dim; KL(N(0,e)||N(0,1)) = 0.5*(e-1-1)
    np.testing.assert_allclose(cvae.kl_divergence(np.zeros((1, 3)), np.zeros((1, 3))), [0.0])
    np.testing.assert_allclose(cvae.kl_divergence(np.ones((1, 3)), np.zeros((1, 3))), [1.5])
    np.testing.assert_allclose(cvae.kl_divergence([[0.0]], [[1.0]]), [0.5 * (np.e - 2.0)])


def test_kl_layer_matches_numpy_and_adds_beta_times_mean():
    rng = np.random.default_rng(0)
    zm = rng.normal(size=(16, 4)).astype("float32")
    zlv = rng.normal(scale=0.5, size=(16, 4)).astype("float32")
    layer = cvae.KLDivergence(beta=0.25)
    kl = keras.ops.convert_to_numpy(layer([zm, zlv]))
    expected = cvae.kl_divergence(zm, zlv)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), 0.25 * expected.mean(), rtol=1e-5)
    assert cvae.KLDivergence.from_config(layer.get_config()).beta == 0.25


def test_sampling_is_seeded_when_training_and_deterministic_at_inference():
    zm = np.zeros((1000, 2), "float32")
    zlv = np.full((1000, 2), np.log(4.0), "float32")
    a = keras.ops.convert_to_numpy(cvae.Sampling(seed=3)([zm, zlv], training=True))
    b = keras.ops.convert_to_numpy(cvae.Sampling(seed=3)([zm, zlv], training=True))
    np.testing.assert_array_equal(a, b)
    assert a.std() == pytest.approx(2.0, rel=0.1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cvae.Sampling(seed=3)([zm, zlv])), zm)
    assert cvae.Sampling.from_config(cvae.Sampling(seed=7).get_config()).seed == 7


def test_build_cvae_shapes_loss_and_numpy_scores_match_keras():
    models = cvae.build_cvae(12, 3, hidden=(8, 6), latent_dim=2, beta=1.0, seed=0)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 12)).astype("float32")
    k = rng.integers(0, 3, 50)
    K = np.eye(3, dtype="float32")[k]
    hist = models.model.fit([X, K], cvae.training_targets(X), epochs=2, batch_size=16, verbose=0)
    h = cvae.history_frame(hist.history)
    assert {"loss", "reconstruction", "kl"} <= set(h)
    # total loss = reconstruction + beta * KL: the KL term really is part of the loss
    assert h["loss"][-1] == pytest.approx(h["reconstruction"][-1] + h["kl"][-1], rel=0.05)
    assert h["kl"][-1] > 0
    zm, zlv = models.encoder.predict([X, K], verbose=0)
    assert zm.shape == (50, 2)
    xh = models.decoder.predict([zm, K], verbose=0)
    re, kld = cvae.NumpyCVAE(models, chunk_rows=7).scores(X, k)
    np.testing.assert_allclose(re, ((xh - X) ** 2).mean(axis=1), rtol=1e-4)
    np.testing.assert_allclose(kld, cvae.kl_divergence(zm, zlv), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cvae.NumpyCVAE(models).encode(X, k), zm, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        cvae.build_cvae(12, 0)


def test_save_load_in_fresh_process_gives_identical_scores(tmp_path):
    df = synthetic_table(devices=DEVICES, benign_rows=200, attack_rows=20, attacks=["mirai_syn"], seed=2)
    split = split_dataset(df)
    det = CVAEDetector(hidden=(16,), latent_dim=3, epochs=2, batch_size=64, seed=0).fit(split.train)
    folder = det.save(tmp_path / "cvae")
    split.test.to_parquet(tmp_path / "test.parquet")
    np.save(tmp_path / "expected.npy", det.scores(split.test).to_numpy())
    code = textwrap.dedent(
        f"""
        import numpy as np, pandas as pd
        from mbm_helpers.detectors import CVAEDetector
        det = CVAEDetector.load({str(folder)!r})
        got = det.scores(pd.read_parquet({str(tmp_path / "test.parquet")!r})).to_numpy()
        assert np.array_equal(got, np.load({str(tmp_path / "expected.npy")!r})), "scores differ"
        print("identical", det.thresholds_.shape)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "identical (4, 5)" in out.stdout  # 2 device types x (re, kld)
    loaded = CVAEDetector.load(folder)
    np.testing.assert_array_equal(loaded.predict(split.test), det.predict(split.test))
    assert loaded.get_params() == det.get_params()
    with pytest.raises(FileNotFoundError, match="cvae.keras"):
        CVAEDetector.load(tmp_path)


def test_auto_batch_size():
    assert cvae.auto_batch_size(330_000) == 1024
    assert cvae.auto_batch_size(16_200) == 128
    assert cvae.auto_batch_size(100) == 32
    assert cvae.auto_batch_size(0) == 32
