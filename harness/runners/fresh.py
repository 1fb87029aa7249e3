"""The differential isolation check, in a process of its own: ``python -m harness.runners.fresh``.

Loads the worker and runs its ``setup()`` once, then gives each compared job to a *fresh*
worker: a process forked from that set-up state, which has run no job. Its outcome is
compared with the aged worker's (kept by ``harness.runners.evidence``), after the user's
normaliser if there is one. For the first job that differs it searches the shortest sequence
of earlier jobs that, run before it on a fresh worker, changes its outcome again (delta
debugging, ``analysis.isolation.shortest_cause``). Writes ``isolation.json``.

Forking after ``setup()`` is what makes each comparison cheap (~1-5 ms, against ~150 ms for
a new interpreter): the forked process holds exactly a freshly set-up worker.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import select
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from harness.analysis.isolation import shortest_cause
from harness.runners.evidence import AGED_RESULTS_FILE, RAISED, REPR, VALUE, outcome_of
from harness.spec import Worker, load_object, load_worker, split_spec
from workloads import get_workload

RESULT_FILE: Final = "isolation.json"
NORMALISER_NAME: Final = "soak_normalise"
FORK_TIMEOUT_S: Final = 60.0
#: Earlier jobs searched for a cause: the last ones before the differing job.
CAUSE_WINDOW: Final = 500
MAX_SHRINK_TESTS: Final = 120
MAX_SHOWN_CHARS: Final = 200
MAX_SHOWN_JOBS: Final = 5

Outcome = tuple[str, Any]
Normaliser = Callable[[object], object]


def run_fresh(worker: Worker, jobs: Sequence[dict[str, Any]]) -> Outcome | None:
    """Run ``jobs`` in order on a worker forked from this set-up one; the last job's outcome
    (None: the fork crashed or hung)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the fresh worker
        os.close(read_fd)
        code = 0
        try:
            for job in jobs[:-1]:
                # An earlier job's failure is part of the history, not the outcome.
                with contextlib.suppress(Exception):
                    worker.handle(job)
            try:
                outcome = outcome_of(worker.handle(jobs[-1]), None)
            except Exception as exc:
                outcome = outcome_of(None, exc)
            with os.fdopen(write_fd, "wb") as out:
                pickle.dump(outcome, out)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    data = _read_all(read_fd, pid)
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    loaded: Outcome = pickle.loads(data)
    return loaded


def _read_all(fd: int, pid: int) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + FORK_TIMEOUT_S
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                return b""
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


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
    elif kind == REPR:
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
    parser = argparse.ArgumentParser(prog="harness.runners.fresh")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--options", default="{}")
    parser.add_argument("--budget-s", type=float, required=True)
    parser.add_argument("--normaliser", default="")
    args = parser.parse_args(argv)
    started = time.monotonic()
    report: dict[str, Any] = {"comparisons": [], "reproduction": None}
    try:
        worker = load_worker(args.spec)
        worker.setup()
        normalise = find_normaliser(args.spec, args.normaliser)
        with open(args.run_dir / AGED_RESULTS_FILE, "rb") as kept:
            aged: dict[int, Outcome] = pickle.load(kept)
        count = max(aged) + 1
        options = json.loads(args.options)
        jobs = list(get_workload(args.workload).jobs(count, args.seed, options))
        first_differing: tuple[int, Outcome | None] | None = None
        for index in spread_order(list(aged)):
            if report["comparisons"] and time.monotonic() - started > args.budget_s:
                break
            fresh = run_fresh(worker, [jobs[index]])
            equal = same(aged[index], fresh, normalise)
            report["comparisons"].append(
                {
                    "job_index": index,
                    "equal": equal,
                    "aged": shown(aged[index], normalise),
                    "fresh": shown(fresh, normalise),
                }
            )
            if not equal and first_differing is None:
                first_differing = (index, fresh)
        report["compare_seconds"] = round(time.monotonic() - started, 3)
        if first_differing is not None:
            report["reproduction"] = _reproduce(worker, jobs, *first_differing, normalise)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    report["seconds"] = round(time.monotonic() - started, 3)
    (args.run_dir / RESULT_FILE).write_text(json.dumps(report), encoding="utf-8")
    return 0


def _reproduce(
    worker: Worker,
    jobs: Sequence[dict[str, Any]],
    index: int,
    fresh: Outcome | None,
    normalise: Normaliser | None,
) -> dict[str, Any]:
    """The shortest run of earlier jobs after which job ``index`` again differs from a
    fresh worker's outcome."""
    started = time.monotonic()
    first = max(0, index - CAUSE_WINDOW)

    def reproduces(history: Sequence[int]) -> bool:
        outcome = run_fresh(worker, [*(jobs[i] for i in history), jobs[index]])
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
            run_fresh(worker, [*(jobs[i] for i in sequence), jobs[index]]), normalise
        )
    return result


if __name__ == "__main__":
    sys.exit(main())


def compare_with_fresh_workers(
    *,
    spec: str,
    run_dir: Path,
    workload: str,
    seed: int,
    options: dict[str, str],
    budget_s: float,
    normaliser: str,
    env: dict[str, str],
) -> dict[str, Any]:
    """Run the comparison in a new process (the harness never imports the user's code) and
    return what it found; a comparison that could not run says why under ``error``."""
    import subprocess

    command = [
        sys.executable, "-m", "harness.runners.fresh",
        "--spec", spec,
        "--run-dir", str(run_dir),
        "--workload", workload,
        "--seed", str(seed),
        "--options", json.dumps(options),
        "--budget-s", str(budget_s),
        "--normaliser", normaliser,
    ]  # fmt: skip
    target = run_dir / RESULT_FILE
    try:
        with open(run_dir / "isolation.log", "ab") as log:
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=budget_s + FORK_TIMEOUT_S * 2 + 30,
                check=False,
                start_new_session=True,
            )
        found: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return {"comparisons": [], "error": f"the fresh-worker comparison did not finish: {exc}"}
    return found
