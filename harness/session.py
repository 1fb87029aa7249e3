"""One soak run from start to ``result.json``: the piece every front door (CLI, pytest) calls.

``result.json`` is written however the run ends: completed, crashed, interrupted, or the
harness itself failing; it is computed from ``samples.jsonl`` on disk, so it describes exactly
the samples a reader will find there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from worker_soak.analysis.advice import advise
from worker_soak.analysis.allocator_cache import TCACHE_BYTES
from worker_soak.analysis.verdicts import Policy
from worker_soak.errors import SpecError, UsageError, WorkloadError
from worker_soak.isolation_phase import IsolationPhase
from worker_soak.model import RunConfig, RunOutcome
from worker_soak.result_file import bare_result, build_result
from worker_soak.run_record import RUN_FILE, RunRecord, write_run_record
from worker_soak.runners import ProgressCallback
from worker_soak.runners.factory import resolve_worker, runner_for
from worker_soak.runners.process import ProcessRunner
from worker_soak.services import WorkloadServices
from worker_soak.store import (
    SAMPLES_FILE,
    WORKER_LOG,
    SampleLog,
    prepare_run_dir,
    scrub_logs,
    write_result,
)
from worker_soak.worker.spec import worker_from_object
from worker_soak.worker.tcache import ThreadCaches
from worker_soak.workloads.base import Workload, WorkloadOptionError
from worker_soak.workloads.sources import JobSourceError, resolve_workload


def run_soak(
    config: RunConfig,
    on_progress: ProgressCallback | None = None,
    policy: Policy | None = None,
    worker: object | None = None,
    workload: Workload | None = None,
) -> dict[str, Any]:
    """Run the soak ``config`` describes; return the result as written to ``result.json``.

    ``worker``: the worker itself, already in hand (a closure, an object made in a test), for
    the inline runner; ``config.worker`` then only names it. ``workload``: where the jobs
    come from, already resolved (else ``config.workload`` / ``config.jobs_from`` is)."""
    try:
        if workload is None:
            workload = resolve_workload(config.workload, config.jobs_from)
        options = workload.check_options(config.workload_options)
    except JobSourceError as exc:
        raise WorkloadError(f"--workload: {exc}") from None
    except WorkloadOptionError as exc:
        raise WorkloadError(str(exc)) from None
    if worker is not None and config.runner != "inline":
        raise UsageError(
            f"the worker {config.worker!r} is an object in this process, which a worker "
            "process cannot import: define it at module level, or use the inline runner"
        )
    spec = resolve_worker(config, workload)
    loaded = worker_from_object(spec, worker) if worker is not None else None
    created = not config.out.exists()
    run_dir = prepare_run_dir(config.out)
    try:
        services = WorkloadServices(workload, run_dir, options, config.seed, config.bounded_caches)
    except WorkloadError:
        _forget_run_dir(run_dir, created)
        raise
    started_at = dt.datetime.now(dt.UTC)
    origin_ns = time.perf_counter_ns()
    runner = runner_for(config, spec, run_dir, origin_ns, loaded, workload)
    jobs = workload.jobs(config.jobs, config.seed, options)
    outcome: RunOutcome | None = None
    harness_error: str | None = None
    policy = (policy or Policy()).expecting(workload.expected_errors)
    if config.runner == "inline" and ThreadCaches.find() is None:
        # The harness's own process: glibc's cache is on, and here it cannot be read.
        policy = replace(policy, memory=replace(policy.memory, allocator_cache_bytes=TCACHE_BYTES))
    write_run_record(run_dir, RunRecord(config, spec, policy, started_at))
    isolation = IsolationPhase(config, spec, run_dir, origin_ns, options, workload)
    if isinstance(runner, ProcessRunner):  # beside the memray window and aged-vs-fresh
        runner.after_kept = isolation.start
    with SampleLog(run_dir) as log, services.exported():
        try:
            outcome = runner.run(jobs, config.jobs, log, on_progress or _ignore)
            isolation.finish(outcome)
        except (SpecError, UsageError) as exc:
            isolation.cancel()
            log.close()
            if isinstance(exc, UsageError) and _measured(run_dir):
                harness_error = f"{type(exc).__name__}: {exc}"  # keep what was measured
                raise
            services.finish(0)
            _forget_run_dir(run_dir, created)
            raise
        except BaseException as exc:  # still write the result, then let it go on
            isolation.cancel()
            harness_error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if harness_error is not None or outcome is not None:
                log.close()
                report = services.finish(outcome.jobs_completed if outcome else 0)
                duration_ns = time.perf_counter_ns() - origin_ns
                try:
                    result = build_result(
                        config,
                        spec,
                        outcome,
                        harness_error,
                        started_at,
                        duration_ns,
                        run_dir,
                        policy,
                    )
                    result["workload_report"] = report
                    result["advice"] = advise(result)
                    result = write_result(run_dir, result)
                    scrub_logs(run_dir)
                except Exception as exc:
                    # Analysis failed: still leave a result that says so, beside the samples.
                    write_result(run_dir, bare_result(config, spec, outcome, exc, duration_ns))
                    raise
    return result


def _ignore(completed: int) -> None:
    return None


def _measured(run_dir: Path) -> bool:
    """Whether the run wrote any sample (then its directory is kept, whatever happens)."""
    samples = run_dir / SAMPLES_FILE
    return samples.exists() and samples.stat().st_size > 0


def _forget_run_dir(run_dir: Path, created: bool) -> None:
    """A run that never started leaves nothing behind: no samples were measured."""
    samples = run_dir / SAMPLES_FILE
    if samples.exists() and samples.stat().st_size == 0:
        samples.unlink()
    log = run_dir / WORKER_LOG
    if log.exists() and log.stat().st_size == 0:
        log.unlink()
    (run_dir / RUN_FILE).unlink(missing_ok=True)
    if created:
        with contextlib.suppress(OSError):  # not empty: keep whatever is there
            run_dir.rmdir()


def exit_code(result: dict[str, Any]) -> int:
    """0 when the run completed and no verdict failed; 1 otherwise."""
    if result["stop_reason"] != "completed" or result["crashes"]:
        return 1
    verdicts: dict[str, Any] = result["verdicts"]
    failed = [v for v in verdicts.values() if isinstance(v, dict) and v.get("verdict") == "fail"]
    return 1 if failed else 0
