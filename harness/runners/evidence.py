"""What the worker process keeps for the isolation verdict: the results of a few planned jobs
(pickled, compared later with a fresh worker's by ``harness.runners.fresh``) and snapshots of
process-global state after a ladder of jobs. Written to the run directory when the jobs end.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, Final

from harness.execute import JobExecutor
from harness.state import StateWatcher

AGED_RESULTS_FILE: Final = "isolation-aged.pickle"
STATE_FILE: Final = "isolation-state.json"
RAISED: Final = "raised"
VALUE: Final = "value"
REPR: Final = "repr"


def outcome_of(result: object, error: BaseException | None) -> tuple[str, Any]:
    """A job's outcome as it travels between processes: its pickled value, its exception
    (type and message), or its repr when it cannot be pickled."""
    if error is not None:
        return RAISED, f"{type(error).__qualname__}: {error}"
    try:
        return VALUE, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an unpicklable result (a socket, a lambda) is compared by its repr
        return REPR, repr(result)


class IsolationEvidence:
    """Keeps the planned jobs' results and the state after the planned jobs."""

    def __init__(
        self,
        run_dir: Path,
        keep: frozenset[int],
        state_after: frozenset[int],
        watcher: StateWatcher | None,
    ) -> None:
        self.run_dir = run_dir
        self.keep = keep
        self.state_after = state_after if watcher is not None else frozenset()
        self._watcher = watcher
        self._results: dict[int, tuple[str, Any]] = {}
        self._previous: dict[str, str] = {}
        self._snapshots: list[dict[str, Any]] = []

    def run(self, executor: JobExecutor, job_index: int, job: dict[str, Any]) -> bytes:
        """Run a watched job: keep its result if planned, then snapshot the state if planned."""
        if job_index in self.keep:
            sample, result, error = executor.run_keeping_result(job_index, job)
            self._results[job_index] = outcome_of(result, error)
            del result, error
        else:
            sample = executor.run(job_index, job)
        if job_index in self.state_after and self._watcher is not None:
            state = self._watcher.snapshot(job_index)
            changed = {k: v for k, v in state.items() if self._previous.get(k) != v}
            gone = [k for k in self._previous if k not in state]
            self._snapshots.append({"job": job_index, "changed": changed, "gone": gone})
            self._previous = state
        return sample

    def save(self) -> None:
        if self._results:
            with open(self.run_dir / AGED_RESULTS_FILE, "wb") as out:
                pickle.dump(self._results, out, protocol=pickle.HIGHEST_PROTOCOL)
        if self._snapshots:
            (self.run_dir / STATE_FILE).write_text(json.dumps(self._snapshots), encoding="utf-8")


def read_snapshots(run_dir: Path) -> list[tuple[int, dict[str, str]]]:
    """The state snapshots of a run, each whole again: ``(job index, state)``."""
    path = run_dir / STATE_FILE
    if not path.exists():
        return []
    state: dict[str, str] = {}
    snapshots = []
    for entry in json.loads(path.read_text(encoding="utf-8")):
        state = {k: v for k, v in state.items() if k not in set(entry["gone"])}
        state.update(entry["changed"])
        snapshots.append((int(entry["job"]), dict(state)))
    return snapshots
