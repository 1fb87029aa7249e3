"""The memray window in a pool: which worker carries it, and which jobs it disturbs.

One worker process at a time carries the window (its files have fixed names). It is armed
(``A <first>``) and opens the window itself when a recycle limit comes near, or is told to
open it now (``T <first>``) when the run's last jobs are being handed out. It analyses the
window before it tears down and sends the leak sites; until one window completes, each new
lifetime may carry it.

While it traces, and while it analyses, it takes CPU and memory bandwidth from the others:
their jobs in that span are marked ``beside_window`` and left out of the verdicts
(measured: 1 latency false alarm in 10 pool runs of the email worker with the window, 0 in
10 without).
"""

from __future__ import annotations

from typing import Any

from worker_soak.worker import protocol
from worker_soak.worker.tracing import window_jobs


class WindowCarrier:
    """The supervisor's side of the pool's memray window. ``worker`` is any hashable handle
    of a worker process; ``pid`` is only for the report."""

    def __init__(self, first_jobs: int | None, workers: int) -> None:
        self.first_jobs = first_jobs
        self.workers = workers
        self.armed: object | None = None
        self.opened = False
        #: The armed worker traced at least one job (so its recycle means analysis).
        self.seen = False
        self.running = False
        self.attribution: dict[str, Any] | None = None
        self.notes: list[str] = []

    def lines_for(self, worker: object, jobs_left: int) -> bytes:
        """Control lines to send ``worker`` before its next jobs (empty: none)."""
        first = self.first_jobs
        if first is None or self.attribution is not None:
            return b""
        lines = b""
        if self.armed is None:
            self.armed = worker
            self.opened = self.seen = False
            lines += protocol.ARM_MARK + b"%d\n" % first
        near_the_end = jobs_left <= 2 * window_jobs(first) * self.workers
        if self.armed is worker and not self.opened and near_the_end:
            self.opened = True
            lines += protocol.TRACE_MARK + b"%d\n" % first
        return lines

    def mark(self, worker: object, line: bytes) -> bytes:
        """A sample line as it goes to disk: marked when it ran beside the window."""
        if worker is self.armed:
            traced = line.endswith(protocol.TRACED_MARK)
            self.seen = self.seen or traced
            self.running = traced
            return line
        if self.running:
            return line[:-2] + protocol.BESIDE_WINDOW_MARK
        return line

    def recycling(self, worker: object) -> None:
        """The worker stops taking jobs; if it traced, it analyses its window now."""
        if worker is self.armed and self.seen:
            self.running = True

    def leak_sites(self, worker: object, pid: int, report: dict[str, Any]) -> None:
        """What the worker's window found, or why it found nothing."""
        self.running = False
        if "sites" in report and "note" not in report:
            self.attribution = {**report, "traced_pid": pid}
        else:
            self.notes.append(f"pid {pid}: {report.get('note', '?')}")

    def ended(self, worker: object) -> None:
        if worker is self.armed:
            self.armed = None
            self.running = False

    def result(self) -> dict[str, Any] | None:
        """``attribution`` for result.json: the leak sites, or why there are none."""
        if self.attribution is None and self.first_jobs is not None:
            tried = "; ".join(self.notes) or "no worker reached its window"
            return {"note": f"the memray window never completed in a worker ({tried})"}
        return self.attribution
