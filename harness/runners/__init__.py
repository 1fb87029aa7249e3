"""Runners feed jobs to a worker and stream its samples: in-process or in a child process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from worker_soak.model import RunOutcome
from worker_soak.store import SampleLog
from worker_soak.workloads.base import Job

ProgressCallback = Callable[[int], None]


class Runner(Protocol):
    """Runs ``count`` jobs from ``jobs``, appending each sample to ``log`` as it completes.

    Returns how far it got. Raises :class:`worker_soak.errors.SpecError` when the worker cannot
    be loaded (before any job ran). Never raises for what a worker does.
    """

    def run(
        self, jobs: Iterator[Job], count: int, log: SampleLog, on_progress: ProgressCallback
    ) -> RunOutcome: ...
