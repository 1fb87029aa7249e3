"""Job generators as users write them, good and bad, for ``--workload file.py:attr``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import strategies as st

from worker_soak.workloads.base import Workload


def make_job(index: int, seed: int) -> dict[str, Any]:
    """Invoices for four customers."""
    return {"customer": f"c{index % 4}", "amount": index + seed}


invoice_jobs = st.fixed_dictionaries(
    {
        "customer": st.text(min_size=1, max_size=30),
        "amount": st.integers(0, 10**9),
        "lines": st.lists(st.integers(0, 1000), max_size=8),
    }
)


def _numbers(count: int, seed: int, options: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    return ({"n": i} for i in range(count))


NUMBERS = Workload(name="numbers", summary="n", generate=_numbers, reference_worker="")


def raises(index: int, seed: int) -> dict[str, Any]:
    raise ValueError("no customers table")


def returns_list(index: int, seed: int) -> list[int]:
    return [index]


def not_json(index: int, seed: int) -> dict[str, Any]:
    return {"when": object()}


set_jobs = st.fixed_dictionaries({"ids": st.sets(st.integers(), min_size=1)})
rejects_everything = st.fixed_dictionaries({"a": st.integers()}).filter(lambda job: False)
NOT_A_GENERATOR = 42
