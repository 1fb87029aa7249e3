"""Appends a line to a log file per job and reads the whole file back: a read buffer a
little bigger every job, freed every job."""

import os
import tempfile

_path = os.path.join(tempfile.mkdtemp(prefix="soak-zoo-"), "journal.log")


def handle(job: dict[str, int]) -> None:
    with open(_path, "a", encoding="utf-8") as log:
        log.write(f"job {job['id']} done\n")
    with open(_path, "rb") as log:
        log.read()
