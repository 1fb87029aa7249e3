"""One soak run from start to ``result.json``: the piece every front door (CLI, pytest) calls.

``result.json`` is written however the run ends: completed, crashed, interrupted, or the
harness itself failing; it is computed from ``samples.jsonl`` on disk, so it describes exactly
the samples a reader will find there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from harness import __version__
from harness.analysis.advice import advise
from harness.analysis.allocator_cache import TCACHE_BYTES
from harness.analysis.attribution import settle_sites
from harness.analysis.checkpoints import compute_checkpoints
from harness.analysis.failures import group_failures
from harness.analysis.idle import queue_timing
from harness.analysis.isolation import (
    Comparison,
    isolation_verdict,
    isolation_warmup,
    state_changes,
)
from harness.analysis.lifetimes import recycling_verdict
from harness.analysis.paired import shown_comparisons
from harness.analysis.verdicts import Policy, census_bounded, judge
from harness.environment import WorkloadServices
from harness.errors import SpecError, UsageError, WorkloadError
from harness.model import QUEUE_RUNNERS, RunConfig, RunOutcome, Verdict
from harness.provenance import environment
from harness.runners import ProgressCallback
from harness.runners.choice import resolve_worker, runner_for
from harness.runners.spawn import child_env
from harness.store import (
    RESULT_FILE,
    SAMPLES_FILE,
    WORKER_LOG,
    SampleLog,
    prepare_run_dir,
    read_samples,
    write_result,
)
from harness.worker.evidence import AGED_RESULTS_FILE, read_snapshots
from harness.worker.fresh import RESULT_FILE as FRESH_RESULT_FILE
from harness.worker.fresh import compare_with_fresh_workers
from harness.worker.spec import worker_from_object
from harness.worker.tracing import MIN_JOBS_FOR_WINDOW, window_plan
from workloads import get_workload
from workloads.base import WorkloadError as WorkloadOptionError

SCHEMA_VERSION: Final = 1


def run_soak(
    config: RunConfig,
    on_progress: ProgressCallback | None = None,
    policy: Policy | None = None,
    worker: object | None = None,
) -> dict[str, Any]:
    """Run the soak ``config`` describes; return the result as written to ``result.json``.

    ``worker``: the worker itself, already in hand (a closure, an object made in a test), for
    the inline runner; ``config.worker`` then only names it."""
    try:
        workload = get_workload(config.workload)
        options = workload.check_options(config.workload_options)
    except KeyError as exc:
        raise WorkloadError(f"--workload: {exc.args[0]}") from None
    except WorkloadOptionError as exc:
        raise WorkloadError(str(exc)) from None
    if worker is not None and config.runner != "inline":
        raise UsageError(
            f"the worker {config.worker!r} is an object in this process, which a worker "
            "process cannot import: define it at module level, or use the inline runner"
        )
    spec = resolve_worker(config)
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
    runner = runner_for(config, spec, run_dir, origin_ns, loaded)
    jobs = workload.jobs(config.jobs, config.seed, options)
    outcome: RunOutcome | None = None
    harness_error: str | None = None
    policy = (policy or Policy()).expecting(workload.expected_errors)
    if config.runner == "inline":  # the harness's own process: glibc's cache is on
        policy = replace(policy, memory=replace(policy.memory, allocator_cache_bytes=TCACHE_BYTES))
    with SampleLog(run_dir) as log, services.exported():
        try:
            outcome = runner.run(jobs, config.jobs, log, on_progress or _ignore)
            _check_isolation(config, spec, run_dir, outcome, origin_ns, options)
        except (SpecError, UsageError) as exc:
            log.close()
            if isinstance(exc, UsageError) and _measured(run_dir):
                harness_error = f"{type(exc).__name__}: {exc}"  # keep what was measured
                raise
            services.finish(0)
            _forget_run_dir(run_dir, created)
            raise
        except BaseException as exc:  # still write the result, then let it go on
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
                    write_result(run_dir, result)
                except Exception as exc:
                    # Analysis failed: still leave a result that says so, beside the samples.
                    write_result(run_dir, _bare_result(config, spec, outcome, exc, duration_ns))
                    raise
    return result


#: Share of the run's wall time the fresh-worker comparisons may take.
ISOLATION_BUDGET: Final = 0.10
#: ... but at least this long: loading the worker and a few forks take ~0.5 s.
ISOLATION_MIN_BUDGET_S: Final = 1.0


def _check_isolation(
    config: RunConfig,
    spec: str,
    run_dir: Path,
    outcome: RunOutcome,
    origin_ns: int,
    options: Mapping[str, str],
) -> None:
    """Compare the kept results with fresh workers' (process runner, completed runs)."""
    if not (run_dir / AGED_RESULTS_FILE).exists() or outcome.stop_reason != "completed":
        return
    elapsed_s = (time.perf_counter_ns() - origin_ns) / 1e9
    per_job_s = elapsed_s / max(1, outcome.jobs_completed)
    compare_with_fresh_workers(
        spec=spec,
        run_dir=run_dir,
        workload=config.workload,
        seed=config.seed,
        options=dict(options),
        budget_s=max(ISOLATION_MIN_BUDGET_S, ISOLATION_BUDGET * elapsed_s),
        # A fresh worker's job may take 20 times the run's average before it counts as hung.
        timeout_s=min(60.0, max(2.0, 20 * per_job_s)),
        normaliser=config.normaliser,
        env=child_env(config.import_paths),
    )


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
    if created:
        with contextlib.suppress(OSError):  # not empty: keep whatever is there
            run_dir.rmdir()


def build_result(
    config: RunConfig,
    spec: str,
    outcome: RunOutcome | None,
    harness_error: str | None,
    started_at: dt.datetime,
    duration_ns: int,
    run_dir: Path,
    policy: Policy,
) -> dict[str, Any]:
    """The ``result.json`` document (schema version 1) for a run that ended as ``outcome``."""
    samples = read_samples(run_dir / SAMPLES_FILE)
    judged = samples.untraced()
    aged = shown_comparisons(
        outcome.aged_vs_fresh if outcome is not None else None, policy.latency.alpha
    )
    attribution = dict(outcome.attribution or {}) if outcome is not None else {}
    sites: list[dict[str, Any]] = list(attribution.pop("sites", None) or [])  # type: ignore[call-overload]
    if not attribution:
        attribution = {"note": _why_no_window(config)}
    completed = len(samples)
    pool: dict[str, Any] = (
        dict(outcome.pool) if outcome is not None and outcome.pool is not None else {}
    )
    if "queue" in pool:
        pool["queue"] = {**pool["queue"], **queue_timing(samples, pool["queue"], pool["lifetimes"])}
    crash = outcome.crash if outcome is not None else None
    stop_reason = outcome.stop_reason if outcome is not None else "error"
    verdicts = judge(judged, policy, sites, *aged[:3])
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "worker": spec,
        "label": config.label,
        "worker_kind": outcome.worker_kind if outcome is not None else "",
        "workload": config.workload,
        "workload_options": _redacted(config.workload_options),
        "runner": config.runner,
        "seed": config.seed,
        "job_timeout_s": config.job_timeout,
        "jobs_requested": config.jobs,
        "jobs_completed": completed,
        "jobs_failed": len(samples.errors),
        "failures": [group.to_json() for group in group_failures(samples.errors)],
        "crashes": [crash.to_json()] if crash is not None else [],
        "stop_reason": stop_reason,
        "setup_error": outcome.setup_error if outcome is not None else None,
        "teardown_error": outcome.teardown_error if outcome is not None else None,
        "harness_error": harness_error,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(duration_ns / 1e9, 6),
        "jobs_judged": len(judged),
        "checkpoints": [c.to_json() for c in compute_checkpoints(judged)],
        "probes": [dict(p) for p in outcome.probes] if outcome is not None else [],
        "verdicts": {
            **{name: v.to_json() for name, v in verdicts.items()},
            "isolation": _isolation(config, run_dir, len(judged)).to_json(),
            **({"recycling": recycling_verdict(pool).to_json()} if pool else {}),
        },
        **_pool_fields(pool),
        "aged_vs_fresh": aged[3],
        "leak_sites": settle_sites(sites, verdicts["memory"].verdict, census_bounded(judged)),
        "attribution": attribution,
        "files": {"samples": SAMPLES_FILE, "worker_log": WORKER_LOG, "result": RESULT_FILE},
        "environment": environment(),
    }


def _pool_fields(pool: Mapping[str, Any]) -> dict[str, Any]:
    """What a pool run adds to result.json: its accounting at the top, the rest under
    ``pool``."""
    if not pool:
        return {}
    keys = ("workers", "recycles", "jobs_lost", "jobs_retried", "jobs_run_twice")
    return {
        **{key: pool[key] for key in keys},
        "pool": {key: value for key, value in pool.items() if key not in keys},
    }


def _isolation(config: RunConfig, run_dir: Path, judged_jobs: int) -> Verdict:
    """The isolation verdict from what the worker kept and the fresh workers found."""
    if not config.isolation or config.light:
        return Verdict("inconclusive", "not judged (--no-isolation or --light)")
    if config.runner not in ("process", *QUEUE_RUNNERS):
        return Verdict(
            "inconclusive", "not judged: comparing with a fresh worker needs --runner process"
        )
    if config.pool is not None:
        return Verdict(
            "inconclusive",
            "not judged under the supervised pool: run without --workers and recycle limits "
            "to compare results with fresh workers",
        )
    found: dict[str, Any] = {}
    path = run_dir / FRESH_RESULT_FILE
    if path.exists():
        found = json.loads(path.read_text(encoding="utf-8"))
    compared = found.get("comparisons", [])
    comparisons = [
        Comparison(int(c["job_index"]), bool(c["equal"]), str(c["aged"]), str(c["fresh"]))
        for c in compared
        if c["equal"] is not None
    ]
    changes = state_changes(read_snapshots(run_dir), isolation_warmup(judged_jobs))
    note = str(found.get("error", ""))
    if not found and not comparisons:
        note = "the run was too short or did not complete"
    return isolation_verdict(
        comparisons,
        changes,
        stateful=config.stateful,
        reproduction=found.get("reproduction"),
        note=note,
        nondeterministic=[int(c["job_index"]) for c in compared if c["equal"] is None],
        jobs_rerun=int(found.get("jobs_rerun", 0)),
    )


def _bare_result(
    config: RunConfig,
    spec: str,
    outcome: RunOutcome | None,
    error: BaseException,
    duration_ns: int,
) -> dict[str, Any]:
    """The result of a run whose analysis failed: what ran, how far, and the failure."""
    crash = outcome.crash if outcome is not None else None
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "worker": spec,
        "workload": config.workload,
        "runner": config.runner,
        "jobs_requested": config.jobs,
        "jobs_completed": outcome.jobs_completed if outcome is not None else 0,
        "crashes": [crash.to_json()] if crash is not None else [],
        "stop_reason": "error",
        "harness_error": f"analysing the samples failed: {type(error).__name__}: {error}",
        "duration_s": round(duration_ns / 1e9, 6),
        "verdicts": {},
        "leak_sites": [],
    }


def _redacted(options: Mapping[str, str]) -> dict[str, str]:
    """Options as stored: a password in a DSN is not."""
    return {
        name: re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", value) for name, value in options.items()
    }


def _why_no_window(config: RunConfig) -> str:
    if config.light:
        return "--light: no memray window"
    if config.runner == "inline":
        return "the inline runner does not trace with memray (use --runner process)"
    if window_plan(config.jobs) is None:
        return f"runs under {MIN_JOBS_FOR_WINDOW} jobs are not traced with memray"
    return "the run ended before the memray window"


def exit_code(result: dict[str, Any]) -> int:
    """0 when the run completed and no verdict failed; 1 otherwise."""
    if result["stop_reason"] != "completed" or result["crashes"]:
        return 1
    verdicts: dict[str, Any] = result["verdicts"]
    failed = [v for v in verdicts.values() if isinstance(v, dict) and v.get("verdict") == "fail"]
    return 1 if failed else 0
