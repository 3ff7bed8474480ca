"""Figures: the paper's Fig. 2, CVAE training curves, score distributions and the latent space."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mbm_helpers.evaluation import Evaluation

_MEAN = {"color": "tab:green", "linestyle": "--", "linewidth": 1.8}
_MEDIAN = {"color": "tab:orange", "linestyle": "-", "linewidth": 1.8}


def plot_fig2(evaluation: Evaluation) -> Figure:
    """Paper Fig. 2: training time per model; box plots of 1 - FPR over devices and 1 - FNR over attacks.

    Boxes show the spread over devices (top right) and attacks (bottom right); the green dashed
    line marks the mean, the orange solid line the median.
    """
    summary = evaluation.summary
    order = [str(d) for d in summary["detector"]]
    fig = plt.figure(figsize=(12, 6.5), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=(1, 1.6))
    ax_time = fig.add_subplot(grid[:, 0])
    sns.barplot(x=order, y=summary["fit_time_s"].to_numpy(), ax=ax_time, color="tab:blue")
    for i, t in enumerate(summary["fit_time_s"]):
        ax_time.annotate(f"{t:.1f}", (i, t), ha="center", va="bottom", fontsize=9)
    ax_time.set(title="Training time", xlabel="model", ylabel="training time (s)")
    panels = (
        (evaluation.fpr_by_device, "fpr", "1 - FPR on benign traffic (over devices)"),
        (evaluation.fnr_by_attack, "fnr", "1 - FNR against attacks (over attacks)"),
    )
    for row, (table, col, title) in enumerate(panels):
        ax = fig.add_subplot(grid[row, 1])
        data = table.assign(detector=table["detector"].astype(str), value=1.0 - table[col])
        sns.boxplot(
            data=data,
            x="detector",
            y="value",
            order=order,
            ax=ax,
            showmeans=True,
            meanline=True,
            meanprops=_MEAN,
            medianprops=_MEDIAN,
            color="lightsteelblue",
            fliersize=3,
        )
        ax.set(title=title, xlabel="model", ylabel=f"1 - {col.upper()}")
        ax.set_ylim(min(0.0, data["value"].min()) - 0.02, 1.02)
    fig.legend(
        handles=[Line2D([], [], **_MEAN, label="mean"), Line2D([], [], **_MEDIAN, label="median")],
        loc="outside lower center",
        ncols=2,
        fontsize=9,
    )
    fig.suptitle("Detection accuracy and training cost per model (cf. MBM-IoT Fig. 2)")
    return fig


def plot_training_history(history: pd.DataFrame) -> Figure:
    """CVAE training curves: reconstruction and KL per epoch (train and validation)."""
    epochs = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, col, title in (
        (axes[0], "reconstruction", "Reconstruction (sum of squared errors)"),
        (axes[1], "kl", "KL divergence to N(0, I)"),
    ):
        for prefix, style in (("", "-o"), ("val_", "--s")):
            if prefix + col in history:
                ax.plot(epochs, history[prefix + col], style, ms=4, label="validation" if prefix else "train")
        ax.set(title=title, xlabel="epoch", ylabel=f"mean per row ({col})")
        ax.legend()
    fig.suptitle("CVAE training history")
    return fig


def plot_score_distributions(scores: pd.DataFrame, labels: pd.DataFrame, thresholds: pd.DataFrame) -> Figure:
    """RE and KLD distributions per condition group (benign vs attack), with threshold lines.

    ``scores``: columns ``re``/``kld`` (``CVAEDetector.scores``); ``labels``: the same rows'
    group column (``device_type`` or ``device``) and ``attack``; ``thresholds``: ``thresholds_``.
    """
    group_col = "device_type" if "device_type" in labels else "device"
    factors = [f for f in ("re", "kld") if f in scores]
    groups = sorted(set(thresholds["group"]) & set(labels[group_col].astype(str)))
    fig, axes = plt.subplots(
        len(groups),
        len(factors),
        figsize=(5.5 * len(factors), 2.6 * len(groups)),
        squeeze=False,
        layout="constrained",
    )
    kind = np.where(labels["attack"].astype(str).to_numpy() == "benign", "benign", "attack")
    for i, group in enumerate(groups):
        mask = labels[group_col].astype(str).to_numpy() == group
        for j, factor in enumerate(factors):
            ax = axes[i, j]
            values = np.log10(np.maximum(scores[factor].to_numpy()[mask], 1e-12))
            sns.histplot(
                x=values,
                hue=kind[mask],
                hue_order=["benign", "attack"],
                ax=ax,
                bins=60,
                stat="density",
                common_norm=False,
                element="step",
            )
            t = thresholds[(thresholds["group"] == group) & (thresholds["factor"] == factor)]["threshold"]
            if len(t):
                ax.axvline(np.log10(max(float(t.iloc[0]), 1e-12)), color="black", ls="--", label="threshold")
            ax.set(title=f"{group}: {factor.upper()}", xlabel=f"log10 {factor.upper()}", ylabel="density")
    fig.suptitle("Anomaly scores of benign and attack rows per group, with mean + n_std * std thresholds")
    return fig


def plot_latent_space(z: np.ndarray, labels, *, title: str = "CVAE latent space (z_mean)") -> Figure:
    """Scatter of the first two latent dimensions (or a PCA of them when latent_dim > 2), by label."""
    z = np.asarray(z, dtype=np.float64)
    labels = np.asarray(labels).astype(str)
    if z.ndim != 2 or len(z) != len(labels):
        raise ValueError(f"z must be (n, d) with n = len(labels); got {z.shape} and {len(labels)} labels")
    axis = ("z1", "z2")
    if z.shape[1] > 2:
        zc = z - z.mean(axis=0)
        _, s, vt = np.linalg.svd(zc, full_matrices=False)
        z = zc @ vt[:2].T
        share = s[:2] ** 2 / (s**2).sum()
        axis = (f"PC1 of z ({share[0]:.0%})", f"PC2 of z ({share[1]:.0%})")
    elif z.shape[1] == 1:
        z = np.column_stack([z[:, 0], np.zeros(len(z))])
    fig, ax = plt.subplots(figsize=(7, 5.5), layout="constrained")
    sns.scatterplot(x=z[:, 0], y=z[:, 1], hue=labels, s=8, alpha=0.6, linewidth=0, ax=ax)
    ax.set(title=title, xlabel=axis[0], ylabel=axis[1])
    ax.legend(title="label", fontsize=8, markerscale=2)
    return fig
