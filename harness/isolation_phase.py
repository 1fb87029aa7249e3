"""The isolation check of a run, from the harness's side: the comparison with fresh workers
runs in a process of its own (``worker_soak.worker.isolation_check``; the harness never
imports the user's code), started as soon as the run's jobs are done.

The process runner starts it when the last kept job is done, as the memray window opens:
it runs on the harness's core beside the window's jobs (left out of every verdict) and the
aged-against-fresh comparison (which pins its workers to another core), so it adds little
to the run (~0.7 s alone on this VM). Other runners start it after the run. When the
comparison found a job that differs, the search for its cause follows.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Final

from worker_soak.model import RunConfig, RunOutcome
from worker_soak.runners.aged_vs_fresh import pin
from worker_soak.runners.factory import isolation_plan
from worker_soak.runners.spawn import child_env
from worker_soak.worker.evidence import AGED_RESULTS_FILE
from worker_soak.worker.fresh_workers import SPAWN_START_S
from worker_soak.worker.interpreter import module_command
from worker_soak.worker.isolation_check import (
    JOBS_FILE,
    MAX_SHRINK_S,
    RESULT_FILE,
    cause_window,
    differing_job,
    write_jobs_file,
)
from worker_soak.workloads.base import Workload

#: Share of the run's wall time the fresh-worker comparisons may take.
ISOLATION_BUDGET: Final = 0.05
#: ... but at least this long: loading the worker and a few forks take ~0.5 s.
ISOLATION_MIN_BUDGET_S: Final = 1.0


class _Check:
    """One isolation-check process: started, then awaited for its ``isolation.json``."""

    def __init__(
        self, run_dir: Path, arguments: list[str], timeout_s: float, env: dict[str, str]
    ) -> None:
        self.run_dir = run_dir
        self.deadline = time.monotonic() + timeout_s
        with open(run_dir / "isolation.log", "ab") as log:
            self.popen = subprocess.Popen(
                [*module_command("worker_soak.worker.isolation_check"), *arguments],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def result(self) -> dict[str, Any]:
        """What it found; one that could not finish says why under ``error``."""
        try:
            self.popen.wait(max(0.0, self.deadline - time.monotonic()))
            found: dict[str, Any] = json.loads((self.run_dir / RESULT_FILE).read_text("utf-8"))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            self.cancel()
            return {
                "comparisons": [],
                "error": f"the fresh-worker comparison did not finish: {exc}",
            }
        return found

    def cancel(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


class IsolationPhase:
    """Compares the kept results of a process-runner run with fresh workers'."""

    def __init__(
        self,
        config: RunConfig,
        spec: str,
        run_dir: Path,
        origin_ns: int,
        options: Mapping[str, str],
        workload: Workload,
    ) -> None:
        self.config = config
        self.spec = spec
        self.run_dir = run_dir
        self.origin_ns = origin_ns
        self.options = options
        self.workload = workload
        self.env: dict[str, str] = {}
        self.timeout_s = 0.0
        self.check: _Check | None = None
        self.started = False

    def start(self, completed: int, cores: Collection[int] | None = None) -> None:
        """Start the comparison once the run's ``completed`` jobs are done; on ``cores``
        when given (the ones the harness keeps while its workers share another)."""
        if self.started or not (self.run_dir / AGED_RESULTS_FILE).exists():
            return
        self.started = True
        # Now, not before: the run's services (a database, an SMTP sink) export their
        # addresses to the environment for the run's duration.
        self.env = child_env(self.config.import_paths)
        elapsed_s = (time.perf_counter_ns() - self.origin_ns) / 1e9
        # A fresh worker's job may take 20 times the run's average before it counts as hung.
        self.timeout_s = min(60.0, max(2.0, 20 * elapsed_s / max(1, completed)))
        budget_s = max(ISOLATION_MIN_BUDGET_S, ISOLATION_BUDGET * elapsed_s)
        jobs_file = self._jobs_file(isolation_plan(self.config)[0])
        # The comparisons stop at the budget; a fresh worker's start and a hung job add this.
        timeout = budget_s + 4 * (self.timeout_s + SPAWN_START_S)
        arguments = [*self._arguments(jobs_file), "--budget-s", str(budget_s)]
        self.check = _Check(self.run_dir, arguments, timeout, self.env)
        if cores:
            pin(self.check.popen.pid, set(cores))

    def finish(self, outcome: RunOutcome) -> None:
        """Await the comparison (starting it now if the runner did not), then search the
        cause of the first differing job; only for runs that completed."""
        try:
            if outcome.stop_reason != "completed":
                self.cancel()
                return
            self.start(outcome.jobs_completed)
            if self.check is None:
                return
            index = differing_job(self.check.result())
            if index is not None:  # its cause, among the jobs before it: written only now
                jobs_file = self._jobs_file(cause_window(index))
                timeout = MAX_SHRINK_S + 4 * (self.timeout_s + SPAWN_START_S)
                arguments = [*self._arguments(jobs_file), "--reproduce", str(index)]
                _Check(self.run_dir, arguments, timeout, self.env).result()
        finally:
            (self.run_dir / JOBS_FILE).unlink(missing_ok=True)

    def cancel(self) -> None:
        if self.check is not None:
            self.check.cancel()
        (self.run_dir / JOBS_FILE).unlink(missing_ok=True)

    def _jobs_file(self, wanted: Collection[int]) -> Path:
        count = max(wanted, default=-1) + 1
        jobs = self.workload.jobs(count, self.config.seed, self.options)
        return write_jobs_file(self.run_dir, jobs, set(wanted))

    def _arguments(self, jobs_file: Path) -> list[str]:
        return [
            "--spec", self.spec,
            "--run-dir", str(self.run_dir),
            "--jobs-file", str(jobs_file),
            "--timeout-s", str(self.timeout_s),
            "--normaliser", self.config.normaliser,
        ]  # fmt: skip
