"""Starts a watcher thread per 50 jobs that never ends."""

import threading

_stop = threading.Event()


def handle(job: dict[str, int]) -> None:
    if job["id"] % 50 == 0:
        threading.Thread(target=_stop.wait, daemon=True).start()  # LEAK
