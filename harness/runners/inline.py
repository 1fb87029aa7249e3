"""The inline runner: the worker runs in the harness's own process.

Fast and simple, for unit tests and quick checks. The harness's allocations share the heap
with the worker's, and a worker that crashes the interpreter takes the harness with it: soaks
use the process runner.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from typing import Final

from worker_soak.model import Crash, RunOutcome, StopReason
from worker_soak.runners import ProgressCallback
from worker_soak.store import SampleLog
from worker_soak.worker.execute import JobExecutor
from worker_soak.worker.probes import Probe, default_probes, describe
from worker_soak.worker.spec import Worker, load_worker
from worker_soak.workloads.base import Job

# Samples reach the OS at least this often; a write per job would cost ~1.5 us of a 10 us budget.
FLUSH_INTERVAL_NS: Final = 50_000_000


class InlineRunner:
    """Runs the worker named by ``spec`` (or the one given, already loaded) in this process."""

    def __init__(
        self,
        spec: str,
        origin_ns: int,
        probes: list[Probe] | None = None,
        collect_after: Collection[int] = (),
        worker: Worker | None = None,
    ) -> None:
        self._collect_after = collect_after
        self._spec = spec
        self._worker = worker
        self._origin_ns = origin_ns
        self._probes = probes

    def run(
        self, jobs: Iterator[Job], count: int, log: SampleLog, on_progress: ProgressCallback
    ) -> RunOutcome:
        worker = self._worker if self._worker is not None else load_worker(self._spec)
        try:
            worker.setup()
        except Exception as exc:
            return RunOutcome(
                0,
                "error",
                worker_kind=worker.kind,
                setup_error=f"setup() raised {type(exc).__name__}: {exc}",
            )
        probes = self._probes if self._probes is not None else default_probes()
        executor = JobExecutor(worker, probes, self._origin_ns, self._collect_after)
        completed = 0
        stop: StopReason = "completed"
        crash = None
        next_flush = time.perf_counter_ns() + FLUSH_INTERVAL_NS
        run_job = executor.run
        write = log.write_buffered
        perf = time.perf_counter_ns
        try:
            for job_index, job in zip(range(count), jobs, strict=False):
                write(run_job(job_index, job))
                completed += 1
                now = perf()
                if now >= next_flush:
                    log.flush()
                    on_progress(completed)
                    next_flush = now + FLUSH_INTERVAL_NS
        except KeyboardInterrupt:
            stop = "interrupted"
        except SystemExit as exc:  # the worker called sys.exit(): in a process it would end it
            code = exc.code if isinstance(exc.code, int) else 1
            stop = "crashed"
            crash = Crash(completed, "exit", exitcode=code, message=f"sys.exit({exc.code!r})")
        finally:
            log.flush()
            on_progress(completed)
            for probe in probes:
                probe.close()
        teardown_error = None if crash else _teardown(worker)
        return RunOutcome(
            completed,
            stop,
            crash,
            worker.kind,
            teardown_error=teardown_error,
            probes=tuple(describe(probes)),
        )


def _teardown(worker: Worker) -> str | None:
    try:
        worker.teardown()
    except Exception as exc:
        return f"teardown() raised {type(exc).__name__}: {exc}"
    return None
