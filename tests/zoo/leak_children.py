"""Starts a helper process per 100 jobs and never waits for it."""

import subprocess

_helpers: list[subprocess.Popen[bytes]] = []


def handle(job: dict[str, int]) -> None:
    if job["id"] % 100 == 0:
        command = ["sleep", "120"]
        _helpers.append(subprocess.Popen(command))  # LEAK
