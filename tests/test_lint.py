"""The project passes its own linters: ruff (lint and format) and mypy --strict."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["python", "-m", "tests.typecheck"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_linter_is_clean(command: list[str]) -> None:
    """Each linter exits 0 on the whole tree, as `nox -s lint` runs it."""
    tool = sys.executable if command[0] == "python" else BIN / command[0]
    completed = subprocess.run(
        [str(tool), *command[1:]], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_package_folder_installs_under_the_import_name() -> None:
    """pyproject lists its packages by hand (package-dir maps folders to ``worker_soak``): a
    new folder with an ``__init__.py`` must be listed, or an installed copy lacks it."""
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "worker_soak." + ".".join(p.parent.relative_to(REPO / "harness").parts)
        for p in (REPO / "harness").rglob("__init__.py")
    }
    found = {name.rstrip(".") for name in found}
    found |= {
        "worker_soak.workloads." + ".".join(p.parent.relative_to(REPO / "workloads").parts)
        for p in (REPO / "workloads").rglob("__init__.py")
    }
    assert listed == {name.rstrip(".") for name in found}
