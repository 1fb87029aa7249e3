"""Leak sites from two consecutive memray windows: which of the user's lines keep memory, and
whether they keep more with every job (a leak) or only once (a cache, the last job's state).

The worker is traced over a window of ``w1`` jobs, then a second window of ``w2 = 2 * w1``.
For each allocation stack, memray reports what each window allocated and had not freed when
it closed. A leak keeps the same amount per job in both windows; a cache filled once shows in
one window only; state held from the last job is the same *total* in both, so half the rate
in the longer window. Hence: per job when both windows kept memory there and the second
window's rate is at least ``PER_JOB_RATE_RATIO`` of the first's.

Pure: the caller reads the capture files and says which files are the user's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

PER_JOB_RATE_RATIO: Final = 0.75
MAX_SITES: Final = 20
MAX_STACK: Final = 30

Frame = tuple[str, str, int]  # function, file, line; innermost first
SiteKind = Literal["per_job", "once"]


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
    if first_jobs < 1 or second_jobs < 1:
        raise ValueError(f"window lengths must be >= 1 job, got {first_jobs}, {second_jobs}")
    if site.first_bytes <= 0 or site.second_bytes <= 0 or site.second_allocations < 2:
        return "once"
    first_rate = site.first_bytes / first_jobs
    second_rate = site.second_bytes / second_jobs
    return "per_job" if second_rate >= PER_JOB_RATE_RATIO * first_rate else "once"


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
    merged: dict[tuple[str, int, SiteKind], list[SiteWindows]] = {}
    for site in sites:
        frame = user_frame(site.stack, is_user_file)
        if frame is None:
            continue
        kind = classify(site, first_jobs, second_jobs)
        merged.setdefault((frame[1], frame[2], kind), []).append(site)
    jobs = first_jobs + second_jobs
    found = []
    for (file, line, kind), group in merged.items():
        kept = sum(s.first_bytes + s.second_bytes for s in group)
        allocations = sum(s.first_allocations + s.second_allocations for s in group)
        biggest = max(group, key=lambda s: s.first_bytes + s.second_bytes)
        frame = user_frame(biggest.stack, is_user_file)
        assert frame is not None
        found.append(
            LeakSite(
                file=file,
                line=line,
                function=frame[0],
                kind=kind,
                bytes_per_job=kept / jobs if kind == "per_job" else 0.0,
                allocations_per_job=allocations / jobs if kind == "per_job" else 0.0,
                bytes_kept=kept,
                allocator=biggest.allocator,
                stack=tuple(
                    f"{fn} {path}:{lineno}" for fn, path, lineno in biggest.stack[:MAX_STACK]
                ),
            )
        )
    found.sort(key=lambda s: (s.kind != "per_job", -s.bytes_per_job, -s.bytes_kept))
    return found[:MAX_SITES]
