"""Evaluate detectors on a split: FPR per device, FNR per attack, ROC-AUC per attack, timing.

Definitions: FPR = flagged benign test rows / benign test rows (per device); FNR = missed attack
rows / attack rows (per attack over all devices, and per device x attack). ROC-AUC per attack is
threshold-free: the benign test rows of all devices against that attack's rows, ranked by
``score_samples``. The summary's FPR statistics are over devices and FNR statistics over attacks,
as in the paper's Fig. 2.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from mbm_helpers import schema
from mbm_helpers.atomic import atomic_path
from mbm_helpers.detectors.base import BaseDetector
from mbm_helpers.preprocessing import Split


def false_positive_rate(y_true, y_pred) -> float:
    """Share of true negatives (``y_true`` False/0, benign) predicted positive; NaN if none."""
    y_true, y_pred = _bools(y_true, y_pred)
    neg = ~y_true
    return float(y_pred[neg].mean()) if neg.any() else float("nan")


def false_negative_rate(y_true, y_pred) -> float:
    """Share of true positives (``y_true`` True/1, attack) predicted negative; NaN if none."""
    y_true, y_pred = _bools(y_true, y_pred)
    return float((~y_pred[y_true]).mean()) if y_true.any() else float("nan")


def _bools(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    return y_true, y_pred


@dataclass
class Evaluation:
    """Tidy result tables of :func:`evaluate` (one row per detector x unit)."""

    fpr_by_device: pd.DataFrame
    fnr_by_attack: pd.DataFrame
    fnr_by_device_attack: pd.DataFrame
    roc_auc_by_attack: pd.DataFrame
    summary: pd.DataFrame

    def save(self, folder: str | Path) -> Path:
        """Write one CSV per table into ``folder`` (replaced atomically); return the folder."""
        folder = Path(folder)
        with atomic_path(folder, directory=True) as tmp:
            for f in fields(self):
                getattr(self, f.name).to_csv(tmp / f"{f.name}.csv", index=False)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Evaluation:
        """Read the CSVs written by :meth:`save`; detectors keep their original order."""
        folder = Path(folder)
        tables = {}
        for f in fields(cls):
            path = folder / f"{f.name}.csv"
            if not path.is_file():
                raise FileNotFoundError(f"Evaluation.load: {path} not found")
            tables[f.name] = pd.read_csv(path)
        order = list(dict.fromkeys(tables["summary"]["detector"]))
        for df in tables.values():
            df["detector"] = pd.Categorical(df["detector"], categories=order)
        return cls(**tables)


def evaluate(
    detectors: Mapping[str, BaseDetector], split: Split, *, fit: bool = True, progress: bool = True
) -> Evaluation:
    """Fit (on ``split.train``, early stopping on ``split.validation``) and score every detector."""
    test = split.test
    is_attack = (test["attack"].astype(str) != "benign").to_numpy()
    if not is_attack.any() or is_attack.all():
        raise ValueError("evaluate: the test rows need both benign and attack rows")
    per_row, summary = [], []
    for name, det in tqdm(detectors.items(), desc="detectors", disable=not progress):
        if fit:
            det.fit(split.train, split.validation)
        start = time.perf_counter()
        score = det.score_samples(test)
        elapsed = time.perf_counter() - start
        per_row.append(
            pd.DataFrame(
                {
                    "detector": name,
                    "device": test["device"].astype(str).to_numpy(),
                    "device_type": test["device_type"].astype(str).to_numpy(),
                    "attack": test["attack"].astype(str).to_numpy(),
                    "score": score,
                    "flag": score > 1.0,
                }
            )
        )
        summary.append(
            {
                "detector": name,
                "fit_time_s": det.fit_time_,
                "score_rows_per_s": len(test) / max(elapsed, 1e-9),
            }
        )
    rows = pd.concat(per_row, ignore_index=True)
    order = list(detectors)
    rows["detector"] = pd.Categorical(rows["detector"], categories=order)
    return _tables(rows, pd.DataFrame(summary), order)


def _tables(rows: pd.DataFrame, timing: pd.DataFrame, order: list[str]) -> Evaluation:
    benign = rows[rows["attack"] == "benign"]
    attacks = rows[rows["attack"] != "benign"]
    g = ["detector"]
    fpr = (
        benign.groupby([*g, "device", "device_type"], observed=True)["flag"]
        .agg(n="size", fpr="mean")
        .reset_index()
    )
    fnr = attacks.groupby([*g, "attack"], observed=True)["flag"].agg(n="size", fnr="mean").reset_index()
    fnr["fnr"] = 1.0 - fnr["fnr"]
    fnr_da = attacks.groupby([*g, "device", "attack"], observed=True)["flag"].agg(n="size", fnr="mean")
    fnr_da = fnr_da.reset_index()
    fnr_da["fnr"] = 1.0 - fnr_da["fnr"]
    auc = []
    for (det, attack), part in attacks.groupby(["detector", "attack"], observed=True):
        neg = benign.loc[benign["detector"] == det, "score"].to_numpy()
        pos = part["score"].to_numpy()
        y = np.r_[np.zeros(len(neg)), np.ones(len(pos))]
        auc.append({"detector": det, "attack": attack, "roc_auc": roc_auc_score(y, np.r_[neg, pos])})
    auc = pd.DataFrame(auc)
    auc["detector"] = pd.Categorical(auc["detector"], categories=order)
    fpr, fnr, fnr_da, auc = (_sorted(df) for df in (fpr, fnr, fnr_da, auc))
    summary = (
        fpr.groupby("detector", observed=True)["fpr"]
        .agg(fpr_mean="mean", fpr_median="median")
        .join(fnr.groupby("detector", observed=True)["fnr"].agg(fnr_mean="mean", fnr_median="median"))
        .join(auc.groupby("detector", observed=True)["roc_auc"].mean().rename("roc_auc_macro"))
        .reset_index()
        .merge(timing.assign(detector=pd.Categorical(timing["detector"], categories=order)), on="detector")
    )
    return Evaluation(fpr, fnr, fnr_da, auc, summary)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    keys = ["detector", *[c for c in ("device", "attack") if c in df]]
    return df.sort_values(
        keys, key=lambda s: s.map(_rank) if s.name in ("device", "attack") else s, ignore_index=True
    )


def _rank(value: str) -> int:
    """Schema order of a device or attack name (for sorting tables the way the paper lists them)."""
    for names in (schema.DEVICE_NAMES, schema.CLASSES):
        if value in names:
            return names.index(value)
    return len(schema.CLASSES)
