"""The papermill runner on tiny throwaway notebooks (the real series is tested in test_notebooks.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from stub_notebooks import write_stub_notebook

from mbm_helpers import runner, workflow

WRITE_TABLE = """\
from pathlib import Path
import pandas as pd
results = Path(output_dir) / "results"
results.mkdir(parents=True, exist_ok=True)
pd.DataFrame({"detector": ["CVAE"], "seed": [seed], "smoke": [smoke]}).to_csv(
    results / "comparison_summary.csv", index=False)
Path("cwd.txt").write_text(str(Path.cwd()))
import sys
Path("python.txt").write_text(sys.executable)
"""


@pytest.fixture
def series(tmp_path: Path) -> Path:
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_stub_notebook(folder / "00_first.ipynb", "print('first', seed)")
    write_stub_notebook(folder / "01_second.ipynb", WRITE_TABLE)
    (folder / "notes.ipynb").write_text("{}")  # not part of the series: no NN_ prefix
    (folder / "01_second.failed.ipynb").write_text("{}")  # a failed run's copy is not part of it either
    return folder


def test_parse_value_converts_like_papermill():
    assert runner.parse_value("True") is True
    assert runner.parse_value("false") is False
    assert runner.parse_value("None") is None
    assert runner.parse_value("3") == 3
    assert runner.parse_value("0.25") == 0.25
    assert runner.parse_value("device") == "device"
    assert runner.parse_value("../data/x.zip") == "../data/x.zip"


def test_series_is_the_numbered_notebooks_in_order(series: Path):
    assert [p.name for p in runner.series_notebooks(series)] == ["00_first.ipynb", "01_second.ipynb"]
    assert [p.name for p in runner.select_notebooks(runner.series_notebooks(series), ["01"])] == [
        "01_second.ipynb"
    ]
    with pytest.raises(ValueError, match="unknown notebook"):
        runner.select_notebooks(runner.series_notebooks(series), ["07"])


def test_run_series_writes_notebooks_html_and_passes_parameters(series: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = runner.run_series(
        {"seed": 7, "smoke": True}, output_dir=out, notebooks_dir=series, progress=False
    )
    assert [p.name for p in result.notebooks] == ["00_first.ipynb", "01_second.ipynb"]
    assert all(p.is_file() for p in result.notebooks + result.html)
    assert set(result.seconds) == {"00_first", "01_second"} and all(s > 0 for s in result.seconds.values())
    executed = nbformat.read(out / "notebooks" / "00_first.ipynb", as_version=4)
    assert "first 7" in "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "input_path" not in executed.metadata["papermill"]
    assert "<html" in (out / "html" / "01_second.html").read_text()[:2000].lower()
    index = (out / "html" / "index.html").read_text()
    assert 'href="00_first.html"' in index and "tiny" in index and "<table" in index
    table = result.comparison()
    assert table.to_dict("records") == [{"detector": "CVAE", "seed": 7, "smoke": True}]
    # artefacts default to <output>/artefacts; the notebooks run with the output folder as cwd
    assert result.artefacts_dir == out / "artefacts"
    assert Path((out / "cwd.txt").read_text()) == out
    assert (out / "python.txt").read_text() == sys.executable  # the kernel runs in this environment
    assert not list(out.glob("notebooks/*.failed.ipynb")) and not list(out.glob("notebooks/.*"))


def test_unknown_parameter_or_bad_value_is_rejected_before_running(series: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown parameter.*'epoch'"):
        runner.run_series({"epoch": 3}, output_dir=tmp_path / "o", notebooks_dir=series, progress=False)
    with pytest.raises(ValueError, match="condition must be one of"):
        runner.run_series(
            {"condition": "room"}, output_dir=tmp_path / "o", notebooks_dir=series, progress=False
        )
    assert not (tmp_path / "o" / "notebooks").exists()


def test_failing_notebook_names_itself_and_keeps_the_executed_copy(series: Path, tmp_path: Path):
    write_stub_notebook(series / "01_second.ipynb", "raise ValueError('column HH_L5_pcc is missing')")
    out = tmp_path / "out"
    with pytest.raises(runner.NotebookError, match=r"01_second.ipynb failed: ValueError: column HH_L5_pcc"):
        runner.run_series(None, output_dir=out, notebooks_dir=series, progress=False)
    assert (out / "notebooks" / "00_first.ipynb").is_file()
    assert not (out / "notebooks" / "01_second.ipynb").exists()
    failed = nbformat.read(out / "notebooks" / "01_second.failed.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in failed.cells for o in c.get("outputs", []))


def test_run_in_place_keeps_defaults_and_does_not_replace_on_failure(
    series: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(workflow, "default_output_dir", lambda: tmp_path / "output" / "artefacts")
    before = (series / "00_first.ipynb").read_text()
    runner.run_in_place(notebooks_dir=series, only=["00"], progress=False)
    nb = nbformat.read(series / "00_first.ipynb", as_version=4)
    assert nb.cells[2].outputs[0]["text"] == "first 0\n"
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert (series / "00_first.ipynb").read_text() != before

    write_stub_notebook(series / "00_first.ipynb", "1 / 0")
    broken = (series / "00_first.ipynb").read_text()
    with pytest.raises(runner.NotebookError, match="ZeroDivisionError"):
        runner.run_in_place(notebooks_dir=series, only=["00"], progress=False)
    assert (series / "00_first.ipynb").read_text() == broken
    assert not (series / "00_first.failed.ipynb").exists()
    assert (tmp_path / "output" / "failed" / "00_first.failed.ipynb").is_file()


def test_load_batch_accepts_a_list_or_defaults_and_runs(tmp_path: Path):
    plain = tmp_path / "plain.yaml"
    plain.write_text("- {seed: 0}\n- {seed: 1, name: second}\n")
    assert runner.load_batch(plain) == [{"seed": 0}, {"seed": 1, "name": "second"}]
    both = tmp_path / "both.yaml"
    both.write_text("defaults: {smoke: true}\nruns:\n  - {seed: 0}\n  - {condition: device}\n")
    assert runner.load_batch(both) == [{"smoke": True, "seed": 0}, {"smoke": True, "condition": "device"}]
    for text, message in [
        ("seed: 1\n", "needs 'runs'"),
        ("[]\n", "non-empty list"),
        ("- 3\n", "non-empty list"),
        ("runs: [\n", "not valid YAML"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            runner.load_batch(bad)


def test_run_batch_runs_each_set_into_its_folder_and_summarises(series: Path, tmp_path: Path):
    out = tmp_path / "batch"
    runs = [{"name": "a", "seed": 1, "condition": "device"}, {"seed": 2}]
    summary = runner.run_batch(
        runs,
        output_dir=out,
        base_parameters={"smoke": True},
        notebooks_dir=series,
        html=False,
        progress=False,
    )
    assert list(summary["run"]) == ["a", "run02_seed-2"]
    assert list(summary["seed"]) == [1, 2] and summary["status"].eq("ok").all()
    assert list(summary["condition"]) == ["device", "device_type"]  # the default where a run sets none
    assert list(summary.columns[-3:]) == ["status", "seconds", "error"]
    assert (out / "a" / "notebooks" / "01_second.ipynb").is_file() and not (out / "a" / "html").exists()
    assert pd.read_csv(out / "batch_summary.csv")["run"].tolist() == ["a", "run02_seed-2"]
    with pytest.raises(ValueError, match="batch run 2"):
        runner.run_batch([{"seed": 1}, {"scale": -1}], output_dir=out, notebooks_dir=series, progress=False)


def test_run_batch_records_a_failed_run_and_continues(series: Path, tmp_path: Path):
    write_stub_notebook(series / "00_first.ipynb", "assert seed != 3, 'seed 3 is cursed'")
    summary = runner.run_batch(
        [{"seed": 3}, {"seed": 4}],
        output_dir=tmp_path / "b",
        notebooks_dir=series,
        html=False,
        progress=False,
    )
    assert list(summary["status"]) == ["failed", "ok"]
    assert "seed 3 is cursed" in summary["error"].iloc[0]


def test_settings_validate_every_parameter(tmp_path: Path):
    s = workflow.Settings.from_parameters(smoke=True, output_dir=str(tmp_path), epochs=50)
    assert s.train_epochs == workflow.SMOKE_EPOCHS and s.rows_per_file == workflow.SMOKE_ROWS_PER_FILE
    assert json.dumps(s.model_key())  # keys are JSON-serialisable (stored beside artefacts)
    for bad in [
        {"scale": 0},
        {"smoke": "yes"},
        {"epochs": 0},
        {"seed": -1},
        {"condition": "room"},
        {"max_rows_per_file": 2.5},
        {"data_source": ""},
        {"colour": 1},
    ]:
        with pytest.raises(ValueError, match=next(iter(bad)) if "colour" not in bad else "unknown parameter"):
            workflow.Settings.from_parameters(**bad)


def test_fresh_removes_only_the_artefact_folders_the_notebooks_write(tmp_path: Path):
    for name in ("split", "cvae", "results", "my_notes"):
        (tmp_path / name).mkdir()
    workflow.remove_artefacts(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["my_notes"]


def _evaluation(fpr: dict, fnr: dict, tcp: dict, fit: dict):
    from mbm_helpers.evaluation import Evaluation

    names = list(fpr)
    fpr_t = pd.DataFrame(
        [{"detector": d, "device": "x", "device_type": "t", "n": 10, "fpr": v} for d, v in fpr.items()]
    )
    fnr_t = pd.DataFrame(
        [{"detector": d, "attack": "gafgyt_scan", "n": 10, "fnr": 2 * v - tcp[d]} for d, v in fnr.items()]
        + [{"detector": d, "attack": "gafgyt_tcp", "n": 10, "fnr": tcp[d]} for d in names]
    )
    summary = pd.DataFrame({"detector": names, "fit_time_s": [fit[d] for d in names]})
    return Evaluation(fpr_t, fnr_t, fnr_t.iloc[:0], fnr_t.iloc[:0], summary)


def test_paper_claims_are_checked_against_the_numbers():
    good = _evaluation(
        fpr={"IF": 0.05, "CVAE": 0.005},
        fnr={"IF": 0.5, "CVAE": 0.004},
        tcp={"IF": 0.9, "CVAE": 0.0},
        fit={"IF": 20.0, "CVAE": 10.0},
    )
    claims = workflow.paper_claims(good)
    assert claims["holds"].all(), claims
    assert claims.loc[0, "measured"] == "0.0050"
    bad = _evaluation(
        fpr={"IF": 0.001, "CVAE": 0.02},
        fnr={"IF": 0.01, "CVAE": 0.2},
        tcp={"IF": 0.0, "CVAE": 0.3},
        fit={"IF": 1.0, "CVAE": 10.0},
    )
    claims = workflow.paper_claims(bad)
    assert not claims["holds"].any(), claims
    text = workflow.claims_text(claims, workflow.Settings())
    assert "mean FPR over devices is 0.0200" in text and "0 of the 6 claims checked hold" in text
    assert "simulated" in text
    with pytest.raises(ValueError, match="detector 'AE9'"):
        workflow.paper_claims(good, detector="AE9")
