"""Registers a completion callback per job and never unregisters it."""

from collections.abc import Callable

_on_done: list[Callable[[], None]] = []


def handle(job: dict[str, int]) -> None:
    order = job["id"]

    def notify() -> None:
        print(f"order {order} done")

    _on_done.append(notify)  # LEAK
