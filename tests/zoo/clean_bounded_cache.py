"""An lru_cache of 256 entries over 1,000 distinct keys: full early, then churns."""

from functools import lru_cache


@lru_cache(maxsize=256)
def price(sku: int) -> str:
    return f"sku {sku}: " + "p" * 80


def handle(job: dict[str, int]) -> None:
    price(job["id"] % 1_000)
