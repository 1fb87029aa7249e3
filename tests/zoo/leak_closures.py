"""Registers a callback per job in a global registry and never removes it."""

from collections.abc import Callable

_on_shutdown: list[Callable[[], None]] = []


def handle(job: dict[str, int]) -> None:
    payload = [job["id"]] * 8  # LEAK

    def flush() -> None:  # LEAK
        print(payload)

    _on_shutdown.append(flush)
