"""What a soak costs, side by side: the bare loop, ``soak run`` in each mode, the pool of one,
tracemalloc and pytest-memray's ``limit_leaks`` on the same real jobs (compose a MIME email
with a PDF attachment, JSON body, an SQLite round-trip, a SHA-256:
``tests/zoo/clean_real_libraries.py``, ~1.5 ms each).

Each figure is the wall time of a whole command, as a user waits for it; the bare loop is a
Python process running the same jobs with nothing around them. The modes are **alternated**
round by round (this VM's speed wanders in phases of seconds: runs of one mode back to back
would each see their own phase); the table gives each mode's median, its spread and the ratio
of medians to the bare loop. pytest-memray is ~20x slower: it runs a tenth of the jobs, against
a bare loop of that tenth. Targets: ``--light`` <= 1.03x, the default ``soak run`` (report
included) <= 1.15x.

Run with ``nox -s bench`` (``SOAK_BENCH_JOBS``, ``SOAK_BENCH_ROUNDS``: 10,000 and 3; ~8 min).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import REPO, soak_command

JOBS = int(os.environ.get("SOAK_BENCH_JOBS", "10000"))
ROUNDS = int(os.environ.get("SOAK_BENCH_ROUNDS", "3"))
WORKER = "tests/zoo/clean_real_libraries.py:handle"
TARGETS = {"light": 1.03, "default": 1.15}


def _bare(jobs: int) -> str:
    return (
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tests.zoo.clean_real_libraries import handle\n"
        f"for index in range({jobs}):\n    handle({{'id': index}})\n"
    )


def _limit_leaks_test(jobs: int) -> str:
    return (
        "import pytest\n"
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tests.zoo.clean_real_libraries import handle\n\n"
        "@pytest.mark.limit_leaks('1 MB')\n"
        "def test_jobs():\n"
        f"    for index in range({jobs}):\n        handle({{'id': index}})\n"
    )


def _commands(scratch: Path) -> dict[str, Callable[[int], list[str]]]:
    """Each mode's command for round ``n`` (a new run directory per round)."""

    def soak(*extra: str) -> Callable[[int], list[str]]:
        def command(n: int) -> list[str]:
            out = scratch / f"run-{'-'.join(extra) or 'default'}-{n}"
            return soak_command(
                "run", "--worker", WORKER, "--jobs", str(JOBS), "--out", str(out), *extra
            )

        return command

    tenth = max(1, JOBS // 10)
    modes: dict[str, Callable[[int], list[str]]] = {
        "bare": lambda n: [sys.executable, "-c", _bare(JOBS)],
        "light": soak("--light", "--no-report"),
        "light+report": soak("--light"),
        "no-report": soak("--no-report"),
        "default": soak(),
        "pool of 1": soak("--workers", "1", "--no-report"),
        "tracemalloc": lambda n: [sys.executable, "-X", "tracemalloc=1", "-c", _bare(JOBS)],
    }
    if importlib.util.find_spec("pytest_memray") is not None:
        test_file = scratch / "test_limit_leaks.py"
        test_file.write_text(_limit_leaks_test(tenth), encoding="utf-8")
        modes[f"bare, {tenth:,} jobs"] = lambda n: [sys.executable, "-c", _bare(tenth)]
        modes[f"pytest-memray limit_leaks, {tenth:,} jobs"] = lambda n: [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--memray",
            "-o",
            "addopts=",
            "--rootdir",
            str(scratch),
            str(test_file),
        ]
    return modes


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def side_by_side(scratch: Path) -> dict[str, list[float]]:
    """Every mode once per round, in the same order each round."""
    modes = _commands(scratch)
    times: dict[str, list[float]] = {name: [] for name in modes}
    for n in range(ROUNDS):
        for name, command in modes.items():
            times[name].append(_timed(command(n)))
    return times


def table(times: dict[str, list[float]]) -> str:
    """Markdown: each mode's median, spread and ratio to the bare loop of its length."""
    lines = [
        f"{JOBS:,} jobs of `{WORKER}`, {ROUNDS} alternated rounds",
        "",
        "| command | median s | spread s | / bare loop | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    bare = statistics.median(times["bare"])
    for name, values in times.items():
        if name.startswith("bare, "):
            bare = statistics.median(values)
        median = statistics.median(values)
        target = TARGETS.get(name)
        lines.append(
            f"| {name} | {median:.2f} | {min(values):.2f}-{max(values):.2f} "
            f"| {median / bare:.3f}x | {f'<= {target}x' if target else '-'} |"
        )
    return "\n".join(lines)


def test_side_by_side(benchmark: Any, tmp_path: Path) -> None:
    """The whole table, alternated; pytest-benchmark keeps the ratios in extra_info."""
    times: dict[str, list[float]] = {}
    benchmark.pedantic(lambda: times.update(side_by_side(tmp_path)), rounds=1, iterations=1)
    printed = table(times)
    benchmark.extra_info.update(
        {name: round(statistics.median(values), 3) for name, values in times.items()}
    )
    print("\n" + printed)
    assert all(len(values) == ROUNDS for values in times.values())
