"""Celery signal handlers that measure the harness's tasks inside the pool's child processes.

A worker started by the harness (``soak worker --runner celery``) imports this module; a
worker started any other way needs ``--include worker_soak.queues.celery_hooks``. The handlers
connect when the module is imported, in the worker's main process, before the pool forks, so
every child has them. Tasks without the harness's headers are not measured.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from worker_soak.queues.channel import Channel, open_channel
from worker_soak.queues.task_meter import TaskMeter, envelope_of, warn

_broker: dict[str, str] = {}


def _channel(name: str) -> Channel:
    return open_channel(_broker["url"], name)


METER = TaskMeter(_channel, kind="celery task")
_failed_once: set[str] = set()


def _guarded(what: str, action: Any, *args: Any) -> None:
    """A hook must never fail the user's task; its first failure of each kind is logged."""
    try:
        action(*args)
    except Exception as exc:
        if what not in _failed_once:
            _failed_once.add(what)
            warn(f"measuring a task ({what}) failed: {type(exc).__name__}: {exc}")


def _envelope(task: Any) -> dict[str, Any] | None:
    request = getattr(task, "request", None)
    headers = getattr(request, "headers", None)
    found = envelope_of(headers if isinstance(headers, dict) else None)
    if found is None and request is not None:  # protocol 1 puts custom headers on the request
        found = envelope_of({key: getattr(request, key) for key in dir(request) if "soak" in key})
    return found


def _before(task: Any = None, **_: Any) -> None:
    envelope = _envelope(task)
    if envelope is None:
        return
    if "url" not in _broker:
        _broker["url"] = task.app.connection_for_write().as_uri(include_password=True)
    _guarded("before", METER.begin, envelope)


def _failed(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    if exception is None:
        return
    if METER.running():
        _guarded("failure", METER.fail, exception)
        return
    # Sent by the worker's main process: the child running the task died (WorkerLostError)
    # and the task is failed, not redelivered.
    envelope = _envelope(sender)
    if envelope is not None:
        if "url" not in _broker:
            _broker["url"] = sender.app.connection_for_write().as_uri(include_password=True)
        why = f"{type(exception).__name__}: {exception}"
        _guarded("given up", METER.given_up, envelope, why)


def _after(retval: object = None, **_: Any) -> None:
    _guarded("after", METER.end, retval)


def _process_ending(**_: Any) -> None:
    _guarded("exit", METER.process_ending)


# Connected at import, in the worker's main process: every pool child forked later has them.
# weak=False: the module keeps them alive anyway; no weak references to manage.
signals.task_prerun.connect(_before, weak=False)
signals.task_failure.connect(_failed, weak=False)
signals.task_postrun.connect(_after, weak=False)
signals.worker_process_shutdown.connect(_process_ending, weak=False)
