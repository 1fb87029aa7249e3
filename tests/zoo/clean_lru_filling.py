"""An lru_cache(maxsize=2000) keyed per job: it fills through the whole of a short run and
is bounded by construction."""

import functools


@functools.lru_cache(maxsize=2_000)
def price(sku: int) -> str:
    return f"sku {sku}: {sku * 3} EUR " + "x" * 40


def handle(job: dict[str, int]) -> str:
    return price(job["id"])
