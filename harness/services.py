"""A workload's services for the length of one run, and the environment its workers see."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from worker_soak.errors import WorkloadError
from worker_soak.worker.census import DECLARED_ENV
from worker_soak.worker.interpreter import WORKER_PYTHON_ENV
from worker_soak.workloads.base import (
    ENV_PROFILE,
    ENV_RUN_DIR,
    Services,
    Workload,
    WorkloadOptionError,
    profile_of,
)


class WorkloadServices:
    """Starts the services, exports their variables to worker processes, and reports."""

    def __init__(
        self,
        workload: Workload,
        run_dir: Path,
        options: Mapping[str, str],
        seed: int,
        bounded_caches: tuple[str, ...] = (),
        python: str | None = None,
    ) -> None:
        """``bounded_caches``: the user's caches bounded by construction, for the census
        the worker processes take (:mod:`worker_soak.worker.census`); ``python``: the interpreter
        that runs the worker processes."""
        self.variables = {ENV_RUN_DIR: str(run_dir.resolve()), ENV_PROFILE: profile_of(options)}
        if bounded_caches:
            self.variables[DECLARED_ENV] = ",".join(bounded_caches)
        if python:
            self.variables[WORKER_PYTHON_ENV] = python
        self.services: Services | None = None
        if workload.start is not None:
            try:
                self.services = workload.start(run_dir, options, seed)
            except WorkloadOptionError as exc:
                raise WorkloadError(str(exc)) from None
            except OSError as exc:
                raise WorkloadError(
                    f"workload {workload.name!r} could not start its services: {exc}"
                ) from None
            self.variables.update(self.services.environment())
        self._report: dict[str, Any] | None = None

    @contextmanager
    def exported(self) -> Iterator[None]:
        """The variables in this process's environment (a worker process inherits them)."""
        saved = {name: os.environ.get(name) for name in self.variables}
        os.environ.update(self.variables)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def finish(self, jobs_completed: int) -> dict[str, Any]:
        """Stop the services (once) and return what they saw."""
        if self._report is None:
            self._report = {}
            if self.services is not None:
                try:
                    self._report = self.services.finish(jobs_completed)
                except Exception as exc:
                    self._report = {"error": f"{type(exc).__name__}: {exc}"}
        return self._report
