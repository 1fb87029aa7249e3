"""Built-in workloads, by name.

The workload modules are imported on first use, not with the package: every worker process
imports ``worker_soak.workloads.base``, and should not carry smtplib, csv and friends on its
heap unless its workload needs them.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Final

from worker_soak.workloads.base import Job, Workload

_MODULES: Final = ("counter", "mail", "invoices", "data_import")

__all__ = ["Job", "Workload", "available", "builtin", "get_workload"]


@lru_cache(maxsize=1)
def _registry() -> dict[str, Workload]:
    workloads = [
        importlib.import_module(f"worker_soak.workloads.{name}").WORKLOAD for name in _MODULES
    ]
    return {workload.name: workload for workload in workloads}


def available() -> list[Workload]:
    """Every built-in workload, by name."""
    registry = _registry()
    return [registry[name] for name in sorted(registry)]


def get_workload(name: str) -> Workload:
    """The workload called ``name``; KeyError names the ones there are."""
    registry = _registry()
    try:
        return registry[name]
    except KeyError:
        raise KeyError(
            f"no workload {name!r}; expected one of: {', '.join(sorted(registry))}"
        ) from None


def builtin(name: str) -> Workload | None:
    """The built-in workload called ``name``, or None."""
    return _registry().get(name)
