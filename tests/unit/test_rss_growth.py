"""What an RSS growth is made of: the breakdown readings at checkpoints, and the sentence
that says fragmentation or objects."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from worker_soak.analysis.checkpoint_jobs import BREAKDOWN_PARTS
from worker_soak.analysis.checkpoints import breakdown_at, compute_checkpoints
from worker_soak.analysis.rss_growth import MIN_GROWTH_BYTES, rss_growth
from worker_soak.samples import Samples

MIB = 1 << 20
READ_AT = (0, 9, 99, 400, 999)


def _samples(jobs: int, parts_at: dict[int, dict[str, int]]) -> Samples:
    gauges: dict[str, tuple[int | None, ...]] = {}
    for part in (*BREAKDOWN_PARTS, "rss"):
        gauges[f"mem_{part}_bytes"] = tuple(
            parts_at[job][part] if job in parts_at else None for job in range(jobs)
        )
    wall = tuple([1_000_000] * jobs)
    end = tuple(1_000_000 * (job + 1) for job in range(jobs))
    return Samples(wall_ns=wall, cpu_ns=wall, end_ns=end, gauges=gauges, errors=())


def _parts(objects: int, free: int, other: int = 10 * MIB) -> dict[str, int]:
    parts = {
        "python_objects": objects // 2,
        "python_free": MIB,
        "native_in_use": objects - objects // 2,
        "native_free": free,
        "other": other,
    }
    return {**parts, "rss": sum(parts.values())}


def test_a_checkpoint_carries_the_latest_reading_at_or_before_its_last_job() -> None:
    """Checkpoint 100 takes the reading at job 99; the last checkpoint (1,000) the one at 999;
    a run without readings has no breakdown."""
    readings = {job: _parts(8 * MIB + job, 2 * MIB) for job in READ_AT}
    points = compute_checkpoints(_samples(1_000, readings))
    shown: dict[int, Any] = {p.jobs: p.to_json()["memory"] for p in points}
    assert shown[100]["breakdown"]["job"] == 99
    assert shown[1_000]["breakdown"]["python_objects"] == (8 * MIB + 999) // 2
    assert breakdown_at(_samples(50, {}), 49) is None


def test_free_memory_growing_under_flat_objects_is_fragmentation() -> None:
    """RSS +12 MiB, all of it free chunks the C allocator keeps: fragmentation, said so."""
    readings = {job: _parts(8 * MIB, 2 * MIB + job * 12 * MIB // 999) for job in READ_AT}
    growth = rss_growth(_samples(1_000, readings))
    assert growth is not None
    assert growth.grew
    assert growth.fragmentation
    assert "fragmentation, not a leak" in growth.summary()
    assert growth.summary().startswith("RSS grew 12.0 MiB from job 1 to job 1,000")


def test_objects_growing_are_not_fragmentation() -> None:
    """RSS +12 MiB of objects (a leak's shape): grew, not fragmentation."""
    readings = {job: _parts(8 * MIB + job * 12 * MIB // 999, 2 * MIB) for job in READ_AT}
    growth = rss_growth(_samples(1_000, readings))
    assert growth is not None
    assert growth.grew
    assert not growth.fragmentation
    assert "fragmentation" not in growth.summary()


@given(
    objects=st.lists(st.integers(0, 64 * MIB), min_size=5, max_size=5),
    free=st.lists(st.integers(0, 64 * MIB), min_size=5, max_size=5),
)
def test_growth_is_the_last_reading_minus_the_first(objects: list[int], free: list[int]) -> None:
    """Whatever the readings: the change is last minus first in every part, it grew only
    by at least 1 MiB, and fragmentation only where it grew."""
    readings = {job: _parts(o, f) for job, o, f in zip(READ_AT, objects, free, strict=True)}
    growth = rss_growth(_samples(1_000, readings))
    assert growth is not None
    first, last = readings[READ_AT[0]], readings[READ_AT[-1]]
    assert growth.change == {k: last[k] - first[k] for k in (*BREAKDOWN_PARTS, "rss")}
    assert growth.grew == (growth.rss >= max(MIN_GROWTH_BYTES, 0.05 * first["rss"]))
    assert not growth.fragmentation or growth.grew


def test_one_reading_is_no_growth() -> None:
    assert rss_growth(_samples(10, {0: _parts(MIB, MIB)})) is None
