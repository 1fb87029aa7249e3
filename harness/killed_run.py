"""A run whose harness died before writing ``result.json`` (``kill -9``, a CI time-out, the OOM
killer) is judged afterwards from what it left: the configuration it wrote when it started
(``run.json``) and the samples already on disk. ``soak report DIR`` does it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from worker_soak.analysis.advice import advise
from worker_soak.model import RunOutcome
from worker_soak.result_file import build_result
from worker_soak.run_record import read_run_record
from worker_soak.store import SAMPLES_FILE, read_samples, write_result


def judge_killed_run(run_dir: Path) -> dict[str, Any]:
    """Write ``result.json`` for ``run_dir`` (stop reason ``killed``) from its record and
    samples; return it."""
    record = read_run_record(run_dir)
    samples = read_samples(run_dir / SAMPLES_FILE)
    outcome = RunOutcome(jobs_completed=len(samples), stop_reason="killed")
    duration_ns = max(samples.end_ns, default=0)
    why = (
        "the harness ended before writing result.json (killed: kill -9, a time-out, the OOM "
        f"killer); judged afterwards from the {len(samples):,} samples it left"
    )
    result = build_result(
        record.config,
        record.spec,
        outcome,
        why,
        record.started_at,
        duration_ns,
        run_dir,
        record.policy,
    )
    result["workload_report"] = {}
    result["advice"] = advise(result)
    return write_result(run_dir, result)
