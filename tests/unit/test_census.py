"""The census's collected heap count is exact: what CPython's own caches hold is not counted
as the worker's."""

from __future__ import annotations

import json

from worker_soak.worker.census import collected_heap


class _Looked:
    """A class whose attributes are looked up by names made at run time."""


def _collected_blocks() -> int:
    fields: dict[str, int] = json.loads("{" + collected_heap()[1:] + "}")
    return fields["py_blocks_collected"]


def test_attribute_names_made_at_run_time_are_not_counted_as_kept() -> None:
    """CPython's type attribute cache keeps a reference to every name looked up through a
    type, in a slot chosen by the name's address: 300 names built at run time and dropped
    would stay alive there (as ``open()`` in text mode leaves them, job after job)."""
    _collected_blocks()
    before = _collected_blocks()
    names = ["attribute_" + str(number) for number in range(300)]
    for name in names:
        hasattr(_Looked, name)
    del names, name
    kept = _collected_blocks() - before
    assert kept < 10, f"{kept} blocks kept by 300 dropped attribute names"
