"""Group failed jobs by what they raised and where, for the result and the report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from harness.model import FailureGroup, JobError

MAX_GROUPS: Final = 50


def group_failures(errors: Iterable[JobError]) -> list[FailureGroup]:
    """Groups of identical (type, message, where), most frequent first, at most MAX_GROUPS."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for error in errors:
        entry = counts.setdefault((error.type, error.message, error.where), [0, error.job_index])
        entry[0] += 1
    groups = [
        FailureGroup(type=k[0], message=k[1], where=k[2], count=v[0], first_job_index=v[1])
        for k, v in counts.items()
    ]
    groups.sort(key=lambda group: (-group.count, group.first_job_index))
    return groups[:MAX_GROUPS]
