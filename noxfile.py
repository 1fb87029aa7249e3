"""Sessions: tests (the suite), lint (ruff + mypy --strict), bench (overhead benchmarks),
soak (the ladder of real soaks over every workload's reference worker, and the site)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_venv = "yes"

PYTHON = "3.11"
LADDER = (10, 100, 1_000, 10_000)
REPORTS = Path("reports")


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
    session.run("python", "-m", "tests.typecheck")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The runner-overhead benchmarks (pytest-benchmark); ratios in the printed table.
    pytest-memray only for the side-by-side table (its ``limit_leaks`` is one of the rows)."""
    session.install("-e", ".[test]", "pytest-memray")
    # An installed package comes with its bytecode (pip compiles it); an editable install
    # has none, and where PYTHONDONTWRITEBYTECODE is set none is ever written: every process
    # (the CLI, each worker) compiled ~50 modules again, ~75 ms apiece, a cost no user pays.
    session.run("python", "-m", "compileall", "-q", "harness", "workloads", "tests")
    session.run(
        "pytest",
        "tests/benchmarks",
        "-o",
        "addopts=--strict-markers",
        "--benchmark-only",
        "--benchmark-columns=min,median,max,rounds",
        *session.posargs,
    )


@nox.session(python=PYTHON)
def picture(session: nox.Session) -> None:
    """Regenerate the README's picture, docs/report.png: a leaking email worker's report in
    headless Chromium (needs chromium on PATH)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "tests.readme_picture", *session.posargs)


@nox.session(python=["3.11", "3.12", "3.13"])
def accuracy(session: nox.Session) -> None:
    """The memory verdict's bars at CI sizes, with the harness itself on each CPython:
    one worker of each kind at 300 jobs; ``-- --tables`` also regenerates the full tables
    (every zoo worker at 100, 300 and 1,000 jobs) into docs/accuracy.md (~25 min)."""
    session.install("-e", ".[test]")
    session.run(
        "pytest", "tests/integration/test_ci_sizes.py", "-k", "own", "-p", "no:cacheprovider"
    )
    if "--tables" in session.posargs:
        session.run(
            "python", "-m", "tests.zoo.ci_sizes", "--jobs", "100", "--jobs", "300",
            "--jobs", "1000", "--repeats", "6", "--long", "--out", "docs/accuracy.md",
        )  # fmt: skip


def _ladder_args(posargs: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="nox -s soak --", add_help=False)
    parser.add_argument("--jobs", type=int, action="append", help="rung(s) of the ladder")
    parser.add_argument("--workload", action="append", help="workload(s) to soak")
    parser.add_argument("--no-pool", action="store_true", help="skip the supervised-pool rung")
    parser.add_argument(
        "--queue",
        choices=("celery", "rq"),
        action="append",
        help="also the top rung through a real Celery / RQ worker (needs Redis on loopback)",
    )
    return parser.parse_known_args(posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Every workload's reference worker at 10, 100, 1,000 and 10,000 jobs, then once more at
    the top rung under the supervised pool (2 workers, each recycled after a quarter of the
    jobs, standby prestarted), then the site over reports/. Narrow it: ``nox -s soak --
    --jobs 1000 --workload pdf --no-pool``; ``--queue celery`` / ``--queue rq`` adds the top
    rung through a real Celery / RQ worker over the machine's Redis; other options go to
    ``soak run`` as they are (``--profile large``, ``--db postgresql://...``)."""
    args, passed_on = _ladder_args(session.posargs)
    session.install("-e", ".[queues]" if args.queue else ".")
    listed = session.run(
        "python",
        "-c",
        "from worker_soak.workloads import available; print(' '.join(w.name for w in available()))",
        silent=True,
    )
    workloads = args.workload or str(listed).split()
    root = REPORTS / "ladder" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    failed = []
    rungs = args.jobs or LADDER
    for workload in workloads:
        runs: list[tuple[str, int, list[str]]] = [
            (f"{workload}-{jobs}", jobs, []) for jobs in rungs
        ]
        top = max(rungs)
        if not args.no_pool and top >= 1000:
            pool = ["--workers", "2", "--max-jobs-per-worker", str(top // 4), "--prestart"]
            runs.append((f"{workload}-{top}-pool", top, pool))
        for runner in args.queue or []:
            queue = [
                "--runner",
                runner,
                "--concurrency",
                "2",
                "--max-tasks-per-child",
                str(top // 4),
            ]
            runs.append((f"{workload}-{top}-{runner}", top, queue))
        for name, jobs, extra in runs:
            out = root / name
            command = ["--workload", workload, "--jobs", str(jobs), "--out", str(out), *extra]
            session.run("soak", "run", *command, *passed_on, success_codes=[0, 1])
            result = json.loads((out / "result.json").read_text(encoding="utf-8"))
            verdicts = result.get("verdicts", {})
            bad = [name for name, v in verdicts.items() if v.get("verdict") == "fail"]
            if bad or result.get("stop_reason") != "completed":
                failed.append(f"{name}: {', '.join(bad) or 'stopped'}")
    session.run("soak", "site", str(REPORTS))
    if failed:
        session.error("reference workers failed: " + "; ".join(failed))
