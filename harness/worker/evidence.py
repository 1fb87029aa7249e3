"""What the worker process keeps for the isolation verdict: the results of a few planned jobs
(pickled, compared later with a fresh worker's by ``worker_soak.worker.isolation_check``) and
snapshots of process-global state after a ladder of jobs. Written to the run directory when
the jobs end.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from worker_soak.redact import environment_secrets, redact

if TYPE_CHECKING:  # a worker asked for no state snapshot never imports what they read
    from worker_soak.worker.execute import JobExecutor
    from worker_soak.worker.state import StateWatcher

AGED_RESULTS_FILE: Final = "isolation-aged.pickle"
STATE_FILE: Final = "isolation-state.json"
RAISED: Final = "raised"
VALUE: Final = "value"
REPR: Final = "repr"
DIGEST: Final = "digest"
#: A kept result larger than this once pickled is kept as its size and SHA-256 (compared
#: byte for byte, without the normaliser): 30 kept results stay under 30 MiB on disk where
#: a worker returning 20 MiB objects once filled 601 MB.
MAX_KEPT_BYTES: Final = 1 << 20
_SECRETS: Final = environment_secrets(os.environ)


def outcome_of(result: object, error: BaseException | None) -> tuple[str, Any]:
    """A job's outcome as it travels between processes: its pickled value (a digest when
    larger than ``MAX_KEPT_BYTES``), its exception (type and redacted message), or its repr
    when it cannot be pickled."""
    if error is not None:
        return RAISED, redact(f"{type(error).__qualname__}: {error}", _SECRETS)
    try:
        pickled = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an unpicklable result (a socket, a lambda) is compared by its repr
        try:
            shown = repr(result)
        except Exception as exc:  # the result's own repr failed: its type stands in
            shown = f"<{type(result).__qualname__}: repr raised {type(exc).__qualname__}>"
        return REPR, redact(shown, _SECRETS)
    if len(pickled) > MAX_KEPT_BYTES:
        return (
            DIGEST,
            f"a result of {len(pickled):,} bytes, sha256 {hashlib.sha256(pickled).hexdigest()}",
        )
    return VALUE, pickled


class IsolationEvidence:
    """Keeps the planned jobs' results and the state after the planned jobs, each written to
    the run directory as it is taken: held in the worker's memory they would be a growth of
    the harness's making (30 kept PDFs are megabytes)."""

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
        self._previous: dict[str, str] = {}
        # Pay the one-time costs now, before the first job: the first pickle and the first
        # snapshot set up caches that would otherwise show as a step in the worker's heap
        # at the first watched job (measured: it made a clean worker's memory inconclusive).
        # Both files stay open for the run: opening one per job mallocs and frees a buffer
        # each time, which moved the native heap of a clean worker enough to blur its verdict.
        self._results = open(run_dir / AGED_RESULTS_FILE, "ab") if keep else None  # noqa: SIM115
        self._states = (
            open(run_dir / STATE_FILE, "a", encoding="utf-8")  # noqa: SIM115
            if watcher is not None and self.state_after
            else None
        )
        if self._results is not None:
            pickle.dumps((0, outcome_of({"warm": [1.5, "up"]}, None)))
        if watcher is not None and self._states is not None:
            watcher.snapshot(-1)

    def run(self, executor: JobExecutor, job_index: int, job: dict[str, Any]) -> bytes:
        """Run a watched job: keep its result if planned, then snapshot the state if planned."""
        if job_index in self.keep:
            sample, result, error = executor.run_keeping_result(job_index, job)
            if self._results is not None:
                pickle.dump((job_index, outcome_of(result, error)), self._results)
                self._results.flush()
            del result, error
        else:
            sample = executor.run(job_index, job)
        if job_index in self.state_after and self._watcher is not None:
            state = self._watcher.snapshot(job_index)
            changed = {k: v for k, v in state.items() if self._previous.get(k) != v}
            gone = [k for k in self._previous if k not in state]
            entry = {"job": job_index, "changed": changed, "gone": gone}
            if self._states is not None:
                self._states.write(json.dumps(entry) + "\n")
                self._states.flush()
            self._previous = state
        return sample

    def close(self) -> None:
        for file in (self._results, self._states):
            if file is not None:
                file.close()


def read_aged_results(run_dir: Path) -> dict[int, tuple[str, Any]]:
    """The kept results: job index -> outcome."""
    results: dict[int, tuple[str, Any]] = {}
    with open(run_dir / AGED_RESULTS_FILE, "rb") as kept:
        while True:
            try:
                index, outcome = pickle.load(kept)
            except EOFError:
                return results
            results[int(index)] = outcome


def read_snapshots(run_dir: Path) -> list[tuple[int, dict[str, str]]]:
    """The state snapshots of a run, each whole again: ``(job index, state)``."""
    path = run_dir / STATE_FILE
    if not path.exists():
        return []
    state: dict[str, str] = {}
    snapshots = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        state = {k: v for k, v in state.items() if k not in set(entry["gone"])}
        state.update(entry["changed"])
        snapshots.append((int(entry["job"]), dict(state)))
    return snapshots
