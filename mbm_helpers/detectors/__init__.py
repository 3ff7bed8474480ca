"""Anomaly detectors with one interface: MBM-IoT's CVAE and the paper's five baselines.

``make_detectors`` builds the six of the paper's Fig. 2, keyed in its order.
"""

from __future__ import annotations

from mbm_helpers.detectors.autoencoder import AE1Detector, AE2Detector
from mbm_helpers.detectors.base import BaseDetector
from mbm_helpers.detectors.classic import IsolationForestDetector, LOFDetector, OneClassSVMDetector
from mbm_helpers.detectors.cvae_detector import CVAEDetector

DETECTOR_NAMES = ("IF", "LOF", "SVM", "AE1", "AE2", "CVAE")

__all__ = [
    "AE1Detector",
    "AE2Detector",
    "BaseDetector",
    "CVAEDetector",
    "DETECTOR_NAMES",
    "IsolationForestDetector",
    "LOFDetector",
    "OneClassSVMDetector",
    "make_detectors",
]


def make_detectors(
    *, condition: str = "device_type", epochs: int | None = None, seed: int = 0, quick: bool = False
) -> dict[str, BaseDetector]:
    """The six detectors keyed "IF", "LOF", "SVM", "AE1", "AE2", "CVAE" (paper order).

    ``epochs`` overrides the neural models' epoch budget; ``quick`` picks tiny settings
    (few trees, small subsamples, small networks, 2 epochs) for smoke tests.
    """
    if quick:
        nn = dict(hidden=(16,), epochs=epochs or 2, batch_size=256, patience=1, seed=seed)
        return {
            "IF": IsolationForestDetector(n_estimators=20, seed=seed),
            "LOF": LOFDetector(n_neighbors=10, max_train_rows=500, seed=seed),
            "SVM": OneClassSVMDetector(max_train_rows=500, seed=seed),
            "AE1": AE1Detector(bottleneck=4, **nn),
            "AE2": AE2Detector(bottleneck=4, **nn),
            "CVAE": CVAEDetector(condition=condition, latent_dim=4, **nn),
        }
    nn = {"seed": seed} if epochs is None else {"seed": seed, "epochs": epochs}
    return {
        "IF": IsolationForestDetector(seed=seed),
        "LOF": LOFDetector(seed=seed),
        "SVM": OneClassSVMDetector(seed=seed),
        "AE1": AE1Detector(**nn),
        "AE2": AE2Detector(**nn),
        "CVAE": CVAEDetector(condition=condition, **nn),
    }
