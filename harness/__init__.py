"""Soak-test background-job workers: flat memory, isolated jobs, graceful recycling, no slowdown.

The public surface: :func:`soak`, what it returns (:class:`SoakResult`), where jobs come
from (:class:`Workload`) and the errors it raises. They are imported when first used: the
pytest plugin loads this package in every test run, and must stay cheap to load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

__version__: Final = "0.1.0"

if TYPE_CHECKING:
    from worker_soak.api import soak
    from worker_soak.errors import HarnessError, RunDirError, SpecError, UsageError, WorkloadError
    from worker_soak.result import SoakResult
    from worker_soak.workloads.base import Workload

_LAZY: Final = {
    "soak": "worker_soak.api",
    "SoakResult": "worker_soak.result",
    "Workload": "worker_soak.workloads.base",
    "HarnessError": "worker_soak.errors",
    "UsageError": "worker_soak.errors",
    "SpecError": "worker_soak.errors",
    "WorkloadError": "worker_soak.errors",
    "RunDirError": "worker_soak.errors",
}

__all__ = [
    "HarnessError",
    "RunDirError",
    "SoakResult",
    "SpecError",
    "UsageError",
    "Workload",
    "WorkloadError",
    "__version__",
    "soak",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'worker_soak' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
