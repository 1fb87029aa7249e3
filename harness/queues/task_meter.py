"""Measure the tasks a queue's worker process runs, from inside it, and send the samples home.

The framework (Celery's pool child, RQ's worker or work horse) calls the user's task itself;
the harness only hears about it through hooks around that call: :meth:`TaskMeter.begin`
before, :meth:`TaskMeter.end` after. Only tasks the harness sent carry an envelope (the
``soak_*`` headers or job meta); other traffic on the same worker is left alone.

Probes open ``/proc/self/...`` when they are made, and a forked process sees its parent's
files through them: everything measured is made again, lazily, in each process (by pid).
"""

from __future__ import annotations

import base64
import os
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from worker_soak.queues.channel import Channel
from worker_soak.worker import protocol
from worker_soak.worker.census import collected_heap
from worker_soak.worker.child import OWN_COLLECTION_POINTS
from worker_soak.worker.evidence import RAISED, outcome_of
from worker_soak.worker.execute import JobExecutor, describe_error
from worker_soak.worker.node import node_id, sample_fields
from worker_soak.worker.probes import Probe, default_probes, describe
from worker_soak.worker.tracing import MemrayWindow

RUN: Final = "soak_run"
INDEX: Final = "soak_index"
CHANNEL: Final = "soak_channel"
ORIGIN: Final = "soak_origin_ns"
#: On one task: the worker process that runs it traces its next jobs with memray (the
#: value is the first window's length in jobs).
TRACE: Final = "soak_trace"
#: The harness's run directory: the memray files go there when this machine has it.
RUN_DIR: Final = "soak_run_dir"
#: On a few tasks: send the task's result home, to compare with a fresh process's.
KEEP: Final = "soak_keep"
ENVELOPE_KEYS: Final = (RUN, INDEX, CHANNEL, ORIGIN, TRACE, RUN_DIR, KEEP)

#: The events a queue's worker process sends besides the pipe protocol's (``protocol.READY``
#: and ``protocol.LEAK_SITES`` are shared).
START: Final = "start"
RESULT: Final = "result"
#: The framework gave a task up: its process died with it and it will not run again.
GIVEN_UP: Final = "given_up"
EXIT: Final = "exit"
WINDOW_OPEN: Final = "window_open"

_PAGE_SIZE: Final = os.sysconf("SC_PAGE_SIZE")


def envelope_of(fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The harness's envelope among a task's headers (or an RQ job's meta), if it has one."""
    if not fields or RUN not in fields:
        return None
    return {key: fields[key] for key in ENVELOPE_KEYS if key in fields}


class _Process:
    """What one worker process measures with, for one run."""

    def __init__(
        self,
        envelope: Mapping[str, Any],
        channel: Channel,
        identity: tuple[int, int],
        cadences: Mapping[str, int] | None,
        kind: str,
    ) -> None:
        self.pid = os.getpid()
        self.run = str(envelope[RUN])
        self.origin_ns = int(envelope[ORIGIN])
        self.channel = channel
        self.probes: list[Probe] = default_probes()
        if cadences:
            for probe in self.probes:
                probe.every = cadences.get(type(probe).__name__, probe.every)
        self.executor = JobExecutor(
            None,
            self.probes,
            0,
            fixed_fields=sample_fields(identity[0]),
            calibrate=not cadences,
        )
        pid, parent = identity
        self.identity: dict[str, object] = {
            "pid": pid,
            "parent": parent,
            "host": socket.gethostname(),
            "node": node_id(),
        }
        self.jobs_done = 0
        self.last_job: int | None = None
        self.window: MemrayWindow | None = None
        self.window_reported = False
        self.send(
            protocol.encode_event(
                protocol.READY, kind=kind, probes=describe(self.probes), **self.now()
            )
        )

    def now(self) -> dict[str, object]:
        return {**self.identity, "at_ns": time.time_ns() - self.origin_ns}

    def send(self, line: bytes) -> None:
        self.channel.send(line)

    def close(self) -> None:
        for probe in self.probes:
            probe.close()
        self.channel.close()


class TaskMeter:
    """The hooks' one object per worker process: ``begin``/``fail``/``end`` around each
    task the harness sent, ``process_ending`` when the process is about to exit."""

    def __init__(
        self,
        open_channel: Callable[[str], Channel],
        kind: str,
        identity: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        """``identity``: (pid, parent pid) of the process a sample is judged under; by
        default this one (RQ's forking worker: the worker, not the work horse that lives
        for one job)."""
        self._open_channel = open_channel
        self._kind = kind
        self._identity = identity or _this_process
        self._process: _Process | None = None
        self._cadences: dict[str, int] | None = None
        self._job: tuple[int, int, int] | None = None
        self._error: dict[str, str] | None = None
        self._keep = False
        self._raised: str | None = None

    def calibrate_here(self) -> None:
        """Calibrate the probes once in this process, for the processes it forks: a work
        horse that runs one job must not spend milliseconds calibrating."""
        probes = default_probes()
        for probe in probes:
            probe.calibrate()
            probe.close()
        self._cadences = {type(probe).__name__: probe.every for probe in probes}

    def _state(self, envelope: Mapping[str, Any]) -> _Process:
        process = self._process
        if process is not None and process.pid == os.getpid() and process.run == envelope[RUN]:
            return process
        if process is not None and process.pid == os.getpid():
            process.close()  # the same worker serves a new run
        process = _Process(
            envelope,
            self._open_channel(str(envelope[CHANNEL])),
            self._identity(),
            self._cadences,
            self._kind,
        )
        self._process = process
        return process

    def begin(self, envelope: Mapping[str, Any]) -> None:
        """A task of the run is about to start in this process."""
        process = self._state(envelope)
        index = int(envelope[INDEX])
        process.send(protocol.encode_event(START, job_index=index, **process.now()))
        if TRACE in envelope and process.window is None:
            process.window = MemrayWindow(
                _window_dir(envelope.get(RUN_DIR)), process.jobs_done, int(envelope[TRACE])
            )
            process.send(protocol.encode_event(WINDOW_OPEN, **process.now()))
        if process.window is not None:
            process.window.before_job(process.jobs_done)
        self._error = None
        self._raised = None
        self._keep = bool(envelope.get(KEEP))
        self._job = (index, time.perf_counter_ns(), time.process_time_ns())

    def running(self) -> bool:
        """Whether this process is running a task of the run now."""
        return (
            self._job is not None
            and self._process is not None
            and (self._process.pid == os.getpid())
        )

    def given_up(self, envelope: Mapping[str, Any], why: str) -> None:
        """Said by the framework's main process: the task's process died with it, and it
        is not run again (Celery without ``reject_on_worker_lost``)."""
        channel = self._open_channel(str(envelope[CHANNEL]))
        try:
            channel.send(
                protocol.encode_event(
                    GIVEN_UP,
                    job_index=int(envelope[INDEX]),
                    why=why,
                    at_ns=time.time_ns() - int(envelope[ORIGIN]),
                )
            )
        finally:
            channel.close()

    def fail(self, exc: BaseException) -> None:
        """The task raised: its sample says where."""
        self._error = describe_error(exc)
        if self._keep:
            self._raised = outcome_of(None, exc)[1]

    def end(self, result: object = None) -> None:
        """The task ended: send its sample (then, after a window's last job, the leak sites;
        for a kept task, its result)."""
        if self._job is None or self._process is None:
            return
        end = time.perf_counter_ns()
        end_cpu = time.process_time_ns()
        index, start, start_cpu = self._job
        self._job = None
        process = self._process
        end_ns = time.time_ns() - process.origin_ns
        extra = ""
        window = process.window
        own = process.jobs_done
        if window is not None:
            window.after_job(own)
            if window.traced(own):
                extra = ',"traced":1'
        process.jobs_done += 1
        process.last_job = index
        if process.jobs_done in OWN_COLLECTION_POINTS:
            extra += collected_heap()
        sample = process.executor.sample(
            index, end - start, end_cpu - start_cpu, end_ns, self._error, extra
        )
        self._error = None
        process.send(sample)
        if process.executor.retuned:
            process.executor.retuned = False
            cadences = describe(process.probes)
            process.send(protocol.encode_event(protocol.CADENCES, probes=cadences))
        if self._keep:
            self._keep = False
            process.send(_result_event(index, result, self._raised))
            self._raised = None
        if window is not None and not process.window_reported and own + 1 >= window.end_job:
            self._report_window(process, window)

    def _report_window(self, process: _Process, window: MemrayWindow) -> None:
        process.window_reported = True
        report = window.finish({})
        process.send(protocol.encode_event(protocol.LEAK_SITES, **report, **process.now()))

    def process_ending(self) -> None:
        """The worker process is about to exit (recycled, or the worker stops)."""
        process = self._process
        if process is None or process.pid != os.getpid():
            return
        if process.window is not None and not process.window_reported:
            self._report_window(process, process.window)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        process.send(
            protocol.encode_event(
                EXIT,
                jobs_done=process.jobs_done,
                last_job=process.last_job,
                rss_bytes=current_rss(),
                peak_rss_bytes=peak,
                **process.now(),
            )
        )
        process.close()
        self._process = None


def _result_event(index: int, result: object, raised: str | None) -> bytes:
    """A kept task's outcome as :mod:`worker_soak.worker.evidence` stores it (a pickled value
    travels as base64)."""
    kind, payload = (RAISED, raised) if raised is not None else outcome_of(result, None)
    if isinstance(payload, bytes):
        payload = base64.b64encode(payload).decode("ascii")
    return protocol.encode_event(RESULT, job_index=index, kind=kind, payload=payload)


def _this_process() -> tuple[int, int]:
    return os.getpid(), os.getppid()


def current_rss() -> int:
    """This process's resident set now (not its peak): ``/proc/self/statm``."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        return 0


def _window_dir(run_dir: object) -> Path:
    """The run directory when this machine has it (a worker beside the harness), else a
    directory of this machine's own: the leak sites travel home; the files stay here."""
    if isinstance(run_dir, str) and os.path.isdir(run_dir) and os.access(run_dir, os.W_OK):
        # One directory per process: a window cut short by a recycle is tried again in
        # another process, and memray refuses to overwrite a capture file.
        path = Path(run_dir) / f"memray-{os.getpid()}"
        path.mkdir(exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix=f"soak-memray-{os.getpid()}-"))


def warn(message: str) -> None:
    """A hook failed: say so in the worker's log, never fail the user's task."""
    print(f"soak: {message}", file=sys.stderr, flush=True)
