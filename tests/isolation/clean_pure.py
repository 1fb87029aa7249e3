"""A pure worker: the result depends on the job only."""

from typing import Any


def handle(job: dict[str, Any]) -> int:
    return int(job["id"]) * 2 + 1
