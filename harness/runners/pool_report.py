"""What the pool reports of a run: each worker process's life, and the summary under
``pool`` in ``result.json`` (limits, recycles, lifetimes, jobs retried and lost)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from worker_soak.model import PoolConfig, RecycleReason
from worker_soak.runners.ledger import Ledger
from worker_soak.runners.pool_metrics import METRICS_FILE


@dataclass(frozen=True, slots=True)
class PoolPlan:
    """What one pool run was asked to do: the worker, where its samples go, its limits."""

    spec: str
    run_dir: Path
    origin_ns: int
    pool: PoolConfig
    job_timeout: float | None
    grace_s: float
    import_paths: tuple[str, ...]
    seed: int
    #: The first memray window's length in jobs (None: no window).
    trace_first: int | None


@dataclass(frozen=True, slots=True)
class Lifetime:
    """One worker process's life: which slot, which pid, from when, how many jobs, how it
    ended (``end``: a recycle reason, ``crash``, ``end of jobs``, ``run ended``, ``standby
    not needed``). Times in seconds since the pool started."""

    worker: int
    pid: int
    started_s: float
    jobs: int = 0
    ended_s: float | None = None
    exitcode: int | None = None
    end: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As ``result.json`` holds it: what is not known (yet) is left out."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(slots=True, eq=False)
class Restart:
    """A worker that ended (or announced it would) before the jobs did, and what its
    replacement cost. Filled in as the run learns more: how the process exited, whether its
    job ran again, when the replacement was ready (the gap from ``gap_from``, monotonic)."""

    worker: int
    pid: int
    job_index: int | None
    reason: RecycleReason
    rss_bytes: int | None
    jobs_done: int
    at_s: float
    gap_from: float | None
    restart_seconds: float | None = None
    prestarted: bool | None = None
    note: str | None = None
    exit: str | None = None
    retried: bool | None = None

    def replaced_at(self, ready_at: float) -> None:
        """Its replacement was ready at ``ready_at``: the gap closes (once)."""
        if self.gap_from is not None:
            self.restart_seconds = round(max(0.0, ready_at - self.gap_from), 4)
            self.gap_from = None

    def to_json(self) -> dict[str, Any]:
        """As ``result.json`` shows it; what never happened is left out."""
        shown: dict[str, Any] = {
            "worker": self.worker,
            "pid": self.pid,
            "job_index": self.job_index,
            "reason": self.reason,
            "rss_bytes": self.rss_bytes,
            "jobs_done": self.jobs_done,
            "at_s": self.at_s,
            "restart_seconds": self.restart_seconds,
        }
        optional = {
            "prestarted": self.prestarted,
            "note": self.note,
            "exit": self.exit,
            "retried": self.retried,
        }
        return shown | {key: value for key, value in optional.items() if value is not None}


def pool_summary(
    plan: PoolPlan,
    recycles: list[dict[str, Any]],
    lifetimes: list[Lifetime],
    ledger: Ledger,
    teardown_errors: list[str],
    metrics_port: int | None,
) -> dict[str, Any]:
    """The ``pool`` member of ``result.json``."""
    pool = plan.pool
    summary: dict[str, Any] = {
        "workers": pool.workers,
        "limits": {
            "max_memory_bytes": pool.max_memory,
            "kill_memory_bytes": pool.kill_memory,
            "max_jobs_per_worker": pool.max_jobs_per_worker,
            "max_worker_age_s": pool.max_worker_age_s,
            "max_retries": pool.max_retries,
            "jitter": pool.jitter,
            "prestart": pool.prestart,
            "job_timeout_s": plan.job_timeout,
        },
        "recycles": recycles,
        "lifetimes": [lifetime.to_json() for lifetime in lifetimes],
        **ledger.summary(),
        "failed_jobs": {str(k): v for k, v in sorted(ledger.failed.items())},
        "teardown_errors": teardown_errors,
        "metrics": METRICS_FILE,
    }
    if metrics_port is not None:
        summary["metrics_port"] = metrics_port
    return summary
