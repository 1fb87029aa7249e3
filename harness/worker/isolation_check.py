"""The differential isolation check, in a process of its own (``python -m`` this module).
Loads the worker and runs its ``setup()`` once, then gives each compared job to a *fresh*
worker: a process forked from that set-up state, which has run no job. Its outcome is
compared with the aged worker's (kept by ``harness.worker.evidence``), after the user's
normaliser if there is one. For the first job that differs it searches the shortest sequence
of earlier jobs that, run before it on a fresh worker, changes its outcome again (delta
debugging, ``analysis.isolation.shortest_cause``). Writes ``isolation.json``.

Forking after ``setup()`` makes each comparison cheap (~1-5 ms, ~150 ms for an interpreter).
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
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from harness.analysis.isolation import shortest_cause
from harness.redact import environment_secrets, redact_json
from harness.worker.evidence import DIGEST, RAISED, REPR, VALUE, outcome_of, read_aged_results
from harness.worker.interpreter import worker_python
from harness.worker.spec import Worker, load_object, load_worker, split_spec
from workloads import get_workload

RESULT_FILE: Final = "isolation.json"
NORMALISER_NAME: Final = "soak_normalise"
#: A fresh worker may take this long for its jobs, at least (see ``--timeout-s``).
MIN_TIMEOUT_S: Final = 2.0
#: A new interpreter's start, imports and ``setup()``, on top of its jobs' time.
SPAWN_START_S: Final = 30.0
#: Earlier jobs searched for a cause: the last ones before the differing job.
CAUSE_WINDOW: Final = 500
MAX_SHRINK_TESTS: Final = 120
MAX_SHRINK_S: Final = 60.0
MAX_SHOWN_CHARS: Final = 200
MAX_SHOWN_JOBS: Final = 5

Outcome = tuple[str, Any]
Normaliser = Callable[[object], object]


def _run_jobs(worker: Worker, jobs: Sequence[dict[str, Any]]) -> Outcome:
    """Run ``jobs`` in order; the last one's outcome."""
    for job in jobs[:-1]:
        # An earlier job's failure is part of the history, not the outcome.
        with contextlib.suppress(Exception):
            worker.handle(job)
    try:
        return outcome_of(worker.handle(jobs[-1]), None)
    except Exception as exc:
        return outcome_of(None, exc)


class FreshWorkers:
    """Fresh workers on demand: forked from this process's set-up worker when it runs no
    other thread (fast), else new interpreters that load and set up the worker (a thread
    does not survive a fork: a job waiting on it would hang). Counts every job they run."""

    def __init__(self, worker: Worker, spec: str, timeout_s: float) -> None:
        self.worker = worker
        self.spec = spec
        self.timeout_s = timeout_s
        self.jobs_run = 0
        self.forking = threading.active_count() == 1 and _kernel_threads() == 1
        self.failure: str | None = None

    def run(self, jobs: Sequence[dict[str, Any]]) -> Outcome | None:
        """The last job's outcome on a fresh worker that first ran the others; None when
        that worker crashed or hung (then ``failure`` says so)."""
        self.jobs_run += len(jobs)
        outcome = self._fork(jobs) if self.forking else self._spawn(jobs)
        if outcome is None and self.failure is None:
            how = "forked" if self.forking else "new"
            self.failure = f"a {how} fresh worker crashed or ran over {self.timeout_s:.0f} s"
        return outcome

    def _fork(self, jobs: Sequence[dict[str, Any]]) -> Outcome | None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the fresh worker
            os.close(read_fd)
            code = 0
            try:
                outcome = _run_jobs(self.worker, jobs)
                with os.fdopen(write_fd, "wb") as out:
                    pickle.dump(outcome, out)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        data = _read_all(read_fd, pid, self.timeout_s)
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            return None
        loaded: Outcome = pickle.loads(data)
        return loaded

    def _spawn(self, jobs: Sequence[dict[str, Any]]) -> Outcome | None:
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            given, taken = Path(scratch) / "jobs.pickle", Path(scratch) / "outcome.pickle"
            given.write_bytes(pickle.dumps(list(jobs)))
            command = [worker_python(), "-m", "harness.worker.isolation_check", "--one", str(given)]
            try:
                subprocess.run(
                    [*command, "--spec", self.spec, "--out", str(taken)],
                    stdin=subprocess.DEVNULL,
                    timeout=self.timeout_s + SPAWN_START_S,
                    check=False,
                )
                loaded: Outcome = pickle.loads(taken.read_bytes())
            except (OSError, EOFError, pickle.UnpicklingError, subprocess.TimeoutExpired):
                return None
        return loaded


def _kernel_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _run_one(jobs_file: Path, spec: str, out: Path) -> int:
    """``--one``: load and set up the worker, run the pickled jobs, write the last outcome."""
    worker = load_worker(spec)
    worker.setup()
    try:
        outcome = _run_jobs(worker, pickle.loads(jobs_file.read_bytes()))
    finally:
        worker.teardown()
    out.write_bytes(pickle.dumps(outcome))
    return 0


def _read_all(fd: int, pid: int, timeout_s: float) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
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
    parser = argparse.ArgumentParser(prog="harness.worker.isolation_check")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--one", type=Path, default=None, help="run these pickled jobs, once")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--run-dir", type=Path)
    parser.add_argument("--workload", default="counter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--options", default="{}")
    parser.add_argument("--budget-s", type=float, default=1.0)
    parser.add_argument("--timeout-s", type=float, default=MIN_TIMEOUT_S)
    parser.add_argument("--normaliser", default="")
    args = parser.parse_args(argv)
    if args.one is not None:
        return _run_one(args.one, args.spec, args.out)
    started = time.monotonic()
    report: dict[str, Any] = {"comparisons": [], "reproduction": None, "jobs_rerun": 0}
    fresh_workers = None
    try:
        worker = load_worker(args.spec)
        worker.setup()
        fresh_workers = FreshWorkers(worker, args.spec, args.timeout_s)
        report["fresh_workers"] = "forked" if fresh_workers.forking else "new processes"
        normalise = find_normaliser(args.spec, args.normaliser)
        aged = read_aged_results(args.run_dir)
        count = max(aged) + 1
        jobs = list(get_workload(args.workload).jobs(count, args.seed, json.loads(args.options)))
        _compare(report, fresh_workers, aged, jobs, normalise, started + args.budget_s)
        report["compare_seconds"] = round(time.monotonic() - started, 3)
        differing = [c for c in report["comparisons"] if c["equal"] is False]
        if differing and fresh_workers.failure is None:
            index = differing[0]["job_index"]
            report["reproduction"] = _reproduce(
                fresh_workers, jobs, index, differing[0]["fresh_outcome"], normalise
            )
        for comparison in report["comparisons"]:
            comparison.pop("fresh_outcome", None)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    if fresh_workers is not None:
        report["jobs_rerun"] = fresh_workers.jobs_run
        try:
            fresh_workers.worker.teardown()
        except Exception as exc:
            report["teardown_error"] = f"{type(exc).__name__}: {exc}"
        if fresh_workers.failure is not None:
            report["error"] = f"stopped comparing: {fresh_workers.failure}"
    report["seconds"] = round(time.monotonic() - started, 3)
    shown = redact_json(report, environment_secrets(os.environ))
    (args.run_dir / RESULT_FILE).write_text(json.dumps(shown), encoding="utf-8")
    return 0


def _compare(
    report: dict[str, Any],
    fresh_workers: FreshWorkers,
    aged: dict[int, Outcome],
    jobs: Sequence[dict[str, Any]],
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
                "fresh_outcome": fresh,
            }
        )


def _reproduce(
    fresh_workers: FreshWorkers,
    jobs: Sequence[dict[str, Any]],
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


def compare_with_fresh_workers(
    *,
    spec: str,
    run_dir: Path,
    workload: str,
    seed: int,
    options: dict[str, str],
    budget_s: float,
    timeout_s: float,
    normaliser: str,
    env: dict[str, str],
) -> dict[str, Any]:
    """Run the comparison in a new process (the harness never imports the user's code) and
    return what it found; a comparison that could not run says why under ``error``."""
    import subprocess

    command = [
        worker_python(), "-m", "harness.worker.isolation_check",
        "--spec", spec,
        "--run-dir", str(run_dir),
        "--workload", workload,
        "--seed", str(seed),
        "--options", json.dumps(options),
        "--budget-s", str(budget_s),
        "--timeout-s", str(timeout_s),
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
                # The comparisons stop at the budget; a cause search adds at most this much.
                timeout=budget_s + MAX_SHRINK_S + 4 * (timeout_s + SPAWN_START_S),
                check=False,
                start_new_session=True,
            )
        found: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return {"comparisons": [], "error": f"the fresh-worker comparison did not finish: {exc}"}
    return found


if __name__ == "__main__":
    sys.exit(main())
