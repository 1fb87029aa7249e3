"""Compiles a regex per job (a per-customer pattern): re's own cache holds at most 512."""

import re


def handle(job: dict[str, int]) -> bool:
    pattern = re.compile(rf"^INV-{job['id']}-(\d+)$")
    return pattern.match(f"INV-{job['id']}-42") is not None
