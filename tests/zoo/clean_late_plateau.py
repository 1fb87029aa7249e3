"""Caches by customer, 1,500 customers: the cache stops growing a quarter into the run."""

_by_customer: dict[int, str] = {}


def handle(job: dict[str, int]) -> None:
    customer = job["id"] % 1_500
    if customer not in _by_customer:
        _by_customer[customer] = f"customer {customer} " + "c" * 100
