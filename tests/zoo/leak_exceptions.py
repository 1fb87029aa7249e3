"""Keeps every failure, traceback and all, 'for the report'."""

_failures: list[BaseException] = []


def _validate(job: dict[str, int]) -> None:
    details = {"job": job["id"], "context": list(range(10))}  # LEAK
    raise ValueError(f"invalid order {job['id']}: {details}")  # LEAK


def handle(job: dict[str, int]) -> None:
    try:
        _validate(job)
    except ValueError as exc:
        _failures.append(exc)  # LEAK
