"""Which machine (or container) a worker process runs on, as a number carried by every sample
beside its pid: two containers' workers can have the same pid, never the same (node, pid).

The node is the CRC-32 of the host name (a container's own, by default its id), or of
``SOAK_NODE`` when set (for fleets whose containers share a host name).
"""

from __future__ import annotations

import os
import socket
import zlib
from functools import lru_cache
from typing import Final

NODE_ENV: Final = "SOAK_NODE"


@lru_cache(maxsize=1)
def node_id() -> int:
    name = os.environ.get(NODE_ENV) or socket.gethostname()
    return zlib.crc32(name.encode("utf-8", "surrogateescape"))


def sample_fields(pid: int | None = None) -> str:
    """The members every sample of this process carries: ``,"worker_pid":P,"worker_node":N``
    (``pid``: the process judged, when not this one: an RQ horse speaks for its worker).
    Computed per process (a forked worker has its own pid)."""
    return f',"worker_pid":{os.getpid() if pid is None else pid},"worker_node":{node_id()}'
