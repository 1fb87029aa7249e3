"""Entry point of a worker process: ``python -m worker_soak.worker.child``.

Loads the worker, reads jobs from one pipe, writes one sample line per job to another as soon
as the job ends (so a crash loses no finished job), and exits when its input ends. It is
started in a session of its own by :mod:`worker_soak.runners.process`, and asks the kernel to
kill it if the harness dies, so it can never outlive the run.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from worker_soak.errors import SpecError
from worker_soak.worker import protocol
from worker_soak.worker.census import collected_heap
from worker_soak.worker.evidence import IsolationEvidence
from worker_soak.worker.execute import SAMPLE_PREFIX, JobExecutor
from worker_soak.worker.libc import libc
from worker_soak.worker.node import sample_fields
from worker_soak.worker.probes import default_probes, describe, machine_speed_ns
from worker_soak.worker.recycle import EXIT_RECYCLE, Recycler
from worker_soak.worker.spec import Worker, load_worker
from worker_soak.worker.tcache import settle
from worker_soak.worker.tracing import MemrayWindow, window_jobs

if TYPE_CHECKING:
    from worker_soak.worker.state import StateWatcher

#: An armed worker opens its memray window when it has about this many windows' worth of
#: jobs left before a recycle limit: late enough to see most of its life's growth, early
#: enough to finish the window although tracing itself adds to the RSS (memray's buffers
#: made a 64 KiB/job leaker recycle after 113 of 240 projected jobs).
NEAR_END: Final = 3.0
#: A pool's worker runs a full collection and measures its heap after these counts of its
#: own jobs (50, then x1.3 each: at least two in the second half of any life) and after the
#: job that recycles it. The run-based points (``--collect-after``) assume one worker that
#: lives the whole run; without collections, a PDF worker's lifetimes of 2,000 jobs read
#: cyclic garbage waiting in gen 2 as 132 B/job of growth.
OWN_COLLECTION_POINTS: Final = frozenset(int(20 * 1.25**k) for k in range(80))
#: Timings of the reference work (~5 us each) read before each probe job; their median.
PROBE_SPEED_READINGS: Final = 3
EXIT_SPEC_ERROR: Final = 3
EXIT_SETUP_ERROR: Final = 4
_PR_SET_PDEATHSIG: Final = 1


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        library = libc(use_errno=True)
        if library is not None:
            library.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the harness died before the line above took effect
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # a worker process of its own, not a call from a test
        settle()
    parser = argparse.ArgumentParser(prog="worker_soak.worker.child")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--origin-ns", type=int, required=True)
    parser.add_argument("--jobs-fd", type=int, required=True)
    parser.add_argument("--samples-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--trace-from", type=int, default=None)
    parser.add_argument("--trace-first", type=int, default=None)
    parser.add_argument("--collect-after", default="", help="job indexes, comma-separated")
    parser.add_argument("--keep-results", default="", help="job indexes, comma-separated")
    parser.add_argument("--state-after", default="", help="job indexes, comma-separated")
    parser.add_argument("--pool", action="store_true", help="tag samples with this pid")
    parser.add_argument("--recycle-memory", type=int, default=None, help="bytes of RSS")
    parser.add_argument("--recycle-jobs", type=int, default=None)
    parser.add_argument("--recycle-age", type=float, default=None, help="seconds")
    args = parser.parse_args(argv)
    _die_with_parent(args.parent_pid)
    faulthandler.enable()
    out_fd: int = args.samples_fd

    try:
        worker = load_worker(args.spec)
    except SpecError as exc:
        protocol.write_all(out_fd, protocol.encode_event(protocol.SPEC_ERROR, message=exc.problem))
        return EXIT_SPEC_ERROR
    try:
        worker.setup()
    except Exception as exc:
        message = f"setup() raised {type(exc).__name__}: {exc}"
        protocol.write_all(out_fd, protocol.encode_event(protocol.SETUP_ERROR, message=message))
        return EXIT_SETUP_ERROR

    probes = default_probes()
    collect_after = _indexes(args.collect_after)
    fixed = sample_fields() if args.pool else ""
    executor = JobExecutor(worker, probes, args.origin_ns, collect_after, fixed)
    recycler = None
    if args.recycle_memory or args.recycle_jobs or args.recycle_age:
        recycler = Recycler(args.recycle_memory, args.recycle_jobs, args.recycle_age)
    protocol.write_all(
        out_fd,
        protocol.encode_event(
            protocol.READY, kind=worker.kind, pid=os.getpid(), probes=describe(probes)
        ),
    )
    evidence = IsolationEvidence(
        args.run_dir,
        _indexes(args.keep_results),
        _indexes(args.state_after),
        _state_watcher(worker) if args.state_after else None,
    )
    with os.fdopen(args.jobs_fd, "rb", buffering=1 << 16) as jobs:
        window = None
        if args.trace_from is not None:
            window = MemrayWindow(args.run_dir, args.trace_from, args.trace_first)
        recycled, window = _serve(
            jobs, executor, window, out_fd, evidence, recycler, args.run_dir, args.pool
        )
        evidence.close()
        # The windows are read only now, after the probe jobs against fresh workers: read
        # before them, the aged worker ran those jobs 1.06-1.11x as long as fresh ones (a
        # clean worker, 300 jobs), its caches and heap fresh from the analysis.
        if window is not None:
            report = window.finish(worker_roots(worker))
            protocol.write_all(out_fd, protocol.encode_event(protocol.LEAK_SITES, **report))
    for probe in probes:
        probe.close()
    try:
        worker.teardown()
    except Exception as exc:
        message = f"teardown() raised {type(exc).__name__}: {exc}"
        protocol.write_all(out_fd, protocol.encode_event(protocol.TEARDOWN_ERROR, message=message))
    protocol.write_all(out_fd, protocol.encode_event(protocol.DONE))
    return EXIT_RECYCLE if recycled else 0


def _state_watcher(worker: Worker) -> StateWatcher:
    """The watcher of the process state the worker's jobs could change; imported only for a
    run that snapshots it (what it reads pulls in decimal, locale, logging, random and socket:
    ~8 ms of every worker process's start, and their objects on a heap being measured)."""
    from worker_soak.worker.state import StateWatcher, own_modules, worker_module

    return StateWatcher(own_modules(worker_module(worker)))


def _indexes(text: str) -> frozenset[int]:
    return frozenset(int(i) for i in text.split(",") if i)


def worker_roots(worker: Worker) -> dict[str, object]:
    """The worker instance as a root for retention paths: what it keeps in its attributes is
    reachable from no module global, only from the harness's own frame."""
    instance = getattr(worker.handle, "__self__", None)
    if instance is None:
        return {}
    return {f"{type(instance).__qualname__} (the worker)": instance}


def _serve(
    jobs: BinaryIO,
    executor: JobExecutor,
    window: MemrayWindow | None,
    out_fd: int,
    evidence: IsolationEvidence,
    recycler: Recycler | None = None,
    run_dir: Path | None = None,
    collect_by_own_jobs: bool = False,
) -> tuple[bool, MemrayWindow | None]:
    """The job loop: run each job, write its sample; open and close the memray window
    around its jobs; answer probe jobs (aged against fresh) apart from the run's samples;
    keep the results and state snapshots the isolation verdict asked for. Returns True when
    the worker stops early to be recycled: its last job's sample is written first, then the
    recycle event, and no further job line is read.

    A pool's supervisor may open the memray window at any point with a line
    ``T <first_jobs>``: the window then counts this worker's own jobs from the next one (its
    job indexes are not contiguous). Returns the window in use, for its leak sites."""
    watched = evidence.keep | evidence.state_after
    own_jobs = 0
    locally = False
    armed = 0
    for line in jobs:
        if line.startswith((protocol.TRACE_MARK, protocol.ARM_MARK)):
            first = int(line[len(protocol.TRACE_MARK) :])
            if line.startswith(protocol.ARM_MARK):
                armed = first
            elif window is None and run_dir is not None:
                window, locally = MemrayWindow(run_dir, own_jobs, first), True
            continue
        if line.startswith(protocol.PROBE_MARK):
            job_index, job = protocol.decode_job(line[len(protocol.PROBE_MARK) :])
            # The machine's speed on this process's core, right before the job: what puts
            # probe jobs run before and after the soak at one speed.
            speed = machine_speed_ns(PROBE_SPEED_READINGS)
            sample = executor.run(job_index, job)
            answer = sample[len(SAMPLE_PREFIX) : -2] + b',"probe_speed_ns":%d}\n' % speed
            protocol.write_all(out_fd, protocol.PROBE_PREFIX + answer)
            continue
        job_index, job = protocol.decode_job(line)
        if job_index in watched:
            sample = evidence.run(executor, job_index, job)
        elif window is None:
            sample = executor.run(job_index, job)
        else:
            key = own_jobs if locally else job_index
            window.before_job(key)
            sample = executor.run(job_index, job)
            window.after_job(key)
            if window.traced(key):
                sample = sample[:-2] + protocol.TRACED_MARK
        own_jobs += 1
        reason = recycler.after_job() if recycler is not None else None
        if collect_by_own_jobs and (own_jobs in OWN_COLLECTION_POINTS or reason is not None):
            sample = sample[:-2] + collected_heap().encode() + b"}\n"
        protocol.write_all(out_fd, sample)
        if window is not None and window.complete:
            window.read_beside()  # once; its files are read while this worker goes on
        if executor.retuned:  # once, after the first jobs: the cadences the data follows
            executor.retuned = False
            cadences = describe(executor.probes)
            protocol.write_all(out_fd, protocol.encode_event(protocol.CADENCES, probes=cadences))
        if armed and window is None and run_dir is not None and recycler is not None:
            left = recycler.jobs_left()
            if left is not None and left <= NEAR_END * window_jobs(armed):
                window, locally = MemrayWindow(run_dir, own_jobs, armed), True
        if recycler is not None and reason is not None:
            event = protocol.encode_event(
                protocol.RECYCLE,
                reason=reason,
                job_index=job_index,
                jobs_done=recycler.jobs_done,
                rss_bytes=recycler.last_rss,
            )
            protocol.write_all(out_fd, event)
            recycler.close()
            return True, window
    return False, window


if __name__ == "__main__":
    sys.exit(main())
