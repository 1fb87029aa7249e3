"""The report's libraries load in a thread once the first job is in, never before it: beside
the worker's start-up and the probe jobs before the run, the thread held the interpreter lock
while the harness waited on their answers."""

from __future__ import annotations

import subprocess
import sys
import threading

from worker_soak.early_imports import EarlyImports


def _loaders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "soak-report-imports"]


def test_the_imports_start_with_the_first_finished_job_and_once() -> None:
    seen: list[int] = []
    imports = EarlyImports(report=True)
    progress = imports.after_first_job(seen.append)
    before = len(_loaders())
    progress(0)  # the run started: no job finished yet
    assert imports._thread is None
    progress(1)
    started = imports._thread
    assert started is not None
    assert started.name == "soak-report-imports"
    progress(2)
    assert imports._thread is started  # one thread for the run
    imports.join()
    assert not started.is_alive()
    assert seen == [0, 1, 2]  # every count still reaches the progress bar
    assert len(_loaders()) <= before


def test_join_without_a_finished_job_returns_at_once() -> None:
    imports = EarlyImports(report=True)
    imports.after_first_job(lambda completed: None)(0)
    imports.join()
    assert imports._thread is None


def test_without_a_report_only_the_summary_library_loads() -> None:
    """``--no-report``: rich for the summary, and not matplotlib (~0.3 s, ~30 MB)."""
    script = (
        "import sys\nfrom worker_soak.early_imports import EarlyImports\n"
        "imports = EarlyImports(report=False)\nimports.after_first_job(lambda n: None)(1)\n"
        "imports.join()\nprint('rich.table' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown == ["True", "False"]
