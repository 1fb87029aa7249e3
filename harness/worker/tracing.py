"""The memray window: trace the last jobs of a run, then name the lines that keep memory.

memray with Python allocators traced costs ~3.4x per job (measured on MIME-email jobs), so it
never covers the whole run. Three consecutive windows at the end of the run, one Tracker each
(a Tracker costs 5-30 ms to start and stop: never one per job):

1. ``first_jobs`` jobs and 2. ``2 * first_jobs`` jobs, in memray's aggregated format (tiny
   files, read in milliseconds): what each line kept, to tell per-job leaks from caches
   (:mod:`worker_soak.analysis.attribution`);
3. a few jobs in the full format with native frames, whose allocation addresses let the top
   Python leak be found on the live heap for its retention path
   (:mod:`worker_soak.worker.retention`), and whose native stacks show where a native leak
   allocates (``sqlite3Malloc`` <- ...).
   Reading a full capture of 100 email jobs takes 0.5 s; of 10 jobs, a tenth of that.

The windows are read by a process of their own (:mod:`worker_soak.worker.site_reader`) while
the worker goes on; the worker then only walks its heap for the retention path.

Their jobs are marked ``traced`` in the samples and left out of every verdict. The files stay
in the run directory for ``memray flamegraph``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from worker_soak.analysis.attribution import MAX_STACK, LeakSite, SiteWindows, leak_sites
from worker_soak.worker.frames import is_user_file
from worker_soak.worker.retention import retention_path

WINDOW_FILES: Final = ("memray-window-1.bin", "memray-window-2.bin", "memray-addresses.bin")
MIN_JOBS_FOR_WINDOW: Final = 300
ADDRESS_JOBS: Final = 10
#: What the reading process (:meth:`MemrayWindow.read_beside`) leaves for the worker; removed
#: once read.
SITES_FILE: Final = "memray-sites.json"
#: How long the worker waits for that reading before reading the windows itself.
READING_TIMEOUT_S: Final = 120.0
MAX_FIRST_WINDOW: Final = 30
SINGLE_BLOCK: Final = 2


def window_plan(jobs: int) -> tuple[int, int] | None:
    """(first traced job, first window length) for a run of ``jobs``, or None when too short.

    ``first`` = jobs // 60 within 20..30; the windows take 3 x ``first`` + ``ADDRESS_JOBS``
    jobs: 100 of 10,000 (1 %), so the verdicts keep 99 % of a long run. Not more: a traced
    job runs ~4x as long (~9x with native frames), so windows of 50 + 100 + 10 jobs of a
    1.4-ms job took 0.83 s, 6 % of a 10,000-job run; at 30 jobs the first window still sees
    three leaks of a worker that leaks on every tenth job (``tests/zoo/leak_intermittent``)."""
    if jobs < MIN_JOBS_FOR_WINDOW:
        return None
    first = max(20, min(MAX_FIRST_WINDOW, jobs // 60))
    return jobs - 3 * first - ADDRESS_JOBS, first


def window_jobs(first_jobs: int) -> int:
    """How many jobs the windows take when the first has ``first_jobs``."""
    return 3 * first_jobs + ADDRESS_JOBS


class MemrayWindow:
    """Starts and stops the Trackers around the planned jobs; reads them at the end."""

    def __init__(self, run_dir: Path, start_job: int, first_jobs: int) -> None:
        self.run_dir = run_dir
        self.lengths = (first_jobs, 2 * first_jobs, ADDRESS_JOBS)
        self.starts = (start_job, start_job + first_jobs, start_job + 3 * first_jobs)
        self.end_job = self.starts[2] + ADDRESS_JOBS
        self.files = tuple(run_dir / name for name in WINDOW_FILES)
        self.jobs_traced = [0, 0, 0]
        self._tracker: Any = None
        self._reading: subprocess.Popen[bytes] | None = None
        self._read_asked = False

    def traced(self, job_index: int) -> bool:
        return self.starts[0] <= job_index < self.end_job

    def _window_of(self, job_index: int) -> int:
        return 2 if job_index >= self.starts[2] else 1 if job_index >= self.starts[1] else 0

    def before_job(self, job_index: int) -> None:
        """Open a window when its first job is next."""
        if job_index in self.starts:
            self._stop()
            self._start(self.starts.index(job_index))

    def after_job(self, job_index: int) -> None:
        if self.traced(job_index):
            self.jobs_traced[self._window_of(job_index)] += 1
        if job_index == self.end_job - 1:
            self._stop()

    def _start(self, window: int) -> None:
        import memray

        self.files[window].unlink(missing_ok=True)
        file_format = (
            memray.FileFormat.ALL_ALLOCATIONS
            if window == 2
            else memray.FileFormat.AGGREGATED_ALLOCATIONS
        )
        self._tracker = memray.Tracker(
            str(self.files[window]),
            trace_python_allocators=True,
            native_traces=window == 2,
            file_format=file_format,
        )
        # Entered from a helper thread: entered in this one, p frames below the code that
        # later allocates, memray (1.20, CPython 3.11) counts the p returns against the
        # frames pushed after them, and cuts that many innermost frames off every stack
        # (measured: a task called from the frame a Celery signal handler started the
        # window under was recorded with an empty stack). Entered elsewhere, this thread's
        # stack is captured whole.
        starter = threading.Thread(target=self._tracker.__enter__, name="soak-memray-start")
        starter.start()
        starter.join()

    def _stop(self) -> None:
        if self._tracker is not None:
            # Garbage waiting for the collector is not kept memory: free it while traced, so
            # memray does not count it as leaked (pytest-memray's leak check does not).
            gc.collect()
            self._tracker.__exit__(None, None, None)
            self._tracker = None

    @property
    def complete(self) -> bool:
        """Every window ran its jobs and is closed."""
        return self._tracker is None and self.jobs_traced[2] == ADDRESS_JOBS

    def read_beside(self) -> None:
        """Read the closed windows in a process of their own, off this worker's core, while
        the worker goes on (the comparison with fresh workers): the files need none of its
        heap, only the retention path does. Read here after the comparison, they took
        0.2-0.3 s of a 10,000-job run; read here before it, they moved the aged worker's
        probe jobs against fresh ones' (1.06-1.11x on a clean worker). A new interpreter,
        not a fork: a forked copy's pages would make the worker's first writes copy them."""
        if self._read_asked:
            return
        self._read_asked = True
        first, second, addressed = self.jobs_traced
        command = [sys.executable, "-m", "worker_soak.worker.site_reader", str(self.run_dir)]
        try:
            self._reading = subprocess.Popen(
                [*command, str(first), str(second), str(addressed)], stdin=subprocess.DEVNULL
            )
        except OSError:
            return  # read here at the end, as without it
        if hasattr(os, "sched_getaffinity"):
            other = set(range(os.cpu_count() or 1)) - os.sched_getaffinity(0)
            with contextlib.suppress(OSError):
                if other:
                    os.sched_setaffinity(self._reading.pid, other)

    def finish(self, roots: Mapping[str, object] | None = None) -> dict[str, Any]:
        """Close any open window; return the leak sites and what they are based on."""
        self._stop()
        first, second, addressed = self.jobs_traced
        summary: dict[str, Any] = {
            "traced_from_job": self.starts[0],
            "jobs_traced": [first, second, addressed],
            "files": [path.name for path in self.files if path.exists()],
        }
        if first == 0 or second == 0:
            summary["sites"] = []
            summary["note"] = "the run ended before the memray windows completed"
            return summary
        found = self._read_beside_result() or read_sites(self.files, first, second, addressed)
        sites, top, live = found
        if top is not None:
            sites[top]["retention_path"] = list(retention_path(set(live), roots or {}))
        summary["sites"] = sites
        return summary

    def _read_beside_result(self) -> tuple[list[dict[str, Any]], int | None, list[int]] | None:
        """What the reading process found, or None (not started, failed, too slow)."""
        if self._reading is None:
            return None
        answer = self.run_dir / SITES_FILE
        try:
            if self._reading.wait(READING_TIMEOUT_S) != 0:
                return None
            found = json.loads(answer.read_text(encoding="utf-8"))
            return list(found["sites"]), found["top"], list(found["live"])
        except (subprocess.TimeoutExpired, OSError, ValueError, KeyError):
            self._reading.kill()
            return None
        finally:
            answer.unlink(missing_ok=True)


def read_sites(
    files: Sequence[Path], first: int, second: int, addressed: int
) -> tuple[list[dict[str, Any]], int | None, list[int]]:
    """The leak sites of closed windows (as JSON), the index of the one whose retention path
    is wanted (the top per-job Python leak, when the address capture was read) and the
    addresses of blocks allocated there and still alive. Needs none of the worker's heap."""
    windows = _read_windows(files[0], files[1])
    sites = leak_sites(windows.values(), first, second, is_user_file)
    top: LeakSite | None = None
    live: set[int] = set()
    if addressed and sites:
        sites, top, live = _enrich(sites, files[2])
    where = next((n for n, site in enumerate(sites) if site is top), None)
    return [site.to_json() for site in sites], where, sorted(live)


@lru_cache(maxsize=64)
def _allocator_name(allocator: Any) -> str:
    """memray gives the allocator as an int in some records, an enum in others. Cached: the
    windows ask once per record."""
    import memray

    try:
        return memray.AllocatorType(int(allocator)).name
    except ValueError:
        return str(allocator)


def _python_allocator(allocator: Any) -> bool:
    return _allocator_name(allocator).startswith("PYMALLOC")


def _read_windows(first: Path, second: Path) -> dict[tuple[Any, ...], SiteWindows]:
    """Per Python stack and allocation shape: what each window kept; native when either
    window saw native allocations there."""
    import memray

    windows: dict[tuple[Any, ...], SiteWindows] = {}
    for window, path in enumerate((first, second)):
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
                # The allocator is not part of the key: memray merges a location's leaked
                # records whatever their allocator and reports one of them, so a line that
                # allocates through pymalloc and malloc (sqlite3 under ``db.execute``) reads
                # PYMALLOC_REALLOC in one window and REALLOC in the next.
                key = (stack, record.n_allocations <= SINGLE_BLOCK)
                site = windows.get(key) or SiteWindows(stack=stack, allocator=kind)
                if kind == "native":
                    site = replace(site, allocator="native")
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
                windows[key] = site
        finally:
            reader.close()
    return windows


def _enrich(
    sites: list[LeakSite], capture: Path
) -> tuple[list[LeakSite], LeakSite | None, set[int]]:
    """Per-job native leaks with their native stacks, the top per-job Python leak and the
    addresses of its blocks still alive (for its retention path), from what the short full
    capture kept at its end.

    memray's leaked records of the capture (one per stack, with the address of a block
    allocated there and still alive) are enough: the walk needs one object at the line, not
    each. Replaying every allocation to track the live addresses took 0.26-0.36 s for 10
    jobs of a MIME-and-PDF worker (207,000 records); these records, 0.05 s."""
    import memray

    top = next((s for s in sites if s.kind == "per_job" and s.allocator == "python"), None)
    native = {(s.file, s.line): s for s in sites if s.kind == "per_job" and s.allocator == "native"}
    if top is None and not native:  # nothing to enrich: spare the reading
        return sites, None, set()
    native_stacks: dict[tuple[str, int], tuple[str, ...]] = {}
    live: set[int] = set()
    reader = memray.FileReader(str(capture))
    try:
        for record in reader.get_leaked_allocation_records(merge_threads=True):
            frame = next((f for f in record.stack_trace() if is_user_file(f[1])), None)
            if frame is None:
                continue
            where = (frame[1], frame[2])
            if _python_allocator(record.allocator):
                if top is not None and where == (top.file, top.line):
                    live.add(record.address)
            elif where in native and where not in native_stacks:
                native_stacks[where] = tuple(
                    f"{fn} {path}:{line}"
                    for fn, path, line in record.hybrid_stack_trace()[:MAX_STACK]
                )
    finally:
        reader.close()

    def enrich(site: LeakSite) -> LeakSite:
        if site is not top and site.kind == "per_job" and (site.file, site.line) in native_stacks:
            return replace(site, stack=native_stacks[(site.file, site.line)])
        return site

    return [enrich(site) for site in sites], top, live
