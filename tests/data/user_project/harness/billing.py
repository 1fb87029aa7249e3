"""The project's task: renders an invoice line; imports the project's own packages."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

import harness
from workloads import SIZES

app = Celery("billing", broker=os.environ.get("BILLING_BROKER", "redis://127.0.0.1:6379/0"))


def render(job: dict[str, Any]) -> str:
    amount = int(job["amount"])
    return f"{harness.PREFIX}-{job['customer']}-{amount * SIZES[amount % 3]}"


@app.task(name="billing.render")
def render_task(job: dict[str, Any]) -> str:
    return render(job)


@app.task(name="billing.render_copies")
def render_copies(job: dict[str, Any], copies: int = 1, pin: str | None = None) -> list[str]:
    return [render(job)] * copies
