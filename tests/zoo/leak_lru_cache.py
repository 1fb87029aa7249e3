"""An unbounded lru_cache keyed by something unique per job."""

from functools import lru_cache


@lru_cache(maxsize=None)
def render(order_id: int) -> str:
    return f"<p>order {order_id}</p>" * 4  # LEAK


def handle(job: dict[str, int]) -> None:
    render(job["id"])  # LEAK
