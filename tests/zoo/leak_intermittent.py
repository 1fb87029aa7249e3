"""Every 10th job leaks 2 KiB."""

_kept: list[bytes] = []


def handle(job: dict[str, int]) -> None:
    if job["id"] % 10 == 0:
        _kept.append(bytes(2048))  # LEAK
