"""Drive a real job queue: send the workload's jobs as the user's tasks through a broker, to
the framework's own worker processes, and take the samples their hooks send back.

It starts a worker beside itself (``worker_soak.queues.serve``) unless workers run elsewhere
(``--no-start-worker``): all it needs travels through the broker, so one run drives a fleet.
It keeps a ledger of every task and worker process, and stops a run that stalls."""

from __future__ import annotations

import base64
import contextlib
import pickle
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

from worker_soak.errors import UsageError
from worker_soak.model import QueueConfig, RunOutcome
from worker_soak.queues import task_meter
from worker_soak.queues.accounts import ProcessBook, TaskLedger, proc_of, recycles
from worker_soak.queues.channel import Channel, check_broker, open_channel, redacted, scheme_of
from worker_soak.queues.serve import DEFAULT_QUEUE, worker_command
from worker_soak.queues.tracing import QueueWindow
from worker_soak.runners import ProgressCallback
from worker_soak.runners.spawn import child_env, signal_group
from worker_soak.store import WORKER_LOG, SampleLog
from worker_soak.worker import protocol
from worker_soak.worker.evidence import AGED_RESULTS_FILE, VALUE
from worker_soak.worker.execute import ended_job_sample
from worker_soak.workloads.base import Job

#: Jobs sent ahead of the ones finished: enough to keep every worker process busy, few
#: enough that a stopped run leaves little on the broker.
AHEAD: Final = 256
STOP_GRACE_S: Final = 20.0
#: After the workers stop: how long their last events (exits) may take to arrive.
DRAIN_S: Final = 1.0


class Sender(Protocol):
    def send(self, job_index: int, job: Mapping[str, Any], envelope: Mapping[str, Any]) -> None: ...

    def purge(self) -> None: ...

    def settings(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class QueueRunner:
    """Runs a soak through Celery or RQ (``runner``), per :class:`QueueConfig`."""

    def __init__(
        self,
        runner: str,
        spec: str,
        run_dir: Path,
        origin_ns: int,
        queue: QueueConfig,
        import_paths: tuple[str, ...] = (),
        trace_first: int | None = None,
        keep_results: frozenset[int] = frozenset(),
    ) -> None:
        """``keep_results``: the jobs whose results come home, to compare with a fresh
        process's (the isolation verdict)."""
        self.runner = runner
        self.keep_results = keep_results
        self.spec = spec
        self.run_dir = run_dir
        self.origin_ns = origin_ns
        self.config = queue
        self.import_paths = import_paths
        self.trace_first = trace_first

    def _sender(self, queue_name: str) -> Sender:
        if self.runner == "celery":
            from worker_soak.queues.celery_app import CelerySender, load_target

            return CelerySender(load_target(self.spec, self.config.broker), queue_name)
        if scheme_of(self.config.broker) != "redis":
            raise UsageError(
                f"--broker {redacted(self.config.broker)}: RQ works with Redis only; "
                "expected a redis:// URL"
            )
        try:
            from worker_soak.queues.rq_app import RQSender, function_path
        except ImportError:
            raise UsageError("--runner rq needs RQ: pip install 'worker-soak[queues]'") from None
        return RQSender(self.config.broker, queue_name, function_path(self.spec))

    def run(
        self, jobs: Iterator[Job], count: int, log: SampleLog, on_progress: ProgressCallback
    ) -> RunOutcome:
        check_broker(self.config.broker)
        token = uuid.uuid4().hex[:12]
        queue_name = self.config.queue or (
            f"soak.{token}" if self.config.start_worker else DEFAULT_QUEUE
        )
        with contextlib.ExitStack() as stack:
            import_paths = [p for p in self.import_paths if p not in sys.path]
            sys.path[:0] = import_paths
            stack.callback(_remove_paths, import_paths)
            sender = self._sender(queue_name)
            stack.callback(sender.close)
            channel = open_channel(self.config.broker, f"run.{token}")
            stack.callback(channel.close)
            stack.callback(channel.delete)
            worker = self._start_worker(queue_name) if self.config.start_worker else None
            drive = _Drive(self, sender, channel, worker, token, queue_name, count, log)
            try:
                stop_reason = drive.loop(jobs, on_progress)
            except KeyboardInterrupt:
                stop_reason = "interrupted"
            finally:
                drive.finish()
            return drive.outcome(stop_reason)
        raise AssertionError("unreachable")  # pragma: no cover - ExitStack does not swallow

    def _start_worker(self, queue_name: str) -> subprocess.Popen[bytes]:
        config = self.config
        command = worker_command(
            self.runner,
            self.spec,
            config.broker,
            queue_name,
            config.concurrency,
            config.max_tasks_per_child,
            config.max_memory_per_child_kib,
            config.rq_worker,
        )
        with open(self.run_dir / WORKER_LOG, "ab") as worker_log:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=child_env(self.import_paths, tcache_off=True),
            )


def _remove_paths(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(ValueError):
            sys.path.remove(path)


class _Drive:
    """One run's loop: send ahead, read the channel, account, stop."""

    def __init__(
        self,
        runner: QueueRunner,
        sender: Sender,
        channel: Channel,
        worker: subprocess.Popen[bytes] | None,
        token: str,
        queue_name: str,
        count: int,
        log: SampleLog,
    ) -> None:
        self.runner = runner
        self.sender = sender
        self.channel = channel
        self.worker = worker
        self.queue_name = queue_name
        self.count = count
        self.log = log
        self.ledger = TaskLedger()
        self.book = ProcessBook()
        self.kind = f"{runner.runner} task"
        self.probes: tuple[Mapping[str, object], ...] = ()
        self.last_end_ns = 0
        self.stalled: str | None = None
        self.results: BinaryIO | None = None
        origin_epoch = time.time_ns() - (time.perf_counter_ns() - runner.origin_ns)
        self.envelope: dict[str, Any] = {
            task_meter.RUN: token,
            task_meter.CHANNEL: f"run.{token}",
            task_meter.ORIGIN: origin_epoch,
            task_meter.RUN_DIR: str(runner.run_dir.resolve()),
        }
        self.window = QueueWindow(runner.trace_first, count)
        if not (runner.runner == "rq" and runner.config.rq_worker == "fork"):
            self.window.plan(runner.config.concurrency)

    # -- the loop ---------------------------------------------------------------------------

    def loop(self, jobs: Iterator[Job], on_progress: ProgressCallback) -> str:
        stall_s = self.runner.config.stall_timeout_s
        last_progress = time.monotonic()
        exhausted = False
        while self.ledger.finished < self.count:
            while not exhausted and self.ledger.outstanding < AHEAD:
                if self.ledger.sent >= self.count:
                    exhausted = True
                    break
                try:
                    job = next(jobs)
                except StopIteration:
                    exhausted = True
                    break
                self._send(job)
            lines = self.channel.receive(0.2)
            if lines:
                finished_before = self.ledger.finished
                self._take(lines)
                if self.ledger.finished != finished_before:
                    last_progress = time.monotonic()
                    on_progress(self.ledger.finished)
                continue
            if exhausted and self.ledger.sent == self.ledger.finished:
                break
            if self.worker is not None and self.worker.poll() is not None:
                self.stalled = (
                    f"the {self.runner.runner} worker exited (code {self.worker.returncode}) "
                    f"with {self.ledger.outstanding} tasks unfinished; see {WORKER_LOG}"
                )
                return "error"
            if time.monotonic() - last_progress > stall_s:
                self.stalled = (
                    f"no task finished for {stall_s:g} s with {self.ledger.outstanding} "
                    f"outstanding (queue {self.queue_name!r}): no worker serves the queue, "
                    "or every one is stuck"
                )
                return "error"
        return "completed"

    def _send(self, job: Job) -> None:
        index = self.ledger.sent
        envelope = {**self.envelope, task_meter.INDEX: index}
        if index in self.runner.keep_results:
            envelope[task_meter.KEEP] = 1
        first_jobs = self.window.mark(index)
        if first_jobs is not None:
            envelope[task_meter.TRACE] = first_jobs
        self.sender.send(index, job, envelope)
        self.ledger.sent += 1

    def _take(self, lines: list[bytes]) -> None:
        samples: list[bytes] = []
        for line in lines:
            if line.startswith(protocol.EVENT_PREFIX):
                self._event(protocol.decode_event(line))
                continue
            sample = self._sample(line)
            if sample is not None:
                samples.append(sample)
        if samples:
            self.log.write(b"".join(samples))

    def _sample(self, line: bytes) -> bytes | None:
        fields = protocol.decode_event(line)
        index = int(fields["job_index"])
        process = proc_of(fields, "worker_pid", "worker_node")
        if not self.ledger.finish(index):
            return None
        end_ns = int(fields["end_ns"])
        self.last_end_ns = max(self.last_end_ns, end_ns)
        self.book.finished(process, index, end_ns, fields.get("rss_bytes"))
        if self.window.beside(process, fields):
            return line[:-2] + protocol.BESIDE_WINDOW_MARK
        return line

    def _event(self, event: dict[str, Any]) -> None:
        name = event["event"]
        if name == task_meter.START:
            self.ledger.start(int(event["job_index"]), proc_of(event))
            self.book.started(event)
        elif name == protocol.READY:
            self.book.ready(event)
            self.probes = self.probes or tuple(event.get("probes", ()))
        elif name == protocol.CADENCES:
            self.probes = tuple(event["probes"])
        elif name == task_meter.EXIT:
            self.book.exited(event)
            why = "its process ended before the window did"
            self.window.lost(proc_of(event), why, self.ledger.sent, self._processes())
        elif name == task_meter.WINDOW_OPEN:
            self.window.opened(proc_of(event))
        elif name == protocol.LEAK_SITES:
            self.window.leak_sites(event, self.ledger.sent, self._processes())
        elif name == task_meter.RESULT:
            self._keep_result(event)
        elif name == task_meter.GIVEN_UP:
            self._given_up(event)

    def _given_up(self, event: dict[str, Any]) -> None:
        """A task the framework failed when its process died: an error sample, so it counts
        among the failed jobs (never lost, never waited for)."""
        index = int(event["job_index"])
        process = self.ledger.give_up(index)
        if process is None:
            return
        message = f"its worker process died with it and it was not run again ({event['why']})"
        self.log.write(
            ended_job_sample(index, 0, int(event["at_ns"]), process[1], message, process[0])
        )

    def _keep_result(self, event: dict[str, Any]) -> None:
        """A kept task's outcome, stored as the process runner's worker stores it."""
        payload = event["payload"]
        if event["kind"] == VALUE:
            payload = base64.b64decode(payload)
        if self.results is None:
            self.results = open(self.runner.run_dir / AGED_RESULTS_FILE, "ab")  # noqa: SIM115
        pickle.dump((int(event["job_index"]), (event["kind"], payload)), self.results)
        self.results.flush()

    def _processes(self) -> int:
        return max(self.runner.config.concurrency, len(self.book.processes))

    # -- the end ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Stop the started worker (warm shutdown, then kill), take its last events."""
        if self.ledger.finished < self.count:
            with contextlib.suppress(Exception):
                self.sender.purge()
        worker = self.worker
        if worker is not None:
            _stop(worker)
        deadline = time.monotonic() + (DRAIN_S if worker is not None else 0.3)
        with contextlib.suppress(Exception):
            while time.monotonic() < deadline:
                lines = self.channel.receive(0.1)
                if lines:
                    self._take(lines)
        if self.results is not None:
            self.results.close()

    def outcome(self, stop_reason: str) -> RunOutcome:
        config = self.runner.config
        limits = {
            "max_memory_bytes": config.max_memory_per_child_kib * 1024
            if config.max_memory_per_child_kib
            else None,
            "max_jobs_per_worker": config.max_tasks_per_child,
            "max_worker_age_s": None,
        }
        settings = {}
        with contextlib.suppress(Exception):
            settings = self.sender.settings()
        if limits["max_memory_bytes"] is None and settings.get("worker_max_memory_per_child"):
            limits["max_memory_bytes"] = int(settings["worker_max_memory_per_child"]) * 1024
        if limits["max_jobs_per_worker"] is None and settings.get("worker_max_tasks_per_child"):
            limits["max_jobs_per_worker"] = int(settings["worker_max_tasks_per_child"])
        found = recycles(self.book, self.ledger.crashed(), self.last_end_ns, limits)
        summary: dict[str, Any] = {
            "workers": max(config.concurrency, len(self.book.nodes())),
            "limits": limits,
            "recycles": found,
            "lifetimes": self.book.lifetimes(found),
            **self.ledger.summary(),
            "queue": {
                "runner": self.runner.runner,
                "broker": redacted(config.broker),
                "queue": self.queue_name,
                "started_worker": config.start_worker,
                "rq_worker": config.rq_worker if self.runner.runner == "rq" else None,
                "framework_settings": settings,
                "processes": len(self.book.processes),
                "nodes": sorted({f"{p.host}/{p.parent}" for p in self.book.processes.values()}),
                "stalled": self.stalled,
                "processes_per_node": config.concurrency,
            },
        }
        return RunOutcome(
            self.ledger.finished,
            stop_reason,  # type: ignore[arg-type]
            worker_kind=self.kind,
            probes=self.probes,
            attribution=self._attribution(),
            setup_error=self.stalled,
            pool=summary,
        )

    def _attribution(self) -> dict[str, Any] | None:
        forking = self.runner.runner == "rq" and self.runner.config.rq_worker == "fork"
        why = "RQ's forking worker runs each job in a new process: no window" if forking else None
        return self.window.result(why)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """Warm shutdown of the worker and every process it started; nothing outlives the run."""
    if worker.poll() is None:
        # The worker's main process only: Celery's warm shutdown lets each pool child
        # finish its task; a SIGTERM to the whole group would kill them mid-task.
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            signal_group(worker.pid, signal.SIGKILL)
            worker.wait()
    signal_group(worker.pid, signal.SIGKILL)  # a pool child the worker left behind
