"""What a growth in resident memory is made of: objects, or free memory the allocators keep.

A worker's RSS can grow with no object kept: glibc keeps freed chunks in its arenas (one per
thread that allocated, up to 8 per core), pymalloc keeps arenas with a single live block.
The memory verdict judges objects; this reading says what the RSS growth beside it is, from
the breakdowns the worker read (``worker_soak.worker.breakdown``), so a user knows whether
the remedy is a code fix or an allocator setting (``soak allocators``).

It is a description, not a test: the reading after the first job against the last, so the
warm-up is in it (imports and caches show as objects). RSS grew when it rose by at least
``MIN_GROWTH_BYTES`` and ``MIN_GROWTH_SHARE`` of where it was.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Final

from worker_soak.analysis.checkpoint_jobs import BREAKDOWN_PARTS
from worker_soak.analysis.checkpoints import breakdown_at
from worker_soak.columns import present
from worker_soak.samples import Samples
from worker_soak.units import format_bytes

MIN_GROWTH_BYTES: Final = 1 << 20
MIN_GROWTH_SHARE: Final = 0.05
#: A growth is fragmentation when the free memory kept is at least this share of it.
FRAGMENTATION_SHARE: Final = 0.5


@dataclass(frozen=True, slots=True)
class RssGrowth:
    """The change in each part of resident memory between two readings."""

    from_job: int
    to_job: int
    rss_from: int
    change: dict[str, int]

    @property
    def rss(self) -> int:
        return self.change["rss"]

    @property
    def objects(self) -> int:
        return self.change["python_objects"] + self.change["native_in_use"]

    @property
    def free(self) -> int:
        return self.change["python_free"] + self.change["native_free"]

    @property
    def grew(self) -> bool:
        return self.rss >= max(MIN_GROWTH_BYTES, MIN_GROWTH_SHARE * self.rss_from)

    @property
    def fragmentation(self) -> bool:
        return self.grew and self.free >= FRAGMENTATION_SHARE * self.rss

    def summary(self) -> str:
        span = f"from job {self.from_job + 1:,} to job {self.to_job + 1:,}"
        if not self.grew:
            return f"RSS flat {span} ({_signed(self.rss)})"
        what = (
            f"RSS grew {format_bytes(self.rss)} {span}: {_signed(self.free)} of it is free "
            f"memory the allocators keep (C allocator {_signed(self.change['native_free'])}, "
            f"Python's {_signed(self.change['python_free'])}), {_signed(self.objects)} is "
            f"objects (Python {_signed(self.change['python_objects'])}, native "
            f"{_signed(self.change['native_in_use'])})"
        )
        if self.fragmentation:
            what += (
                "; fragmentation, not a leak: an allocator setting is the remedy "
                "(compare them with: soak allocators)"
            )
        return what

    def to_json(self) -> dict[str, object]:
        return {
            "from_job": self.from_job,
            "to_job": self.to_job,
            "rss_from_bytes": self.rss_from,
            "change_bytes": dict(self.change),
            "grew": self.grew,
            "fragmentation": self.fragmentation,
            "summary": self.summary(),
        }


def rss_growth(samples: Samples, from_job: int = 0) -> RssGrowth | None:
    """The first reading at or after ``from_job`` against the last; None with fewer than
    two readings there."""
    column = samples.gauges.get("mem_rss_bytes")
    if column is None:
        return None
    jobs, _ = present(column)
    start = bisect.bisect_left(jobs, from_job)
    if len(jobs) - start < 2:
        return None
    first = breakdown_at(samples, jobs[start])
    last = breakdown_at(samples, jobs[-1])
    if first is None or last is None:
        return None
    change = {part: last[part] - first[part] for part in (*BREAKDOWN_PARTS, "rss")}
    return RssGrowth(first["job"], last["job"], first["rss"], change)


def _signed(value: int) -> str:
    return ("-" if value < 0 else "+") + format_bytes(abs(value))
