"""The memray window: trace the last jobs of a run, then name the lines that keep memory.

memray with Python allocators traced costs ~4.4x per job, so it never covers the whole run:
two consecutive windows (``first_jobs``, then ``2 * first_jobs``) at the end of the run, one
Tracker each (a Tracker costs 5-30 ms to start and stop: never one per job). Their jobs are
marked ``traced`` in the samples and left out of every verdict. At the end of the run, still in
the worker process, the capture files are read, sites are classified by
:mod:`harness.analysis.attribution`, and the top Python leak gets a retention path from the
live heap. The capture files stay in the run directory for ``memray flamegraph``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Literal

from harness.analysis.attribution import LeakSite, SiteWindows, leak_sites
from harness.frames import is_user_file
from harness.retention import retention_path

FIRST_FILE: Final = "memray-window-1.bin"
SECOND_FILE: Final = "memray-window-2.bin"
MIN_JOBS_FOR_WINDOW: Final = 300
_MAX_REPLAYED_RECORDS: Final = 3_000_000
SINGLE_BLOCK: Final = 2


def window_plan(jobs: int) -> tuple[int, int] | None:
    """(first traced job, first window length) for a run of ``jobs``, or None when too short.

    The window is 3 x ``first`` jobs, ``first`` = jobs // 30 within 20..100, so tracing costs
    at most ~10 % of the run and the verdicts keep at least 90 % of the jobs."""
    if jobs < MIN_JOBS_FOR_WINDOW:
        return None
    first = max(20, min(100, jobs // 30))
    return jobs - 3 * first, first


class MemrayWindow:
    """Starts and stops the two Trackers around the planned jobs; reads them at the end."""

    def __init__(self, run_dir: Path, start_job: int, first_jobs: int) -> None:
        self.run_dir = run_dir
        self.start_job = start_job
        self.first_jobs = first_jobs
        self.second_jobs = 2 * first_jobs
        self._tracker: Any = None
        self._files = (run_dir / FIRST_FILE, run_dir / SECOND_FILE)
        self.jobs_traced = [0, 0]

    def traced(self, job_index: int) -> bool:
        return self.start_job <= job_index < self.start_job + self.first_jobs + self.second_jobs

    def before_job(self, job_index: int) -> None:
        """Open a window when its first job is next."""
        if job_index == self.start_job:
            self._start(0)
        elif job_index == self.start_job + self.first_jobs:
            self._stop()
            self._start(1)

    def after_job(self, job_index: int) -> None:
        if self.traced(job_index):
            self.jobs_traced[0 if job_index < self.start_job + self.first_jobs else 1] += 1
        if job_index == self.start_job + self.first_jobs + self.second_jobs - 1:
            self._stop()

    def _start(self, window: int) -> None:
        import memray

        self._files[window].unlink(missing_ok=True)
        self._tracker = memray.Tracker(str(self._files[window]), trace_python_allocators=True)
        self._tracker.__enter__()

    def _stop(self) -> None:
        if self._tracker is not None:
            self._tracker.__exit__(None, None, None)
            self._tracker = None

    def finish(self) -> dict[str, Any]:
        """Close any open window; return the leak sites and what they are based on."""
        self._stop()
        first, second = self.jobs_traced
        summary: dict[str, Any] = {
            "traced_from_job": self.start_job,
            "jobs_traced": [first, second],
            "files": [path.name for path in self._files if path.exists()],
        }
        if first == 0 or second == 0:
            summary["sites"] = []
            summary["note"] = "the run ended before both memray windows completed"
            return summary
        windows, stack_ids = _read_windows(self._files)
        sites = leak_sites(windows.values(), first, second, is_user_file)
        if sites:
            sites = _with_retention_path(sites, self._files[1], windows, stack_ids)
        summary["sites"] = [site.to_json() for site in sites]
        return summary


def _allocator_name(allocator: Any) -> str:
    """memray gives the allocator as an int in some records, an enum in others."""
    import memray

    try:
        return memray.AllocatorType(int(allocator)).name
    except ValueError:
        return str(allocator)


def _python_allocator(allocator: Any) -> bool:
    return _allocator_name(allocator).startswith("PYMALLOC")


def _read_windows(
    files: tuple[Path, Path],
) -> tuple[dict[tuple[Any, ...], SiteWindows], dict[tuple[Any, ...], set[int]]]:
    """Per Python stack: what each window kept. Also each stack's ids in the second file."""
    import memray

    windows: dict[tuple[Any, ...], SiteWindows] = {}
    stack_ids: dict[tuple[Any, ...], set[int]] = {}
    for window, path in enumerate(files):
        reader = memray.FileReader(str(path))
        try:
            for record in reader.get_leaked_allocation_records(merge_threads=True):
                stack = tuple(record.stack_trace())
                kind: Literal["python", "native"] = (
                    "python" if _python_allocator(record.allocator) else "native"
                )
                # One surviving block (a list's array, a dict's table) grows by realloc; many
                # surviving blocks accumulate. Keep the two shapes apart: mixed, a one-off
                # table resize would hide the per-job objects at the same line.
                key = (stack, kind, record.n_allocations <= SINGLE_BLOCK)
                site = windows.get(key) or SiteWindows(stack=stack, allocator=kind)
                if window == 0:
                    site = replace(
                        site,
                        first_bytes=site.first_bytes + record.size,
                        first_allocations=site.first_allocations + record.n_allocations,
                    )
                else:
                    site = replace(
                        site,
                        second_bytes=site.second_bytes + record.size,
                        second_allocations=site.second_allocations + record.n_allocations,
                    )
                    stack_ids.setdefault(key, set()).add(record.stack_id)
                windows[key] = site
        finally:
            reader.close()
    return windows, stack_ids


def _with_retention_path(
    sites: list[LeakSite],
    second_file: Path,
    windows: dict[tuple[Any, ...], SiteWindows],
    stack_ids: dict[tuple[Any, ...], set[int]],
) -> list[LeakSite]:
    """Find the retention path of the top per-job Python leak, if there is one."""
    top = next((s for s in sites if s.kind == "per_job" and s.allocator == "python"), None)
    if top is None:
        return sites
    wanted: set[int] = set()
    for key, site in windows.items():
        frame = next((f for f in site.stack if is_user_file(f[1])), None)
        if (
            site.allocator == "python"
            and frame is not None
            and (frame[1], frame[2]) == (top.file, top.line)
        ):
            wanted |= stack_ids.get(key, set())
    addresses = _live_addresses(second_file, wanted)
    path = retention_path(addresses)
    return [replace(s, retention_path=path) if s is top else s for s in sites]


def _live_addresses(path: Path, stack_ids: set[int]) -> set[int]:
    """Addresses allocated at ``stack_ids`` in the capture and not freed before it ended."""
    import memray

    live: set[int] = set()
    reader = memray.FileReader(str(path))
    try:
        for count, record in enumerate(reader.get_allocation_records()):
            if count >= _MAX_REPLAYED_RECORDS:
                break
            name = _allocator_name(record.allocator)
            if name.endswith("FREE"):
                live.discard(record.address)
            elif record.stack_id in stack_ids:
                live.add(record.address)
    finally:
        reader.close()
    return live
