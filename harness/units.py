"""Sizes as people write them: ``64B``, ``48KiB``, ``1.5MB``, and growth limits ``64B/job``;
and sizes as the verdicts write them."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
}
_SIZE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> float:
    """Bytes in ``text``; ValueError says what is accepted."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"expected a size such as 64B, 48KiB or 1.5MB (units B, KB, MB, GB, KiB, MiB, "
            f"GiB), got {text!r}"
        )
    return float(match.group(1)) * _UNITS[unit]


def parse_growth(text: str) -> tuple[float | None, float | None]:
    """``SIZE/job`` -> (per job, None); ``SIZE`` -> (None, over the whole run)."""
    size, slash, per = text.partition("/")
    if slash:
        if per.strip().lower() != "job":
            raise ValueError(
                f"expected SIZE/job (e.g. 64B/job) or SIZE over the run (e.g. 48KiB), got {text!r}"
            )
        return parse_size(size), None
    return None, parse_size(size)


def format_bytes(value: float) -> str:
    """``1.5 KiB``, ``2.0 MiB``, ``12.3 B``: a size as the verdicts write it."""
    magnitude = abs(value)
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if magnitude >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.1f} B"
