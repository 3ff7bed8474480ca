"""The notebook series: executed once in smoke mode on a small generated sample, then its artefacts
are checked; plus checks of the committed (executed) notebooks themselves."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from mbm_helpers import runner, schema, workflow
from mbm_helpers.detectors import DETECTOR_NAMES

NOTEBOOKS = runner.series_notebooks()
STEMS = [nb.stem for nb in NOTEBOOKS]
SAMPLE_SCALE = 0.1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def small_sample() -> Path:
    """A small simulated sample in the N-BaIoT layout (generated once, cached in data/)."""
    from mbm_helpers.sample_data import ensure_sample

    return ensure_sample(scale=SAMPLE_SCALE, seed=0, progress=False)


@pytest.fixture(scope="session")
def series(small_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> runner.SeriesResult:
    """The whole series, executed once in smoke mode (a failing notebook fails every test here)."""
    out = tmp_path_factory.mktemp("series")
    return runner.run_series(
        {"data_source": str(small_sample), "smoke": True}, output_dir=out, progress=False
    )


@pytest.fixture(scope="session")
def artefacts(series: runner.SeriesResult) -> Path:
    return series.artefacts_dir


def _outputs(path: Path) -> list[dict]:
    nb = nbformat.read(path, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_every_notebook_ran_without_error_and_was_rendered(series: runner.SeriesResult):
    assert [p.stem for p in series.notebooks] == STEMS
    assert [p.stem for p in series.html] == STEMS
    for nb in series.notebooks:
        outputs = _outputs(nb)
        assert outputs, f"{nb.name} has no outputs"
        assert not [o for o in outputs if o["output_type"] == "error"], nb.name
        assert any("image/png" in o.get("data", {}) or "text/html" in o.get("data", {}) for o in outputs)
    assert all(p.stat().st_size > 10_000 for p in series.html)
    index = (series.output_dir / "html" / "index.html").read_text()
    assert all(f'href="{stem}.html"' in index for stem in STEMS) and "Final comparison" in index
    # the series is fast enough to run in CI (budget: 3 minutes on 2 cores); timing printed for the log
    print({k: round(v, 1) for k, v in series.seconds.items()}, f"total {sum(series.seconds.values()):.0f} s")


def test_split_trains_on_benign_rows_only(artefacts: Path):
    train, val, test = (
        pd.read_parquet(artefacts / "split" / f"{p}.parquet") for p in ("train", "validation", "test")
    )
    assert (train["attack"] == "benign").all() and (val["attack"] == "benign").all()
    assert set(train["device"].astype(str)) == set(schema.DEVICE_NAMES)
    assert set(test["attack"].astype(str)) == set(schema.CLASSES)
    assert test["attack"].eq("benign").sum() > 0
    # chronological: every device's validation and test benign rows come after its training rows
    for dev, rows in train.groupby("device", observed=True):
        later = pd.concat([val, test[test["attack"] == "benign"]])
        assert rows["row"].max() < later.loc[later["device"] == dev, "row"].min()
    key = json.loads((artefacts / "split" / "key.json").read_text())
    assert key["rows_per_file"] == workflow.SMOKE_ROWS_PER_FILE


def test_saved_cvae_reloads_with_a_threshold_per_type_and_factor(artefacts: Path):
    from mbm_helpers.detectors import CVAEDetector

    detector = CVAEDetector.load(artefacts / "cvae" / "model")
    th = detector.thresholds_
    assert sorted(th["group"].unique()) == sorted(schema.DEVICE_TYPES)
    assert sorted(th["factor"].unique()) == ["kld", "re"]
    assert 1 <= len(detector.history_) <= workflow.SMOKE_EPOCHS

    saved = pd.read_csv(artefacts / "results" / "thresholds.csv")
    assert len(saved) == len(schema.DEVICE_TYPES) * 2
    np.testing.assert_allclose(saved["threshold"], saved["mean"] + 3.0 * saved["std"], rtol=1e-9)


def test_n_std_curve_trades_false_alarms_for_missed_attacks(artefacts: Path):
    curve = pd.read_csv(artefacts / "results" / "n_std_curve.csv")
    assert set(curve["rule"]) == {"either", "re", "kld"}
    assert curve[["fpr", "fnr"]].apply(lambda s: s.between(0, 1).all()).all()
    for _, part in curve.groupby("rule"):
        part = part.sort_values("n_std")
        assert (np.diff(part["fpr"]) <= 1e-12).all(), "FPR must not rise as the threshold rises"
        assert (np.diff(part["fnr"]) >= -1e-12).all(), "FNR must not fall as the threshold rises"
    assert 3.0 in set(curve["n_std"])


def test_two_factor_fnr_is_not_worse_than_either_factor_alone(artefacts: Path):
    fnr = pd.read_csv(artefacts / "results" / "fnr_by_rule.csv").set_index("attack")
    assert set(fnr.index) == set(schema.ATTACKS)
    assert (fnr["CVAE"] <= fnr["CVAE (RE only)"] + 1e-12).all()
    assert (fnr["CVAE"] <= fnr["CVAE (KLD only)"] + 1e-12).all()
    catches = pd.read_csv(artefacts / "results" / "factor_catches.csv").set_index("attack")
    np.testing.assert_allclose(catches.sum(axis=1), 1.0)
    # "neither" is exactly the two-factor rule's miss rate per attack
    np.testing.assert_allclose(catches.loc[fnr.index, "neither"], fnr["CVAE"], atol=1e-9)


def test_comparison_has_the_six_detectors_with_rates_in_range(series: runner.SeriesResult, artefacts: Path):
    summary = series.comparison()
    assert list(summary["detector"]) == list(DETECTOR_NAMES)
    for col in ("fpr_mean", "fpr_median", "fnr_mean", "fnr_median", "roc_auc_macro"):
        assert summary[col].between(0, 1).all(), col
    assert (summary["fit_time_s"] > 0).all()
    tables = artefacts / "comparison" / "tables"
    fnr = pd.read_csv(tables / "fnr_by_attack.csv")
    assert len(fnr) == len(DETECTOR_NAMES) * len(schema.ATTACKS)
    fpr = pd.read_csv(tables / "fpr_by_device.csv")
    assert len(fpr) == len(DETECTOR_NAMES) * len(schema.DEVICES)


def test_closing_summary_numbers_come_from_the_results(series: runner.SeriesResult, artefacts: Path):
    claims = pd.read_csv(artefacts / "results" / "paper_claims.csv")
    fpr = pd.read_csv(artefacts / "comparison" / "tables" / "fpr_by_device.csv")
    cvae_fpr = fpr.loc[fpr["detector"] == "CVAE", "fpr"].mean()
    assert claims.loc[0, "measured"] == f"{cvae_fpr:.4f}"
    texts = [
        "".join(o["data"]["text/markdown"])
        for o in _outputs(series.output_dir / "notebooks" / "05_baselines.ipynb")
        if "text/markdown" in o.get("data", {})
    ]
    assert any(f"mean FPR over devices is {cvae_fpr:.4f}" in t for t in texts)
    assert any(f"{int(claims['holds'].sum())} of the {len(claims)} claims" in t for t in texts)
    assert any("smoke run" in t for t in texts)


def test_a_notebook_run_alone_rebuilds_what_it_needs(small_sample: Path, tmp_path: Path):
    result = runner.run_series(
        {"data_source": str(small_sample), "smoke": True},
        output_dir=tmp_path,
        only=["03"],
        html=False,
        progress=False,
    )
    assert [p.stem for p in result.notebooks] == ["03_thresholds"]
    assert (tmp_path / "artefacts" / "split" / "test.parquet").is_file()
    assert (tmp_path / "artefacts" / "cvae" / "model").is_dir()
    assert (tmp_path / "artefacts" / "results" / "n_std_curve.csv").is_file()


# ------------------------------------------------------------------ the committed notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=STEMS)
def test_committed_notebook_structure(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.cells[-1].cell_type == "markdown" and "## Summary" in nb.cells[-1].source
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert set(runner.notebook_parameters(path)) == set(workflow.PARAMETERS)
    assert not [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=STEMS)
def test_committed_notebook_is_executed_in_order_without_errors(path: Path):
    assert path.stat().st_size < 2_000_000, f"{path.name} is {path.stat().st_size:,} bytes"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run top to bottom once"
    assert not [o for c in code for o in c.outputs if o["output_type"] == "error"]
    stderr = "".join(o.get("text", "") for c in code for o in c.outputs if o.get("name") == "stderr")
    assert "Warning" not in stderr and "Traceback" not in stderr, stderr[:500]
    settings_line = "".join(
        o.get("text", "") for c in code for o in c.outputs if o["output_type"] == "stream"
    )
    assert "data_source=simulated" in settings_line and "smoke=False" in settings_line, "default parameters"


def test_setup_notebook_reads_the_official_archive(real_sample_zip: Path, tmp_path: Path):
    """Real N-BaIoT rows in the official layout (zip with RAR members) go through notebook 00."""
    runner.run_series(
        {"data_source": str(real_sample_zip)}, output_dir=tmp_path, only=["00"], html=False, progress=False
    )
    test = pd.read_parquet(tmp_path / "artefacts" / "split" / "test.parquet")
    assert set(test["device"].astype(str)) == {"Danmini_Doorbell", "Ecobee_Thermostat"}
    assert set(test["attack"].astype(str)) == {"benign", "gafgyt_scan", "mirai_scan"}
    assert test["attack"].ne("benign").sum() == 2 * 2 * 150  # every attack row of the archive is a test row


# ------------------------------------------------------------------ exploration helpers (no notebook)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    from mbm_helpers.detectors.synthetic import synthetic_table

    return synthetic_table(benign_rows=200, attack_rows=40, seed=1)


def test_overlap_any_device_is_the_union_of_the_device_envelopes(table: pd.DataFrame):
    from mbm_helpers import exploration

    matrix = exploration.overlap_matrix(table, per_device=120, seed=0)
    assert list(matrix.index) == list(schema.DEVICE_NAMES)
    singles = matrix.drop(columns="any device")
    assert (matrix["any device"] >= singles.max(axis=1) - 1e-12).all()
    assert (matrix["any device"] <= singles.sum(axis=1) + 1e-12).all()
    summary = exploration.overlap_summary(matrix)
    np.testing.assert_allclose(summary["own device"], np.diag(singles.loc[:, matrix.index]))


def test_exploration_errors_name_the_missing_column_or_group(table: pd.DataFrame):
    from mbm_helpers import exploration
    from mbm_helpers.errors import DataError

    with pytest.raises(DataError, match="HH_L5_pcc"):
        exploration.feature_ranges(table.drop(columns="HH_L5_pcc"))
    scores = pd.DataFrame({"re": [1.0, 2.0], "kld": [1.0, 2.0]})
    thresholds = pd.DataFrame(
        [("doorbell", f, 1.0, 0.5, 2.5) for f in ("re", "kld")],
        columns=["group", "factor", "mean", "std", "threshold"],
    )
    with pytest.raises(DataError, match="webcam"):
        exploration.n_std_curve(scores, np.array(["doorbell", "webcam"]), np.array([False, True]), thresholds)
    curve = exploration.n_std_curve(
        scores, np.array(["doorbell"] * 2), np.array([False, True]), thresholds, [0, 3]
    )
    assert curve[["fpr", "fnr"]].to_numpy().tolist() == [[0.0, 0.0], [0.0, 1.0]]
