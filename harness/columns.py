"""Compact sample columns: a run of a million jobs held in tens of megabytes, not hundreds.

A column is a ``Sequence`` of one probe field over the run, indexed by job. As tuples of
Python objects a million-job run took ~290 MB in the parent (8 bytes a slot for 17 fields,
mostly ``None`` where a sparse probe did not run, plus 32 bytes per int). Here:

- a field every job has, all integers: an ``array('q')`` (8 bytes a job; flags read 0/1);
- a field only some jobs have: :class:`SparseColumn`, the jobs that have it and their values;
- values that are not 64-bit integers (lists, dicts, floats, huge ints) are kept in a tuple,
  inside a sparse column or as the column.

Readers index and iterate them as any sequence; :meth:`SparseColumn.points` gives the
present values without visiting every job.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

Column = Sequence[Any]


class SparseColumn(Sequence[Any]):
    """``length`` jobs, of which those in ``indexes`` (ascending) have a value; the others
    read as ``None``."""

    __slots__ = ("_indexes", "_length", "_values")

    def __init__(self, length: int, indexes: Sequence[int], values: Sequence[Any]) -> None:
        if len(indexes) != len(values):
            raise ValueError(f"{len(indexes)} indexes for {len(values)} values")
        self._length = length
        self._indexes = indexes
        self._values = values

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, where: int) -> Any: ...

    @overload
    def __getitem__(self, where: slice) -> Sequence[Any]: ...

    def __getitem__(self, where: int | slice) -> Any:
        if isinstance(where, slice):
            start, stop, step = where.indices(self._length)
            if step != 1:
                return tuple(self)[where]
            stop = max(start, stop)
            low = bisect.bisect_left(self._indexes, start)
            high = bisect.bisect_left(self._indexes, stop)
            shifted = array("q", (index - start for index in self._indexes[low:high]))
            return SparseColumn(stop - start, shifted, self._values[low:high])
        index = where + self._length if where < 0 else where
        if not 0 <= index < self._length:
            raise IndexError("column index out of range")
        at = bisect.bisect_left(self._indexes, index)
        if at < len(self._indexes) and self._indexes[at] == index:
            return self._values[at]
        return None

    def __iter__(self) -> Iterator[Any]:
        position = 0
        for index, value in zip(self._indexes, self._values, strict=True):
            yield from itertools.repeat(None, index - position)
            yield value
            position = index + 1
        yield from itertools.repeat(None, self._length - position)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SparseColumn):
            return (
                self._length == other._length
                and list(self._indexes) == list(other._indexes)
                and list(self._values) == list(other._values)
            )
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == self._length and all(
                a == b for a, b in zip(self, other, strict=True)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SparseColumn({self._length} jobs, {len(self._indexes)} values)"

    def points(self, start: int = 0) -> tuple[Sequence[int], Sequence[Any]]:
        """(job indexes, values) of the jobs from ``start`` on that have a value."""
        low = bisect.bisect_left(self._indexes, start)
        return self._indexes[low:], self._values[low:]


def column_of(length: int, indexes: Sequence[int], values: list[Any]) -> Column:
    """The column over ``length`` jobs whose jobs ``indexes`` (ascending) have ``values``,
    in its most compact form."""
    packed = _packed(values)
    if len(indexes) == length and isinstance(packed, array):
        return packed
    return SparseColumn(length, indexes, packed)


def packed_ints(values: Sequence[int]) -> Sequence[int]:
    """Integers as an ``array('q')`` when they fit in 64 bits, else as they are."""
    packed = _packed(values)
    return packed if isinstance(packed, array) else tuple(values)


def _packed(values: Sequence[Any]) -> Sequence[Any]:
    """Integers (flags read as 0 and 1) in an ``array('q')``; anything else in a tuple."""
    try:
        return array("q", values)
    except (TypeError, OverflowError):
        return tuple(values)


def picked(column: Sequence[Any], jobs: Sequence[int], position: Mapping[int, int]) -> Column:
    """The values of ``jobs`` (ascending; ``position`` maps each to its new index), in the
    column's own form: a sparse column visits only the jobs that have a value."""
    if isinstance(column, SparseColumn):
        indexes, values = column.points()
        kept = [
            (position[index], value)
            for index, value in zip(indexes, values, strict=True)
            if index in position
        ]
        return SparseColumn(
            len(jobs),
            array("q", [index for index, _ in kept]),
            _packed([value for _, value in kept]),
        )
    values = [column[job] for job in jobs]
    return _packed(values) if isinstance(column, array) else tuple(values)


def present(column: Sequence[Any], start: int = 0) -> tuple[Sequence[int], Sequence[Any]]:
    """(job indexes, values) of the jobs from ``start`` on that have a value."""
    if isinstance(column, SparseColumn):
        return column.points(start)
    jobs = [job for job in range(start, len(column)) if column[job] is not None]
    return jobs, [column[job] for job in jobs]


def latest(column: Sequence[Any], job: int) -> Any:
    """The value at ``job`` or, where that job has none, at the nearest job before it."""
    if isinstance(column, SparseColumn):
        indexes, values = column.points()
        at = bisect.bisect_right(indexes, job) - 1
        return values[at] if at >= 0 else None
    for position in range(min(job, len(column) - 1), -1, -1):
        if column[position] is not None:
            return column[position]
    return None
