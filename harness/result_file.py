"""``result.json``: the document a run leaves, assembled from the run's samples, outcome and
isolation files (docs/result-schema.md). Its schema version, and the reader that refuses a
newer one, are the run directory's: :mod:`worker_soak.store`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from worker_soak import __version__
from worker_soak.analysis.attribution import settle_sites
from worker_soak.analysis.checkpoints import compute_checkpoints
from worker_soak.analysis.drift import QUEUED_MIN_CHANGE_S
from worker_soak.analysis.failures import group_failures
from worker_soak.analysis.framework_warmup import within_framework_warmup
from worker_soak.analysis.idle import queue_timing
from worker_soak.analysis.isolation import (
    Comparison,
    isolation_verdict,
    isolation_warmup,
    state_changes,
)
from worker_soak.analysis.lifetimes import recycling_verdict
from worker_soak.analysis.paired import shown_comparisons
from worker_soak.analysis.rss_growth import rss_growth
from worker_soak.analysis.verdicts import Policy, census_bounded, judge
from worker_soak.model import QUEUE_RUNNERS, RunConfig, RunOutcome, Verdict
from worker_soak.provenance import environment
from worker_soak.samples import Samples
from worker_soak.store import (
    RESULT_FILE,
    SAMPLES_FILE,
    SCHEMA_VERSION,
    WORKER_LOG,
    read_samples,
)
from worker_soak.worker.evidence import read_snapshots
from worker_soak.worker.isolation_check import RESULT_FILE as FRESH_RESULT_FILE
from worker_soak.worker.tracing import MIN_JOBS_FOR_WINDOW, window_plan


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
    if config.runner in QUEUE_RUNNERS:  # tasks timed as their framework wakes them
        policy = replace(policy, latency=replace(policy.latency, min_change_s=QUEUED_MIN_CHANGE_S))
    verdicts = judge(
        judged, policy, sites, aged.aged_vs_fresh, aged.fresh_vs_fresh, aged.fresh_now_vs_then
    )
    if config.runner in QUEUE_RUNNERS:
        verdicts["memory"] = within_framework_warmup(verdicts["memory"], config.runner, len(judged))
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "worker": spec,
        "label": config.label,
        "worker_kind": outcome.worker_kind if outcome is not None else "",
        "workload": config.workload,
        "jobs_from": str(config.jobs_from) if config.jobs_from is not None else None,
        "workload_options": dict(config.workload_options),
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
        "aged_vs_fresh": aged.shown,
        "rss_growth": _rss_growth(judged),
        "leak_sites": settle_sites(sites, verdicts["memory"].verdict, census_bounded(judged)),
        "attribution": attribution,
        "files": {"samples": SAMPLES_FILE, "worker_log": WORKER_LOG, "result": RESULT_FILE},
        "environment": environment(),
    }


def _rss_growth(judged: Samples) -> dict[str, object] | None:
    """What the RSS growth from the first job to the last is made of, where the worker read
    its breakdown."""
    growth = rss_growth(judged)
    return growth.to_json() if growth is not None else None


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
    verdict = isolation_verdict(
        comparisons,
        changes,
        stateful=config.stateful,
        reproduction=found.get("reproduction"),
        note=note,
        nondeterministic=[int(c["job_index"]) for c in compared if c["equal"] is None],
        jobs_rerun=int(found.get("jobs_rerun", 0)),
    )
    if "fresh_workers" not in found:
        return verdict
    return Verdict(
        verdict.verdict,
        verdict.summary,
        {**verdict.figures, "fresh_workers": found["fresh_workers"]},
    )


def bare_result(
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


def _why_no_window(config: RunConfig) -> str:
    if config.light:
        return "--light: no memray window"
    if config.runner == "inline":
        return "the inline runner does not trace with memray (use --runner process)"
    if window_plan(config.jobs) is None:
        return f"runs under {MIN_JOBS_FOR_WINDOW} jobs are not traced with memray"
    return "the run ended before the memray window"
