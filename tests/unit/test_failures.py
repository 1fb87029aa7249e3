"""Grouping of failed jobs."""

from __future__ import annotations

from worker_soak.analysis.failures import MAX_GROUPS, group_failures
from worker_soak.samples import JobError


def test_groups_by_type_and_line_whatever_the_message() -> None:
    """Messages carrying job data do not split a group; the first one is the example."""
    errors = [JobError(i, "KeyError", f"order {i}", "tasks.py:12") for i in (3, 5, 8)]
    errors.append(JobError(9, "ValueError", "bad", "tasks.py:40"))
    first, second = group_failures(errors)
    assert (first.type, first.count, first.first_job_index, first.message) == (
        "KeyError",
        3,
        3,
        "order 3",
    )
    assert (second.type, second.count) == ("ValueError", 1)


def test_same_type_at_two_lines_is_two_groups() -> None:
    """A KeyError at two different lines is two different bugs."""
    errors = [JobError(0, "KeyError", "x", "a.py:1"), JobError(1, "KeyError", "x", "a.py:2")]
    assert len(group_failures(errors)) == 2


def test_group_count_is_bounded() -> None:
    """A worker failing at a thousand places yields at most MAX_GROUPS groups."""
    errors = [JobError(i, "E", "m", f"a.py:{i}") for i in range(1000)]
    assert len(group_failures(errors)) == MAX_GROUPS
