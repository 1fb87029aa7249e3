"""Exact per-round heap deltas: the worker collects garbage and measures its heap at the end
of every round of jobs; after a full collection a warm clean worker's block count does not
move, so a delta is a fact, not an estimate.

The rule is CPython's own ``regrtest -R``: after the warm-up rounds, a leak grows in *every*
round. A clean worker's rounds go up and down or stay flat; one structure growing in steps (a
dict's table doubling) grows in some rounds only. Growth that a bounded cache explains
(its entries grew in the same round, see :mod:`worker_soak.worker.census`) is a cache filling, not a
leak: such a round does not count towards the rule, and two rounds of unexplained growth are
needed beside it.

Pure: samples in, a reading out.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from worker_soak.columns import present
from worker_soak.samples import Samples

#: Rounds a run is cut into (the worker collects at the end of each).
ROUNDS: Final = 10
MIN_ROUND_JOBS: Final = 5
#: Rounds before the first judged delta: lazy imports, caches warming, the first pool.
WARMUP_ROUNDS: Final = 2
#: ... and at least this share of the jobs judged (geometric rounds of a pool's lifetime).
WARMUP_SHARE: Final = 0.2
#: Share of a cache's own growth that growth beside it may be and still count as the cache:
#: sizing its contents was exact on the caches measured here (re's, lru_cache, deque).
CACHE_SIZING_SLACK: Final = 0.05
#: The smallest round a leak's rounds may have, as a share of their median: measured leaks
#: kept the same per round (+-10 %); a clean worker settling for 200 jobs kept 2 to 19
#: blocks per round of 23 jobs.
EVENNESS: Final = 0.25
#: Share of the judged rounds that must have kept memory for a floor trend to fail (a few
#: may keep none: a list's array grows by realloc in steps).
STEADY_SHARE: Final = 0.75
#: Judged deltas the rule needs: with fewer, "every round grew" is too easily chance.
MIN_JUDGED_ROUNDS: Final = 3


def collection_points(jobs: int, judged_jobs: int) -> list[int]:
    """Jobs after which the worker runs a full garbage collection and takes its census: the
    ends of ``ROUNDS`` equal rounds of the judged jobs (at least ``MIN_ROUND_JOBS`` each)."""
    count = min(jobs, judged_jobs)
    if count < 1:
        return []
    length = max(MIN_ROUND_JOBS, -(-count // ROUNDS))
    points = {k * length - 1 for k in range(1, count // length + 1)} | {count - 1}
    return sorted(p for p in points if 0 <= p < count)


@dataclass(frozen=True, slots=True)
class Round:
    """What the heap kept over one round, measured after full collections at both ends."""

    first_job: int
    last_job: int
    blocks: int
    native_bytes: int
    bounded_entries: int
    #: Blocks the bounded caches' contents grew by (see :mod:`worker_soak.worker.census`).
    bounded_blocks: int = 0
    #: Bytes of theirs that live in malloc's heap (tables and objects over 512 bytes).
    bounded_native_bytes: int = 0

    @property
    def jobs(self) -> int:
        return self.last_job - self.first_job

    @property
    def outside_caches(self) -> int:
        """Blocks kept outside the bounded caches."""
        return self.blocks - max(0, self.bounded_blocks)

    @property
    def native_outside_caches(self) -> int:
        return self.native_bytes - max(0, self.bounded_native_bytes)

    @property
    def grew_outside_caches(self) -> bool:
        """More blocks kept than the bounded caches grew by, beyond the slack of sizing
        them (none when no cache grew: then any growth counts, as in regrtest)."""
        return self.outside_caches > CACHE_SIZING_SLACK * max(0, self.bounded_blocks)

    @property
    def explained(self) -> bool:
        """A bounded cache grew in this round and accounts for its growth."""
        return self.bounded_entries > 0 and not self.grew_outside_caches


@dataclass(frozen=True, slots=True)
class CacheFill:
    """A cache that grew over the judged rounds."""

    name: str
    entries_before: int
    entries: int
    #: 0: unbounded; -1: bounded by the user's word, capacity unknown.
    capacity: int

    @property
    def bounded(self) -> bool:
        return self.capacity != 0

    def full_at_job(self, first_job: int, last_job: int) -> int | None:
        """The job at which it will be full, at the rate it filled (None: unknown)."""
        grown = self.entries - self.entries_before
        if self.capacity <= 0 or grown <= 0:
            return None
        return last_job + round((self.capacity - self.entries) * (last_job - first_job) / grown)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "entries": self.entries,
            "entries_grown": self.entries - self.entries_before,
            "capacity": self.capacity if self.capacity > 0 else None,
            "bounded": self.bounded,
        }


@dataclass(frozen=True, slots=True)
class RoundsReading:
    """The judged rounds of one worker's life and what the rule makes of them."""

    rounds: tuple[Round, ...]
    #: The job whose collection is the baseline of the first judged round.
    baseline_job: int
    block_bytes: float
    caches: tuple[CacheFill, ...]
    #: Tracked object types that grew over the judged rounds, most first.
    grown_types: tuple[tuple[str, int], ...]

    @property
    def judged(self) -> bool:
        return len(self.rounds) >= MIN_JUDGED_ROUNDS

    @property
    def grew_every_round(self) -> bool:
        return self.judged and all(r.blocks > 0 for r in self.rounds)

    @property
    def unexplained(self) -> tuple[Round, ...]:
        return tuple(r for r in self.rounds if not r.explained)

    @property
    def leak(self) -> bool:
        """Every judged round kept more Python objects than its bounded caches grew by, and
        evenly: a leak keeps about the same per job in every round, while a structure still
        settling (a warm-up longer than the warm-up rounds) keeps by fits and starts."""
        return (
            self.judged
            and all(r.grew_outside_caches for r in self.rounds)
            and even([r.outside_caches / r.jobs for r in self.rounds])
        )

    def unexplained_blocks_per_job(self) -> float:
        """Median over the judged rounds of the blocks kept per job outside bounded caches."""
        return statistics.median(r.outside_caches / r.jobs for r in self.rounds)

    @property
    def cache_filling(self) -> bool:
        """Every round grew, not every one beyond its bounded caches' growth, and bounded
        caches grew in at least half of them."""
        filled = sum(r.bounded_entries > 0 for r in self.rounds)
        return self.grew_every_round and not self.leak and 2 * filled >= len(self.rounds)

    @property
    def last_job(self) -> int:
        return self.rounds[-1].last_job if self.rounds else self.baseline_job

    def heap_bytes(self, r: Round) -> float:
        """Bytes the heap kept over a round outside the bounded caches."""
        return r.native_outside_caches + self.block_bytes * r.outside_caches

    def net_bytes_per_job(self) -> float:
        """Bytes the heap kept per job from the baseline to the last collection: exact,
        both ends after full collections."""
        return _net(self, self.rounds)

    def blocks_per_job(self) -> float:
        """Median over the judged rounds of the Python blocks kept per job."""
        if not self.rounds:
            return 0.0
        return statistics.median(r.blocks / r.jobs for r in self.rounds)

    def unexplained_bytes_per_job(self) -> float:
        """Median over the judged rounds of the bytes kept per job outside bounded caches."""
        return statistics.median(self.heap_bytes(r) / r.jobs for r in self.rounds)

    def steady(self) -> bool:
        """Whether the heap outside bounded caches grew in ``STEADY_SHARE`` of the judged
        rounds and evenly (a heap wandering as a random walk, or settling, does neither)."""
        if not self.rounds:
            return False
        rates = [self.heap_bytes(r) / r.jobs for r in self.rounds]
        grown = sum(rate > 0 for rate in rates) / len(rates)
        return grown >= STEADY_SHARE and even(sorted(rates)[len(rates) // 4 :])

    def halves(self) -> tuple[float, float]:
        """Bytes per job kept outside bounded caches over the first and the second half of
        the judged rounds."""
        middle = len(self.rounds) // 2
        return _net(self, self.rounds[:middle]), _net(self, self.rounds[middle:])

    def block_halves(self) -> tuple[float, float]:
        """Python blocks per job kept outside bounded caches over the first and the second
        half of the judged rounds: what the leak rule judges, without the native heap's
        steps (a dict's table doubling in one round)."""
        middle = len(self.rounds) // 2
        return (
            _per_job(self.rounds[:middle], lambda r: r.outside_caches),
            _per_job(self.rounds[middle:], lambda r: r.outside_caches),
        )

    def floor_rate(self) -> float | None:
        """Bytes per job between the lowest collected heap of the judged span's first half
        and that of its second half: a buffer flushed every N jobs (a sawtooth) keeps
        returning to its floor, a leak's floor rises. None with too few collections."""
        if len(self.rounds) < 2 * MIN_JUDGED_ROUNDS - 2:
            return None
        level, points = 0.0, [(self.baseline_job, 0.0)]
        for r in self.rounds:
            level += self.heap_bytes(r)
            points.append((r.last_job, level))
        middle = (points[0][0] + points[-1][0]) / 2
        first = min((p for p in points if p[0] <= middle), key=lambda p: p[1])
        second = min((p for p in points if p[0] > middle), key=lambda p: p[1])
        return (second[1] - first[1]) / max(1, second[0] - first[0])

    def settled(self, budget: float) -> tuple[int, float, float] | None:
        """The first baseline (a warm-up of 0 to half the judged rounds) from which the heap
        kept under ``budget`` bytes per job over the rest and over its second half:
        (baseline job, bytes per job, bytes per job over the second half); None if none."""
        for skip in range(len(self.rounds) // 2 + 1):
            rest = self.rounds[skip:]
            if len(rest) < MIN_JUDGED_ROUNDS:
                break
            net, late = _net(self, rest), _net(self, rest[len(rest) // 2 :])
            if net < budget and late < budget:
                return rest[0].first_job, net, late
        return None

    def growing(self, bounded: bool) -> tuple[CacheFill, ...]:
        return tuple(
            c for c in self.caches if c.bounded == bounded and c.entries > c.entries_before
        )

    def describe_types(self) -> str:
        """``"2,100 dict, 1,050 list"``: what the tracked objects that grew are."""
        return ", ".join(
            f"{count:,} {name.removeprefix('builtins.')}" for name, count in self.grown_types
        )

    def to_json(self) -> dict[str, object]:
        return {
            "baseline_job": self.baseline_job,
            "rounds": [
                {
                    "jobs": [r.first_job + 1, r.last_job],
                    "blocks": r.blocks,
                    "native_bytes": r.native_bytes,
                    "bounded_cache_entries": r.bounded_entries,
                    "bounded_cache_blocks": r.bounded_blocks,
                    "bounded_cache_native_bytes": r.bounded_native_bytes,
                }
                for r in self.rounds
            ],
            "grew_every_round": self.grew_every_round,
            "explained_by_bounded_caches": sum(r.explained for r in self.rounds),
            "growing_types": dict(self.grown_types),
            "caches": [c.to_json() for c in self.caches if c.entries > c.entries_before],
        }


def even(rates: Sequence[float]) -> bool:
    """No rate under ``EVENNESS`` of their median (all of them positive)."""
    if not rates:
        return False
    middle = statistics.median(rates)
    return middle > 0 and min(rates) >= EVENNESS * middle


def _net(reading: RoundsReading, rounds: Sequence[Round]) -> float:
    return _per_job(rounds, reading.heap_bytes)


def _per_job(rounds: Sequence[Round], kept: Callable[[Round], float]) -> float:
    """What ``rounds`` kept, per job (``kept``: bytes or blocks of one round)."""
    jobs = sum(r.jobs for r in rounds)
    return sum(kept(r) for r in rounds) / jobs if jobs else 0.0


def read_rounds(samples: Samples, block_bytes: float) -> RoundsReading | None:
    """The rounds of ``samples`` (one worker's life, jobs numbered from 0) after warm-up;
    None when the worker never collected."""
    blocks = samples.gauges.get("py_blocks_collected", ())
    points = list(present(blocks)[0])
    if len(points) < 2:
        return None
    native = samples.gauges.get("native_heap_collected_bytes", ())
    bounded = samples.gauges.get("cache_bounded_entries", ())
    held = samples.gauges.get("cache_bounded_blocks", ())
    held_bytes = samples.gauges.get("cache_bounded_native_bytes", ())
    start = max(points[min(WARMUP_ROUNDS - 1, len(points) - 1)], WARMUP_SHARE * points[-1])
    judged = [p for p in points if p >= start]

    def value(column: Sequence[Any], job: int) -> int:
        return int(column[job] or 0) if column else 0

    rounds = tuple(
        Round(
            first_job=a,
            last_job=b,
            blocks=value(blocks, b) - value(blocks, a),
            native_bytes=value(native, b) - value(native, a),
            bounded_entries=value(bounded, b) - value(bounded, a),
            bounded_blocks=value(held, b) - value(held, a),
            bounded_native_bytes=value(held_bytes, b) - value(held_bytes, a),
        )
        for a, b in itertools.pairwise(judged)
    )
    return RoundsReading(
        rounds=rounds,
        baseline_job=judged[0],
        block_bytes=block_bytes,
        caches=_cache_fills(samples, judged),
        grown_types=_grown_types(samples, judged),
    )


def _cache_fills(samples: Samples, judged: Sequence[int]) -> tuple[CacheFill, ...]:
    column: Sequence[Any] = samples.gauges.get("caches", ())
    if not column or len(judged) < 2:
        return ()
    before = _caches_at(column[judged[0]])
    after = _caches_at(column[judged[-1]])
    return tuple(
        CacheFill(name, before.get(name, (0, capacity))[0], entries, capacity)
        for name, (entries, capacity) in after.items()
    )


def _caches_at(value: object) -> dict[str, tuple[int, int]]:
    if not isinstance(value, list):
        return {}
    return {str(c[0]): (int(c[1]), int(c[2])) for c in value if isinstance(c, list) and len(c) == 3}


def _grown_types(samples: Samples, judged: Sequence[int]) -> tuple[tuple[str, int], ...]:
    """Types listed as grown at the judged collections, summed; only those that grew in
    every judged round are kept (one-off growth is not what a leak is made of)."""
    column: Sequence[Any] = samples.gauges.get("types_grown", ())
    if not column:
        return ()
    per_round: list[Mapping[str, int]] = [
        column[job] if isinstance(column[job], dict) else {} for job in judged[1:]
    ]
    if not per_round:
        return ()
    names = set.intersection(*(set(grown) for grown in per_round))
    totals = {name: sum(int(grown[name]) for grown in per_round) for name in names}
    return tuple(sorted(totals.items(), key=lambda item: -item[1]))[:5]
