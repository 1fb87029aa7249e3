"""The memray window of a queue run, seen from the harness: which task carries the mark, which
worker process traces, what it found, and when to mark another task.

The harness cannot choose a process (the broker hands tasks to whichever is free); it marks
one task, and the process that runs it opens the window for its own next jobs. A process the
framework recycles before its window completes cuts it short: another task is marked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from worker_soak.queues.accounts import Proc, proc_of
from worker_soak.worker.tracing import window_jobs

#: memray makes a traced task ~4x slower; the traced process's siblings run on meanwhile.
TRACE_SLOWDOWN: Final = 4
#: Tries at a complete memray window (a recycled process cuts one short).
WINDOW_TRIES: Final = 3
_LEAK_SITE_KEYS: Final = ("traced_from_job", "jobs_traced", "files", "sites")


@dataclass(slots=True)
class QueueWindow:
    """``first_jobs`` None: no window in this run."""

    first_jobs: int | None
    jobs: int
    mark_at: int | None = None
    tries: int = 0
    #: The process (node, pid) that carries the window, once it opened.
    tracing: Proc | None = None
    attribution: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def plan(self, processes: int) -> None:
        """Mark a task late, yet early enough that the traced process runs its whole window
        while its siblings (and its own slower traced tasks) run on."""
        if self.first_jobs is None:
            return
        needed = window_jobs(self.first_jobs) * (1 + TRACE_SLOWDOWN * (processes - 1))
        mark = self.jobs - int(needed * 1.2)
        self.mark_at = max(mark, self.jobs // 3) if mark > 0 else None

    def mark(self, index: int) -> int | None:
        """The window's first length, if task ``index`` is the one to carry the mark."""
        if self.mark_at is None or index < self.mark_at or self.tracing is not None:
            return None
        self.mark_at = None
        self.tries += 1
        return self.first_jobs

    def beside(self, process: Proc, sample: Mapping[str, Any]) -> bool:
        """Whether a sample ran in another process while the window was open."""
        return (
            self.tracing is not None
            and self.attribution is None
            and process != self.tracing
            and "traced" not in sample
        )

    def opened(self, process: Proc) -> None:
        self.tracing = process

    def leak_sites(self, event: Mapping[str, Any], sent: int, processes: int) -> None:
        """What the traced process found, or why it found nothing."""
        process = proc_of(event)
        if "note" in event or "sites" not in event:
            self.lost(process, str(event.get("note", "no sites")), sent, processes)
            return
        self.attribution = {key: event[key] for key in _LEAK_SITE_KEYS if key in event}
        self.attribution["traced_pid"] = process[1]

    def lost(self, process: Proc, why: str, sent: int, processes: int) -> None:
        """The tracing process ended, or its window came to nothing: mark another task."""
        if self.tracing != process or self.attribution is not None:
            return
        self.notes.append(f"pid {process[1]}: {why}")
        self.tracing = None
        if self.tries < WINDOW_TRIES and sent < self.jobs:
            self.plan(processes)
            if self.mark_at is not None:
                self.mark_at = max(self.mark_at, sent)

    def result(self, why_none: str | None = None) -> dict[str, Any] | None:
        """``attribution`` for result.json: the leak sites, or why there are none."""
        if self.attribution is not None:
            return self.attribution
        if self.first_jobs is None:
            return None
        if why_none is not None:
            return {"note": why_none}
        tried = "; ".join(self.notes) or "no process reached its window"
        return {"note": f"the memray window never completed in a worker process ({tried})"}
