"""Leak sites from two consecutive memray windows: which of the user's lines keep memory, and
whether they keep more with every job (a leak) or only once (a cache, the last job's state).
``bytes_kept`` is what the site held when the second window closed.

The worker is traced over a window of ``w1`` jobs, then a second window of ``w2 = 2 * w1``.
For each allocation stack, memray reports what each window allocated and had not freed when
it closed. A leak keeps the same amount per job in both windows; a cache filled once shows in
one window only; state held from the last job is the same *total* in both, so half the rate
in the longer window. Hence: per job when both windows kept memory there and the second
window's rate is at least ``PER_JOB_RATE_RATIO`` of the first's.

Pure: the caller reads the capture files and says which files are the user's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

PER_JOB_RATE_RATIO: Final = 0.75
MAX_SITES: Final = 20
MAX_STACK: Final = 30

Frame = tuple[str, str, int]  # function, file, line; innermost first
SiteKind = Literal["per_job", "once", "cache", "replaced"]
#: Module-level caches bounded by construction that retention paths start from.
STDLIB_BOUNDED: Final = ("re._cache", "re._cache2")


@dataclass(frozen=True, slots=True)
class SiteWindows:
    """What one allocation stack kept alive in each window."""

    stack: tuple[Frame, ...]
    allocator: Literal["python", "native"]
    first_bytes: int = 0
    first_allocations: int = 0
    second_bytes: int = 0
    second_allocations: int = 0


@dataclass(frozen=True, slots=True)
class LeakSite:
    """A line of the user's code that keeps memory, in ``leak_sites`` of ``result.json``."""

    file: str
    line: int
    function: str
    kind: SiteKind
    bytes_per_job: float
    allocations_per_job: float
    bytes_kept: int
    allocator: str
    stack: tuple[str, ...]
    retention_path: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "kind": self.kind,
            "bytes_per_job": self.bytes_per_job,
            "allocations_per_job": self.allocations_per_job,
            "bytes_kept": self.bytes_kept,
            "allocator": self.allocator,
            "stack": list(self.stack),
            "retention_path": list(self.retention_path),
        }


def classify(site: SiteWindows, first_jobs: int, second_jobs: int) -> SiteKind:
    """``per_job`` when both windows kept memory at comparable rates, else ``once``."""
    return rate(site, first_jobs, second_jobs)[0]


def rate(site: SiteWindows, first_jobs: int, second_jobs: int) -> tuple[SiteKind, float, float]:
    """(kind, bytes per job, allocations per job) of one site.

    Two shapes of per-job growth: many allocations that all survive (objects appended to a
    list), and one block that keeps being reallocated bigger (the list's own array). The
    second shows as a single surviving block per window, bigger in the second window; its
    rate is the difference over the second window's jobs.
    """
    if first_jobs < 1 or second_jobs < 1:
        raise ValueError(f"window lengths must be >= 1 job, got {first_jobs}, {second_jobs}")
    jobs = first_jobs + second_jobs
    if site.first_bytes <= 0 or site.second_bytes <= 0:
        return "once", 0.0, 0.0
    if site.first_allocations <= 2 and site.second_allocations <= 2:
        grown = site.second_bytes - site.first_bytes
        if grown > 0 and grown / second_jobs >= 1:
            return "per_job", grown / second_jobs, 0.0
        return "once", 0.0, 0.0
    first_rate = site.first_bytes / first_jobs
    second_rate = site.second_bytes / second_jobs
    if site.second_allocations >= 2 and second_rate >= PER_JOB_RATE_RATIO * first_rate:
        allocations = (site.first_allocations + site.second_allocations) / jobs
        return "per_job", (site.first_bytes + site.second_bytes) / jobs, allocations
    return "once", 0.0, 0.0


def user_frame(stack: Sequence[Frame], is_user_file: Callable[[str], bool]) -> Frame | None:
    """The innermost frame in the user's own code, if any."""
    for frame in stack:
        if is_user_file(frame[1]):
            return frame
    return None


def leak_sites(
    sites: Iterable[SiteWindows],
    first_jobs: int,
    second_jobs: int,
    is_user_file: Callable[[str], bool],
) -> list[LeakSite]:
    """Sites merged by the user's line, per-job leaks first, each ordered by bytes per job."""
    merged: dict[tuple[str, int, SiteKind], list[tuple[SiteWindows, float, float]]] = {}
    for site in sites:
        frame = user_frame(site.stack, is_user_file)
        if frame is None:
            continue
        kind, per_job, allocations = rate(site, first_jobs, second_jobs)
        merged.setdefault((frame[1], frame[2], kind), []).append((site, per_job, allocations))
    found = []
    for (file, line, kind), group in merged.items():
        biggest = max(group, key=lambda item: item[0].first_bytes + item[0].second_bytes)[0]
        frame = user_frame(biggest.stack, is_user_file)
        assert frame is not None
        found.append(
            LeakSite(
                file=file,
                line=line,
                function=frame[0],
                kind=kind,
                bytes_per_job=sum(item[1] for item in group),
                allocations_per_job=sum(item[2] for item in group),
                bytes_kept=sum(item[0].second_bytes for item in group),
                allocator=biggest.allocator,
                stack=tuple(
                    f"{fn} {path}:{lineno}" for fn, path, lineno in biggest.stack[:MAX_STACK]
                ),
            )
        )
    found.sort(key=lambda s: (s.kind != "per_job", -s.bytes_per_job, -s.bytes_kept))
    return found[:MAX_SITES]


def settle_sites(
    sites: Sequence[Mapping[str, Any]], memory: str, bounded: Collection[str]
) -> list[dict[str, Any]]:
    """Per-job sites as the memory verdict and their retention paths read them.

    memray's windows see what a site kept over a few dozen jobs; a bounded cache filling, or
    a structure replacing its entries, keeps memory there too. A per-job site whose
    retention path starts at a cache bounded by construction (``bounded``: ``re._cache``,
    an ``lru_cache`` with a maxsize, a declared cache) is ``cache``; when the memory verdict
    passed, the exact rounds saw no growth, so what the windows kept replaced what they
    freed: ``replaced``. Either way it is no longer a per-job leak site."""
    settled = []
    for site in sites:
        kind = site.get("kind")
        path = site.get("retention_path") or []
        if kind == "per_job" and path and str(path[0]) in bounded:
            kind = "cache"
        elif kind == "per_job" and memory == "pass":
            kind = "replaced"
        settled.append({**site, "kind": kind})
    settled.sort(key=lambda s: (s["kind"] != "per_job", -float(s["bytes_per_job"])))
    return settled


def bounded_roots(caches: Iterable[object]) -> set[str]:
    """Names retention paths give the bounded caches a census listed
    (``[name, entries, capacity]``; a declared ``module:attr`` reads ``module.attr``)."""
    names = set(STDLIB_BOUNDED)
    for cache in caches:
        if isinstance(cache, list) and len(cache) == 3 and cache[2]:
            names.add(str(cache[0]).replace(":", "."))
    return names
