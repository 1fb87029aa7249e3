"""A worker that handles secrets the way real ones do: a DSN and a token from the
environment, a module global holding the DSN, a connection error naming it, a log line
printing the token at set-up. Nothing of either may reach a file the harness writes."""

from __future__ import annotations

import os
import sys

DSN = os.environ.get("SOAK_CANARY_DSN", "")
_seen: list[int] = []


def setup() -> None:
    print(f"connecting with token {os.environ.get('SOAK_CANARY_TOKEN')} to {DSN}", file=sys.stderr)


def handle(job: dict[str, int]) -> int:
    if job["id"] % 50 == 7:
        raise ConnectionError(f"could not connect to {DSN}: timeout")
    return job["id"] * 2
