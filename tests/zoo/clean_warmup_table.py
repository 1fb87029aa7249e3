"""Builds a large lookup table on the first job only."""

_table: dict[int, str] | None = None


def handle(job: dict[str, int]) -> str:
    global _table
    if _table is None:
        _table = {code: f"tax code {code}" for code in range(20_000)}
    return _table[job["id"] % 20_000]
