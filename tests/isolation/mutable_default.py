"""A mutable default argument collects flags across calls."""

from typing import Any


def handle(job: dict[str, Any], flags: list[str] = []) -> dict[str, Any]:  # noqa: B006
    if job["id"] % 3 == 0:
        flags.append("vip")
    return {"id": job["id"], "vip": "vip" in flags}
