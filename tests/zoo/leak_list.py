"""Appends every order to a module-level list."""

_seen: list[str] = []


def handle(job: dict[str, int]) -> None:
    _seen.append(f"order-{job['id']:08d}-" + "x" * 40)  # LEAK
