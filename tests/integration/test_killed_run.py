"""A run whose harness is killed (``kill -9``: what a CI time-out or the OOM killer does)
leaves no worker behind and can still be judged: ``soak report DIR`` rebuilds ``result.json``
from the configuration written at the start and the samples on disk, then the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, soak_command
from worker_soak.runners.pool_worker import MAX_JOBS_AHEAD

WORKER = "tests/isolation/clean_pure.py:handle"


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def _on_disk(path: Path) -> tuple[int, int]:
    """How many jobs from job 0 on have a whole sample line in ``path``, and how many jobs
    below the last one written have none. A pool's workers finish out of order: a killed pool
    leaves the jobs its workers held (up to ``MAX_JOBS_AHEAD`` each, and the one running)
    missing among those written."""
    done = {
        json.loads(line)["job_index"]
        for line in path.read_bytes().splitlines(keepends=True)
        if line.endswith(b"\n")
    }
    unbroken = 0
    while unbroken in done:
        unbroken += 1
    return unbroken, max(done) + 1 - len(done)


@pytest.mark.parametrize("runner", [(), ("--workers", "2")], ids=["process", "pool"])
def test_a_killed_run_is_judged_afterwards(tmp_path: Path, runner: tuple[str, ...]) -> None:
    out = tmp_path / "run"
    harness = subprocess.Popen(
        soak_command("run", "--worker", WORKER, "--jobs", "2000000", "--out", str(out), *runner),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while _lines(out / "samples.jsonl") < 3_000 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(harness.pid, signal.SIGKILL)
    harness.wait()
    assert not (out / "result.json").exists()
    time.sleep(0.5)
    left = subprocess.run(
        ["pgrep", "-f", f"--run-dir {out}"], capture_output=True, text=True, check=False
    ).stdout
    assert left == "", f"worker processes outlived the harness: {left}"

    report = subprocess.run(
        soak_command("report", str(out)), cwd=REPO, capture_output=True, text=True, check=False
    )
    assert report.returncode == 0, report.stderr
    assert "its harness was killed after" in report.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["stop_reason"] == "killed"
    # Every finished sample up to the first job missing is judged; the only jobs missing are
    # those the pool's two workers held when they were killed.
    unbroken, missing = _on_disk(out / "samples.jsonl")
    assert result["jobs_completed"] == unbroken
    assert missing <= 2 * (MAX_JOBS_AHEAD + 1)
    assert unbroken >= 1_000
    assert result["verdicts"]["failed_jobs"]["verdict"] == "pass"
    assert result["verdicts"]["memory"]["verdict"] in ("pass", "inconclusive")
    assert (out / "index.html").is_file()


def test_report_of_a_directory_that_is_no_run_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        soak_command("report", str(tmp_path)), cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "no result.json and no run.json" in done.stderr
    assert "Traceback" not in done.stderr
