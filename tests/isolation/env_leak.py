"""Some jobs set an environment variable that others read."""

import os
from typing import Any


def handle(job: dict[str, Any]) -> dict[str, Any]:
    if job["id"] % 5 == 0:
        os.environ["SOAK_TEST_REGION"] = "eu" if job["id"] % 2 else "apac"
    return {"id": job["id"], "region": os.environ.get("SOAK_TEST_REGION", "us")}
