"""The Functions deployment (requirements.txt) installs exactly the runtime pins of pyproject.toml."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_requirements_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    reqs = {line for line in lines if line and not line.startswith("#")}
    assert reqs == set(project["dependencies"])
    assert all("==" in r for r in reqs), "pin every dependency"
