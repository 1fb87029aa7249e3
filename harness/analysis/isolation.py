"""The isolation verdict: can state left by one job reach the next?

Two kinds of evidence. (1) The differential check: jobs whose result, on the aged worker,
differs from the result a fresh worker gives for the same job — history changed the outcome;
with the shortest earlier job sequence that reproduces it (``shortest_cause``). (2) The state
diff: process-global state that changed between snapshots after warm-up. Process-level state
(environment, working directory, logging handlers, warnings filters, signal handlers, socket
timeout, decimal context, locale, a reseeded ``random``) left behind by a job fails; a
worker's own module globals (a memo cache growing, a name rebound) are listed as evidence and
fail only through a result that differs. A worker declared stateful passes with its state
listed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from worker_soak.model import Verdict

T = TypeVar("T")

#: Keys of a state snapshot that are the worker's own globals or merely informative.
EVIDENCE_ONLY: Final = ("global ", "sys.modules")


@dataclass(frozen=True, slots=True)
class StateChange:
    """One watched item that changed between two snapshots."""

    key: str
    before: str | None
    after: str | None
    first_seen_after_job: int
    not_yet_after_job: int

    @property
    def fails(self) -> bool:
        """Process-level state a job should not leave behind (not a module's own global)."""
        return not self.key.startswith(EVIDENCE_ONLY)

    def describe(self) -> str:
        if self.before is None:
            change = f"appeared ({self.after})"
        elif self.after is None:
            change = f"disappeared (was {self.before})"
        else:
            change = f"{self.before} -> {self.after}"
        return (
            f"{self.key}: {change}, first after job {self.first_seen_after_job}"
            f" (not after job {self.not_yet_after_job})"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "before": self.before,
            "after": self.after,
            "first_seen_after_job": self.first_seen_after_job,
            "not_yet_after_job": self.not_yet_after_job,
            "fails": self.fails,
        }


def state_changes(
    snapshots: Sequence[tuple[int, Mapping[str, str]]], warmup_jobs: int
) -> list[StateChange]:
    """What changed between consecutive snapshots taken after ``warmup_jobs`` jobs, each item
    once, at its first change: ``(job index after which it was taken, state)`` pairs."""
    judged = [(job, state) for job, state in snapshots if job >= warmup_jobs]
    changes: dict[str, StateChange] = {}
    for (before_job, before), (after_job, after) in itertools.pairwise(judged):
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key), after.get(key)
            if old != new and key not in changes:
                changes[key] = StateChange(key, old, new, after_job, before_job)
    return list(changes.values())


def shortest_cause(
    history: Sequence[T], reproduces: Callable[[Sequence[T]], bool | None], max_tests: int = 200
) -> tuple[list[T] | None, int]:
    """The shortest subsequence of ``history`` (order kept) for which ``reproduces`` is true,
    by delta debugging (Zeller's ddmin: 1-minimal, O(log n) tests for a single culprit);
    ``reproduces`` returns None when it cannot tell (a crash), counted as not reproducing.
    Returns (None, tests) when the whole history does not reproduce; stops refining after
    ``max_tests`` tests and returns what it has."""
    tests = 1
    if not reproduces(history):
        return None, tests
    current = list(history)
    granularity = 2
    while len(current) >= 2 and tests < max_tests:
        size = len(current) // granularity
        chunks = [current[i : i + size] for i in range(0, len(current), size)] if size else []
        reduced = False
        for index, chunk in enumerate(chunks):
            complement = [x for j, c in enumerate(chunks) if j != index for x in c]
            for candidate in (chunk, complement):
                if not candidate or len(candidate) == len(current) or tests >= max_tests:
                    continue
                tests += 1
                if reproduces(candidate):
                    current = candidate
                    granularity = 2 if candidate is chunk else max(granularity - 1, 2)
                    reduced = True
                    break
            if reduced:
                break
        if not reduced:
            if granularity >= len(current):
                break
            granularity = min(len(current), granularity * 2)
    if len(current) == 1 and tests < max_tests:
        tests += 1
        if reproduces([]):
            return [], tests
    return current, tests


@dataclass(frozen=True, slots=True)
class Comparison:
    """One job's result on the aged worker and on a fresh one."""

    job_index: int
    equal: bool
    aged: str
    fresh: str


def isolation_verdict(
    comparisons: Sequence[Comparison],
    changes: Sequence[StateChange],
    *,
    stateful: bool = False,
    reproduction: Mapping[str, Any] | None = None,
    note: str = "",
    nondeterministic: Sequence[int] = (),
    jobs_rerun: int = 0,
) -> Verdict:
    """pass | fail | inconclusive, with the jobs compared, differences and state changes.
    ``nondeterministic``: jobs left out because two fresh workers disagreed on them."""
    differing = [c for c in comparisons if not c.equal]
    leaked = [c for c in changes if c.fails]
    figures: dict[str, object] = {
        "jobs_compared": len(comparisons),
        "differing_jobs": [
            {"job_index": c.job_index, "aged": c.aged, "fresh": c.fresh} for c in differing[:5]
        ],
        "state_changes": [c.to_json() for c in changes[:20]],
        "stateful": stateful,
        "nondeterministic_jobs": list(nondeterministic[:10]),
        "jobs_rerun": jobs_rerun,
    }
    if nondeterministic:
        unjudged = (
            f"{len(nondeterministic)} job(s) gave different results on two fresh workers "
            "(time, randomness, ids: add a normaliser) and were left out"
        )
        note = f"{note}; {unjudged}" if note else unjudged
    if reproduction is not None:
        figures["reproduction"] = dict(reproduction)
    if note:
        figures["note"] = note
    if stateful:
        listed = len(changes) + len(differing)
        return Verdict(
            "pass",
            f"declared stateful: {listed} state change(s) and differing result(s) listed, "
            f"not judged ({len(comparisons)} jobs compared)",
            figures,
        )
    if differing:
        first = differing[0]
        cause = _cause_text(reproduction)
        return Verdict(
            "fail",
            f"history changed the outcome: job {first.job_index} returned {first.aged} on the "
            f"aged worker but {first.fresh} on a fresh one ({len(differing)} of "
            f"{len(comparisons)} compared jobs differ){cause}",
            figures,
        )
    if leaked:
        shown = "; ".join(change.describe() for change in leaked[:3])
        return Verdict(
            "fail",
            f"jobs leave process state behind: {shown}"
            + (f" (+{len(leaked) - 3} more)" if len(leaked) > 3 else ""),
            figures,
        )
    if not comparisons:
        return Verdict(
            "inconclusive",
            f"no job compared with a fresh worker{': ' + note if note else ''}; "
            "no process state left behind",
            figures,
        )
    evidence = f"; {len(changes)} module global(s) changed, results unaffected" if changes else ""
    if note:
        evidence += f"; {note}"
    return Verdict(
        "pass",
        f"{len(comparisons)} jobs gave the same result on a fresh worker; no process state "
        f"left behind{evidence}",
        figures,
    )


def _cause_text(reproduction: Mapping[str, Any] | None) -> str:
    if reproduction is None:
        return ""
    sequence = reproduction.get("sequence")
    if sequence is None:
        return f"; {reproduction.get('note', 'not reproduced in a fresh worker')}"
    if not sequence:
        return "; a fresh worker reproduces it with no earlier job (not history: the job itself)"
    shown = ", ".join(str(i) for i in sequence[:10])
    return f"; reproduced on a fresh worker by running job(s) {shown} before it"


#: Jobs whose aged results are kept for the comparison with a fresh worker (the default).
KEPT_RESULTS: Final = 30
_LADDER: Final = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)


def isolation_warmup(judged_jobs: int) -> int:
    """Jobs before the state diff starts: lazy set-up (a logger configured on first use) is
    not a leak."""
    return max(10, judged_jobs // 10)


def plan(judged_jobs: int, kept: int = KEPT_RESULTS) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Which jobs' results to keep (spread after warm-up) and after which jobs to snapshot
    the process state (a ladder, every twentieth of the run, warm-up, the last job)."""
    warmup = isolation_warmup(judged_jobs)
    if judged_jobs <= warmup:
        return (), ()
    span = judged_jobs - warmup
    count = min(kept, span)
    keep = sorted({warmup + (i * span) // count for i in range(count)})
    step = max(1, judged_jobs // 20)
    after = {*_LADDER, warmup, judged_jobs - 1, *range(warmup, judged_jobs, step)}
    return tuple(keep), tuple(sorted(j for j in after if j < judged_jobs))
