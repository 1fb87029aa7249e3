"""Sessions: tests (the suite), lint (ruff + mypy --strict), bench (overhead benchmarks)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_venv = "yes"

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The default test-suite (no benchmarks, no long soaks)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy --strict."""
    session.install("-e", ".[test]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The runner-overhead benchmarks (pytest-benchmark); ratios in the printed table."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "tests/benchmarks",
        "-o",
        "addopts=--strict-markers",
        "--benchmark-only",
        "--benchmark-columns=min,median,max,rounds",
        *session.posargs,
    )
