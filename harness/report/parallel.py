"""Draw the report's plots on two cores: a forked copy of this process draws every other
plot while this one draws the rest (matplotlib draws one figure at a time, ~0.1 s each).

The copy shares everything already read (samples, result, matplotlib) and sends back only
the finished data URIs. Where it cannot fork safely (no ``fork``, one core, other threads
running) or the copy fails, this process draws every plot itself: the report is the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Final

Plot = Callable[[], "str | None"]
#: Longest wait for the copy's plots (each takes ~0.1 s) before drawing them here.
COPY_TIMEOUT_S: Final = 60.0


def draw_all(plots: Mapping[str, Plot]) -> dict[str, str | None]:
    """Every plot's data URI (or None), by name, in the order given."""
    names = list(plots)
    if len(names) < 2 or not _can_fork():
        return {name: plots[name]() for name in names}
    theirs = names[1::2]
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns of any other OS thread (NumPy's OpenBLAS keeps one, and has
        # its own fork handlers); no other Python thread runs (``_can_fork``).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the copy: draw, send, and leave without running this process's exit code
        status = 1
        try:
            os.close(read_fd)
            _write_all(write_fd, json.dumps({name: plots[name]() for name in theirs}).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    drawn = {name: plots[name]() for name in names[0::2]}
    sent = _read_all(read_fd, time.monotonic() + COPY_TIMEOUT_S)
    if sent is None:  # stuck: draw its plots here
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    try:
        received = json.loads(sent) if status == 0 and sent is not None else None
    except ValueError:
        received = None
    if not isinstance(received, dict) or set(received) != set(theirs):
        received = {name: plots[name]() for name in theirs}
    drawn.update(received)
    return {name: drawn[name] for name in names}


def _can_fork() -> bool:
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ()
    return len(cores) > 1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)


def _read_all(fd: int, deadline: float) -> bytes | None:
    """All the copy sends, or None when it sends nothing for too long."""
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while selector.select(max(0.0, deadline - time.monotonic())):
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                os.close(fd)
                return b"".join(chunks)
            chunks.append(chunk)
    os.close(fd)
    return None
