"""The texts a test run shows of a soak: the failure message and the summary line."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from worker_soak.analysis.compare import Difference
from worker_soak.report.plain import HARNESS_DIR, failure_message, summary_line, summary_record
from worker_soak.report.terminal import render_summary
from worker_soak.result import SoakResult

ROOT = Path("/project")


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "worker": "billing.tasks:send",
        "workload": "email",
        "label": "tests/test_mail.py::test_send",
        "jobs_requested": 2000,
        "jobs_completed": 2000,
        "stop_reason": "completed",
        "crashes": [],
        "verdicts": {
            "memory": {
                "verdict": "fail",
                "summary": "grows 160 B/job from job 166 on; top leak: /project/billing/tasks.py:12"
                " (send) keeps 153 B/job",
                "bytes_per_job": 160.0,
            },
            "resources": {"verdict": "pass", "summary": "returned to their level"},
            "latency": {"verdict": "inconclusive", "summary": "too few jobs"},
        },
        "leak_sites": [
            {
                "file": "/project/billing/tasks.py",
                "line": 12,
                "function": "send",
                "kind": "per_job",
                "bytes_per_job": 153.0,
                "stack": ["send /project/billing/tasks.py:12", "run /project/billing/loop.py:40"],
                "retention_path": ["tasks._sent", "list[2050]", "str"],
            }
        ],
    }
    data.update(changes)
    return data


def test_failure_message_names_verdict_figures_line_and_retention() -> None:
    """Each failing verdict's summary, the retention path and callers, paths relative to
    the suite's root, and where the report is."""
    result = SoakResult(ROOT / "reports/run", _data())
    assert failure_message(result, ROOT).splitlines() == [
        "soak failed (memory): billing.tasks:send on workload 'email', 2,000 of 2,000 jobs",
        "  memory: grows 160 B/job from job 166 on; top leak: billing/tasks.py:12 (send) keeps"
        " 153 B/job",
        "    kept alive by tasks._sent -> list[2050] -> str",
        "    send() called from run billing/loop.py:40",
        "  report: reports/run/result.json",
    ]


def test_the_terminal_shows_the_retention_path_and_only_the_users_callers() -> None:
    """The terminal's failing memory line carries what the pytest failure does: the
    retention path and the callers in the user's code, not the harness's frames (or the
    interpreter's below them) that called the worker."""
    data = _data()
    harness_frame = f"run {HARNESS_DIR}worker/execute.py:126"
    data["leak_sites"][0]["stack"] += [harness_frame, "_run_code <frozen runpy>:88"]
    data.update(jobs_failed=0, failures=[], duration_s=1.0, checkpoints=[])
    out = io.StringIO()
    render_summary(data, out, "/project/reports/run")
    shown = out.getvalue().splitlines()
    at = next(i for i, line in enumerate(shown) if line.startswith("  memory: fail"))
    assert shown[at + 1 : at + 3] == [
        "    kept alive by tasks._sent -> list[2050] -> str",
        "    send() called from run /project/billing/loop.py:40",
    ]
    assert not any("execute.py" in line or "runpy" in line for line in shown)


def test_failure_message_of_a_crash_and_a_regression() -> None:
    """A crashed run and a regressed figure say so, with the baseline's place."""
    passing = {"memory": {"verdict": "pass", "summary": "flat"}}
    crash = {"job_index": 911, "reason": "signal", "message": "killed by SIGSEGV"}
    result = SoakResult(
        ROOT / "new",
        _data(verdicts=passing, stop_reason="crashed", crashes=[crash]),
        baseline_dir=ROOT / "base",
        regressions=(
            Difference("latency (median job)", "1 ms", "2 ms", "2.00x (p = 0.001)", True),
        ),
    )
    assert failure_message(result, ROOT).splitlines() == [
        "soak failed (stopped: crashed; regressed against the baseline): billing.tasks:send on "
        "workload 'email', 2,000 of 2,000 jobs",
        "  crash at job 911 (signal): killed by SIGSEGV",
        "  regressed: latency (median job): 1 ms (baseline) -> 2 ms 2.00x (p = 0.001)",
        "  baseline: base",
        "  report: new/result.json",
    ]


def test_summary_line_from_its_record() -> None:
    """PASS/FAIL, the test, every verdict, the job count, the report, then any notes."""
    result = SoakResult(ROOT / "reports/run", _data())
    record = summary_record(result, "tests/test_mail.py::test_send")
    record["notes"] = {"benchmark": "benchmark: 1,900 rounds recorded"}
    assert summary_line(record, ROOT) == (
        "FAIL tests/test_mail.py::test_send - memory fail, resources pass, latency inconclusive"
        " - 2,000 jobs - reports/run/result.json\n    benchmark: 1,900 rounds recorded"
    )
    assert not record["passed"]
