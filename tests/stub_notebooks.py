"""Tiny stand-in notebooks for the runner and CLI tests: a title, the series' parameters cell, one cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

PARAMETERS_CELL = """\
data_source = "simulated"
scale = 1.0
smoke = False
epochs = None
seed = 0
condition = "device_type"
max_rows_per_file = None
output_dir = "artefacts"
"""


def write_stub_notebook(path: Path, body: str) -> Path:
    """Write a notebook titled "tiny" with the parameters cell (tagged) and ``body`` as its code."""
    params = new_code_cell(PARAMETERS_CELL)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# tiny"), params, new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path
