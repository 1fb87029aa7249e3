"""What a workload is: a deterministic job generator, the worker that does its jobs right,
faulty workers that do them wrong on purpose, and the services the jobs need while they run.

Options reach a workload as strings (``--profile``, ``--smtp``, ``--db``); its services (an
SMTP sink, a database file) start before the first job and tell the worker processes where
they are through environment variables, since a worker is loaded by spec in a process of its
own.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

Job = dict[str, Any]
JobGenerator = Callable[[int, int, Mapping[str, str]], Iterator[Job]]
PROFILES: Final = ("small", "medium", "large")

#: Environment variables a workload's services set for its workers.
ENV_RUN_DIR: Final = "SOAK_RUN_DIR"
ENV_PROFILE: Final = "SOAK_PROFILE"


class WorkloadOptionError(ValueError):
    """A workload option has a value the workload cannot use."""


class Services(Protocol):
    """What a workload runs beside the worker for the length of one soak."""

    def environment(self) -> dict[str, str]:
        """Variables the worker processes need (where the SMTP sink listens, the DB DSN)."""

    def finish(self, jobs_completed: int) -> dict[str, Any]:
        """Stop, and report what the services saw (messages received, rows stored) after
        ``jobs_completed`` jobs."""


@dataclass(frozen=True, slots=True)
class FaultyWorker:
    """A worker that gets a workload's jobs wrong on purpose, and the verdict that says so."""

    spec: str
    fails: str
    what: str


@dataclass(frozen=True, slots=True)
class Workload:
    """A named source of jobs.

    ``generate(count, seed, options)`` yields ``count`` JSON-serialisable dicts; the same seed
    and options give the same jobs, byte for byte. ``reference_worker`` is the spec of a
    worker that does these jobs correctly and passes every verdict.
    """

    name: str
    summary: str
    generate: JobGenerator
    reference_worker: str
    faulty: Mapping[str, FaultyWorker] = field(default_factory=dict)
    #: The options this workload understands, with their meaning.
    options: Mapping[str, str] = field(default_factory=dict)
    #: ``start(run_dir, options, seed)``: the services the jobs need, running.
    start: Callable[[Path, Mapping[str, str], int], Services] | None = None
    #: Exception types the jobs provoke on purpose (a malformed row, a bounced address):
    #: the failed-jobs verdict counts them apart and does not fail on them.
    expected_errors: tuple[str, ...] = ()

    def jobs(
        self, count: int, seed: int = 0, options: Mapping[str, str] | None = None
    ) -> Iterator[Job]:
        """The first ``count`` jobs for ``seed``."""
        return self.generate(count, seed, self.check_options(options or {}))

    def check_options(self, options: Mapping[str, str]) -> Mapping[str, str]:
        """Refuse options this workload does not know, and profiles that do not exist."""
        unknown = sorted(set(options) - set(self.options) - {"profile"})
        if unknown:
            known = ", ".join(sorted({"profile", *self.options}))
            raise WorkloadOptionError(
                f"workload {self.name!r} has no option {', '.join(unknown)}; it knows: {known}"
            )
        profile = options.get("profile", "small")
        if profile not in PROFILES:
            raise WorkloadOptionError(f"--profile {profile!r} is not one of {', '.join(PROFILES)}")
        return options


def rng_for(seed: int, index: int, salt: str) -> random.Random:
    """A generator for job ``index`` of a run seeded ``seed``: each job draws from its own
    stream, so job *i* is the same whether 10 or 10,000 jobs are generated."""
    return random.Random(f"{salt}:{seed}:{index}")


def profile_of(options: Mapping[str, str]) -> str:
    return options.get("profile", "small")
