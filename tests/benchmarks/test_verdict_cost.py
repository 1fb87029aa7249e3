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
import json
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
TARGET_IN_RUN_US = 15


def _bare(jobs: int) -> str:
    """The bare loop; it prints how long its jobs took (the loop alone, no start-up)."""
    return (
        f"import sys, time\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tests.zoo.clean_real_libraries import handle\n"
        "start = time.perf_counter()\n"
        f"for index in range({jobs}):\n    handle({{'id': index}})\n"
        "print(time.perf_counter() - start)\n"
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


def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, check=False, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr  # 1: a verdict failed, still measured
    return time.perf_counter() - start, done.stdout


def _jobs_span_s(run_dir: Path) -> float:
    """From the first job's start to the last job's end in the worker, seconds."""
    with open(run_dir / "samples.jsonl", encoding="utf-8") as lines:
        first = json.loads(next(lines))
        last = first
        for line in lines:
            last = json.loads(line)
    return float(last["end_ns"] - first["end_ns"] + first["wall_ns"]) / 1e9


def side_by_side(scratch: Path) -> tuple[dict[str, list[float]], list[float]]:
    """Every mode once per round, in the same order each round; and per round, the in-run
    cost per job (us): the light run's jobs span in the worker against the bare loop's."""
    modes = _commands(scratch)
    times: dict[str, list[float]] = {name: [] for name in modes}
    in_run_us: list[float] = []
    for n in range(ROUNDS):
        loop_s = 0.0
        for name, command in modes.items():
            seconds, printed = _timed(command(n))
            times[name].append(seconds)
            if name == "bare":
                loop_s = float(printed.split()[-1])
            elif name == "light":
                span_s = _jobs_span_s(scratch / f"run---light---no-report-{n}")
                in_run_us.append((span_s - loop_s) / JOBS * 1e6)
    return times, in_run_us


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
    in_run_us: list[float] = []

    def measure() -> None:
        measured, costs = side_by_side(tmp_path)
        times.update(measured)
        in_run_us.extend(costs)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    printed = table(times)
    benchmark.extra_info.update(
        {name: round(statistics.median(values), 3) for name, values in times.items()}
    )
    cost = statistics.median(in_run_us)
    benchmark.extra_info["in_run_us_per_job"] = round(cost, 1)
    print("\n" + printed)
    print(
        f"\nIn-run cost per job (the light run's jobs in the worker, first start to last end, "
        f"against the bare loop's): {cost:.1f} us median, "
        f"{min(in_run_us):.1f}-{max(in_run_us):.1f} us (target <= {TARGET_IN_RUN_US} us)"
    )
    assert all(len(values) == ROUNDS for values in times.values())
