"""Celery tasks as a user deploys them: the soaks drive them through a real worker."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from celery import Celery

app = Celery("soak_test_tasks")
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
app.conf.worker_prefetch_multiplier = 1

KEPT: list[bytearray] = []


@app.task
def leaky(job: dict[str, Any]) -> int:
    """Keeps 64 KiB per task, for as long as its process lives."""
    KEPT.append(bytearray(65536))
    return len(KEPT)


@app.task
def clean(job: dict[str, Any]) -> int:
    """Builds and drops a little text per task, the same amount whatever the job id (text
    that grew with the id made later tasks really slower: 23 % over 1,000 tasks)."""
    text = ",".join(str((10_000 + job["id"] % 1_000) * k) for k in range(50))
    return len(text)


def log_event(mark: str, job: dict[str, Any]) -> None:
    """Append ``S``/``E`` <job id> <pid> to ``SOAK_TASK_LOG``: the tests' own record of what
    ran where, to check the harness's accounting against."""
    path = os.environ.get("SOAK_TASK_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{mark} {job['id']} {os.getpid()}\n".encode())
        finally:
            os.close(fd)


@app.task
def logged(job: dict[str, Any]) -> int:
    """A clean task that logs its start and end."""
    log_event("S", job)
    text = ",".join(str((10_000 + job["id"] % 1_000) * k) for k in range(50))
    log_event("E", job)
    return len(text)


def _die_once(job: dict[str, Any]) -> int:
    """SIGKILLs its own process at job ``SOAK_DIE_AT``, once (a marker file remembers)."""
    log_event("S", job)
    marker = Path(os.environ["SOAK_DIE_MARKER"])
    if job["id"] == int(os.environ["SOAK_DIE_AT"]) and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    log_event("E", job)
    return int(job["id"])


@app.task
def dies_once(job: dict[str, Any]) -> int:
    """Dies once; the app's acks_late + reject_on_worker_lost requeue the task."""
    return _die_once(job)


@app.task(reject_on_worker_lost=False)
def dies_once_unrejected(job: dict[str, Any]) -> int:
    """Dies once; without reject_on_worker_lost Celery fails the task (WorkerLostError)."""
    return _die_once(job)


@app.task
def big_temporary(job: dict[str, Any]) -> int:
    """Every 50th task builds and drops a 300 MB temporary; the rest are small."""
    if job["id"] % 50 == 49:
        scratch = bytearray(300 * 2**20)
        size = len(scratch)
        del scratch
        return size
    return int(job["id"])


_customer: dict[str, str] = {}


@app.task
def sticky(job: dict[str, Any]) -> str | None:
    """Remembers the customer of every ninth task and answers with it on the others."""
    if job["id"] % 9 == 0:
        _customer["name"] = f"c{job['id']}"
    return _customer.get("name")


@app.task
def canary(job: dict[str, Any]) -> int:
    """The canary worker (``tests/workers/canary.py``) as a task: secrets in its
    environment, its errors and its log."""
    from tests.workers import canary as worker

    return worker.handle(job)


_redis = None


@app.task
def stores_in_redis(job: dict[str, Any]) -> int:
    """Writes each job's id to Redis through one client per process, connected on first use
    as redis-py does: fresh workers of the isolation check must not share its socket."""
    global _redis
    import redis

    if _redis is None:
        _redis = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        _redis.ping()
    _redis.set(f"soak:test:stores:{job['id']}", job["id"], ex=600)
    return int(_redis.get(f"soak:test:stores:{job['id']}") or 0) * 3
