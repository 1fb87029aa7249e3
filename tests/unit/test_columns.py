"""Compact sample columns behave exactly as the tuples they replace."""

from __future__ import annotations

from array import array
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from worker_soak.columns import SparseColumn, column_of, latest, picked, present

VALUES = st.lists(st.none() | st.integers(min_value=-(2**70), max_value=2**70), max_size=80)


def _built(values: list[Any], chunk: int) -> Any:
    """A column as the samples reader builds it, ``chunk`` jobs at a time."""
    indexes = array("q")
    found: list[Any] = []
    for first in range(0, len(values), chunk):
        for job in range(first, min(len(values), first + chunk)):
            if values[job] is not None:
                indexes.append(job)
                found.append(values[job])
    return column_of(len(values), indexes, found)


@given(VALUES, st.integers(min_value=1, max_value=9), st.data())
def test_a_built_column_reads_as_the_values_it_was_given(
    values: list[Any], chunk: int, data: st.DataObject
) -> None:
    """Indexing (negative too), slicing, iteration, the present values and the latest value
    at a job: the same as on the plain tuple, whichever form the column took."""
    column = _built(values, chunk)
    plain = tuple(values)
    assert len(column) == len(plain)
    assert tuple(column) == plain
    if plain:
        index = data.draw(st.integers(min_value=-len(plain), max_value=len(plain) - 1))
        assert column[index] == plain[index]
        job = data.draw(st.integers(min_value=0, max_value=len(plain) - 1))
        before = [v for v in plain[: job + 1] if v is not None]
        assert latest(column, job) == (before[-1] if before else None)
    start = data.draw(st.integers(min_value=-100, max_value=100))
    stop = data.draw(st.integers(min_value=-100, max_value=100) | st.none())
    assert tuple(column[start:stop]) == plain[start:stop]
    first = data.draw(st.integers(min_value=0, max_value=len(plain)))
    jobs, found = present(column, first)
    assert list(jobs) == [j for j in range(first, len(plain)) if plain[j] is not None]
    assert list(found) == [plain[j] for j in jobs]


@given(VALUES, st.data())
def test_picked_jobs_are_renumbered_in_order(values: list[Any], data: st.DataObject) -> None:
    """The values of some jobs, renumbered 0..n-1, as the tuple would give them."""
    column = _built(values, 7)
    jobs = sorted(data.draw(st.sets(st.integers(min_value=0, max_value=max(0, len(values) - 1)))))
    jobs = [j for j in jobs if j < len(values)]
    position = {job: i for i, job in enumerate(jobs)}
    assert tuple(picked(column, jobs, position)) == tuple(values[j] for j in jobs)


def test_a_column_every_job_has_is_a_packed_array_and_a_sparse_one_keeps_only_its_values() -> None:
    """8 bytes a job for a dense integer field; a field read every 20th job keeps 1/20."""
    dense = _built(list(range(1000)), 64)
    assert isinstance(dense, array)
    sparse = _built([i if i % 20 == 0 else None for i in range(1000)], 64)
    assert isinstance(sparse, SparseColumn)
    assert len(present(sparse)[0]) == 50
    assert sparse == [i if i % 20 == 0 else None for i in range(1000)]
