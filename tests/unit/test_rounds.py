"""Exact rounds: the regrtest rule with bounded caches accounted for (pure functions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from worker_soak.analysis.rounds import ROUNDS, Round, RoundsReading, collection_points


def _reading(rounds: list[Round]) -> RoundsReading:
    return RoundsReading(tuple(rounds), 20, 32.0, (), ())


def _round(blocks: int, cache_blocks: int = 0, entries: int = 0) -> Round:
    return Round(0, 30, blocks, 0, entries, cache_blocks)


@given(st.integers(1, 100_000), st.integers(1, 100_000))
def test_collection_points_cut_the_judged_jobs_into_rounds(jobs: int, judged: int) -> None:
    """At most ROUNDS (+1) points, inside the judged jobs, ending at the last judged job."""
    points = collection_points(jobs, judged)
    assert points == sorted(set(points))
    assert len(points) <= ROUNDS + 1
    assert points[-1] == min(jobs, judged) - 1
    assert all(0 <= p < min(jobs, judged) for p in points)


@given(st.integers(1, 500), st.lists(st.floats(1.0, 2.0), min_size=3, max_size=12))
def test_even_growth_in_every_round_with_no_cache_is_a_leak(base: int, spread: list[float]) -> None:
    """Growth in every judged round, within a factor of two, no bounded cache: a leak."""
    assert _reading([_round(max(1, round(base * f))) for f in spread]).leak


def test_growth_by_fits_and_starts_is_not_a_leak_by_rounds() -> None:
    """A clean worker still settling kept 19, 8, 2, 18, 4, 17, 17 blocks per round of 23
    jobs: every round grew, but not as a leak does (evenly)."""
    assert not _reading([_round(b) for b in (19, 8, 2, 18, 4, 17, 17)]).leak


@given(st.lists(st.integers(-500, 500), min_size=3, max_size=12))
def test_a_round_that_did_not_grow_clears_the_rule(blocks: list[int]) -> None:
    """One round without growth and the rule does not call it a leak."""
    assert not _reading([_round(b) for b in [*blocks, 0]]).leak


@given(st.integers(1, 20), st.lists(st.integers(3, 30), min_size=3, max_size=10))
def test_cache_growth_is_subtracted_before_the_rule(per_entry: int, entries: list[int]) -> None:
    """Rounds that grew exactly by their caches' contents are a cache filling; growth beside
    the cache over 5 % of the cache's own (31 blocks beside <= 600) in every round is a leak."""
    filling = [_round(per_entry * e, per_entry * e, e) for e in entries]
    assert _reading(filling).cache_filling
    assert not _reading(filling).leak
    leaking = [_round(per_entry * e + 31, per_entry * e, e) for e in entries]
    assert _reading(leaking).leak
