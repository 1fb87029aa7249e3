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

WORKER = "tests/isolation/clean_pure.py:handle"


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


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
    assert result["jobs_completed"] >= 3_000
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
