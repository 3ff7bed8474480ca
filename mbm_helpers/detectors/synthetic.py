"""Small synthetic tidy tables (the loader's contract) for tests, benchmarks and demos.

Each device's benign rows come from its own low-rank Gaussian cluster in signed-log space
(so values span several orders of magnitude, as N-BaIoT's do); each attack shifts the cluster
along its own direction, by a size that varies per attack (some subtle, some gross).
Devices of one type share most of their cluster, so conditioning on type is meaningful.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mbm_helpers import schema


def synthetic_table(
    *,
    devices: Sequence[str] | None = None,
    benign_rows: int = 600,
    attack_rows: int = 100,
    attacks: Sequence[str] | None = None,
    n_factors: int = 4,
    seed: int = 0,
) -> pd.DataFrame:
    """A tidy table (115 float32 features + label columns) of synthetic benign and attack rows."""
    rng = np.random.default_rng(seed)
    devices = list(devices or schema.DEVICE_NAMES)
    attacks = list(attacks or schema.ATTACKS)
    nf = schema.N_FEATURES
    type_mu = {t: rng.normal(3.0, 2.0, nf) for t in schema.DEVICE_TYPES}
    loadings = rng.normal(0.0, 0.6, (n_factors, nf))
    attack_dir = {a: rng.normal(0.0, 1.0, nf) for a in schema.ATTACKS}
    attack_size = {a: 0.4 + 2.5 * i / len(schema.ATTACKS) for i, a in enumerate(schema.ATTACKS)}
    frames = []
    for name in devices:
        d = schema.device(name)
        mu = type_mu[d.type] + rng.normal(0.0, 0.3, nf)
        for _, label in schema.files_of(d.name):
            if label != "benign" and label not in attacks:
                continue
            n = benign_rows if label == "benign" else attack_rows
            u = rng.normal(size=(n, n_factors))
            logx = mu + u @ loadings + rng.normal(0.0, 0.15, (n, nf))
            if label != "benign":
                logx += attack_size[label] * attack_dir[label]
            x = np.sign(logx) * np.expm1(np.abs(logx))
            df = pd.DataFrame(x.astype(np.float32), columns=list(schema.FEATURES))
            df["device"] = d.name
            df["device_type"] = d.type
            df["botnet"] = label.split("_")[0]
            df["attack"] = label
            df["row"] = np.arange(n, dtype=np.int32)
            frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    for col, cats in (
        ("device", schema.DEVICE_NAMES),
        ("device_type", schema.DEVICE_TYPES),
        ("botnet", schema.BOTNETS),
        ("attack", schema.CLASSES),
    ):
        out[col] = pd.Categorical(out[col], categories=list(cats))
    return out
