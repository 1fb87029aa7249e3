"""Memoisation that only speeds things up: a module-level cache that grows, same results."""

import functools
from typing import Any

_squares: dict[int, int] = {}


@functools.cache
def _slow_label(bucket: int) -> str:
    return f"bucket-{bucket}"


def handle(job: dict[str, Any]) -> dict[str, Any]:
    key = job["id"] % 500
    if key not in _squares:
        _squares[key] = key * key
    return {"square": _squares[key], "label": _slow_label(key)}
