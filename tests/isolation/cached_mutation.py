"""A cached settings object that one kind of job mutates in place."""

from typing import Any

_cache: dict[str, dict[str, int]] = {}


def _settings() -> dict[str, int]:
    return _cache.setdefault("settings", {"rate": 100})


def handle(job: dict[str, Any]) -> int:
    settings = _settings()
    if job["id"] % 11 == 0:
        settings["rate"] += 1  # meant to be a local adjustment
    return int(job["id"]) * settings["rate"]
