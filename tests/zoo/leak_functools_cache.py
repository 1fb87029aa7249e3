"""functools.cache (an lru_cache without a maxsize) keyed by the job's order id."""

import functools


@functools.cache
def tax_line(order_id: int) -> tuple[int, str]:
    return order_id, f"VAT on order {order_id}"  # LEAK


def handle(job: dict[str, int]) -> str:
    return tax_line(job["id"])[1]  # LEAK
