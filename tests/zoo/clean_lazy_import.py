"""Imports its heavy helpers on first use."""


def handle(job: dict[str, int]) -> str:
    import decimal
    import fractions
    import statistics

    value = decimal.Decimal(job["id"]) / 7
    return f"{value:.2f} {fractions.Fraction(job['id'] + 1, 3)} {statistics.mean([1, 2])}"
