"""Verdicts for a pool run: memory judged per worker lifetime, and the recycling claim.

A worker process that is recycled every 2,700 jobs shows a sawtooth over the run: judged as
one series its growth looks bounded, although each lifetime leaks. Recycling is a safety net,
not a pass, so memory (and open files, threads, and latency: a slowdown is a matter of a
worker's age) are judged within each lifetime, on that worker's own jobs in the order it ran
them, and the run fails if any lifetime fails.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from worker_soak.model import Verdict
from worker_soak.samples import Samples

PID_FIELD: Final = "worker_pid"
#: Reasons a worker ended from outside or by itself crashing: a job was in flight.
UNGRACEFUL: Final = ("crash", "kill", "timeout")


@dataclass(frozen=True, slots=True)
class Lifetime:
    """One worker process's jobs (positions in the samples), in the order it ran them."""

    pid: int
    job_indexes: tuple[int, ...]
    #: The node it ran on (None: samples without one, from before nodes were recorded).
    node: int | None = None

    @property
    def first_job(self) -> int:
        return min(self.job_indexes)

    @property
    def last_job(self) -> int:
        return max(self.job_indexes)


def lifetimes(samples: Samples) -> list[Lifetime]:
    """The worker lifetimes in a run's samples, by first job; [] without ``worker_pid``."""
    keys = samples.process_keys()
    if keys is None:
        return []
    jobs: dict[tuple[int | None, int], list[int]] = {}
    for job_index, key in enumerate(keys):
        if key is not None:
            jobs.setdefault(key, []).append(job_index)
    # In the order the worker ran them: a job given back by a recycled worker may go to a
    # sibling after jobs with higher indexes.
    end = samples.end_ns
    return [
        Lifetime(pid, tuple(sorted(indexes, key=end.__getitem__)), node)
        for (node, pid), indexes in jobs.items()
    ]


def lifetime_samples(samples: Samples, lifetime: Lifetime) -> Samples:
    """The samples of one lifetime, re-numbered 0..n-1 in the order the worker ran them."""
    return samples.select(lifetime.job_indexes)


def per_lifetime(samples: Samples, judge_one: Callable[[Samples, int], Verdict]) -> Verdict:
    """``judge_one(lifetime's samples, number of lifetimes)`` on every worker lifetime: fail
    if one fails, pass if all pass, else inconclusive. The number lets a statistical verdict
    split its false-alarm rate over the lifetimes it tests (Bonferroni: K tests at alpha/K
    keep the run's false-alarm rate at most alpha). Without lifetimes (one worker process)
    it is ``judge_one(samples, 1)``."""
    lives = lifetimes(samples)
    if len(lives) <= 1:
        return judge_one(samples, 1)
    judged = [(life, judge_one(lifetime_samples(samples, life), len(lives))) for life in lives]
    table = [
        {
            "pid": life.pid,
            **({"node": life.node} if life.node is not None else {}),
            "first_job": life.first_job,
            "last_job": life.last_job,
            "jobs": len(life.job_indexes),
            "verdict": verdict.verdict,
        }
        for life, verdict in judged
    ]
    failed = [(life, v) for life, v in judged if v.verdict == "fail"]
    counts = f"{len(failed)} of {len(lives)} worker lifetimes"
    if failed:
        life, verdict = failed[0]
        summary = (
            f"{counts} fail; the first, pid {life.pid} (jobs {life.first_job:,}-"
            f"{life.last_job:,}, {len(life.job_indexes):,} jobs; job numbers below count its "
            f"own jobs): {verdict.summary}"
        )
        return Verdict("fail", summary, {**verdict.figures, "lifetimes": table})
    longest_life, longest = max(judged, key=lambda pair: len(pair[0].job_indexes))
    if all(v.verdict == "pass" for _, v in judged):
        summary = f"every one of {len(lives)} worker lifetimes passes; longest: {longest.summary}"
        return Verdict("pass", summary, {**longest.figures, "lifetimes": table})
    passed = sum(1 for _, v in judged if v.verdict == "pass")
    summary = (
        f"{passed} of {len(lives)} worker lifetimes pass, none fails; the longest "
        f"(pid {longest_life.pid}, {len(longest_life.job_indexes):,} jobs): {longest.summary}"
    )
    return Verdict("inconclusive", summary, {**longest.figures, "lifetimes": table})


def recycling_verdict(pool: Mapping[str, Any]) -> Verdict:
    """Graceful recycling: every job started once and finished once, no worker ended from
    outside or crashed with a job in its hands."""
    recycles: Sequence[Mapping[str, Any]] = pool.get("recycles", ())
    lost = int(pool.get("jobs_lost", 0))
    twice = int(pool.get("jobs_run_twice", 0))
    retried = int(pool.get("jobs_retried", 0))
    failed = int(pool.get("jobs_failed_by_interruption", 0))
    reasons: dict[str, int] = {}
    for record in recycles:
        reasons[str(record["reason"])] = reasons.get(str(record["reason"]), 0) + 1
    gaps = [float(r["restart_seconds"]) for r in recycles if r.get("restart_seconds") is not None]
    figures: dict[str, object] = {
        "recycles": len(recycles),
        "by_reason": reasons,
        "jobs_lost": lost,
        "jobs_run_twice": twice,
        "jobs_retried": retried,
        "jobs_failed_by_interruption": failed,
        "restart_seconds_median": round(statistics.median(gaps), 4) if gaps else None,
        "restart_seconds_max": round(max(gaps), 4) if gaps else None,
    }
    said = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    if lost or twice:
        return Verdict(
            "fail", f"{lost} jobs lost and {twice} run twice across {len(recycles)} recycles",
            figures,
        )  # fmt: skip
    ungraceful = sum(reasons.get(reason, 0) for reason in UNGRACEFUL)
    if ungraceful:
        first = next(r for r in recycles if r["reason"] in UNGRACEFUL)
        summary = (
            f"{ungraceful} workers ended with a job in flight ({said}); first at job "
            f"{first['job_index']} (pid {first['pid']}); {retried} jobs ran again, "
            f"{failed} recorded as failed, none lost"
        )
        return Verdict("fail", summary, figures)
    if recycles:
        gap = f"; restart {figures['restart_seconds_median']} s (median)" if gaps else ""
        summary = (
            f"{len(recycles)} graceful recycles ({said}), none interrupted a job; every job "
            f"ran exactly once{gap}"
        )
        return Verdict("pass", summary, figures)
    limits: Mapping[str, Any] = pool.get("limits", {})
    limited = any(
        limits.get(key) is not None
        for key in ("max_memory_bytes", "max_jobs_per_worker", "max_worker_age_s")
    )
    if limited:
        return Verdict(
            "inconclusive",
            "no worker reached a recycle limit: recycling was not exercised; every job ran "
            "exactly once",
            figures,
        )
    return Verdict("pass", "no recycle limit set; every job ran exactly once", figures)
