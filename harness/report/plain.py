"""Plain-text views of a soak for a test run's output: the failure message of a soak that
failed, and the one-line entry of the end-of-session summary.

The summary entry travels as a small JSON-able record (from a pytest-xdist worker to the
controller, into junit-xml properties), so it is built from the result once and rendered
from the record.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from worker_soak.result import SoakResult


def crash_place(crash: Mapping[str, Any]) -> str:
    """Where a crash happened: in one of the run's jobs, or in a phase of the harness's own
    (the probe jobs of the aged-against-fresh comparison)."""
    phase = crash.get("phase")
    return f"in the {phase}" if phase else f"at job {crash['job_index']}"


def _relative(text: str, root: Path | None) -> str:
    """Paths under ``root`` (the test suite's root) as the user writes them."""
    if root is None:
        return text
    return text.replace(f"{root}/", "")


def job_source(data: Mapping[str, Any]) -> str:
    """Where the jobs came from, in words: ``workload 'email'`` or ``jobs from 'jobs.jsonl'``."""
    if data.get("jobs_from"):
        return f"jobs from {data['jobs_from']!r}"
    return f"workload {data.get('workload', '?')!r}"


def _figures(data: Mapping[str, Any]) -> str:
    done, asked = data.get("jobs_completed", 0), data.get("jobs_requested", 0)
    return f"{data.get('worker', '?')} on {job_source(data)}, {done:,} of {asked:,} jobs"


def failure_message(result: SoakResult, root: Path | None = None) -> str:
    """Why the soak failed: each failing verdict with its figures, the top leak site as
    ``file.py:LINE`` and what keeps it alive, crashes, regressions, where the data is."""
    data = result.data
    failed = result.failed_verdicts
    reasons = [*failed]
    if not result.completed:
        reasons.append(f"stopped: {data.get('stop_reason')}")
    if result.regressions:
        reasons.append("regressed against the baseline")
    lines = [f"soak failed ({'; '.join(reasons)}): {_figures(data)}"]
    for crash in data.get("crashes", []):
        lines.append(
            f"  crash {crash_place(crash)} ({crash['reason']}): {crash.get('message', '')}"
        )
    recycles = data.get("recycles")
    if recycles is not None:
        reasons_seen: dict[str, int] = {}
        for record in recycles:
            reasons_seen[record["reason"]] = reasons_seen.get(record["reason"], 0) + 1
        said = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons_seen.items()))
        lines.append(
            f"  {runner_label(data)}: {len(recycles)} recycles"
            f"{f' ({said})' if said else ''}; jobs lost {data.get('jobs_lost')}, retried "
            f"{data.get('jobs_retried')}, run twice {data.get('jobs_run_twice')}"
        )
    for key in ("setup_error", "harness_error"):
        if data.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {data[key]}")
    verdicts = result.verdicts
    for name in failed:
        lines.append(f"  {name}: {verdicts[name].summary}")
    if "memory" in failed:
        lines.extend(f"    {line}" for line in leak_lines(result.leak_sites))
    reproduction = (
        verdicts["isolation"].figures.get("reproduction") if "isolation" in failed else None
    )
    if isinstance(reproduction, Mapping) and reproduction.get("jobs"):
        steps = " then ".join(json.dumps(job, sort_keys=True)[:200] for job in reproduction["jobs"])
        lines.append(f"    reproduce on a fresh worker: {steps}")
        lines.append(f"    which returns {reproduction.get('after_sequence')}")
    for row in result.regressions:
        lines.append(
            f"  regressed: {row.name}: {row.base} (baseline) -> {row.new} {row.change}".rstrip()
        )
    if result.baseline_dir is not None and result.regressions:
        lines.append(f"  baseline: {result.baseline_dir}")
    lines.append(f"  report: {result.report}")
    return _relative("\n".join(lines), root)


def summary_record(result: SoakResult, test: str) -> dict[str, Any]:
    """What the end-of-session summary shows of one soak, as plain JSON values."""
    return {
        "test": test,
        "worker": result.data.get("worker", "?"),
        "workload": result.data.get("workload", "?"),
        "jobs": result.jobs_completed,
        "passed": result.passed,
        "stop_reason": result.data.get("stop_reason", "?"),
        "verdicts": {name: v.verdict for name, v in result.verdicts.items()},
        "regressed": [row.name for row in result.regressions],
        "report": str(result.report),
    }


def summary_line(record: Mapping[str, Any], root: Path | None = None) -> str:
    """``PASS test - memory pass, resources pass, latency inconclusive - 1,000 jobs - report``."""
    word = "PASS" if record["passed"] else "FAIL"
    verdicts = ", ".join(f"{name} {outcome}" for name, outcome in record["verdicts"].items())
    extra = []
    if record["stop_reason"] != "completed":
        extra.append(f"stopped: {record['stop_reason']}")
    if record["regressed"]:
        extra.append(f"regressed: {', '.join(record['regressed'])}")
    shown = " - ".join(
        [f"{word} {record['test']}", verdicts or "no verdicts", *extra, f"{record['jobs']:,} jobs"]
    )
    notes = "".join(f"\n    {note}" for note in record.get("notes", {}).values())
    return _relative(f"{shown} - {record['report']}{notes}", root)


def runner_label(data: Mapping[str, Any]) -> str:
    """How the worker ran, in a few words: the runner, a pool's size, a queue's framework."""
    queue = data.get("pool", {}).get("queue") if isinstance(data.get("pool"), Mapping) else None
    workers = data.get("workers")
    if queue:
        kind = {"fork": "forking Worker", "simple": "SimpleWorker"}.get(
            str(queue.get("rq_worker")), "worker"
        )
        nodes = len(queue.get("nodes", [])) or 1
        return (
            f"{queue['runner']} {kind}, {workers} process(es) on {nodes} node(s), {queue['broker']}"
        )
    if workers:
        return f"pool of {workers} worker processes"
    return f"{data.get('runner', '?')} runner"


def queue_lines(data: Mapping[str, Any]) -> list[str]:
    """What a job queue's framework cost and where its worker stood idle, in sentences."""
    pool = data.get("pool")
    queue = pool.get("queue") if isinstance(pool, Mapping) else None
    if not queue:
        return []
    lines = []
    cost = queue.get("cost")
    if cost:
        lines.append(
            f"{queue['runner']}: {cost['jobs_per_second']:,.0f} jobs/s; each job spent "
            f"{cost['outside_task_ms_per_job']:.2f} ms in the framework beside "
            f"{cost['task_ms_per_job']:.2f} ms in the task "
            f"({cost['outside_task_share']:.0%} of a process's time outside the task)"
        )
    for node, idle in sorted((queue.get("idle") or {}).items()):
        if idle.get("idle_stretches"):
            lines.append(
                f"worker {node}: every process idle {idle['idle_stretches']} times "
                f"({idle['idle_seconds']:.2f} s in all; longest {idle['longest_idle_seconds']:.3f}"
                " s)"
            )
    return lines


def leak_lines(leak_sites: Sequence[Mapping[str, Any]]) -> list[str]:
    """The top per-job leak site's retention path and its callers, as a failing memory
    verdict shows them under its sentence (terminal, pytest)."""
    per_job = [site for site in leak_sites if site.get("kind") == "per_job"]
    if not per_job:
        return []
    top = per_job[0]
    path = top.get("retention_path") or []
    lines = [f"kept alive by {' -> '.join(path)}"] if path else []
    # The user's callers: up to the harness's frame that called the worker.
    frames = (top.get("stack") or [])[1:]
    callers = list(itertools.takewhile(lambda frame: HARNESS_DIR not in frame, frames))
    lines.extend(f"{top['function']}() called from {frame}" for frame in callers[:3])
    return lines


#: Frames in the harness's own code (what calls the worker) say nothing about a leak.
HARNESS_DIR: Final = f"{Path(__file__).resolve().parents[1]}{os.sep}"
