"""One error root for everything the harness refuses to do.

Every message says what was given, what was expected and how to fix it, on one line, so the
CLI can print it as it is and exit 2, and the pytest plugin can raise it as a usage error.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class UsageError(HarnessError):
    """An option or argument has a value the harness cannot work with."""


class SpecError(UsageError):
    """A worker spec does not name a loadable worker."""

    def __init__(self, spec: str, problem: str) -> None:
        self.spec = spec
        self.problem = problem
        super().__init__(f"worker spec {spec!r}: {problem}")


class WorkloadError(UsageError):
    """A workload name or its parameters are not usable."""


class RunDirError(UsageError):
    """The output directory cannot hold a new run without losing an earlier one."""
