"""RQ as the harness uses it: a job class that measures around the user's function, worker
classes that say when their process ends, and the sender.

RQ's forking ``Worker`` runs every job in a fresh work horse (isolation by construction: the
horse's memory is thrown away with it); ``SimpleWorker`` runs jobs in its own process, where
leaks and state carried between jobs live. A worker started any other way needs
``rq worker -w worker_soak.queues.rq_app.SoakSimpleWorker -j worker_soak.queues.rq_app.SoakJob``
(or ``SoakWorker`` for the forking kind).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from rq import Queue, SimpleWorker, Worker
from rq.job import Job

from worker_soak.errors import SpecError
from worker_soak.queues.channel import Channel, RedisChannel
from worker_soak.queues.task_meter import TaskMeter, envelope_of, warn
from worker_soak.worker.spec import load_object, split_spec
from worker_soak.workloads.sources import as_call

WORKER_KINDS: Final = ("fork", "simple")
_state: dict[str, Any] = {}


def _channel(name: str) -> Channel:
    return RedisChannel.from_client(_state["connection"], name)


def _judged_process() -> tuple[int, int]:
    """A work horse's samples belong to its worker: it lives one job; the worker lives on."""
    forking: tuple[int, int] | None = _state.get("forking_worker")
    return forking if forking is not None else (os.getpid(), os.getppid())


METER = TaskMeter(_channel, kind="rq job", identity=_judged_process)


class SoakJob(Job):
    """An RQ job measured from just before the user's function to just after it."""

    def perform(self) -> Any:
        envelope = envelope_of(self.meta)
        if envelope is None:
            return super().perform()
        _state["connection"] = self.connection
        try:
            METER.begin(envelope)
        except Exception as exc:
            warn(f"measuring a job failed: {type(exc).__name__}: {exc}")
            return super().perform()
        result = None
        try:
            result = super().perform()
            return result
        except Exception as exc:
            METER.fail(exc)
            raise
        finally:
            try:
                METER.end(result)
            except Exception as exc:
                warn(f"sending a job's sample failed: {type(exc).__name__}: {exc}")
            del result


class SoakSimpleWorker(SimpleWorker):
    """RQ's in-process worker; says when it stops (recycled by ``--max-jobs``, or ended)."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return bool(super().work(*args, **kwargs))
        finally:
            METER.process_ending()


class SoakWorker(Worker):
    """RQ's forking worker: probes calibrated once here, for every work horse."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        _state["forking_worker"] = (os.getpid(), os.getppid())
        METER.calibrate_here()
        return bool(super().work(*args, **kwargs))


def function_path(spec: str) -> str:
    """The dotted path RQ imports the spec's function by, in the worker."""
    target = load_object(spec)
    module, attr = split_spec(spec)
    if module.endswith(".py") or "/" in module or not callable(target):
        raise SpecError(
            spec,
            "--runner rq expected a function importable by its module name (package.module:"
            "function): RQ's workers import a job's function by its dotted path",
        )
    return f"{module}.{attr}"


class RQSender:
    """Enqueues the run's jobs (one Redis round trip each) with the envelope as job meta."""

    def __init__(self, url: str, queue: str, function: str) -> None:
        import redis

        self._connection = redis.Redis.from_url(url)
        self._queue = Queue(queue, connection=self._connection, job_class=SoakJob)
        self._function = function

    def send(self, job_index: int, job: Mapping[str, Any], envelope: Mapping[str, Any]) -> None:
        args, kwargs = as_call(job)
        self._queue.enqueue(
            self._function,
            args=tuple(args),
            kwargs=kwargs,
            job_id=f"soak-{envelope['soak_run']}-{job_index}",
            meta=dict(envelope),
            result_ttl=0,
            failure_ttl=3600,
        )

    def purge(self) -> None:
        queue: Any = self._queue
        queue.empty()

    def settings(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        self._connection.close()


def serve(url: str, queue: str, kind: str, max_jobs: int | None, name: str) -> None:
    """One RQ worker process on ``queue`` until it is stopped or has run ``max_jobs``."""
    import redis

    connection = redis.Redis.from_url(url)
    worker_class = SoakWorker if kind == "fork" else SoakSimpleWorker
    worker = worker_class([queue], connection=connection, job_class=SoakJob, name=name)
    worker.work(burst=False, max_jobs=max_jobs, with_scheduler=False, logging_level="WARNING")
