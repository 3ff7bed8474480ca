"""The ``mbm-iot`` command line (on tiny throwaway notebooks, so it stays fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
from stub_notebooks import write_stub_notebook

from mbm_helpers import cli

WRITE_TABLE = """\
from pathlib import Path
import pandas as pd
(Path(output_dir) / "results").mkdir(parents=True, exist_ok=True)
pd.DataFrame({"detector": ["CVAE"], "fpr_mean": [0.5]}).to_csv(
    Path(output_dir) / "results" / "comparison_summary.csv", index=False)
"""


@pytest.fixture
def tiny_series(tmp_path: Path) -> Path:
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_stub_notebook(folder / "00_first.ipynb", "print('hello', seed, smoke)")
    write_stub_notebook(folder / "01_second.ipynb", WRITE_TABLE)
    return folder


@pytest.mark.parametrize("command", [None, "run", "batch", "notebooks", "data", "download"])
def test_help_describes_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(([command] if command else []) + ["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage: mbm-iot" in text
    if command in ("run", "batch"):
        for name in ("data_source", "scale", "smoke", "epochs", "seed", "condition", "output_dir"):
            assert name in text
    if command is None:
        for name in ("run", "batch", "notebooks", "data", "download"):
            assert f"  {name} " in text


def test_run_passes_parameters_and_prints_where_results_are(tiny_series: Path, tmp_path: Path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("seed: 5\nsmoke: false\n")
    out = tmp_path / "out"
    code = cli.main(
        [
            "run",
            "--notebooks-dir",
            str(tiny_series),
            "-o",
            str(out),
            "-q",
            "-f",
            str(params),
            "-p",
            "data_source",
            str(tmp_path),
            "--smoke",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert (
        f"executed notebooks: {out / 'notebooks'}" in text
        and f"HTML pages:         {out / 'html'} (start at index.html)" in text
    )
    assert "final comparison" in text and "CVAE" in text
    executed = (out / "notebooks" / "00_first.ipynb").read_text()
    assert "hello 5 True" in executed  # -f gave seed 5, --smoke overrode smoke: false


def test_bad_parameter_exits_2_naming_it(tiny_series: Path, tmp_path: Path, capsys):
    code = cli.main(
        ["run", "--notebooks-dir", str(tiny_series), "-o", str(tmp_path / "o"), "-p", "sead", "1"]
    )
    assert code == 2
    assert "unknown parameter(s) ['sead']" in capsys.readouterr().err
    code = cli.main(["run", "--notebooks-dir", str(tiny_series), "-p", "condition", "room"])
    assert code == 2
    assert "condition must be one of" in capsys.readouterr().err


def test_failing_notebook_exits_1_with_its_error(tiny_series: Path, tmp_path: Path, capsys):
    write_stub_notebook(tiny_series / "01_second.ipynb", "raise RuntimeError('boom in cell')")
    code = cli.main(
        [
            "run",
            "--notebooks-dir",
            str(tiny_series),
            "-o",
            str(tmp_path / "o"),
            "-q",
            "-p",
            "data_source",
            str(tmp_path),
            "--no-html",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "01_second.ipynb failed: RuntimeError: boom in cell" in err


def test_batch_runs_each_parameter_set_and_prints_a_summary(tiny_series: Path, tmp_path: Path, capsys):
    runs = tmp_path / "runs.yaml"
    runs.write_text(
        f"defaults: {{data_source: {tmp_path}}}\nruns:\n  - {{name: s1, seed: 1}}\n  - {{name: s2}}\n"
    )
    out = tmp_path / "batch"
    code = cli.main(
        ["batch", str(runs), "--notebooks-dir", str(tiny_series), "-o", str(out), "-q", "--no-html"]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert (out / "s1" / "notebooks" / "01_second.ipynb").is_file() and (out / "s2" / "artefacts").is_dir()
    assert "batch summary" in text and "s1" in text and "s2" in text


def test_notebooks_reexecutes_in_place(tiny_series: Path, capsys):
    code = cli.main(["notebooks", "--notebooks-dir", str(tiny_series), "--only", "00", "-q"])
    assert code == 0
    assert "hello 0 False" in (tiny_series / "00_first.ipynb").read_text()
    assert "re-executed in place" in capsys.readouterr().out


def test_data_summarises_a_given_source(real_sample_dir: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("MBM_DATA_DIR", str(tmp_path))  # keep the Parquet cache out of the repository
    code = cli.main(["data", "--source", str(real_sample_dir), "-q"])
    text = capsys.readouterr().out
    assert code == 0
    assert "Danmini_Doorbell" in text and "Ecobee_Thermostat" in text
    assert "900 rows, 2 devices" in text  # 2 devices x 3 files x 150 rows
    assert cli.main(["data", "--source", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_download_passes_the_folder_and_prints_how_to_use_it(tmp_path: Path, monkeypatch, capsys):
    calls = []

    def fake_download(dest_dir=None, *, progress=True):
        calls.append((dest_dir, progress))
        return Path(dest_dir) / "nbaiot.zip"

    monkeypatch.setattr("mbm_helpers.download.download_nbaiot", fake_download)
    assert cli.main(["download", "--dest", str(tmp_path), "-q"]) == 0
    assert calls == [(tmp_path, False)]
    assert f"-p data_source {tmp_path / 'nbaiot.zip'}" in capsys.readouterr().out
