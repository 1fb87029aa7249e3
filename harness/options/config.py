"""Checked options -> what a run needs: its :class:`RunConfig` (with the pool or the job
queue it asks for) and its verdict policy. Every rule between options is checked here, once,
whichever front door the options came through; its message names them as that door does
(``--max-memory`` or ``max_memory=``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from worker_soak.analysis.drift import LatencyPolicy
from worker_soak.analysis.failed_jobs import FailedJobsPolicy
from worker_soak.analysis.memory import MemoryPolicy
from worker_soak.analysis.verdicts import Policy
from worker_soak.errors import UsageError
from worker_soak.model import QUEUE_RUNNERS, PoolConfig, QueueConfig, RunConfig
from worker_soak.options.job_source import BadJobSourceError, JobSource, job_source
from worker_soak.options.table import BY_NAME, OPTIONS
from worker_soak.options.values import SoakOptions

POOL_OPTIONS = tuple(option.name for option in OPTIONS if option.group == "pool")
QUEUE_OPTIONS = tuple(option.name for option in OPTIONS if option.group == "queue")


@dataclass(frozen=True, slots=True)
class Door:
    """Where options came from, for error messages: ``soak run`` names flags, ``soak()``
    keywords; ``where`` leads the message (``soak() in test_mail: ``)."""

    style: Literal["cli", "python"]
    where: str = ""

    def name(self, option: str) -> str:
        return BY_NAME[option].named(self.style)

    def runner(self, runner: str) -> str:
        return f"--runner {runner}" if self.style == "cli" else f"runner={runner!r}"

    def error(self, message: str) -> UsageError:
        return UsageError(f"{self.where}: {message}" if self.where else message)


CLI = Door("cli")


def source_for(options: SoakOptions, door: Door, jobs_from: Path | None = None) -> JobSource:
    """Where the run's jobs come from, checked (the first job made, a job file read)."""
    workload_options = {"profile": options.profile} | options.given(("smtp", "db"))
    try:
        return job_source(
            options,
            jobs_from=jobs_from,
            jobs_from_name=door.name("jobs_from" if jobs_from is not None else "payloads"),
            workload_name=door.name("workload"),
            workload_options=workload_options,  # type: ignore[arg-type]
        )
    except BadJobSourceError as exc:
        raise door.error(str(exc)) from None


def run_config(
    options: SoakOptions,
    source: JobSource,
    *,
    worker: str,
    out: Path,
    door: Door,
    runner: str,
    label: str = "",
    import_paths: tuple[str, ...] = (),
) -> RunConfig:
    """The run ``options`` ask for, on ``runner`` (the options' own, or the caller's
    default for its kind of worker)."""
    pool_given = options.given(POOL_OPTIONS)
    queue_given = options.given(QUEUE_OPTIONS)
    if runner == "inline":
        if pool_given:
            raise door.error(
                f"{door.name(next(iter(pool_given)))} needs worker processes: the supervised "
                f"pool runs them; drop {door.runner('inline')}"
            )
        if options.job_timeout is not None:
            raise door.error(
                f"{door.name('job_timeout')} needs {door.runner('process')}: the inline "
                "runner cannot stop a job that hangs in its own process"
            )
    if runner in QUEUE_RUNNERS and (pool_given or options.job_timeout is not None):
        raise door.error(
            f"{door.runner(runner)} recycles and times out its tasks itself: use its own "
            f"settings ({door.name('max_tasks_per_child')}, "
            f"{door.name('max_memory_per_child')}, the task's time limits), not the "
            f"harness's pool options or {door.name('job_timeout')}"
        )
    if runner not in QUEUE_RUNNERS and queue_given:
        raise door.error(
            f"{door.name(next(iter(queue_given)))} is an option of a job queue; expected "
            f"{door.runner('celery')} or {door.runner('rq')} with it (the runner is "
            f"{runner!r})"
        )
    workload_options = {"profile": options.profile} | options.given(("smtp", "db"))
    try:
        return RunConfig(
            worker=worker,
            workload=source.name,
            jobs=source.jobs,
            jobs_from=source.jobs_from,
            out=out,
            runner=runner,
            job_timeout=options.job_timeout,
            seed=options.seed,
            light=options.light,
            workload_options=workload_options,  # type: ignore[arg-type]
            import_paths=import_paths,
            label=label,
            isolation=options.isolation,
            isolation_jobs=options.isolation_jobs,
            stateful=options.stateful,
            normaliser=options.normalise,
            pool=_pool(pool_given),
            queue=_queue(queue_given) if runner in QUEUE_RUNNERS else None,
            bounded_caches=options.bounded_caches,
            python=options.python,
        )
    except ValueError as exc:
        raise door.error(f"{exc}; check the options") from None


def _pool(given: dict[str, object]) -> PoolConfig | None:
    """None when no pool option is given: one worker process, no recycling."""
    if not given:
        return None
    if "max_worker_age" in given:
        given["max_worker_age_s"] = given.pop("max_worker_age")
    return PoolConfig(**given)  # type: ignore[arg-type]


def _queue(given: dict[str, object]) -> QueueConfig:
    if "max_memory_per_child" in given:
        given["max_memory_per_child_kib"] = given.pop("max_memory_per_child")
    return QueueConfig(**given)  # type: ignore[arg-type]


def policy(options: SoakOptions) -> Policy:
    """The verdict thresholds: the memory budget per job (or over the run, when that is what
    the user gave), the significance of every trend test, the latency tolerance, the failed
    jobs allowed."""
    memory = MemoryPolicy(alpha=options.significance)
    per_job, total = options.max_growth or (None, None)
    if per_job is not None:
        memory = replace(memory, budget_per_job=per_job)
    elif total is not None:
        memory = replace(memory, max_growth_total=total)
    return Policy(
        memory=memory,
        latency=LatencyPolicy(alpha=options.significance, tolerance=options.latency_tolerance),
        failed_jobs=options.max_failed_jobs or FailedJobsPolicy(),
    )
