"""Aged against fresh: after the soak, the same jobs on the aged worker and on new ones.

Two fresh workers first run a few warm-up jobs each (lazy imports, first-call caches,
specialised bytecode: "a worker that has done a few dozen jobs"). Then each probe job runs
on the aged worker and both fresh ones, rotating who goes first, all three pinned to one
core, so neither a drifting machine nor a faster core favours a side. The second fresh
worker is the control: fresh against fresh says how far apart two processes that should be
alike are on this machine. The control warms up twice as long as the fresh worker: what a
job costs may still change with the jobs a process has run (a C allocator adapting its
thresholds to the sizes freed so far, a batch flushed every n-th job), and two fresh workers
of the same history would hide that; the control shows it. Probe jobs travel as ``P``-lines
and come back as ``probe_index`` samples, which never enter ``samples.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from worker_soak.model import AgedTimes
from worker_soak.runners.spawn import WorkerProcess
from worker_soak.worker import protocol

PROBE_PAIRS: Final = 30
#: The fresh worker and its control.
FRESH_WORKERS: Final = 2
#: Enough for lazy imports, first-call caches and CPython's adaptive specialisation of the
#: hot bytecode (it kicks in after a few dozen runs of a function).
FRESH_WARMUP_JOBS: Final = 30
STARTUP_TIMEOUT_S: Final = 60.0
#: Warm-up jobs the control runs beyond the fresh worker's. Measured here: a clean worker of
#: random 1 KiB-2 MiB temporaries from a generator seeded alike in every process ran the probe
#: jobs 1.86-1.93x as long aged as fresh in every run, beside two fresh workers of the same
#: history 0.92-1.04x apart, and failed its latency verdict now and then. glibc's malloc sets
#: its mmap threshold from the largest block freed so far: a fresh worker's 30 jobs drew the
#: same sizes each time. Seeded afresh in each process, the same worker gave 0.79-1.10x, with
#: two fresh workers 0.68-1.37x apart; fresh workers of 100 jobs ran as fast as the aged one.
CONTROL_EXTRA_JOBS: Final = FRESH_WARMUP_JOBS


@dataclass(frozen=True, slots=True)
class AgedProbe:
    """The jobs of the comparison: ``warmup`` jobs for the fresh worker, then the pairs."""

    jobs: tuple[dict[str, Any], ...]
    warmup: int

    @property
    def pairs(self) -> int:
        return len(self.jobs) - self.warmup


class ProbeError(Exception):
    """A worker died, hung or refused during the comparison: which worker (``who``: the new
    one before the run, the aged one, a fresh one), in which probe job and on which payload,
    and whether it hung (``timed_out``) or ended."""

    def __init__(
        self,
        message: str,
        who: str = "",
        job_index: int | None = None,
        job: object = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.who = who
        self.job_index = job_index
        self.job = job
        self.timed_out = timed_out

    @property
    def payload_id(self) -> object:
        return self.job.get("id") if isinstance(self.job, dict) else None


class ProbeChannel:
    """Synchronous request/response with one worker process."""

    def __init__(
        self, worker: WorkerProcess, on_event: Callable[[dict[str, Any]], None], who: str = ""
    ):
        self.who = who
        if worker.jobs_fd is None or worker.samples_fd is None:
            raise ProbeError("the worker's pipes are closed")
        self._jobs_fd = worker.jobs_fd
        self._samples_fd = worker.samples_fd
        os.set_blocking(self._jobs_fd, True)
        self._on_event = on_event
        self._partial = b""
        # One selector for the channel's life, not one per read (each opens an epoll).
        self._readable = selectors.DefaultSelector()
        self._readable.register(self._samples_fd, selectors.EVENT_READ)
        #: The machine's speed the worker read right before each probe job (ns).
        self.speeds_ns: list[int] = []

    def close(self) -> None:
        self._readable.close()

    def wait_ready(self, timeout_s: float) -> None:
        """Wait for the worker's ``ready`` event (it loaded the spec and ran setup)."""
        ready: list[bool] = []
        relay = self._on_event

        def on_event(event: dict[str, Any]) -> None:
            if event.get("event") == protocol.READY:
                ready.append(True)
            relay(event)

        self._on_event = on_event
        try:
            deadline = time.monotonic() + timeout_s
            while not ready:
                self._read_line(deadline)
        finally:
            self._on_event = relay

    def request(self, index: int, job: dict[str, Any], timeout_s: float) -> int:
        """Run one probe job; return its wall time in ns."""
        self.send(index, job)
        return self.answer(index, job, timeout_s)

    def send(self, index: int, job: dict[str, Any]) -> None:
        """Hand the worker one probe job (its answer is read by :meth:`answer`)."""
        line = protocol.encode_job(index, job)
        try:
            protocol.write_all(self._jobs_fd, protocol.PROBE_MARK + line)
        except BrokenPipeError:
            raise ProbeError(
                f"the {self.who} worker ended before probe job {index}", self.who, index, job
            ) from None

    def answer(self, index: int, job: dict[str, Any], timeout_s: float) -> int:
        """Wait for the answer to probe job ``index``; return its wall time in ns."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                answer = self._read_line(deadline)
            except ProbeError as exc:
                timed_out = "in time" in str(exc)
                what = f"ran longer than {timeout_s:g} s" if timed_out else "ended the process"
                shown = job.get("id", index) if isinstance(job, dict) else index
                raise ProbeError(
                    f"probe job {index} (payload id {shown!r}) on the {self.who} worker {what}",
                    self.who,
                    index,
                    job,
                    timed_out,
                ) from None
            if answer is not None:
                if "probe_speed_ns" in answer:
                    self.speeds_ns.append(int(answer["probe_speed_ns"]))
                return int(answer["wall_ns"])

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        """Read one line: a probe sample is returned, an event is relayed."""
        while b"\n" not in self._partial:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProbeError("the worker did not answer in time")
            if not self._readable.select(left):
                continue
            data = os.read(self._samples_fd, 1 << 16)
            if not data:
                raise ProbeError("the worker ended during the comparison")
            self._partial += data
        line, _, self._partial = self._partial.partition(b"\n")
        if line.startswith(protocol.PROBE_PREFIX):
            answer: dict[str, Any] = json.loads(line)
            return answer
        if line.startswith(protocol.EVENT_PREFIX):
            event = protocol.decode_event(line)
            if event.get("event") in (protocol.SPEC_ERROR, protocol.SETUP_ERROR):
                raise ProbeError(f"the fresh worker failed: {event.get('message')}")
            self._on_event(event)
        return None


def harness_cores() -> set[int] | None:
    """The cores the harness keeps while the comparison's workers share the last one (None
    where there is one core, or no affinity to set)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return set(cores[:-1]) if len(cores) >= 2 else None


def pin(pid: int, cores: set[int]) -> None:
    """Keep process ``pid`` on ``cores`` (where the system lets us)."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(pid, cores)


def _share_one_core(*pids: int) -> None:
    """Run both workers on the same core, and the harness elsewhere.

    Measured here on 2 cores: without pinning, the aged/fresh ratio of the same clean worker
    ranged 0.73-1.46 from one run to the next (each process sits on its own core for the
    whole comparison, and the cores differ), far outside each run's own interval."""
    kept = harness_cores()
    if kept is None:
        return
    shared = max(os.sched_getaffinity(0))
    with contextlib.suppress(OSError):
        for pid in pids:
            os.sched_setaffinity(pid, {shared})
        os.sched_setaffinity(0, kept)


def _release_cores(*pids: int) -> None:
    if not hasattr(os, "sched_setaffinity"):
        return
    cores = set(range(os.cpu_count() or 1))
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, cores)
        for pid in pids:
            os.sched_setaffinity(pid, cores)


@dataclass(frozen=True, slots=True)
class ProbeTimes:
    """Wall times of the probe jobs, job by job, on each worker."""

    aged_ns: list[int]
    fresh_ns: list[int]
    #: A second fresh worker: fresh against fresh shows how much two processes that should
    #: be alike differ here (an A/A test), so aged against fresh is read against it.
    control_ns: list[int]
    #: The machine's speed the fresh worker read beside its probe jobs (median, ns).
    speed_ns: int | None = None


@dataclass(frozen=True, slots=True)
class BaselineTimes:
    """The new worker's probe jobs before the soak, and the speed it read beside them."""

    times_ns: list[int]
    speed_ns: int | None


def baseline_times(
    worker: WorkerProcess,
    probe: AgedProbe,
    job_timeout_s: float,
    on_event: Callable[[dict[str, Any]], None],
) -> BaselineTimes:
    """Before the soak: the new worker runs the probe jobs the way the end comparison will
    (warm-up, then the pairs, one at a time), so 'fresh at the end' can be read against
    'fresh at the start' like for like: a job run alone after a pause is slower than one in
    a stream (cold caches; 1.5x measured here on 1.5 ms jobs). Not pinned: alone on the
    end comparison's core, the new worker ran clean workers' probe jobs 1.06-1.54x faster
    than fresh ones sharing it with two others after the run (8 runs here), against
    0.91-1.19x unpinned."""
    channel = ProbeChannel(worker, on_event, "new")
    try:
        for index, job in enumerate(probe.jobs[: probe.warmup]):
            channel.request(index, job, job_timeout_s)
        channel.speeds_ns.clear()
        times = [
            channel.request(probe.warmup + offset, job, job_timeout_s)
            for offset, job in enumerate(probe.jobs[probe.warmup :])
        ]
    finally:
        channel.close()
    return BaselineTimes(times, _median(channel.speeds_ns))


def _median(values: Sequence[int]) -> int | None:
    return sorted(values)[len(values) // 2] if values else None


def compare_with_fresh(
    aged: WorkerProcess,
    start_fresh: Callable[[], WorkerProcess],
    probe: AgedProbe,
    job_timeout_s: float,
    grace_s: float,
    on_event: Callable[[dict[str, Any]], None],
    leftover: list[WorkerProcess] | None = None,
) -> ProbeTimes:
    """Run every probe job on the aged worker and two fresh ones, rotating who goes first.

    With ``leftover``, the fresh workers are told to end and put there, for the caller to
    :func:`close_workers` later (their teardown then overlaps the aged worker's, ~60 ms);
    else they are waited for here."""
    channels = [ProbeChannel(aged, on_event, "aged")]
    started: list[WorkerProcess] = []
    try:
        # Both fresh workers start and warm up side by side, on both cores (the aged one
        # idles meanwhile): one after the other, that took 0.3 s of a 10,000-job run.
        for _ in range(FRESH_WORKERS):
            started.append(start_fresh())
        fresh = [ProbeChannel(worker, lambda event: None, "fresh") for worker in started]
        channels.extend(fresh)
        for channel in fresh:
            channel.wait_ready(max(STARTUP_TIMEOUT_S, job_timeout_s))
        for index, job in enumerate(probe.jobs[: probe.warmup]):
            for channel in fresh:
                channel.send(index, job)
            for channel in fresh:
                channel.answer(index, job, job_timeout_s)
        for extra in range(CONTROL_EXTRA_JOBS):
            index = extra % probe.warmup
            fresh[-1].request(index, probe.jobs[index], job_timeout_s)
        _share_one_core(aged.popen.pid, *(worker.popen.pid for worker in started))
        times: list[list[int]] = [[], [], []]
        pairs: Sequence[dict[str, Any]] = probe.jobs[probe.warmup :]
        for offset, job in enumerate(pairs):
            for turn in range(3):  # aged, fresh, control; then fresh, control, aged; ...
                who = (offset + turn) % 3
                times[who].append(channels[who].request(probe.warmup + offset, job, job_timeout_s))
        fresh_speeds = channels[1].speeds_ns[probe.warmup :]
        aged_ns, fresh_ns, control_ns = times
        return ProbeTimes(aged_ns, fresh_ns, control_ns, _median(fresh_speeds))
    finally:
        for channel in channels:
            channel.close()
        _release_cores(aged.popen.pid)
        for worker in started:
            worker.close_input()
        if leftover is None:
            close_workers(started, grace_s)
        else:
            leftover.extend(started)


def close_workers(workers: Sequence[WorkerProcess], grace_s: float) -> None:
    """Wait for workers whose input is closed to end (``grace_s`` each), then end what is
    left of them."""
    for worker in workers:
        worker.close_input()
        with contextlib.suppress(subprocess.TimeoutExpired):  # one that lingers is ended
            worker.popen.wait(grace_s)
        worker.close(grace_s)


def aged_times(times: ProbeTimes, baseline: BaselineTimes | None, warmup: int) -> AgedTimes:
    """The comparison as the run's outcome carries it, with the probe jobs before the run."""
    return AgedTimes(
        tuple(times.aged_ns),
        tuple(times.fresh_ns),
        tuple(times.control_ns),
        tuple(baseline.times_ns) if baseline is not None else None,
        warmup,
        start_speed_ns=baseline.speed_ns if baseline is not None else None,
        end_speed_ns=times.speed_ns,
    )
