"""Which runner a run uses, built with what its length asks for (the memray window, the
full-collection points, the isolation plan, the aged-against-fresh probe), and which worker
spec it runs when none is given."""

from __future__ import annotations

from pathlib import Path

from worker_soak.analysis.isolation import plan
from worker_soak.analysis.latency import MIN_JOBS as LATENCY_MIN_JOBS
from worker_soak.analysis.rounds import collection_points
from worker_soak.errors import UsageError
from worker_soak.model import QUEUE_RUNNERS, QueueConfig, RunConfig
from worker_soak.runners import Runner
from worker_soak.runners.aged_vs_fresh import FRESH_WARMUP_JOBS, PROBE_PAIRS, AgedProbe
from worker_soak.runners.process import ProcessRunner
from worker_soak.worker.spec import Worker
from worker_soak.worker.tracing import window_plan
from worker_soak.workloads.base import Workload


def resolve_worker(config: RunConfig, workload: Workload) -> str:
    """The worker spec to run: the one given, or the workload's reference worker."""
    if config.worker:
        return config.worker
    if not workload.reference_worker:
        raise UsageError(
            f"{workload.name!r} makes jobs but names no worker to do them; give the worker "
            "(--worker 'package.module:attr', or soak(worker, ...))"
        )
    if config.runner in QUEUE_RUNNERS:  # the reference worker as a task of that framework
        name = {"import": "data_import"}.get(config.workload, config.workload)
        kind = "task" if config.runner == "celery" else "job"
        return f"worker_soak.workloads.queue_tasks:{name}_{kind}"
    return workload.reference_worker


def isolation_plan(config: RunConfig) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The jobs whose results are kept for the comparison with fresh workers, and the state
    snapshot points (none when the run skips isolation)."""
    if config.light or not config.isolation:
        return (), ()
    window = window_plan(config.jobs)
    kept, snapshots = plan(window[0] if window else config.jobs, config.isolation_jobs)
    return tuple(kept), tuple(snapshots)


def runner_for(
    config: RunConfig,
    spec: str,
    run_dir: Path,
    origin_ns: int,
    worker: Worker | None,
    workload: Workload,
) -> Runner:
    """The runner ``config`` asks for, with the memray window, collection points and
    isolation plan a run of its length gets."""
    full = not config.light
    window = window_plan(config.jobs) if full else None
    collect_after = collection_points(config.jobs, window[0] if window else config.jobs)
    # The other runners are imported when asked for: a process run starts its worker sooner.
    if config.runner == "inline":
        from worker_soak.runners.inline import InlineRunner

        return InlineRunner(spec, origin_ns, collect_after=collect_after, worker=worker)
    if config.runner in QUEUE_RUNNERS:
        from worker_soak.runners.queue import QueueRunner

        return QueueRunner(
            config.runner,
            spec,
            run_dir,
            origin_ns,
            config.queue or QueueConfig(),
            import_paths=config.import_paths,
            trace_first=window[1] if window else None,
            keep_results=frozenset(isolation_plan(config)[0]),
        )
    if config.pool is not None:
        # The aged-vs-fresh probe and the isolation comparison follow one worker process
        # through the run; the pool's jobs spread over many. The memray window runs in one
        # worker, near the end of its life.
        from worker_soak.runners.pool import PoolRunner

        return PoolRunner(
            spec,
            run_dir,
            origin_ns,
            config.pool,
            job_timeout=config.job_timeout,
            import_paths=config.import_paths,
            seed=config.seed,
            trace_first=window[1] if window else None,
        )
    return ProcessRunner(
        spec,
        run_dir,
        origin_ns,
        job_timeout=config.job_timeout,
        trace_window=window,
        aged_probe=_aged_probe(config, workload)
        if full and config.jobs >= LATENCY_MIN_JOBS
        else None,
        collect_after=collect_after,
        import_paths=config.import_paths,
        isolation_plan=isolation_plan(config),
    )


def _aged_probe(config: RunConfig, workload: Workload) -> AgedProbe:
    """The workload's first jobs: warm-up for the fresh worker, then the compared pairs."""
    count = FRESH_WARMUP_JOBS + PROBE_PAIRS
    jobs = tuple(workload.jobs(count, config.seed, config.workload_options))
    return AgedProbe(jobs=jobs, warmup=FRESH_WARMUP_JOBS)
