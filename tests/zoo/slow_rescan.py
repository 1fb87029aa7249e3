"""Appends to an audit file and re-reads all of it every job: flat memory, slower jobs."""

import os
import tempfile

_path = os.path.join(tempfile.mkdtemp(prefix="soak-zoo-"), "audit.log")


def handle(job: dict[str, int]) -> int:
    with open(_path, "a") as audit:
        audit.write(f"job {job['id']} done " + "a" * 200 + "\n")
    with open(_path) as audit:
        return sum(1 for _ in audit)  # SLOW
