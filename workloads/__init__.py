"""Built-in workloads, by name."""

from __future__ import annotations

from workloads import counter, data_import, invoices, mail
from workloads.base import Job, Workload

_REGISTRY: dict[str, Workload] = {
    w.name: w for w in (counter.WORKLOAD, mail.WORKLOAD, invoices.WORKLOAD, data_import.WORKLOAD)
}

__all__ = ["Job", "Workload", "available", "get_workload"]


def available() -> list[Workload]:
    """Every built-in workload, by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_workload(name: str) -> Workload:
    """The workload called ``name``; KeyError names the ones there are."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"no workload {name!r}; expected one of: {', '.join(sorted(_REGISTRY))}"
        ) from None
