"""The conda route (environment.yml) and the pip route (pyproject.toml) name the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# Conda packages named differently from their PyPI distribution.
CONDA_TO_PYPI = {"python": None, "pip": None}


def _name(spec: str) -> str:
    return re.split(r"[\s<>=!~;\[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {_name(s) + (";" + s.split(";", 1)[1].strip() if ";" in s else ""): s for s in specs}


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs: list[str] = []
    for item in env["dependencies"]:
        if isinstance(item, dict):
            specs += [s for s in item["pip"] if not s.startswith("-e")]
        elif CONDA_TO_PYPI.get(_name(item), "") is not None:
            specs.append(item)
    return {_name(s) + (";" + s.split(";", 1)[1].strip() if ";" in s else ""): s for s in specs}


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    pip_route, conda_route = _pyproject(), _environment()
    assert sorted(conda_route) == sorted(pip_route), (
        f"only in pyproject.toml: {sorted(set(pip_route) - set(conda_route))}; "
        f"only in environment.yml: {sorted(set(conda_route) - set(pip_route))}"
    )


def test_environment_yml_uses_the_same_version_bounds():
    pip_route, conda_route = _pyproject(), _environment()
    for key, spec in pip_route.items():
        assert re.sub(r"\s", "", conda_route[key]) == re.sub(r"\s", "", spec), key


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_items = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert "-e ." in pip_items
