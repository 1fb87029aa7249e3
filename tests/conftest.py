"""Shared fixtures: the real ``soak`` CLI in a subprocess, and hypothesis profiles."""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

#: A user's project the tests copy and soak from its own root; its tests are its own.
collect_ignore = ["data"]

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parent.parent
WORKERS = REPO / "tests" / "workers"


def pytest_configure(config: pytest.Config) -> None:
    """Bytecode for the package up front, as an installed one has it: the suite starts
    hundreds of processes (the CLI, workers), and where PYTHONDONTWRITEBYTECODE is set with
    an editable install each compiled ~50 modules again (~75 ms)."""
    for folder in ("harness", "workloads", "tests"):
        compileall.compile_dir(REPO / folder, quiet=2)


@dataclass(frozen=True)
class CliRun:
    """One finished ``soak`` invocation."""

    returncode: int
    stdout: str
    stderr: str
    out: Path

    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "result.json").read_text())
        return data

    def samples(self) -> list[dict[str, Any]]:
        lines = (self.out / "samples.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]


SoakCli = Callable[..., CliRun]


def soak_command(*args: str) -> list[str]:
    """How a user's shell runs ``soak``: the installed console script, next to this Python."""
    script = Path(sys.executable).parent / "soak"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "worker_soak.cli", *args]


@pytest.fixture
def soak_cli(tmp_path: Path) -> SoakCli:
    """Run ``soak run`` with an output directory under tmp_path; return what it did."""

    def run(
        *args: str, out: Path | None = None, timeout: float = 120, env: dict[str, str] | None = None
    ) -> CliRun:
        out = out if out is not None else tmp_path / "run"
        command = soak_command("run", "--out", str(out), *args)
        completed = subprocess.run(
            command,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
        return CliRun(completed.returncode, completed.stdout, completed.stderr, out)

    return run


def worker(name: str) -> str:
    """The spec of a test worker in tests/workers/faulty.py, as a path relative to the repo."""
    return f"tests/workers/faulty.py:{name}"


#: The interpreters the 300-job verdict check ran on (``tests/integration/test_ci_sizes.py``).
RAN: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which Pythons the 300-job verdict check ran on."""
    if RAN:
        terminalreporter.write_line(f"300-job verdict check ran on: {', '.join(RAN)}")
