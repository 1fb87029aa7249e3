"""Hands each job to a background thread that keeps what it is given."""

import queue
import threading

_inbox: "queue.Queue[dict[str, int]]" = queue.Queue()
_kept: list[str] = []


def _consume() -> None:
    while True:
        job = _inbox.get()
        _kept.append(f"audit {job['id']} " + "y" * 60)  # LEAK
        _inbox.task_done()


threading.Thread(target=_consume, daemon=True).start()


def handle(job: dict[str, int]) -> None:
    _inbox.put(job)
    _inbox.join()
