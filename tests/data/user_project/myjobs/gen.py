"""The project's job generator."""


def make_job(index: int, seed: int) -> dict[str, object]:
    """Invoices for fifty customers."""
    return {"customer": f"c{index % 50}", "amount": index * 3 + seed}
