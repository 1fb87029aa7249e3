"""Some jobs set the 'current customer'; the others read whatever the last one left."""

from typing import Any

current_customer: str | None = None


def handle(job: dict[str, Any]) -> dict[str, Any]:
    global current_customer
    if job["id"] % 7 == 0:
        current_customer = f"customer-{job['id']}"
    return {"id": job["id"], "billed_to": current_customer}
