"""Opens a scratch file per 10 jobs and keeps it open."""

import tempfile

_open: list[object] = []


def handle(job: dict[str, int]) -> None:
    if job["id"] % 10 == 0:
        _open.append(tempfile.TemporaryFile())  # LEAK
