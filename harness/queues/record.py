"""``soak record``: the jobs waiting on a live Celery queue, written as a job file, without
taking them off the queue.

Celery's Redis transport keeps a queue as a Redis list (``LPUSH`` to add, ``BRPOP`` to take,
so the oldest message is at the tail) and each priority level other than the default as a
list of its own (``NAME\\x06\\x163``...). Reading with ``LRANGE`` leaves every message where it
is. The lists are read a slice at a time, oldest first, and each message is written as soon as
it is read: a queue of a million messages is never held in memory.

A message whose positional arguments are one JSON object records that object; any other shape
records ``{"args": [...], "kwargs": {...}}``, which the queue runners replay as the same call.
Only JSON bodies are read: a pickled body would run code to be read, and is skipped (counted).
RabbitMQ cannot be read without taking messages (``basic_get`` then requeue changes their order
and marks them redelivered), so it is refused with that reason.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from worker_soak.errors import UsageError
from worker_soak.queues.channel import redacted, scheme_of

#: Messages read per ``LRANGE``.
SLICE: Final = 1000
#: Celery's priority steps on Redis (kombu's defaults), and the separator of their key names.
PRIORITY_STEPS: Final = (0, 3, 6, 9)
PRIORITY_SEP: Final = "\x06\x16"
REDACTED: Final = "[redacted]"


@dataclass(slots=True)
class Recorded:
    """What a recording wrote and what it left out, and why."""

    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    queue_length: int = 0

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def record_queue(
    broker: str,
    queue: str,
    out: IO[str],
    *,
    count: int | None = None,
    redact_fields: Sequence[str] = (),
) -> Recorded:
    """Write up to ``count`` pending messages of ``queue`` as jobs to ``out``, oldest first."""
    if scheme_of(broker) != "redis":
        raise UsageError(
            f"soak record: {redacted(broker)} is not Redis; only a Redis broker's queue can be "
            "read without taking its messages (RabbitMQ would hand them out and requeue them "
            "out of order, marked redelivered)"
        )
    import redis

    client: Any = redis.Redis.from_url(broker, socket_connect_timeout=5)
    paths = [_path(field) for field in redact_fields]
    recorded = Recorded()
    try:
        keys = [_key(queue, step) for step in PRIORITY_STEPS]
        recorded.queue_length = sum(int(client.llen(key)) for key in keys)
        for raw in _pending(client, keys):
            if count is not None and recorded.written >= count:
                break
            job, why = job_of_message(raw)
            if job is None:
                recorded.skip(why)
                continue
            for path in paths:
                for target in _redaction_targets(job):
                    _redact_path(target, path)
            out.write(json.dumps(job, ensure_ascii=False) + "\n")
            recorded.written += 1
    except redis.RedisError as exc:
        raise UsageError(f"soak record: {redacted(broker)}: {exc}") from None
    finally:
        client.close()
    return recorded


def job_of_message(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The job a Celery message on Redis carries, or None and why it cannot be recorded."""
    try:
        message = json.loads(raw)
        body = message["body"]
        content_type = message.get("content-type", "application/json")
        if content_type != "application/json":
            return None, f"body in {content_type} (only JSON bodies are read)"
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        payload = json.loads(body)
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"not a Celery message ({type(exc).__name__})"
    if isinstance(payload, list) and len(payload) >= 2:  # protocol 2: [args, kwargs, embed]
        args, kwargs = payload[0], payload[1]
    elif isinstance(payload, dict) and "args" in payload:  # protocol 1
        args, kwargs = payload.get("args") or [], payload.get("kwargs") or {}
    else:
        return None, "not a Celery task message"
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return None, "not a Celery task message"
    if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
        return args[0], ""
    return {"args": args, "kwargs": kwargs}, ""


def _pending(client: Any, keys: list[str]) -> Iterator[bytes]:
    """Every message of ``keys``, in the order a worker would take them (priority key by
    priority key, oldest first), read a slice at a time from the tail."""
    for key in keys:
        start = 0
        while True:
            chunk = client.lrange(key, -(start + SLICE), -(start + 1))
            if not chunk:
                break
            yield from reversed(chunk)
            if len(chunk) < SLICE:
                break
            start += SLICE


def _key(queue: str, step: int) -> str:
    return queue if step == 0 else f"{queue}{PRIORITY_SEP}{step}"


def _path(dotted: str) -> list[str]:
    parts = dotted.split(".")
    if not dotted or any(part == "" for part in parts):
        raise UsageError(
            f"--redact {dotted!r}: expected a dotted path to a field, such as 'customer.email' "
            "or 'kwargs.token'"
        )
    return parts


def _redaction_targets(job: dict[str, Any]) -> list[Any]:
    """Where a field path is looked for: the job; for a recorded call also each object among
    its arguments and its keywords (``card.number`` finds the card of ``render(job, 2)``)."""
    if set(job) != {"args", "kwargs"}:
        return [job]
    return [job, *(arg for arg in job["args"] if isinstance(arg, dict)), job["kwargs"]]


def _redact_path(value: Any, path: list[str]) -> None:
    """Replace the value at ``path`` (keys, or list positions as digits) if it is there."""
    for position, part in enumerate(path):
        last = position == len(path) - 1
        if isinstance(value, dict) and part in value:
            if last:
                value[part] = REDACTED
                return
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            if last:
                value[int(part)] = REDACTED
                return
            value = value[int(part)]
        else:
            return


def record_to_file(
    broker: str, queue: str, out: Path, count: int | None, redact_fields: Sequence[str]
) -> Recorded:
    """Record into ``out`` (written whole or not at all: a failed recording leaves no file)."""
    partial = out.with_name(out.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as handle:
            recorded = record_queue(broker, queue, handle, count=count, redact_fields=redact_fields)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return recorded
