"""The harness's own account of a queue run: every task sent, started (by which process),
finished; and every worker process the framework started and ended.

The framework decides retries and recycling; the harness only watches, from what the hooks
send: a ``start`` event before each task, its sample after it, ``ready``/``exit`` events for
each worker process. From those it tells exactly-once (lost, run twice, interrupted and run
again) and each recycle with its gap, whatever the framework's own bookkeeping says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from worker_soak.runners.ledger import Settled

#: A worker process as (node, pid): containers repeat pids, never (node, pid). The node is
#: None in events and samples that carry none.
Proc = tuple[int | None, int]


def proc_of(fields: Mapping[str, Any], pid_field: str = "pid", node_field: str = "node") -> Proc:
    """The process an event (``pid``, ``node``) or a sample (``worker_pid``, ``worker_node``)
    comes from."""
    node = fields.get(node_field)
    return (None if node is None else int(node), int(fields.get(pid_field, 0)))


#: How many interrupted jobs are listed by index in the result (all are counted).
MAX_LISTED: Final = 50


@dataclass(slots=True)
class TaskLedger:
    """Exactly-once accounting; its memory is bounded by the jobs in flight, not the run."""

    sent: int = 0
    finished: int = 0
    run_twice: int = 0
    #: Tasks the framework gave up when their process died (recorded as failed).
    given_up: int = 0
    #: job index -> the process that started it last, while it has not finished.
    in_flight: dict[int, Proc] = field(default_factory=dict)
    #: Jobs started again after the process running them ended (counted once each).
    interrupted: dict[int, int] = field(default_factory=dict)
    #: process -> the job it had in its hands when it died (started again, or given up).
    died_with: dict[Proc, int] = field(default_factory=dict)
    _settled: Settled = field(default_factory=Settled)

    def start(self, job_index: int, process: Proc) -> None:
        if job_index in self._settled:
            return  # its sample already came: a second run shows as a second sample
        if job_index in self.in_flight:
            self.interrupted[job_index] = self.interrupted.get(job_index, 0) + 1
            self.died_with[self.in_flight[job_index]] = job_index
        self.in_flight[job_index] = process

    def give_up(self, job_index: int) -> Proc | None:
        """The framework failed the job when its process died; that process ((None, 0) if
        unknown). None when the job had settled already."""
        if job_index in self._settled:
            return None  # said twice, or its sample came first: nothing ran twice
        process = self.in_flight.get(job_index)
        if process is not None:
            self.died_with[process] = job_index
        self.finish(job_index)
        self.given_up += 1
        return process or (None, 0)

    def crashed(self) -> dict[Proc, int]:
        """process -> job for every process that died with a job: those whose job started
        again or was given up, and those still holding one when the run ended."""
        return {
            **{process: index for index, process in self.in_flight.items()},
            **self.died_with,
        }

    def finish(self, job_index: int) -> bool:
        """A sample arrived; False when the job had already finished (it ran twice)."""
        self.in_flight.pop(job_index, None)
        if job_index in self._settled:
            self.run_twice += 1
            return False
        self._settled.add(job_index)
        self.finished += 1
        return True

    @property
    def outstanding(self) -> int:
        return self.sent - self.finished

    def summary(self) -> dict[str, Any]:
        interrupted = sorted(self.interrupted)
        return {
            "jobs_handed_out": self.sent,
            "jobs_finished": self.finished,
            "jobs_lost": self.sent - self.finished,
            "jobs_retried": len(interrupted),
            "jobs_run_twice": self.run_twice,
            "jobs_failed_by_interruption": self.given_up,
            "jobs_in_flight_at_end": sorted(self.in_flight)[:MAX_LISTED],
            "interrupted_jobs": interrupted[:MAX_LISTED],
        }


@dataclass(slots=True)
class WorkerProcess:
    """One worker process as its hooks told of it (times: ns since the run's origin)."""

    pid: int
    parent: int
    host: str
    ready_ns: int
    #: Its node (``worker_soak.worker.node``); None from hooks that send none.
    node_id: int | None = None
    jobs: int = 0
    first_start_ns: int | None = None
    last_end_ns: int | None = None
    last_job: int | None = None
    last_rss_bytes: int | None = None
    exit: Mapping[str, Any] | None = None

    @property
    def key(self) -> Proc:
        return (self.node_id, self.pid)

    @property
    def node(self) -> tuple[str, int]:
        """The worker its process belongs to: processes of one node replace each other."""
        return (self.host, self.parent)


@dataclass(slots=True)
class ProcessBook:
    """Every worker process that ran a task of the run."""

    processes: dict[Proc, WorkerProcess] = field(default_factory=dict)

    def ready(self, event: Mapping[str, Any]) -> None:
        key = proc_of(event)
        if key in self.processes:
            return  # RQ's work horses speak for their worker: one process, many horses
        self.processes[key] = WorkerProcess(
            key[1], int(event["parent"]), str(event["host"]), int(event["at_ns"]), key[0]
        )

    def started(self, event: Mapping[str, Any]) -> None:
        process = self.processes.get(proc_of(event))
        if process is not None and process.first_start_ns is None:
            process.first_start_ns = int(event["at_ns"])

    def finished(self, key: Proc, job_index: int, end_ns: int, rss: int | None) -> None:
        process = self.processes.get(key)
        if process is None:
            return
        process.jobs += 1
        if process.last_end_ns is None or end_ns >= process.last_end_ns:
            process.last_end_ns = end_ns
            process.last_job = job_index
        if rss is not None:
            process.last_rss_bytes = rss

    def exited(self, event: Mapping[str, Any]) -> None:
        process = self.processes.get(proc_of(event))
        if process is not None:
            process.exit = dict(event)

    def nodes(self) -> set[tuple[str, int]]:
        """The workers (host, main pid) whose processes ran tasks."""
        return {process.node for process in self.processes.values()}

    def lifetimes(self, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every process's life for result.json, with how it ended (a recycle's reason)."""
        ended = {(r.get("node"), int(r["pid"])): str(r["reason"]) for r in found}
        return [
            {
                "worker": f"{p.host}/{p.parent}",
                "pid": p.pid,
                **({"node": p.node_id} if p.node_id is not None else {}),
                "jobs": p.jobs,
                "started_s": round(p.ready_ns / 1e9, 4),
                "ended_s": round(p.last_end_ns / 1e9, 4) if p.last_end_ns is not None else None,
                "end": ended.get(p.key, "run ended"),
            }
            for p in sorted(self.processes.values(), key=lambda p: p.ready_ns)
        ]


def recycles(
    book: ProcessBook,
    interrupted: Mapping[Proc, int],
    run_end_ns: int,
    limits: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Each worker process that ended while the run went on, with why and how long its
    place stayed empty (its last job's end to the next process of the same node's first
    job). ``interrupted``: process -> the job it was running when it ended."""
    by_node: dict[tuple[str, int], list[WorkerProcess]] = {}
    for process in book.processes.values():
        by_node.setdefault(process.node, []).append(process)
    found: list[dict[str, Any]] = []
    for node_processes in by_node.values():
        node_processes.sort(key=lambda p: p.ready_ns)
        taken: set[Proc] = set()
        for process in node_processes:
            crashed = process.key in interrupted
            last_end = process.last_end_ns if process.last_end_ns is not None else process.ready_ns
            if not crashed and (process.exit is None or _at_run_end(process, run_end_ns)):
                continue
            follower = next(
                (
                    other
                    for other in node_processes
                    if other.key not in taken
                    and other.key != process.key
                    and other.ready_ns >= last_end
                    and other.first_start_ns is not None
                ),
                None,
            )
            if follower is None and not crashed:
                continue  # the node stopped: the run's end, not a recycle
            gap = None
            if follower is not None and follower.first_start_ns is not None:
                taken.add(follower.key)
                gap = round(max(0, follower.first_start_ns - last_end) / 1e9, 4)
            exit_event = process.exit or {}
            record: dict[str, Any] = {
                "worker": f"{process.host}/{process.parent}",
                "pid": process.pid,
                **({"node": process.node_id} if process.node_id is not None else {}),
                "job_index": interrupted.get(process.key, process.last_job),
                "reason": "crash" if crashed else _reason(process, limits),
                "rss_bytes": exit_event.get("rss_bytes", process.last_rss_bytes),
                "peak_rss_bytes": exit_event.get("peak_rss_bytes"),
                "jobs_done": process.jobs,
                "at_s": round(last_end / 1e9, 4),
                "restart_seconds": gap,
            }
            if follower is not None:
                record["next_pid"] = follower.pid
            note = _peak_note(record, limits)
            if note:
                record["note"] = note
            found.append(record)
    found.sort(key=lambda r: float(r["at_s"]))
    return found


def _peak_note(record: Mapping[str, Any], limits: Mapping[str, Any]) -> str:
    """Celery compares a child's PEAK RSS with its limit: one large temporary recycles a
    child whose current RSS is far below it. Say so when that is what happened."""
    limit = limits.get("max_memory_bytes")
    peak, current = record.get("peak_rss_bytes"), record.get("rss_bytes")
    if record["reason"] != "memory" or limit is None or peak is None or current is None:
        return ""
    if int(current) >= int(limit):
        return ""
    return (
        f"recycled on its peak RSS ({int(peak) / 2**20:.0f} MiB, ru_maxrss) while its current "
        f"RSS was {int(current) / 2**20:.0f} MiB: one large temporary is enough"
    )


def _at_run_end(process: WorkerProcess, run_end_ns: int) -> bool:
    """An exit after the run's last job: the worker was stopped, not recycled."""
    return process.exit is not None and int(process.exit.get("at_ns", 0)) >= run_end_ns


def _reason(process: WorkerProcess, limits: Mapping[str, Any]) -> str:
    """Why the framework ended a process that finished its jobs: its task limit, else its
    memory limit (Celery compares the peak RSS, ``ru_maxrss``), else the framework's own."""
    max_tasks = limits.get("max_jobs_per_worker")
    if max_tasks is not None and process.jobs >= int(max_tasks):
        return "jobs"
    max_memory = limits.get("max_memory_bytes")
    peak = (process.exit or {}).get("peak_rss_bytes")
    if max_memory is not None and peak is not None and int(peak) >= int(max_memory):
        return "memory"
    return "exit"
