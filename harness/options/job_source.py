"""Where a soak's jobs come from, checked before anything runs: ``workload`` (a name or a
generator's spec), ``jobs_from`` (a file, ``soak run --jobs-from``) or ``payloads``
(``soak(..., payloads=...)``: a path, an iterable of dicts, a function ``make_job(index,
seed)``, a Hypothesis strategy or a Workload). The first job is made here, and a job file's
records are read here, so that bad jobs are one clear error before a run directory exists.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from worker_soak.options.values import SoakOptions
from worker_soak.workloads.base import Workload, WorkloadOptionError
from worker_soak.workloads.recorded import JobFileError, recorded_workload, scan
from worker_soak.workloads.sources import (
    JobSourceError,
    as_workload,
    checked_job,
    preflight,
    resolve_workload,
)

#: Jobs a run does when nothing says how many.
DEFAULT_JOBS: Final = 1000


@dataclass(frozen=True, slots=True)
class JobSource:
    """The checked source: the workload (resolved), how results name it, the job file if
    jobs come from one, how many jobs the run does, and a file made for this run to remove
    after it (an iterable given from Python, written out so fresh workers can replay it)."""

    workload: Workload
    name: str
    jobs_from: Path | None
    jobs: int
    made_file: Path | None = None

    def remove_made_file(self) -> None:
        if self.made_file is not None:
            self.made_file.unlink(missing_ok=True)


class BadJobSourceError(ValueError):
    """What is wrong with the job source, in words; the door adds where it was given."""


def job_source(
    options: SoakOptions,
    *,
    jobs_from: Path | None,
    jobs_from_name: str,
    workload_name: str,
    workload_options: Mapping[str, str],
) -> JobSource:
    """The source ``options`` ask for (``jobs_from``: the command line's job file);
    BadJobSourceError says what is wrong. ``jobs_from_name`` is how the door names the job
    source it was given (``--jobs-from`` or ``payloads=``), ``workload_name`` the workload
    option (``--workload`` or ``workload=``)."""
    given = jobs_from if jobs_from is not None else options.payloads
    if given is None:  # a workload by name or spec: the message names the option
        try:
            workload = resolve_workload(options.workload)
            preflight(workload, options.seed, workload_options)
        except (JobSourceError, WorkloadOptionError) as exc:
            raise BadJobSourceError(f"{workload_name}: {exc}") from None
        return JobSource(workload, options.workload, None, options.jobs or DEFAULT_JOBS)
    if given is not None and options.workload != "counter":
        raise BadJobSourceError(
            f"{jobs_from_name} and a workload ({options.workload!r}) both say where jobs come "
            "from; give one of them"
        )
    try:
        if isinstance(given, str | os.PathLike):
            source = _from_file(Path(given), options.jobs)
        elif isinstance(given, Mapping):
            raise BadJobSourceError(
                f"{jobs_from_name} got one dict; expected many jobs: a list of dicts, a path "
                "to a JSON Lines file, a function make_job(index, seed) or a strategy"
            )
        elif isinstance(given, Iterable) and not _generator_like(given):
            source = _from_iterable(given, options.jobs)
        else:
            workload = as_workload(_describe(given), given)
            source = JobSource(workload, workload.name, None, options.jobs or DEFAULT_JOBS)
        preflight(source.workload, options.seed, workload_options)
    except (JobFileError, JobSourceError, WorkloadOptionError) as exc:
        raise BadJobSourceError(str(exc)) from None
    return source


def _from_file(path: Path, jobs: int | None) -> JobSource:
    found = scan(path, limit=jobs)
    count = jobs if jobs is not None else found.records
    return JobSource(recorded_workload(path), str(path), path, count)


def _from_iterable(given: Iterable[object], jobs: int | None) -> JobSource:
    """Write the jobs out as JSON Lines (each checked as it goes): the run replays them, and
    fresh workers and the isolation check read the same jobs again from the file."""
    handle, name = tempfile.mkstemp(prefix="soak-payloads-", suffix=".jsonl")
    path = Path(name)
    count = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for item in given:
                job = checked_job("payloads", f"item {count}", item)
                out.write(json.dumps(job) + "\n")
                count += 1
                if jobs is not None and count >= jobs:
                    break
        if count == 0:
            raise BadJobSourceError("payloads= is empty; expected at least one job (a dict)")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    workload = recorded_workload(path)
    return JobSource(workload, "payloads", path, jobs or count, made_file=path)


def _generator_like(given: object) -> bool:
    """A Hypothesis strategy is iterable by accident of its API; it is drawn from, not
    iterated."""
    from worker_soak.workloads.sources import is_strategy

    return isinstance(given, Workload) or is_strategy(given)


def _describe(target: object) -> str:
    from worker_soak.worker.spec import describe_object

    return describe_object(target) if callable(target) else "payloads="
