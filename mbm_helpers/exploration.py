"""Tables and figures for exploring N-BaIoT and for reading the detectors' scores.

Used by the notebooks for what :mod:`mbm_helpers.plots` does not draw: feature ranges, per-device
distributions, a 2-D projection, cross-device overlap (why one baseline for all devices is a poor
fit), the threshold sweep (what ``n_std`` does to FPR and FNR), which factor catches which attack,
and rate bar charts / heatmaps. Every function takes the tidy table of
:func:`mbm_helpers.loading.load_nbaiot` (or parts of it) and returns a DataFrame or a Figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from mbm_helpers import schema
from mbm_helpers.errors import DataError
from mbm_helpers.preprocessing import SignedLogScaler, feature_matrix

#: Features shown per device by default: packet size, jitter and socket magnitude at one window.
DEFAULT_FEATURES = ("MI_dir_L0.1_mean", "HH_jit_L0.1_mean", "HpHp_L0.1_magnitude")
#: Short device labels for figures (the id and the folder name's first word).
SHORT_NAMES = {d.name: f"{d.id} {d.name.split('_')[0]} {d.type.replace('_', ' ')}" for d in schema.DEVICES}


def _need(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{what}: missing column {missing[0]!r}")
    if df.empty:
        raise DataError(f"{what}: the table has no rows")


def signed_log10(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log10(1 + |x|)``: values spanning 1e-6..1e17 on one readable axis."""
    return np.sign(x) * np.log10(1.0 + np.abs(x))


def sample_rows(df: pd.DataFrame, per_group: int, by: Sequence[str], seed: int = 0) -> pd.DataFrame:
    """At most ``per_group`` rows of each group (seeded sample, original order kept)."""
    rng = np.random.default_rng(seed)
    keep = []
    for idx in df.groupby(list(by), observed=True, sort=False).indices.values():
        keep.append(idx if len(idx) <= per_group else rng.choice(idx, per_group, replace=False))
    return df.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


# --------------------------------------------------------------------------- features


def feature_ranges(df: pd.DataFrame) -> pd.DataFrame:
    """Per feature group: number of features, and the smallest, median and largest value."""
    _need(df, schema.FEATURES, "feature_ranges")
    X = feature_matrix(df).astype(np.float64)
    rows = []
    for group in schema.FEATURE_GROUPS:
        cols = [i for i, f in enumerate(schema.FEATURES) if schema.feature_group(f) == group]
        values = X[:, cols]
        rows.append(
            {
                "group": group,
                "features": len(cols),
                "min": values.min(),
                "median": float(np.median(values)),
                "max": values.max(),
            }
        )
    return pd.DataFrame(rows)


def plot_feature_ranges(df: pd.DataFrame) -> Figure:
    """Each feature's min, median and max on a signed log10 axis, coloured by feature group."""
    _need(df, schema.FEATURES, "plot_feature_ranges")
    X = signed_log10(feature_matrix(df).astype(np.float64))
    fig, ax = plt.subplots(figsize=(11, 4.2))
    palette = dict(
        zip(schema.FEATURE_GROUPS, sns.color_palette("colorblind", len(schema.FEATURE_GROUPS)), strict=True)
    )
    for i, name in enumerate(schema.FEATURES):
        color = palette[schema.feature_group(name)]
        ax.vlines(i, X[:, i].min(), X[:, i].max(), color=color, lw=2)
        ax.plot(i, np.median(X[:, i]), "o", color="black", ms=2.5)
    for group, color in palette.items():
        ax.plot([], [], color=color, lw=3, label=group)
    ax.plot([], [], "o", color="black", ms=3, label="median")
    ax.set(
        xlabel="feature (file order)",
        ylabel="sign(x)·log10(1+|x|)",
        title="Range of each of the 115 features (min to max) by group",
    )
    ax.legend(ncol=6, loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def plot_device_distributions(
    df: pd.DataFrame, features: Sequence[str] = DEFAULT_FEATURES, *, per_group: int = 400, seed: int = 0
) -> Figure:
    """Box plots of a few features per device, benign vs BASHLITE vs Mirai (signed log10 axis)."""
    _need(df, [*features, "device", "botnet"], "plot_device_distributions")
    rows = sample_rows(df, per_group, ["device", "botnet"], seed)
    long = rows.melt(id_vars=["device", "botnet"], value_vars=list(features), var_name="feature")
    long["value"] = signed_log10(long["value"].to_numpy(np.float64))
    long["device"] = long["device"].astype(str).map(SHORT_NAMES)
    long["traffic"] = long["botnet"].astype(str).map(schema.BOTNET_DISPLAY)
    fig, axes = plt.subplots(1, len(features), figsize=(4.2 * len(features), 4.6), sharey=True, squeeze=False)
    order = [SHORT_NAMES[d] for d in schema.DEVICE_NAMES if SHORT_NAMES[d] in set(long["device"])]
    for ax, feature in zip(axes[0], features, strict=True):
        sns.boxplot(
            data=long[long["feature"] == feature],
            x="value",
            y="device",
            hue="traffic",
            order=order,
            hue_order=["benign", "BASHLITE", "Mirai"],
            fliersize=1,
            linewidth=0.8,
            ax=ax,
        )
        ax.set(title=feature, xlabel="sign(x)·log10(1+|x|)", ylabel="")
        if ax is not axes[0][-1]:
            ax.get_legend().remove()
    fig.suptitle("The same feature per device: benign and attack traffic")
    fig.tight_layout()
    return fig


def type_profiles(df: pd.DataFrame) -> pd.DataFrame:
    """Benign behaviour per device type: median standardised value per (group, statistic).

    Features are scaled with :class:`SignedLogScaler` fitted on the benign rows given, then the
    median over rows and windows is taken; 0 = the benign average of all devices.
    """
    _need(df, [*schema.FEATURES, "device_type", "attack"], "type_profiles")
    benign = df[df["attack"] == "benign"]
    Z = pd.DataFrame(SignedLogScaler().fit_transform(benign), columns=list(schema.FEATURES))
    Z["device_type"] = benign["device_type"].astype(str).to_numpy()
    long = Z.melt(id_vars="device_type", var_name="feature")
    long["column"] = [f"{schema.feature_group(f)} {f.rsplit('_', 1)[1]}" for f in long["feature"]]
    table = long.groupby(["device_type", "column"], sort=False)["value"].median().unstack("column")
    order = list(dict.fromkeys(f"{schema.feature_group(f)} {f.rsplit('_', 1)[1]}" for f in schema.FEATURES))
    return table.loc[[t for t in schema.DEVICE_TYPES if t in table.index], order]


def plot_type_profiles(profiles: pd.DataFrame) -> Figure:
    """Heatmap of :func:`type_profiles` (device types x feature statistics)."""
    fig, ax = plt.subplots(figsize=(12, 0.55 * len(profiles) + 2.6))
    sns.heatmap(
        profiles, cmap="vlag", center=0, ax=ax, cbar_kws={"label": "median z (benign, all devices = 0)"}
    )
    ax.set(
        title="Benign behaviour per device type", xlabel="feature group and statistic", ylabel="device type"
    )
    fig.tight_layout()
    return fig


def projection(df: pd.DataFrame, *, per_group: int = 300, seed: int = 0) -> pd.DataFrame:
    """2-D PCA projection of a per-(device, attack) sample; PCA and scaler fitted on benign rows only."""
    _need(df, [*schema.FEATURES, "device", "device_type", "botnet", "attack"], "projection")
    rows = sample_rows(df, per_group, ["device", "attack"], seed)
    benign = rows["attack"] == "benign"
    if not benign.any():
        raise DataError("projection: no benign rows to fit the projection on")
    scaler = SignedLogScaler().fit(rows[benign])
    pca = PCA(n_components=2, random_state=seed).fit(scaler.transform(rows[benign]))
    pcs = pca.transform(scaler.transform(rows))
    out = rows[["device", "device_type", "botnet", "attack"]].copy()
    out.insert(0, "pc2", pcs[:, 1])
    out.insert(0, "pc1", pcs[:, 0])
    out.attrs["explained_variance_ratio"] = pca.explained_variance_ratio_.tolist()
    return out


def plot_projection(proj: pd.DataFrame) -> Figure:
    """Two panels of :func:`projection`: benign rows by device; all rows by traffic class."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), sharex=True, sharey=True)
    benign = proj[proj["attack"] == "benign"].assign(
        device=lambda d: d["device"].astype(str).map(SHORT_NAMES)
    )
    sns.scatterplot(
        data=benign, x="pc1", y="pc2", hue="device", s=10, alpha=0.7, linewidth=0, ax=left, palette="tab10"
    )
    left.set(title="Benign traffic, coloured by device")
    left.legend(fontsize="x-small", markerscale=1.5, loc="best")
    shown = proj.assign(traffic=proj["botnet"].astype(str).map(schema.BOTNET_DISPLAY))
    sns.scatterplot(
        data=shown,
        x="pc1",
        y="pc2",
        hue="traffic",
        hue_order=["benign", "BASHLITE", "Mirai"],
        palette=["0.55", "tab:orange", "tab:red"],
        s=8,
        alpha=0.5,
        linewidth=0,
        ax=right,
    )
    right.set(title="All traffic, coloured by class")
    ratio = proj.attrs.get("explained_variance_ratio")
    for ax in (left, right):
        if ratio:
            ax.set(xlabel=f"PC 1 ({ratio[0]:.0%} of benign variance)", ylabel=f"PC 2 ({ratio[1]:.0%})")
    fig.suptitle("PCA projection fitted on benign rows (signed-log standardised features)")
    fig.tight_layout()
    return fig


def overlap_matrix(
    df: pd.DataFrame, *, per_device: int = 400, quantile: float = 0.99, seed: int = 0
) -> pd.DataFrame:
    """Share of each device's attack rows that fall inside another device's benign envelope.

    For each baseline device B, half of a sample of its benign rows is the reference and the
    other half calibrates a radius: the ``quantile`` of their nearest-reference distances
    (standardised signed-log features). An attack row of device A is *inside* B's envelope when
    its nearest B-reference row is closer than that radius (B's own benign rows are inside with
    probability about ``quantile``). Rows: attack device A; columns: baseline device B, plus
    ``any device`` (inside at least one device's envelope: what a baseline that ignores which
    device sent a row must accept at best).
    """
    _need(df, [*schema.FEATURES, "device", "attack"], "overlap_matrix")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    benign = sample_rows(df[df["attack"] == "benign"], per_device, ["device"], seed)
    attacks = sample_rows(df[df["attack"] != "benign"], per_device, ["device"], seed)
    if attacks.empty:
        raise DataError("overlap_matrix: the table has no attack rows")
    scaler = SignedLogScaler().fit(benign)
    rng = np.random.default_rng(seed)
    ref_mask = rng.random(len(benign)) < 0.5
    Zb, Za = scaler.transform(benign), scaler.transform(attacks)
    b_dev, a_dev = benign["device"].astype(str).to_numpy(), attacks["device"].astype(str).to_numpy()

    def inside(mask: np.ndarray) -> np.ndarray:
        nn = NearestNeighbors(n_neighbors=1).fit(Zb[mask & ref_mask])
        radius = np.quantile(nn.kneighbors(Zb[mask & ~ref_mask])[0][:, 0], quantile)
        return nn.kneighbors(Za)[0][:, 0] <= radius

    devices = [d for d in schema.DEVICE_NAMES if d in set(b_dev)]
    columns = {
        d: inside(b_dev == d)
        for d in devices
        if ((b_dev == d) & ref_mask).any() and ((b_dev == d) & ~ref_mask).any()
    }
    columns["any device"] = np.logical_or.reduce(list(columns.values()))
    table = pd.DataFrame(columns).groupby(a_dev, sort=False).mean()
    table.index.name = "attack rows of"
    table.columns.name = "benign baseline of"
    return table.loc[[d for d in schema.DEVICE_NAMES if d in table.index]]


def overlap_summary(matrix: pd.DataFrame) -> pd.DataFrame:
    """Per attack device: share inside its own envelope, inside any device's, and the worst other."""
    own = [matrix.loc[d, d] if d in matrix.columns else np.nan for d in matrix.index]
    others = matrix.drop(columns="any device")
    worst = [others.loc[d].drop(d, errors="ignore").max() for d in matrix.index]
    return pd.DataFrame(
        {
            "own device": own,
            "any device": matrix["any device"].to_numpy(),
            "most overlapping other device": worst,
        },
        index=matrix.index,
    )


def plot_overlap(matrix: pd.DataFrame) -> Figure:
    """Heatmap of :func:`overlap_matrix` (share of attack rows accepted by each benign baseline)."""
    shown = matrix.rename(index=SHORT_NAMES, columns=SHORT_NAMES)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    sns.heatmap(
        shown,
        annot=True,
        fmt=".2f",
        vmin=0,
        vmax=1,
        cmap="rocket_r",
        ax=ax,
        cbar_kws={"label": "share inside the envelope"},
    )
    ax.set(
        title="Attack traffic of one device that looks like benign traffic of another",
        xlabel="benign baseline of",
        ylabel="attack rows of",
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- thresholds and factors


def _group_thresholds(thresholds: pd.DataFrame, groups: np.ndarray, factor: str, column: str) -> np.ndarray:
    table = thresholds[thresholds["factor"] == factor].set_index("group")[column]
    unknown = sorted(set(groups) - set(table.index))
    if unknown:
        raise DataError(f"no {factor!r} threshold for group(s) {unknown}")
    return table.reindex(groups).to_numpy(np.float64)


def flags(
    scores: pd.DataFrame, groups: np.ndarray, thresholds: pd.DataFrame, *, n_std: float | None = None
) -> pd.DataFrame:
    """Per row and factor: is the score above its group's threshold?

    With ``n_std`` the thresholds are recomputed as ``mean + n_std * std`` from the table's
    ``mean`` and ``std`` columns; otherwise its ``threshold`` column is used.
    """
    out = {}
    for factor in scores.columns:
        if n_std is None:
            th = _group_thresholds(thresholds, groups, factor, "threshold")
        else:
            th = _group_thresholds(thresholds, groups, factor, "mean") + n_std * _group_thresholds(
                thresholds, groups, factor, "std"
            )
        out[factor] = scores[factor].to_numpy(np.float64) > th
    return pd.DataFrame(out, index=scores.index)


def n_std_curve(
    scores: pd.DataFrame,
    groups: np.ndarray,
    is_attack: np.ndarray,
    thresholds: pd.DataFrame,
    n_stds: Sequence[float] = tuple(np.round(np.arange(0.0, 8.01, 0.25), 2)),
    *,
    rules: Sequence[str] = ("either",),
) -> pd.DataFrame:
    """FPR (benign rows) and FNR (attack rows) as the thresholds move: ``mean + n_std * std``.

    ``rules``: ``either`` (RE or KLD), or a single factor name (``re``, ``kld``).
    """
    is_attack = np.asarray(is_attack, bool)
    if is_attack.all() or not is_attack.any():
        raise DataError("n_std_curve needs both benign and attack rows")
    rows = []
    for n in n_stds:
        f = flags(scores, groups, thresholds, n_std=float(n))
        for rule in rules:
            pred = f.any(axis=1).to_numpy() if rule == "either" else f[rule].to_numpy()
            rows.append(
                {
                    "n_std": float(n),
                    "rule": rule,
                    "fpr": pred[~is_attack].mean(),
                    "fnr": (~pred[is_attack]).mean(),
                }
            )
    return pd.DataFrame(rows)


def plot_n_std_curve(curve: pd.DataFrame, chosen: float = 3.0) -> Figure:
    """FPR and FNR against ``n_std`` (one line style per rule), with the paper's choice marked."""
    long = curve.melt(id_vars=["n_std", "rule"], value_vars=["fpr", "fnr"], var_name="rate")
    long["rate"] = long["rate"].str.upper()
    fig, ax = plt.subplots(figsize=(9.5, 4.2))
    sns.lineplot(data=long, x="n_std", y="value", hue="rate", style="rule", marker="o", ms=3, ax=ax)
    ax.axvline(chosen, color="tab:red", lw=1, label=f"mean + {chosen:g} std (paper)")
    ax.set(
        xlabel="threshold = mean + n_std × std of the training scores",
        ylabel="rate on the test part",
        title="Moving the threshold trades false alarms for missed attacks",
        ylim=(-0.02, 1.02),
    )
    ax.legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def factor_catches(
    scores: pd.DataFrame, groups: np.ndarray, attack: np.ndarray, thresholds: pd.DataFrame
) -> pd.DataFrame:
    """Per attack: share of its rows flagged by both factors, RE only, KLD only, or neither."""
    f = flags(scores[["re", "kld"]], groups, thresholds)
    re, kld = f["re"].to_numpy(), f["kld"].to_numpy()
    table = pd.DataFrame(
        {
            "attack": np.asarray(attack).astype(str),
            "both": re & kld,
            "RE only": re & ~kld,
            "KLD only": kld & ~re,
            "neither": ~re & ~kld,
        }
    )
    out = table.groupby("attack", sort=False).mean()
    return out.loc[[a for a in schema.CLASSES if a in out.index]]


def plot_factor_catches(table: pd.DataFrame) -> Figure:
    """Stacked bars of :func:`factor_catches`: which factor flags each attack's rows."""
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(table) + 1.8))
    table[["both", "RE only", "KLD only", "neither"]].plot.barh(
        stacked=True, ax=ax, color=["tab:purple", "tab:blue", "tab:green", "0.8"], width=0.75
    )
    ax.invert_yaxis()
    ax.set(
        xlabel="share of the attack's test rows",
        ylabel="",
        xlim=(0, 1),
        title="Which factor flags each attack (each against its group's threshold)",
    )
    ax.legend(ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.07), fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def plot_rates(table: pd.DataFrame, *, x: str, y: str, hue: str = "detector", title: str) -> Figure:
    """Horizontal grouped bars of a rate table (e.g. FPR per device, FNR per attack)."""
    _need(table, [x, y, hue], "plot_rates")
    shown = table.assign(**{y: table[y].astype(str).map(lambda v: SHORT_NAMES.get(v, v))})
    fig, ax = plt.subplots(figsize=(9, 0.32 * shown[y].nunique() * max(1, shown[hue].nunique() / 2) + 2))
    sns.barplot(data=shown, x=x, y=y, hue=hue, ax=ax)
    ax.set(title=title, xlabel=x.upper() if len(x) <= 4 else x, ylabel="")
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def plot_rate_heatmap(
    table: pd.DataFrame,
    *,
    index: str = "device",
    columns: str = "attack",
    value: str = "fnr",
    title: str,
    vmax: float | None = 1.0,
) -> Figure:
    """Heatmap of a rate table, e.g. device x attack FNR of one detector, or device x detector FPR."""
    _need(table, [index, columns, value], "plot_rate_heatmap")
    grid = table.pivot_table(index=index, columns=columns, values=value, observed=True, sort=False)
    grid = grid.rename(index=SHORT_NAMES)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * grid.shape[1] + 3.5), 0.5 * grid.shape[0] + 1.8))
    sns.heatmap(
        grid,
        annot=True,
        fmt=".2f",
        vmin=0,
        vmax=vmax,
        cmap="rocket_r",
        ax=ax,
        cbar_kws={"label": value.upper()},
    )
    ax.set(title=title, xlabel=columns, ylabel=index)
    fig.tight_layout()
    return fig


def two_factor_text(fnr: pd.DataFrame, catches: pd.DataFrame) -> str:
    """A Markdown paragraph on what KLD adds to RE, written from the numbers.

    ``fnr``: FNR per attack (index) for the rules ``CVAE``, ``CVAE (RE only)``, ``CVAE (KLD only)``;
    ``catches``: :func:`factor_catches` of the same attack rows.
    """
    both, re_only, kld_only = fnr["CVAE"], fnr["CVAE (RE only)"], fnr["CVAE (KLD only)"]
    gain = (re_only - both).sort_values(ascending=False)
    text = (
        f"Mean FNR over attacks: **{re_only.mean():.2%}** with RE alone, **{kld_only.mean():.2%}** with "
        f"KLD alone, **{both.mean():.2%}** with RE or KLD. "
    )
    if gain.iloc[0] > 0:
        top = gain.index[0]
        text += f"KLD helps most on `{top}` (FNR {re_only[top]:.2%} → {both[top]:.2%}); "
    else:
        text += "KLD flags no attack row that RE misses; "
    text += (
        f"averaged over attacks, {catches['KLD only'].mean():.2%} of attack rows are caught by KLD only, "
        f"{catches['RE only'].mean():.2%} by RE only and {catches['both'].mean():.2%} by both."
    )
    return text
