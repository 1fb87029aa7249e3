"""Group failed jobs by what they raised and where, for the result and the report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from worker_soak.model import FailureGroup
from worker_soak.samples import JobError

MAX_GROUPS: Final = 50


def group_failures(errors: Iterable[JobError]) -> list[FailureGroup]:
    """Failed jobs grouped by exception type and raising line, most frequent first.

    Messages often carry the job's own data ("order 1234 not found"), so they do not split a
    group; each group keeps the message of its first job as the example.
    """
    firsts: dict[tuple[str, str], JobError] = {}
    counts: dict[tuple[str, str], int] = {}
    for error in errors:
        key = (error.type, error.where)
        firsts.setdefault(key, error)
        counts[key] = counts.get(key, 0) + 1
    groups = [
        FailureGroup(
            type=first.type,
            message=first.message,
            where=first.where,
            count=counts[key],
            first_job_index=first.job_index,
        )
        for key, first in firsts.items()
    ]
    groups.sort(key=lambda group: (-group.count, group.first_job_index))
    return groups[:MAX_GROUPS]
