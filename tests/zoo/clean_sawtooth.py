"""Batches writes in a buffer flushed every 500 jobs."""

_buffer: list[str] = []


def handle(job: dict[str, int]) -> None:
    _buffer.append(f"row {job['id']} " + "r" * 50)
    if len(_buffer) >= 500:
        _buffer.clear()
