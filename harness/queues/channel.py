"""The way back from a queue's workers to the harness: through the broker itself.

Workers may run on other machines; the one address they and the harness both reach is the
broker's. Each worker process sends its start events, samples and leak sites as lines to a
channel named for the run: a Redis list (``RPUSH``, one round trip, ~60 us on loopback), or a
RabbitMQ queue through kombu. The harness reads them in batches.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from worker_soak.errors import UsageError
from worker_soak.redact import environment_secrets, redact

REDIS_SCHEMES: Final = ("redis", "rediss")
AMQP_SCHEMES: Final = ("amqp", "pyamqp")
#: A run's channel is removed at its end; this bounds what an interrupted run leaves behind.
CHANNEL_EXPIRES_S: Final = 24 * 3600
CONNECT_TIMEOUT_S: Final = 3.0
_BATCH: Final = 1000


class Channel(Protocol):
    """Lines from workers to the harness, in the order each worker process sent them."""

    def send(self, line: bytes) -> None: ...

    def receive(self, timeout_s: float) -> list[bytes]:
        """The lines waiting now, or those that arrive within ``timeout_s``; [] if none."""
        ...

    def delete(self) -> None: ...

    def close(self) -> None: ...


def redacted(url: str) -> str:
    """The broker URL without its password, for messages and results."""
    return redact(url, environment_secrets(os.environ))


def scheme_of(url: str) -> str:
    """The broker kind a URL names, or a UsageError saying which ones work."""
    scheme = urlsplit(url).scheme
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme in AMQP_SCHEMES:
        return "amqp"
    raise UsageError(
        f"--broker {redacted(url)!r}: expected a redis:// or amqp:// URL "
        "(e.g. redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//)"
    )


def check_broker(url: str) -> None:
    """Connect once; a broker that does not answer is a usage error (exit 2), said once."""
    kind = scheme_of(url)
    try:
        if kind == "redis":
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
                connection.ensure_connection(max_retries=1, timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:
        raise UsageError(
            f"--broker {redacted(url)}: the broker does not answer ({type(exc).__name__}: "
            f"{exc}); expected a running {'Redis' if kind == 'redis' else 'RabbitMQ'} there: "
            "start it, or pass the URL of one that runs"
        ) from None


def open_channel(url: str, name: str) -> Channel:
    """The channel ``name`` on the broker at ``url`` (both sides call this)."""
    if scheme_of(url) == "redis":
        return RedisChannel(url, name)
    return KombuChannel(url, name)


class RedisChannel:
    """A Redis list: workers RPUSH, the harness LPOPs in batches (BLPOP when it is empty)."""

    def __init__(self, url: str, name: str) -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        self.key = f"soak:{name}"
        self._expiry_set = False
        self._owned = True

    @classmethod
    def from_client(cls, client: Any, name: str) -> RedisChannel:
        """A channel over a Redis client already in hand (an RQ worker's connection)."""
        channel = cls.__new__(cls)
        channel._redis = client
        channel.key = f"soak:{name}"
        channel._expiry_set = False
        channel._owned = False
        return channel

    def send(self, line: bytes) -> None:
        if self._expiry_set:
            self._redis.rpush(self.key, line)
            return
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.rpush(self.key, line)
        pipeline.expire(self.key, CHANNEL_EXPIRES_S)
        pipeline.execute()
        self._expiry_set = True

    def receive(self, timeout_s: float) -> list[bytes]:
        lines: list[bytes] | None = self._redis.lpop(self.key, _BATCH)
        if lines:
            return lines
        popped = self._redis.blpop([self.key], timeout=max(timeout_s, 0.01))
        if popped is None:
            return []
        more: list[bytes] | None = self._redis.lpop(self.key, _BATCH - 1)
        return [popped[1], *(more or [])]

    def delete(self) -> None:
        self._redis.delete(self.key)

    def close(self) -> None:
        if self._owned:
            self._redis.close()


class KombuChannel:
    """A queue on the broker through kombu (RabbitMQ): one message per line."""

    def __init__(self, url: str, name: str) -> None:
        from kombu import Connection

        self._connection: Any = Connection(url, connect_timeout=CONNECT_TIMEOUT_S)
        self._queue: Any = self._connection.SimpleQueue(
            f"soak.{name}",
            queue_opts={
                "durable": False,
                "auto_delete": False,
                "expires": float(CHANNEL_EXPIRES_S),
            },
            serializer=None,
        )

    def send(self, line: bytes) -> None:
        self._queue.put(line, content_type="application/octet-stream", content_encoding="binary")

    def receive(self, timeout_s: float) -> list[bytes]:
        from queue import Empty

        lines: list[bytes] = []
        try:
            message = self._queue.get(block=True, timeout=max(timeout_s, 0.01))
        except Empty:
            return lines
        while True:
            message.ack()
            lines.append(bytes(message.body))
            if len(lines) >= _BATCH:
                return lines
            try:
                message = self._queue.get(block=False)
            except Empty:
                return lines

    def delete(self) -> None:
        with contextlib.suppress(Exception):
            self._queue.queue.delete()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._queue.close()
        self._connection.release()
