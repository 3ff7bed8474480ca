"""One simulated capture: a device's packets for one N-BaIoT file, and their 115 features.

A capture is every packet on the device's switch port over a time span: the device's benign
traffic, plus, in an attack capture, the attack and the bot's C&C connection. The features come
from :func:`mbm_helpers.afterimage.extract_features` run from the start of the capture (statistics
start empty). The file keeps ``n_rows`` consecutive packets after a warm-up, so that a small file
shows the settled statistics a long real capture mostly holds rather than the first seconds of
one; the warm-up is up to ``WARMUP_S`` seconds, shortened for fast floods to bound the work.
"""

from __future__ import annotations

import numpy as np

from mbm_helpers import schema
from mbm_helpers.afterimage import extract_features
from mbm_helpers.packets import sort_packets
from mbm_helpers.simulator.attacks import attack_packets, attack_rate
from mbm_helpers.simulator.benign import benign_packets, expected_rate
from mbm_helpers.simulator.profiles import DeviceProfile, profile

#: Longest warm-up (seconds): the slowest window, L0.01, halves every 100 s.
WARMUP_S = 300.0
#: Most packets simulated for the warm-up of one capture.
WARMUP_PACKETS = 40_000


def capture_start(dev: DeviceProfile, label: str) -> float:
    """Unix time the capture of ``label`` starts (autumn 2017, as N-BaIoT's timestamps show)."""
    if label == "benign":
        return dev.capture_start
    botnet, attack = label.split("_", 1)
    i = schema.ATTACK_FILES[botnet].index(attack)
    return dev.capture_start + (0.4e6 if botnet == "gafgyt" else 2.0e6) + 10_800.0 * i


def capture_packets(
    rng: np.random.Generator, dev: DeviceProfile, label: str, t0: float, t1: float
) -> np.ndarray:
    """Every packet of the device's capture of ``label`` in [t0, t1), in time order."""
    parts = [benign_packets(rng, dev, t0, t1)]
    if label != "benign":
        parts.append(attack_packets(rng, dev, label, t0, t1))
    packets = np.concatenate(parts)
    return sort_packets(packets[(packets["ts"] >= t0) & (packets["ts"] < t1)])


def _rng(seed: int, dev: DeviceProfile, label: str, attempt: int) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence([seed, dev.device.id, schema.CLASSES.index(label), attempt])
    )


def simulate_file(device: str | int, label: str, n_rows: int, *, seed: int = 0) -> np.ndarray:
    """Features of ``n_rows`` consecutive packets of one simulated capture, float32 ``(n_rows, 115)``.

    ``label`` is ``"benign"`` or an attack of ``schema.ATTACKS``. Deterministic in ``seed``.
    """
    dev = profile(device)
    if label not in schema.CLASSES:
        raise ValueError(f"unknown class {label!r}; expected one of {', '.join(schema.CLASSES)}")
    if label.startswith("mirai") and not dev.device.has_mirai:
        raise ValueError(f"{dev.device.name} has no Mirai captures in N-BaIoT; no {label!r} file")
    if n_rows < 1:
        raise ValueError(f"n_rows must be a positive number of rows, got {n_rows}")
    rate = expected_rate(dev) + (attack_rate(dev, label) if label != "benign" else 0.0)
    warmup = min(WARMUP_S, WARMUP_PACKETS / rate)
    start = capture_start(dev, label)
    duration = warmup + 1.3 * n_rows / rate + 5.0
    for attempt in range(12):
        rng = _rng(seed, dev, label, attempt)
        packets = capture_packets(rng, dev, label, start, start + duration)
        first = int(np.searchsorted(packets["ts"], start + warmup))
        if len(packets) - first >= n_rows:
            packets = packets[: first + n_rows]
            return extract_features(packets)[first:].astype(np.float32)
        duration *= 2.0
    raise RuntimeError(f"simulated capture of {dev.device.name}/{label} stayed below {n_rows} packets")
