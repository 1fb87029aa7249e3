"""A light soak of 10^4, 10^5 and 10^6 no-op jobs, report included: the worker's time, the
time after it (judging, result.json, the report; the report alone) and the parent's peak
RSS. Targets: for 10^6, after the run <= 5 s, parent <= 200 MB; the report of 10^5 <= 1 s.
Run with ``nox -s bench`` (~1 minute).

The parent's RSS is polled every 20 ms (psutil): the worker processes are not counted."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest

from tests.conftest import REPO, soak_command

TARGET_AFTER_S = 5.0
TARGET_PARENT_MB = 200.0
TARGET_REPORT_S = 1.0


def _soak(jobs: int, out: Path) -> dict[str, float]:
    command = soak_command("run", "--jobs", str(jobs), "--light", "--out", str(out))
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - started
    assert process.returncode in (0, 1)
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    worker_s = float(result["duration_s"])
    # The report is drawn after result.json is written: the gap between the two files.
    report_s = (out / "index.html").stat().st_mtime - (out / "result.json").stat().st_mtime
    return {
        "wall_s": wall,
        "worker_s": worker_s,
        "after_s": wall - worker_s,
        "report_s": report_s,
        "peak_mb": peak / 1e6,
    }


@pytest.mark.parametrize("jobs", [10_000, 100_000, 1_000_000])
def test_scale(benchmark: Any, tmp_path: Path, jobs: int) -> None:
    runs = iter(range(100))
    figures: dict[str, float] = {}

    def soak() -> None:
        figures.update(_soak(jobs, tmp_path / f"run-{next(runs)}"))

    benchmark.pedantic(soak, rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    print(
        f"\n{jobs:>9,} no-op jobs, --light, report: worker {figures['worker_s']:.2f} s, "
        f"start + after the run {figures['after_s']:.2f} s (of it the report "
        f"{figures['report_s']:.2f} s), parent peak RSS {figures['peak_mb']:.0f} MB "
        f"(targets at 10^6: {TARGET_AFTER_S} s, {TARGET_PARENT_MB:.0f} MB; report at 10^5: "
        f"{TARGET_REPORT_S} s)"
    )
