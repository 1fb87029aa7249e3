"""Every job adds a handler to its logger: results stay the same, state piles up."""

import logging
from typing import Any

log = logging.getLogger("soak.tests.isolation.jobs")


def handle(job: dict[str, Any]) -> int:
    log.addHandler(logging.NullHandler())
    log.debug("job %s", job["id"])
    return int(job["id"]) * 2
