"""Converters from what a user writes (text on the command line, a Python value in a
keyword) to an option's value. Each raises ``ValueError`` or ``TypeError`` on a value it cannot
use; the caller words the error from the option's ``expected`` text."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from worker_soak.analysis.failed_jobs import FailedJobsPolicy
from worker_soak.units import parse_growth, parse_size

Converter = Callable[[object], object]


def whole(minimum: int | None) -> Converter:
    """A whole number >= ``minimum``; text may group digits ('10,000', '10_000')."""

    def convert(value: object) -> int:
        if isinstance(value, bool):
            raise TypeError("a flag is not a count")
        if isinstance(value, str):
            value = int(value.strip().replace("_", "").replace(",", ""))
        if not isinstance(value, int) or (minimum is not None and value < minimum):
            raise ValueError(value)
        return value

    return convert


def number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(value)
    return float(value)


def positive(value: object) -> float:
    result = number(value)
    if not 0 < result < float("inf"):
        raise ValueError(result)
    return result


def flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _int(value: object, minimum: int | None) -> int:
    result = whole(minimum)(value)
    assert isinstance(result, int)
    return result


def size(value: object) -> int:
    """Bytes: a number, or text with a unit ('200MB', '48KiB')."""
    return _int(int(parse_size(value)) if isinstance(value, str) else value, 1)


def alpha(value: object) -> float:
    result = number(value)
    if not 0 < result < 0.5:
        raise ValueError(result)
    return result


def tolerance(value: object) -> float:
    """A fraction (0.1) or a percentage ('10%')."""
    text = str(value).strip()
    return positive(number(text[:-1]) / 100 if text.endswith("%") else number(value))


def growth(value: object) -> tuple[float | None, float | None]:
    """(per job, over the run): '64B/job' -> (64, None); '48KiB' or a number -> (None, 49152)."""
    if isinstance(value, str):
        return parse_growth(value)
    return None, positive(value)


def failed_jobs(value: object) -> FailedJobsPolicy:
    """``3`` or ``'3'``: that many failed jobs allowed; ``'1%'``: that share of the jobs."""
    text = str(value).strip()
    if text.endswith("%"):
        share = number(text[:-1]) / 100
        if not 0 <= share <= 1:
            raise ValueError(share)
        return FailedJobsPolicy(max_failed_share=share)
    return FailedJobsPolicy(max_failed=_int(value, 0))


def cache_names(value: object) -> tuple[str, ...]:
    """``'module:attr'`` names (one, or a list of them) of caches bounded by construction."""
    names = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    for name in names:
        if not isinstance(name, str) or ":" not in name or "," in name:
            raise ValueError(name)
    return tuple(names)


def text(value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise TypeError(value)
    return value


def any_text(value: object) -> str:
    """A string, possibly empty (an empty one means: not set)."""
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def choice(*allowed: str) -> Converter:
    def convert(value: object) -> str:
        if text(value) not in allowed:
            raise ValueError(value)
        return str(value)

    return convert


def anything(value: object) -> object:
    """Any value: what it must be is checked where it is used (``payloads``)."""
    return value


def path(value: object) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise TypeError(value)
    return Path(value)


def port(value: object) -> int:
    result = _int(value, 0)
    if result > 65535:
        raise ValueError(result)
    return result


def interpreter(value: object) -> str:
    """A Python found on PATH or at that path, as its full path."""
    found = shutil.which(str(path(value)))
    if found is None:
        raise ValueError(value)
    return found
