"""Report generation for a 10,000-job run: target <= 0.5 s (the plots are drawn on two cores).
Run with ``nox -s bench``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import REPO, soak_command
from worker_soak.report.html import write_run_report

TARGET_S = 0.5


def test_report_of_10000_jobs(benchmark: Any, tmp_path: Path) -> None:
    """write_run_report on a real 10,000-job run directory."""
    out = tmp_path / "run"
    subprocess.run(
        soak_command("run", "--jobs", "10000", "--out", str(out)),
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    benchmark.pedantic(write_run_report, args=(out,), rounds=5, iterations=1)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        seconds=round(median, 3), target_s=TARGET_S, within_target=median <= TARGET_S
    )
    print(f"\nreport of 10,000 jobs: {median:.2f} s (target {TARGET_S} s)")
