"""Makes a logger per job: the logging manager keeps every one."""

import logging


def handle(job: dict[str, int]) -> None:
    logger = logging.getLogger(f"jobs.order.{job['id']}")  # LEAK
    logger.debug("processing")
