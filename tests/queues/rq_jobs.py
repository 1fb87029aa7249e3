"""RQ job functions as a user deploys them: the soaks drive them through real RQ workers."""

from __future__ import annotations

from typing import Any

from tests.queues.celery_tasks import log_event

KEPT: list[bytearray] = []


def leaky(job: dict[str, Any]) -> int:
    """Keeps 64 KiB per job, for as long as its process lives."""
    KEPT.append(bytearray(65536))
    return len(KEPT)


def clean(job: dict[str, Any]) -> int:
    """Builds and drops a little text per job."""
    text = ",".join(str((10_000 + job["id"] % 1_000) * k) for k in range(50))
    return len(text)


def logged(job: dict[str, Any]) -> int:
    """A clean job that logs its start and end."""
    log_event("S", job)
    text = ",".join(str((10_000 + job["id"] % 1_000) * k) for k in range(50))
    log_event("E", job)
    return len(text)
