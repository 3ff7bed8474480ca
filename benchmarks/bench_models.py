"""Benchmark: CVAE and baseline training/scoring cost at N-BaIoT size, on this machine.

Synthesises an N-BaIoT-sized benign training set (9 devices x 61,200 benign rows -> 330,480
training rows x 115 after the 60/20/20 split; plus attack rows, capped per file) with
``mbm_helpers.detectors.synthetic``, then measures, in one process:

* the machine's float32 matmul throughput (NumPy, 2048 x 2048, best of 5);
* CVAE training with the default settings (target: < 30 s; the paper: 107.62 s on 4 cores),
  time per epoch, and the achieved FLOP/s of training as a fraction of the matmul throughput
  (FLOPs counted from the dense layers: 2 per multiply-add forward, 4 backward);
* CVAE scoring rows/s (target: >= 1,000,000) on >= 1,000,000 rows: the NumPy scorer on scaled
  features, the public ``scores(DataFrame)`` end to end, and Keras ``predict`` for comparison;
* each baseline's training and scoring time on the same data, and all detectors' accuracy.

``--quick`` (or ``run(quick=True)``) uses ~1/15 of the rows and 2 epochs, as a smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

TRAIN_TARGET_S = 30.0
SCORE_TARGET_ROWS_PER_S = 1_000_000


def matmul_flops(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 matmul FLOP/s of NumPy's BLAS on an n x n product."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    a @ a
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def dense_macs(model) -> int:
    """Multiply-adds per row of every Dense layer inside ``model`` (nested models included)."""
    from keras import layers

    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def _timed(fn, *args, repeats: int = 1):
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t)
    return best, out


def run(quick: bool = False) -> dict:
    """Run the measurements; return a dict of numbers (also printed by ``__main__``)."""
    from mbm_helpers import cvae
    from mbm_helpers.detectors import CVAEDetector, make_detectors
    from mbm_helpers.detectors.synthetic import synthetic_table
    from mbm_helpers.evaluation import evaluate
    from mbm_helpers.preprocessing import split_dataset

    benign_rows, attack_rows = (4_000, 300) if quick else (61_200, 3_000)
    df = synthetic_table(benign_rows=benign_rows, attack_rows=attack_rows, seed=0)
    split = split_dataset(df)
    del df
    report: dict = {
        "quick": quick,
        "cpu_count": os.cpu_count(),
        "load_avg_1min_start": os.getloadavg()[0],
        "train_rows": len(split.train),
        "validation_rows": len(split.validation),
        "test_rows": len(split.test),
    }
    peak = matmul_flops()
    report["matmul_gflops"] = round(peak / 1e9, 1)

    # -- CVAE training -------------------------------------------------------------------------
    det = CVAEDetector(**({"epochs": 2} if quick else {}))
    det.fit(split.train, split.validation)
    epochs_run = len(det.history_)
    macs = dense_macs(det.models_.model)
    n_tr, n_va = len(split.train), len(split.validation)
    train_flops = epochs_run * (6 * macs * n_tr + 2 * macs * n_va) + 2 * macs * n_tr  # + threshold pass
    report.update(
        cvae_params={
            **{p: det.get_params()[p] for p in ("hidden", "latent_dim", "epochs", "patience")},
            "batch_size": det.batch_size_,  # the one used (the default None picks it from the rows)
        },
        cvae_fit_s=round(det.fit_time_, 2),
        cvae_epochs_run=epochs_run,
        cvae_s_per_epoch=round(det.fit_time_ / epochs_run, 2),
        cvae_macs_per_row=macs,
        cvae_train_gflops=round(train_flops / det.fit_time_ / 1e9, 2),
        cvae_train_fraction_of_matmul=round(train_flops / det.fit_time_ / peak, 4),
        cvae_fit_target_s=TRAIN_TARGET_S,
        cvae_fit_meets_target=bool(det.fit_time_ < TRAIN_TARGET_S),
        cvae_final_history=det.history_.iloc[-1].round(4).to_dict(),
    )

    # -- CVAE scoring --------------------------------------------------------------------------
    reps = int(np.ceil((100_000 if quick else 1_000_000) / len(split.test)))
    big = pd.concat([split.test] * reps, ignore_index=True)
    Z = det.scaler_.transform(big)
    k = det._condition_index(big)
    t_core, _ = _timed(det._scorer.scores, Z, k, repeats=3)
    t_e2e, _ = _timed(det.scores, big, repeats=2)
    n_keras = min(len(Z), 200_000)
    K = np.eye(len(det.conditions_), dtype=np.float32)[k[:n_keras]]
    Zk = Z[:n_keras]

    def keras_scores():
        zm, zlv = det.models_.encoder.predict([Zk, K], batch_size=8192, verbose=0)
        xh = det.models_.decoder.predict([zm, K], batch_size=8192, verbose=0)
        return ((xh - Zk) ** 2).mean(axis=1), cvae.kl_divergence(zm, zlv)

    t_keras, _ = _timed(keras_scores, repeats=2)
    report.update(
        score_rows=len(big),
        cvae_score_numpy_rows_per_s=round(len(big) / t_core),
        cvae_score_dataframe_rows_per_s=round(len(big) / t_e2e),
        cvae_score_keras_predict_rows_per_s=round(n_keras / t_keras),
        cvae_score_meets_target=bool(len(big) / t_core >= SCORE_TARGET_ROWS_PER_S),
    )
    del big, Z

    # -- baselines and accuracy -----------------------------------------------------------------
    detectors = make_detectors(quick=quick, epochs=2 if quick else None)
    detectors["CVAE"] = det
    fitted = {name: d for name, d in detectors.items() if name != "CVAE"}
    for d in fitted.values():
        d.fit(split.train, split.validation)
    ev = evaluate(detectors, split, fit=False, progress=False)
    summary = ev.summary.assign(detector=ev.summary["detector"].astype(str))
    report["summary"] = summary.round(4).to_dict("records")
    report["fnr_by_attack"] = (
        ev.fnr_by_attack.pivot(index="attack", columns="detector", values="fnr").round(4).to_dict()
    )
    report["load_avg_1min_end"] = os.getloadavg()[0]
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, 2 epochs (smoke test)")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=1, default=str))
