"""The supervised pool: ``--workers N`` worker processes fed from one job queue, recycled.

Each worker process is the same child as the process runner's, told its recycle limits: past
``--max-memory`` (current RSS), ``--max-jobs-per-worker`` or ``--max-worker-age`` it finishes
the job, writes its sample, says why it stops, takes no new job, tears down and exits. The
supervisor then starts a fresh one. With ``--prestart`` a standby worker is started when one
reaches 90 % of a limit, and takes over the moment the old one stops taking jobs.

From outside, on a 50 ms tick, the supervisor ends a worker (SIGTERM, grace, SIGKILL) whose
RSS passed ``--kill-memory`` or whose job ran past ``--job-timeout``; the job in flight goes
to the :class:`~worker_soak.runners.ledger.Ledger`, which runs it again on a fresh worker at most
``--max-retries`` times. A worker that crashes is treated the same way.

Each worker holds two jobs (the one it runs and the next), so it never waits for a round
trip, and little is handed back when it ends; up to 64 when its jobs take microseconds
(:meth:`~worker_soak.runners.pool_worker.PoolWorker.jobs_ahead`).
Samples are written to disk as they arrive, in arrival order, each tagged with its worker's
pid.
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from worker_soak.errors import SpecError, UsageError
from worker_soak.model import PoolConfig, RecycleReason, RunOutcome
from worker_soak.runners import ProgressCallback
from worker_soak.runners.crashes import oom_killed
from worker_soak.runners.ledger import Job
from worker_soak.runners.pool_report import PoolPlan, Restart
from worker_soak.runners.pool_restarts import exit_text
from worker_soak.runners.pool_state import TICK_S, PoolState
from worker_soak.runners.pool_worker import PoolWorker
from worker_soak.runners.spawn import signal_group
from worker_soak.store import WORKER_LOG, SampleLog
from worker_soak.worker import protocol
from worker_soak.worker.execute import SAMPLE_PREFIX, ended_job_sample
from worker_soak.worker.node import node_id
from worker_soak.worker.recycle import EXIT_RECYCLE

HEARTBEAT_S: Final = 0.5
DEFAULT_GRACE_S: Final = 2.0


class PoolRunner:
    """Runs the worker named by ``spec`` in a supervised pool of processes."""

    def __init__(
        self,
        spec: str,
        run_dir: Path,
        origin_ns: int,
        pool: PoolConfig,
        job_timeout: float | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        import_paths: tuple[str, ...] = (),
        seed: int = 0,
        trace_first: int | None = None,
    ) -> None:
        """``trace_first``: the first memray window's length in jobs (None: no window)."""
        self.plan = PoolPlan(
            spec, run_dir, origin_ns, pool, job_timeout, grace_s, import_paths, seed, trace_first
        )

    def run(
        self, jobs: Iterator[Job], count: int, log: SampleLog, on_progress: ProgressCallback
    ) -> RunOutcome:
        supervisor = _Supervisor(self.plan, jobs, count, log, on_progress)
        try:
            return supervisor.drive()
        finally:
            supervisor.close()


class _Supervisor(PoolState):
    """One pool run: start, feed, watch, recycle and end worker processes. Not reusable."""

    # -- the loop ---------------------------------------------------------------------------

    def drive(self) -> RunOutcome:
        try:
            while self._work_left() or self.workers:
                if self.fatal is not None:
                    self._end_all()
                    break
                self._start_workers()
                for worker in list(self.workers):
                    self._feed(worker)
                wait = max(0.0, min(self.next_tick, self.next_heartbeat) - time.monotonic())
                for key, events in self.selector.select(wait):
                    worker, end = key.data
                    if end == "samples":
                        self._receive(worker)
                    elif events & selectors.EVENT_WRITE:
                        self._send(worker)
                now = time.monotonic()
                if now >= self.next_tick:
                    self.next_tick = now + TICK_S
                    self._watch(now)
                if now >= self.next_heartbeat:
                    self.next_heartbeat = now + HEARTBEAT_S
                    self._heartbeat(now)
        except KeyboardInterrupt:
            self._end_all()
            return self._outcome("interrupted")
        self._heartbeat(time.monotonic())
        if self.fatal is not None:
            kind, message = self.fatal
            if kind == protocol.SPEC_ERROR:
                raise SpecError(self.plan.spec, message)
            if kind == "flapping":
                raise UsageError(message)
            return self._outcome("error", setup_error=message)
        return self._outcome("completed")

    def _start_workers(self) -> None:
        while self._work_left() and self._occupied() < self.pool.workers:
            self._spawn(None)

    # -- feeding ----------------------------------------------------------------------------

    def _feed(self, worker: PoolWorker) -> None:
        if worker.standby_for is not None:  # fed once it takes over
            if not self._work_left():
                self._close_input(worker)
            return
        if not worker.ready or worker.retiring or worker.killed_for:
            return
        if worker.process.jobs_fd is None:
            return
        left = self.count - self.ledger.handed_out + len(self.ledger.again)
        worker.link.pending += self.window.lines_for(worker, left)
        while len(worker.queue) < worker.jobs_ahead():
            entry = self.ledger.next_job(self.source)
            if entry is None:
                self.exhausted = True
                break
            if not worker.queue:
                worker.job_started = time.monotonic()
            worker.queue.append(entry)
            worker.link.pending += protocol.encode_job(*entry)
        if worker.link.pending:
            self._send(worker)
        elif not worker.queue and not self._work_left():
            worker.process.close_input()  # nothing left: it tears down and exits

    # -- hearing ----------------------------------------------------------------------------

    def _receive(self, worker: PoolWorker) -> None:
        lines = worker.link.read_lines()
        if lines is None:
            self.selector.unregister(worker.link.samples_fd)
            self._ended(worker)
            return
        kept = []
        now = time.monotonic()
        for line in lines.splitlines(keepends=True):
            if line.startswith(protocol.EVENT_PREFIX):
                self._on_event(worker, protocol.decode_event(line), now)
            elif line.startswith(SAMPLE_PREFIX) and self._finished(worker, line, now):
                kept.append(self.window.mark(worker, line))
        if kept:
            self.log.write(b"".join(kept))
            self.on_progress(self.ledger.finished_count)

    def _finished(self, worker: PoolWorker, line: bytes, now: float) -> bool:
        start = len(SAMPLE_PREFIX)
        job_index = int(line[start : line.index(b",", start)])
        worker.finished(job_index, now)
        return self.ledger.finish(job_index)

    def _on_event(self, worker: PoolWorker, event: dict[str, Any], now: float) -> None:
        name = event["event"]
        if name == protocol.READY:
            worker.ready_at = now
            self.restarts.ready(worker, now)
            self.kind = self.kind or str(event.get("kind", ""))
            if not self.probes:  # the first worker's cadences describe the run's
                self.probes, self._describer = tuple(event.get("probes", ())), worker
        elif name == protocol.CADENCES and worker is self._describer:
            self.probes = tuple(event["probes"])
        elif name == protocol.RECYCLE:
            self.window.recycling(worker)
            reason: RecycleReason = event["reason"]
            worker.retire(reason)
            self.ledger.give_back(list(worker.queue))
            worker.queue.clear()
            self._close_input(worker)
            record = self.restarts.record(
                worker, reason, int(event["job_index"]), event.get("rss_bytes")
            )
            flapping = self.restarts.memory_flapping(worker, reason)
            if flapping is not None:
                self.fatal = ("flapping", flapping)
            if self.restarts.take_over(worker, record, self.workers):
                worker.restart_started = True
            elif self.pool.prestart and self._work_left():
                worker.restart_started = True
                self._spawn(record)
        elif name in (protocol.SPEC_ERROR, protocol.SETUP_ERROR):
            self.fatal = (name, str(event["message"]))
        elif name == protocol.LEAK_SITES:
            report = {k: v for k, v in event.items() if k != "event"}
            self.window.leak_sites(worker, worker.pid, report)
        elif name == protocol.TEARDOWN_ERROR:
            self.teardown_errors.append(str(event["message"]))

    # -- ending -----------------------------------------------------------------------------

    def _ended(self, worker: PoolWorker) -> None:
        """The worker's output ended: it exited or was ended. Settle its jobs; replace it."""
        returncode = self._reap(worker)
        self.workers.remove(worker)
        self.window.ended(worker)
        worker.memory.close()
        life = replace(
            self.lifetimes[worker.lifetime],
            jobs=worker.jobs_done,
            ended_s=self.restarts.clock(),
            exitcode=returncode,
        )
        self.lifetimes[worker.lifetime] = life
        if self.stopping:  # the run is being ended: its unfinished jobs stay unfinished
            self.lifetimes[worker.lifetime] = replace(life, end="run ended")
            return
        if worker.standby_for is not None:  # a standby never needed
            worker.standby_for.standby = None
            self.lifetimes[worker.lifetime] = replace(life, end="standby not needed")
            return
        record: Restart | None = None
        if worker.retiring is not None:
            self.lifetimes[worker.lifetime] = replace(life, end=worker.retiring)
            if worker.restart_started:
                return
            record = next(r for r in reversed(self.restarts.records) if r.pid == worker.pid)
            if returncode != EXIT_RECYCLE:
                record.note = f"exited with {exit_text(returncode)} after its recycle"
        elif worker.killed_for is None and not worker.queue and returncode == 0:
            self.lifetimes[worker.lifetime] = replace(life, end="end of jobs")
            if worker.standby is not None:
                self._close_input(worker.standby)
            return
        else:
            reason: RecycleReason = worker.killed_for or "crash"
            in_flight = worker.queue[0] if worker.queue else None
            record = self.restarts.record(worker, reason, in_flight[0] if in_flight else None, None)
            record.exit = exit_text(returncode)
            if worker.killed_for is None and oom_killed(returncode, worker.oom_before):
                record.exit += ", by the kernel's out-of-memory killer"
            self.lifetimes[worker.lifetime] = replace(life, end=reason)
            if in_flight is not None:
                self._interrupted(worker, in_flight, reason, record)
            self.ledger.give_back(list(worker.queue)[1:])
            worker.queue.clear()
            if not worker.ready and self.fatal is None:
                dying = self.restarts.died_before_ready(returncode, WORKER_LOG)
                if dying is not None:
                    self.fatal = (protocol.SETUP_ERROR, dying)
        taken_over = (
            self.fatal is None
            and record is not None
            and self.restarts.take_over(worker, record, self.workers)
        )
        if self.fatal is None and record is not None and not taken_over and self._work_left():
            self._spawn(record)

    def _interrupted(
        self,
        worker: PoolWorker,
        entry: tuple[int, Job],
        reason: RecycleReason,
        record: Restart,
    ) -> None:
        job_index, job = entry
        why = {
            "kill": f"its worker passed --kill-memory ({(worker.last_rss or 0) / 1e6:.1f} MB RSS)",
            "timeout": f"it ran longer than --job-timeout {self.plan.job_timeout}s",
        }.get(reason, f"its worker crashed ({record.exit})")
        if self.ledger.interrupt(job_index, job, why):
            record.retried = True
            return
        record.retried = False
        tries = self.ledger.interruptions[job_index]
        elapsed = time.monotonic() - (worker.job_started or time.monotonic())
        message = (
            f"the job was interrupted {tries} times: {why}; "
            f"not run again (--max-retries {self.pool.max_retries})"
        )
        end_ns = time.perf_counter_ns() - self.plan.origin_ns
        self.log.write(
            ended_job_sample(job_index, int(elapsed * 1e9), end_ns, worker.pid, message, node_id())
        )

    def _kill(self, worker: PoolWorker, reason: RecycleReason, now: float) -> None:
        worker.end(reason, now + self.plan.grace_s)
        self._close_input(worker)
        signal_group(worker.pid, signal.SIGTERM)

    def _end_all(self) -> None:
        self.stopping = True
        now = time.monotonic()
        for worker in self.workers:
            if worker.killed_for is None:
                self._kill(worker, "kill", now)
        for worker in list(self.workers):
            try:
                worker.process.popen.wait(self.plan.grace_s)
            except subprocess.TimeoutExpired:
                signal_group(worker.pid, signal.SIGKILL)
            self._drain(worker)

    def _drain(self, worker: PoolWorker) -> None:
        """Keep the samples a worker wrote before it was ended."""
        fd = worker.process.samples_fd
        if fd is None:
            return
        while worker in self.workers:
            self._receive(worker)

    # -- watching ---------------------------------------------------------------------------

    def _watch(self, now: float) -> None:
        timeout = self.plan.job_timeout
        kill_memory = self.pool.kill_memory
        for worker in list(self.workers):
            if worker.kill_at is not None:
                if now >= worker.kill_at:
                    signal_group(worker.pid, signal.SIGKILL)
                    worker.kill_at = None
                continue
            if worker.killed_for is not None:
                continue
            if worker.retiring is not None:
                # Teardown is bounded like setup; its jobs are settled already.
                if now - (worker.last_finish or now) > self.startup_limit:
                    signal_group(worker.pid, signal.SIGKILL)
                continue
            rss = worker.memory.rss()
            if rss is not None and worker.last_rss is not None:
                worker.rss_rate = (rss - worker.last_rss) / TICK_S
            worker.last_rss = rss or worker.last_rss
            if self.pool.prestart and self._work_left() and self.restarts.near_a_limit(worker, now):
                worker.standby = self._spawn(None, standby_for=worker)
            if kill_memory is not None and (worker.last_rss or 0) > kill_memory:
                self._kill(worker, "kill", now)
            elif (not worker.ready and now - worker.spawned_at > self.startup_limit) or (
                timeout is not None
                and worker.queue
                and worker.job_started is not None
                and now - worker.job_started > timeout
            ):
                self._kill(worker, "timeout", now)
