"""Celery as the harness uses it: find the user's task, start a real worker, send tasks.

The soak's broker always replaces the app's configured one (``--broker``, Redis on loopback
by default): a soak must never put its tasks on the queue a deployment consumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from worker_soak.errors import SpecError, UsageError
from worker_soak.worker.spec import load_object
from worker_soak.workloads.sources import as_call


@dataclass(frozen=True, slots=True)
class CeleryTarget:
    """The app and the name of the task a spec names."""

    app: Any
    task_name: str


def load_target(spec: str, broker: str) -> CeleryTarget:
    """The task a spec names (a task, or an app with exactly one task of its own), with the
    app pointed at ``broker``."""
    try:
        from celery import Celery, Task
    except ImportError:
        raise UsageError(
            "--runner celery needs Celery: pip install 'worker-soak[queues]'"
        ) from None
    target = load_object(spec)
    if isinstance(target, Task):
        app, name = target.app, str(target.name)
    elif isinstance(target, Celery):
        app = target
        own = sorted(name for name in app.tasks if not name.startswith("celery."))
        if len(own) != 1:
            listed = ", ".join(own) or "none"
            raise SpecError(
                spec,
                f"the Celery app has {len(own)} tasks of its own ({listed}); expected one: "
                "name the task itself, e.g. billing.tasks:send_invoice",
            )
        name = own[0]
    else:
        raise SpecError(
            spec,
            f"--runner celery expected a Celery task or app, got {type(target).__name__}: "
            "name a function decorated with @app.task (module:task)",
        )
    app.conf.broker_url = broker
    return CeleryTarget(app, name)


def serve(
    target: CeleryTarget,
    queue: str,
    concurrency: int,
    max_tasks_per_child: int | None,
    max_memory_per_child_kib: int | None,
    node: str,
) -> None:
    """Run a Celery worker (prefork pool) on ``queue`` until it is told to stop."""
    import worker_soak.queues.celery_hooks  # noqa: F401 - connects the measuring signals

    argv = [
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        f"--queues={queue}",
        f"--hostname={node}",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if max_tasks_per_child is not None:
        argv.append(f"--max-tasks-per-child={max_tasks_per_child}")
    if max_memory_per_child_kib is not None:
        argv.append(f"--max-memory-per-child={max_memory_per_child_kib}")
    target.app.worker_main(argv)


class CelerySender:
    """Sends the run's tasks through the app's own producer, onto the soak's queue."""

    def __init__(self, target: CeleryTarget, queue: str) -> None:
        self._target = target
        self._queue = queue

    def send(self, job_index: int, job: Mapping[str, Any], envelope: Mapping[str, Any]) -> None:
        args, kwargs = as_call(job)
        self._target.app.send_task(
            self._target.task_name,
            args=args,
            kwargs=kwargs,
            queue=self._queue,
            headers=dict(envelope),
            task_id=f"soak-{envelope['soak_run']}-{job_index}",
        )

    def purge(self) -> None:
        """Drop the run's tasks no worker took (the run stopped early)."""
        with self._target.app.connection_for_write() as connection:
            channel = connection.default_channel
            try:
                channel.queue_purge(self._queue)
            except Exception:  # a queue never declared has nothing to purge
                return

    def settings(self) -> dict[str, Any]:
        """The app's own settings that decide recycling and redelivery."""
        conf = self._target.app.conf
        keys = (
            "worker_max_memory_per_child",
            "worker_max_tasks_per_child",
            "task_acks_late",
            "task_reject_on_worker_lost",
            "worker_prefetch_multiplier",
        )
        task = self._target.app.tasks.get(self._target.task_name)
        found = {key: conf.get(key) for key in keys}
        if task is not None:
            found["task_acks_late"] = bool(getattr(task, "acks_late", found["task_acks_late"]))
            found["task_reject_on_worker_lost"] = getattr(
                task, "reject_on_worker_lost", found["task_reject_on_worker_lost"]
            )
        return found

    def close(self) -> None:
        self._target.app.close()
