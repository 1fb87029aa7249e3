"""Remembers every customer by id, forever."""

_customers: dict[int, dict[str, object]] = {}


def handle(job: dict[str, int]) -> None:
    _customers[job["id"]] = {"name": f"customer {job['id']}", "orders": [job["id"]]}  # LEAK
