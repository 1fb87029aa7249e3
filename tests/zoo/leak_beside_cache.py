"""A bounded cache filling one entry per job, and beside it one object per job leaked: the
cache's growth must not hide the leak."""

import functools

_audit: list[str] = []


@functools.lru_cache(maxsize=5_000)
def price(sku: int) -> str:
    return f"sku {sku}: {sku * 3} EUR"


def handle(job: dict[str, int]) -> None:
    price(job["id"])
    _audit.append(f"priced {job['id']}")  # LEAK
