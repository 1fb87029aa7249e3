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

#: Each built-in workload's module, by the workload's name: a run imports only its own
#: (the email workload's module alone took ~20 ms of every ``soak run``'s start).
_MODULES: Final = {
    "counter": "counter",
    "email": "mail",
    "pdf": "invoices",
    "import": "data_import",
}

__all__ = ["Job", "Workload", "available", "builtin", "get_workload"]


def _load(name: str) -> Workload:
    workload: Workload = importlib.import_module(f"worker_soak.workloads.{_MODULES[name]}").WORKLOAD
    return workload


@lru_cache(maxsize=1)
def _registry() -> dict[str, Workload]:
    return {name: _load(name) for name in _MODULES}


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
    return _load(name) if name in _MODULES else None
