"""Keeps the last 1,000 job records for a dashboard in a deque(maxlen=1000)."""

import collections

_recent: collections.deque[dict[str, object]] = collections.deque(maxlen=1_000)


def handle(job: dict[str, int]) -> None:
    _recent.append({"id": job["id"], "status": "sent", "to": f"c{job['id']}@example.test"})
