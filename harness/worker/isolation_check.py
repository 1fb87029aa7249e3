"""The differential isolation check, in a process of its own (``python -m`` this module).
Loads the worker and runs its ``setup()`` once, then gives each compared job to a *fresh*
worker: a process forked from that set-up state, which has run no job. Its outcome is
compared with the aged worker's (kept by ``worker_soak.worker.evidence``), after the user's
normaliser if there is one. For the first job that differs it searches the shortest sequence
of earlier jobs that, run before it on a fresh worker, changes its outcome again (delta
debugging, ``analysis.isolation.shortest_cause``). Writes ``isolation.json``.

Forking after ``setup()`` makes each comparison cheap (~1-5 ms, ~150 ms for an interpreter).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from worker_soak.analysis.isolation import shortest_cause
from worker_soak.redact import environment_secrets, redact_json
from worker_soak.worker.evidence import DIGEST, RAISED, REPR, VALUE, read_aged_results
from worker_soak.worker.fresh_workers import FreshWorkers, Outcome, run_one
from worker_soak.worker.spec import load_object, load_worker, split_spec

RESULT_FILE: Final = "isolation.json"
#: The run's first jobs, for the comparison (removed when it ends: jobs may carry data).
JOBS_FILE: Final = "isolation-jobs.jsonl"
NORMALISER_NAME: Final = "soak_normalise"
#: A fresh worker may take this long for its jobs, at least (see ``--timeout-s``).
MIN_TIMEOUT_S: Final = 2.0
#: Earlier jobs searched for a cause: the last ones before the differing job.
CAUSE_WINDOW: Final = 500
MAX_SHRINK_TESTS: Final = 120
MAX_SHRINK_S: Final = 60.0
MAX_SHOWN_CHARS: Final = 200
MAX_SHOWN_JOBS: Final = 5

Normaliser = Callable[[object], object]


def _value(outcome: Outcome, normalise: Normaliser | None) -> object:
    kind, payload = outcome
    if kind == VALUE:
        value = pickle.loads(payload)
        return normalise(value) if normalise is not None else value
    return (kind, payload)


def shown(outcome: Outcome | None, normalise: Normaliser | None) -> str:
    """An outcome as the report shows it."""
    if outcome is None:
        return "(the fresh worker crashed)"
    kind, payload = outcome
    if kind == RAISED:
        text = f"raised {payload}"
    elif kind in (REPR, DIGEST):
        text = str(payload)
    else:
        text = repr(_value(outcome, normalise))
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."


def same(a: Outcome | None, b: Outcome | None, normalise: Normaliser | None) -> bool:
    if a is None or b is None:
        return a is b
    if a[0] != b[0]:
        return False
    if a[0] != VALUE:
        return bool(a[1] == b[1])
    try:
        return bool(_value(a, normalise) == _value(b, normalise))
    except Exception:  # a result whose == raises is compared by its pickled bytes
        return bool(a[1] == b[1])


def spread_order(indexes: Sequence[int]) -> list[int]:
    """The indexes in an order whose every prefix is spread over the run (bit-reversed
    positions), so a time budget that stops early still samples the whole run."""
    ordered = sorted(indexes)
    count = len(ordered)
    bits = max(1, (count - 1).bit_length())
    positions = sorted(range(count), key=lambda i: int(f"{i:0{bits}b}"[::-1], 2))
    return [ordered[i] for i in positions]


def find_normaliser(spec: str, named: str) -> Normaliser | None:
    """The normaliser named by ``named`` (a spec), else ``soak_normalise`` in the worker's
    module, else None."""
    if named:
        target = load_object(named)
        if not callable(target):
            raise TypeError(f"normaliser {named!r} is not callable")
        return target
    module_name = split_spec(spec)[0]
    module = sys.modules.get(module_name) or sys.modules.get(Path(module_name).stem)
    found = getattr(module, NORMALISER_NAME, None)
    return found if callable(found) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="worker_soak.worker.isolation_check")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--one", type=Path, default=None, help="run these pickled jobs, once")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--run-dir", type=Path)
    parser.add_argument("--jobs-file", type=Path, default=None, help="the run's first jobs")
    parser.add_argument("--budget-s", type=float, default=1.0)
    parser.add_argument("--timeout-s", type=float, default=MIN_TIMEOUT_S)
    parser.add_argument("--normaliser", default="")
    parser.add_argument("--reproduce", type=int, default=None, help="search this job's cause")
    args = parser.parse_args(argv)
    if args.one is not None:
        return run_one(args.one, args.spec, args.out)
    if args.reproduce is not None:
        return _search_cause(args, args.reproduce)
    started = time.monotonic()
    report: dict[str, Any] = {"comparisons": [], "reproduction": None, "jobs_rerun": 0}
    fresh_workers = None
    try:
        fresh_workers = FreshWorkers(load_worker(args.spec), args.spec, args.timeout_s)
        report["fresh_workers"] = fresh_workers.how
        normalise = find_normaliser(args.spec, args.normaliser)
        aged = read_aged_results(args.run_dir)
        jobs = _read_jobs(args.jobs_file)
        _compare(report, fresh_workers, aged, jobs, normalise, started + args.budget_s)
        report["compare_seconds"] = round(time.monotonic() - started, 3)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    _finish(report, fresh_workers, started)
    _write(report, args.run_dir)
    return 0


def _search_cause(args: argparse.Namespace, index: int) -> int:
    """The second step, when a job differed: its cause among the jobs before it (the parent
    wrote those, ``cause_window``), added to the comparison's ``isolation.json``."""
    started = time.monotonic()
    target = args.run_dir / RESULT_FILE
    report: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    before = (int(report.get("jobs_rerun", 0)), float(report.get("seconds", 0.0)))
    fresh_workers = None
    try:
        fresh_workers = FreshWorkers(load_worker(args.spec), args.spec, args.timeout_s)
        normalise = find_normaliser(args.spec, args.normaliser)
        jobs = _read_jobs(args.jobs_file)
        fresh = fresh_workers.run([jobs[index]])
        if fresh is not None:
            report["reproduction"] = _reproduce(fresh_workers, jobs, index, fresh, normalise)
    except Exception as exc:
        report["reproduction"] = {"job_index": index, "error": f"{type(exc).__name__}: {exc}"}
    report["jobs_rerun"] = 0
    _finish(report, fresh_workers, started)
    report["jobs_rerun"] += before[0]
    report["seconds"] = round(report["seconds"] + before[1], 3)
    _write(report, args.run_dir)
    return 0


def _finish(report: dict[str, Any], fresh_workers: FreshWorkers | None, started: float) -> None:
    """Tear the worker down and note what ran."""
    if fresh_workers is not None:
        report["jobs_rerun"] = fresh_workers.jobs_run
        try:
            if fresh_workers.set_up:
                fresh_workers.worker.teardown()
        except Exception as exc:
            report["teardown_error"] = f"{type(exc).__name__}: {exc}"
        if fresh_workers.failure is not None:
            report["error"] = f"stopped comparing: {fresh_workers.failure}"
    report["seconds"] = round(time.monotonic() - started, 3)


def _write(report: dict[str, Any], run_dir: Path) -> None:
    """``isolation.json``, with the environment's secrets redacted."""
    shown = redact_json(report, environment_secrets(os.environ))
    (run_dir / RESULT_FILE).write_text(json.dumps(shown), encoding="utf-8")


def _compare(
    report: dict[str, Any],
    fresh_workers: FreshWorkers,
    aged: dict[int, Outcome],
    jobs: Mapping[int, dict[str, Any]],
    normalise: Normaliser | None,
    deadline: float,
) -> None:
    """Each kept job on a fresh worker, spread over the run, until the deadline. A job that
    differs runs on a second fresh worker: when the two fresh ones disagree, the job's result
    is not a function of the job (time, randomness, ids) and it is left out, not judged."""
    for index in spread_order(list(aged)):
        if report["comparisons"] and time.monotonic() > deadline:
            break
        fresh = fresh_workers.run([jobs[index]])
        if fresh is None:
            break
        equal: bool | None = same(aged[index], fresh, normalise)
        if not equal:
            again = fresh_workers.run([jobs[index]])
            if again is None:
                break
            if not same(fresh, again, normalise):
                equal = None
        report["comparisons"].append(
            {
                "job_index": index,
                "equal": equal,
                "aged": shown(aged[index], normalise),
                "fresh": shown(fresh, normalise),
            }
        )


def _reproduce(
    fresh_workers: FreshWorkers,
    jobs: Mapping[int, dict[str, Any]],
    index: int,
    fresh: Outcome,
    normalise: Normaliser | None,
) -> dict[str, Any]:
    """The shortest run of earlier jobs after which job ``index`` again differs from a
    fresh worker's outcome."""
    started = time.monotonic()
    first = max(0, index - CAUSE_WINDOW)

    def reproduces(history: Sequence[int]) -> bool:
        if time.monotonic() - started > MAX_SHRINK_S:
            return False  # out of time: keep the shortest sequence found so far
        outcome = fresh_workers.run([*(jobs[i] for i in history), jobs[index]])
        return outcome is not None and not same(outcome, fresh, normalise)

    sequence, tests = shortest_cause(range(first, index), reproduces, MAX_SHRINK_TESTS)
    result: dict[str, Any] = {
        "job_index": index,
        "sequence": sequence,
        "searched_from_job": first,
        "tests": tests,
        "seconds": round(time.monotonic() - started, 3),
    }
    if sequence is None:
        result["note"] = (
            f"not reproduced on a fresh worker by jobs {first}-{index - 1}: the cause is older, "
            "or outside the worker (time, another process, external state)"
        )
    else:
        result["jobs"] = [jobs[i] for i in [*sequence[:MAX_SHOWN_JOBS], index]]
        result["after_sequence"] = shown(
            fresh_workers.run([*(jobs[i] for i in sequence), jobs[index]]), normalise
        )
    return result


def _read_jobs(path: Path) -> dict[int, dict[str, Any]]:
    with open(path, encoding="utf-8") as lines:
        records = (json.loads(line) for line in lines)
        return {int(record["index"]): record["job"] for record in records}


def write_jobs_file(run_dir: Path, jobs: Iterable[dict[str, Any]], wanted: Collection[int]) -> Path:
    """The ``wanted`` jobs of the run (by index, read from ``jobs`` as they stream past), for
    the comparison's process to replay: it never regenerates them (the jobs may come from the
    user's generator, a file, or an object). Only those: the jobs up to the last kept one
    would be ~3 GB for 10,000 jobs of 300 KiB imports."""
    path = run_dir / JOBS_FILE
    last = max(wanted, default=-1)
    with open(path, "w", encoding="utf-8") as out:
        for index, job in enumerate(jobs):
            if index > last:
                break
            if index in wanted:
                out.write(json.dumps({"index": index, "job": job}) + "\n")
    return path


def differing_job(found: Mapping[str, Any]) -> int | None:
    """The first job a fresh worker did differently, when the comparison found one and can
    search its cause."""
    if found.get("error"):
        return None
    differing = [c for c in found.get("comparisons", ()) if c.get("equal") is False]
    return int(differing[0]["job_index"]) if differing else None


def cause_window(index: int) -> range:
    """The jobs the cause search of job ``index`` replays: the job and those before it."""
    return range(max(0, index - CAUSE_WINDOW), index + 1)


if __name__ == "__main__":
    sys.exit(main())
