"""The built-in workloads' reference workers as Celery tasks and RQ jobs, so that
``soak run --runner celery --workload email`` soaks a real Celery worker with nothing of the
user's: each worker process sets its reference worker up once, on its first job.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from worker_soak.worker.spec import Worker, load_worker
from worker_soak.workloads import get_workload

app = Celery("soak_reference")
_workers: dict[str, Worker] = {}


def _reference(workload: str, job: dict[str, Any]) -> object:
    worker = _workers.get(workload)
    if worker is None:
        worker = load_worker(get_workload(workload).reference_worker)
        worker.setup()
        _workers[workload] = worker
    return worker.handle(job)


def counter_job(job: dict[str, Any]) -> object:
    return _reference("counter", job)


def email_job(job: dict[str, Any]) -> object:
    return _reference("email", job)


def pdf_job(job: dict[str, Any]) -> object:
    return _reference("pdf", job)


def data_import_job(job: dict[str, Any]) -> object:
    return _reference("import", job)


counter_task = app.task(name="soak.reference.counter")(counter_job)
email_task = app.task(name="soak.reference.email")(email_job)
pdf_task = app.task(name="soak.reference.pdf")(pdf_job)
data_import_task = app.task(name="soak.reference.import")(data_import_job)
