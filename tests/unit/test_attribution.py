"""Leak sites from two memray windows: per-job leaks told apart from caches and state."""

from __future__ import annotations

import pytest

from worker_soak.analysis.attribution import SiteWindows, classify, leak_sites, rate

USER = "/srv/app/billing/tasks.py"
LIBRARY = "/usr/lib/python3.11/json/decoder.py"


def is_user(filename: str) -> bool:
    return filename.startswith("/srv/app/")


def site(
    first: tuple[int, int], second: tuple[int, int], line: int = 12, allocator: str = "python"
) -> SiteWindows:
    stack = (("raw_decode", LIBRARY, 353), ("handle", USER, line), ("main", USER, 80))
    return SiteWindows(stack, allocator, first[0], first[1], second[0], second[1])  # type: ignore[arg-type]


def test_steady_leak_is_per_job_at_its_rate() -> None:
    """100 B/job in both windows (100 and 200 jobs) is a per-job leak of 100 B/job."""
    kind, per_job, allocations = rate(site((10_000, 100), (20_000, 200)), 100, 200)
    assert kind == "per_job"
    assert per_job == pytest.approx(100)
    assert allocations == pytest.approx(1)


def test_last_jobs_state_is_once() -> None:
    """The same 5 KB kept at the end of both windows is state, not a leak."""
    assert classify(site((5_000, 40), (5_000, 40)), 100, 200) == "once"


def test_cache_filled_in_the_first_window_only_is_once() -> None:
    """Nothing new kept in the second window: a cache that filled."""
    assert classify(site((50_000, 300), (0, 0)), 100, 200) == "once"


def test_growing_single_block_is_per_job() -> None:
    """One realloc'd block, 800 B then 2,400 B: 8 B/job over the second window's 200 jobs."""
    kind, per_job, _ = rate(site((800, 1), (2_400, 1)), 100, 200)
    assert kind == "per_job"
    assert per_job == pytest.approx(8)


def test_site_is_the_innermost_user_frame_not_the_library() -> None:
    """The JSON decoder allocated, but the user's line 12 is named."""
    (found,) = leak_sites([site((10_000, 100), (20_000, 200))], 100, 200, is_user)
    assert (found.file, found.line, found.function) == (USER, 12, "handle")
    assert found.stack[0] == f"raw_decode {LIBRARY}:353"


def test_sites_without_user_frames_are_dropped() -> None:
    """Allocations made entirely inside libraries name no user line."""
    library_only = SiteWindows((("f", LIBRARY, 1),), "python", 1_000, 10, 2_000, 20)
    assert leak_sites([library_only], 100, 200, is_user) == []


def test_per_job_leaks_come_first_by_rate() -> None:
    """A big cache does not outrank a small leak; leaks are ordered by bytes per job."""
    sites = [
        site((1_000_000, 5), (0, 0), line=5),  # a cache, big
        site((3_000, 100), (6_000, 200), line=7),  # 30 B/job
        site((10_000, 100), (20_000, 200), line=9),  # 100 B/job
    ]
    found = leak_sites(sites, 100, 200, is_user)
    assert [(s.line, s.kind) for s in found] == [(9, "per_job"), (7, "per_job"), (5, "once")]


def test_window_lengths_must_be_positive() -> None:
    """A window of no jobs is a caller error."""
    with pytest.raises(ValueError, match="window lengths must be >= 1 job"):
        rate(site((1, 1), (1, 1)), 0, 200)
