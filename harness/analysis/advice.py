"""Advice a user can act on: when a worker process reaches a memory limit, and the recycle
settings that keep it below, in the words of the framework it runs in.

From the run's own measurements only: the memory verdict's growth per job (when memory
grew), the throughput per process, the RSS at the first and last checkpoints. Pure: it reads
a result document and returns a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

#: The limit projected against when the run set none (a common container memory limit).
DEFAULT_LIMIT_BYTES: Final = 2**30
#: Recycle when four fifths of the headroom are used: margin for jitter and big jobs.
HEADROOM_USED: Final = 0.8


def _size(value: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def _rss(checkpoint: Mapping[str, Any]) -> int | None:
    memory = checkpoint.get("memory") or {}
    value = memory.get("rss_bytes")
    return int(value) if value is not None else None


def recycle_settings(runner: str, jobs: int, limit_bytes: int) -> list[str]:
    """The settings that recycle a worker process after ``jobs`` jobs or at ``limit_bytes``,
    for the framework the run used first, then for the other common ones."""
    kib = limit_bytes // 1024
    mib = limit_bytes // 2**20
    jitter = max(1, jobs // 10)
    by_framework = {
        "celery": (
            f"Celery: worker_max_tasks_per_child = {jobs:,} (or worker_max_memory_per_child = "
            f"{kib:,}, in KiB; Celery compares the child's PEAK RSS, so one large temporary "
            "recycles it)"
        ),
        "rq": (
            f"RQ: rq worker --max-jobs {jobs} under a supervisor that restarts it (systemd "
            "Restart=always, supervisord autorestart)"
        ),
        "pool": f"soak's pool: --max-jobs-per-worker {jobs} (or --max-memory {mib}MB)",
        "gunicorn": f"gunicorn: --max-requests {jobs} --max-requests-jitter {jitter}",
        "uwsgi": f"uWSGI: --max-requests {jobs} --reload-on-rss {mib}",
    }
    first = runner if runner in by_framework else "pool"
    return [by_framework[first], *(text for key, text in by_framework.items() if key != first)]


def advise(result: Mapping[str, Any], limit_bytes: int | None = None) -> dict[str, Any]:
    """Time to the memory limit and the recycle settings, for ``result`` (a result.json)."""
    pool = result.get("pool") or {}
    queue = pool.get("queue") or {}
    limits = pool.get("limits") or {}
    runner = str(queue.get("runner") or ("pool" if result.get("workers") else "process"))
    limit = int(limit_bytes or limits.get("max_memory_bytes") or DEFAULT_LIMIT_BYTES)
    checkpoints: Sequence[Mapping[str, Any]] = result.get("checkpoints", [])
    memory = result.get("verdicts", {}).get("memory", {})
    processes = max(1, int(result.get("workers") or 1))
    rate = None
    if checkpoints and checkpoints[-1].get("throughput_jobs_per_s"):
        rate = float(checkpoints[-1]["throughput_jobs_per_s"]) / processes
    first_rss = next((r for r in map(_rss, checkpoints) if r is not None), None)
    last_rss = next((r for r in map(_rss, reversed(checkpoints)) if r is not None), None)
    advice: dict[str, Any] = {
        "limit_bytes": limit,
        "limit_source": "the run's recycle limit"
        if limit_bytes or limits.get("max_memory_bytes")
        else "default (1 GiB; no memory limit was set)",
        "jobs_per_second_per_process": round(rate, 2) if rate else None,
        "rss_bytes_fresh": first_rss,
        "rss_bytes_last": last_rss,
    }
    growth = memory.get("bytes_per_job") if memory.get("verdict") == "fail" else None
    if not growth or growth <= 0 or first_rss is None or last_rss is None:
        advice["summary"] = (
            "memory did not grow measurably: no recycle limit is needed for memory"
            if memory.get("verdict") == "pass"
            else "memory growth was not established: no time to a limit can be projected"
        )
        advice["settings"] = []
        return advice
    per_life = max(1, int((limit - first_rss) / growth * HEADROOM_USED))
    left_jobs = max(0.0, (limit - last_rss) / growth)
    advice.update(
        {
            "bytes_per_job": round(float(growth), 1),
            "jobs_to_limit": int(left_jobs),
            "seconds_to_limit": round(left_jobs / rate, 1) if rate else None,
            "recycle_after_jobs": per_life,
        }
    )
    when = f" in ~{_duration(left_jobs / rate)}" if rate else ""
    speed = f" and {rate:,.0f} jobs/s" if rate else ""
    advice["summary"] = (
        f"at {_size(float(growth))}/job{speed} a worker process reaches {_size(limit)} RSS"
        f"{when} ({int(left_jobs):,} more jobs from {_size(last_rss)}); recycle it every "
        f"{per_life:,} jobs ({HEADROOM_USED:.0%} of the way from a fresh process's "
        f"{_size(first_rss)} to the limit)"
    )
    advice["settings"] = recycle_settings(runner, per_life, int(limit * HEADROOM_USED))
    return advice
