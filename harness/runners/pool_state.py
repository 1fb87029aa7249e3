"""What one pool run holds while it runs: its worker processes and their pipes, its job
ledger, lifetimes, restarts and metrics, and the plain operations on them (start a worker,
send it jobs, reap it, publish the metrics, make the outcome). The rules of supervision —
when to feed, recycle, kill or replace a worker — are :mod:`worker_soak.runners.pool`'s."""

from __future__ import annotations

import selectors
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Final

from worker_soak.model import RunOutcome
from worker_soak.oom import oom_kill_count
from worker_soak.runners import ProgressCallback
from worker_soak.runners.ledger import Job, Ledger
from worker_soak.runners.link import WorkerLink
from worker_soak.runners.pool_metrics import MetricsOutputs, ProcessMemory
from worker_soak.runners.pool_report import Lifetime, PoolPlan, Restart, pool_summary
from worker_soak.runners.pool_restarts import Restarts
from worker_soak.runners.pool_tracing import WindowCarrier
from worker_soak.runners.pool_worker import PoolWorker, recycle_limits
from worker_soak.runners.spawn import signal_group, spawn_worker
from worker_soak.store import WORKER_LOG, SampleLog

TICK_S: Final = 0.05
_STARTUP_TIMEOUT_FLOOR_S: Final = 60.0


class PoolState:
    """One pool run's workers, records and outputs."""

    def __init__(
        self,
        plan: PoolPlan,
        jobs: Iterator[Job],
        count: int,
        log: SampleLog,
        on_progress: ProgressCallback,
    ) -> None:
        self.plan = plan
        self.count = count
        self.pool = plan.pool
        self.window = WindowCarrier(plan.trace_first, self.pool.workers)
        self.source = jobs
        self.log = log
        self.on_progress = on_progress
        self.ledger = Ledger(self.pool.max_retries)
        self.exhausted = False
        self.workers: list[PoolWorker] = []
        self.lifetimes: list[Lifetime] = []
        self.restarts = Restarts(self.pool, TICK_S)
        self.selector = selectors.DefaultSelector()
        self.kind = ""
        self.probes: tuple[dict[str, object], ...] = ()
        #: The worker whose probes describe the run's (the first ready).
        self._describer: PoolWorker | None = None
        self.fatal: tuple[str, str] | None = None
        self.stopping = False
        self.teardown_errors: list[str] = []
        self.next_tick = 0.0
        self.next_heartbeat = 0.0
        self.metrics = MetricsOutputs(plan.run_dir, self.pool.metrics_file, self.pool.metrics_port)
        self.startup_limit = max(_STARTUP_TIMEOUT_FLOOR_S, plan.job_timeout or 0.0)

    def _work_left(self) -> bool:
        return bool(self.ledger.again) or not self.exhausted

    def _occupied(self) -> int:
        return sum(1 for w in self.workers if w.occupies_slot)

    def _spawn(self, restart: Restart | None, standby_for: PoolWorker | None = None) -> PoolWorker:
        taken = {w.slot for w in self.workers if w.occupies_slot}
        if standby_for is not None:
            slot = standby_for.slot
        elif restart is not None:
            slot = restart.worker
        else:
            slot = min(s for s in range(self.pool.workers + 1) if s not in taken)
        lifetime = len(self.lifetimes)
        plan = self.plan
        args, limit_jobs, limit_age_s = recycle_limits(self.pool, plan.seed, lifetime)
        process = spawn_worker(
            plan.spec, plan.run_dir, plan.origin_ns, WORKER_LOG, args, plan.import_paths
        )
        link = WorkerLink(process)
        worker = PoolWorker(
            slot, lifetime, process, ProcessMemory(process.popen.pid), time.monotonic(), restart,
            link,
        )  # fmt: skip
        worker.limit_jobs, worker.limit_age_s = limit_jobs, limit_age_s
        worker.oom_before = oom_kill_count()
        worker.standby_for = standby_for
        self.lifetimes.append(Lifetime(slot, worker.pid, self.restarts.clock()))
        self.selector.register(link.samples_fd, selectors.EVENT_READ, (worker, "samples"))
        self.workers.append(worker)
        return worker

    def _send(self, worker: PoolWorker) -> None:
        # A broken pipe: the worker is ending; its queue is settled when its output ends.
        worker.link.send()
        worker.link.watch_room(self.selector, (worker, "jobs"))

    def _close_input(self, worker: PoolWorker) -> None:
        worker.link.close_input(self.selector)

    def _reap(self, worker: PoolWorker) -> int:
        popen = worker.process.popen
        try:
            returncode = popen.wait(self.plan.grace_s)
        except subprocess.TimeoutExpired:  # closed its output but lingers: end it
            signal_group(popen.pid, signal.SIGKILL)
            returncode = popen.wait()
        worker.process.close(0)
        return returncode

    def _heartbeat(self, now: float) -> None:
        totals = {
            "jobs_finished": self.ledger.finished_count,
            "jobs_retried": self.ledger.retried,
            "jobs_failed_by_interruption": len(self.ledger.failed),
        }
        metrics = [worker.metrics(now) for worker in self.workers]
        self.metrics.publish(self.restarts.clock(), metrics, totals, self.restarts.by_reason())

    # -- result -----------------------------------------------------------------------------

    def _outcome(self, stop_reason: str, setup_error: str | None = None) -> RunOutcome:
        summary = pool_summary(
            self.plan,
            self.restarts.final(),
            self.lifetimes,
            self.ledger,
            self.teardown_errors,
            self.metrics.port,
        )
        attribution = self.window.result()
        return RunOutcome(
            self.ledger.finished_count,
            stop_reason,  # type: ignore[arg-type]
            worker_kind=self.kind,
            probes=self.probes,
            attribution=attribution,
            setup_error=setup_error,
            pool=summary,
        )

    def close(self) -> None:
        for worker in list(self.workers):
            signal_group(worker.pid, signal.SIGKILL)
            worker.process.close(0)
            worker.memory.close()
        self.workers.clear()
        self.selector.close()
        self.metrics.close()
