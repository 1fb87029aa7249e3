"""Work shared with a forked copy of this process: the copy does one part while this process
does the other, and sends its result back as bytes. The report draws half its plots so
(``report.parallel``), and a big run's samples are read half by each (``store``).

The copy shares everything already in memory and leaves without running this process's exit
code. Where it cannot fork safely (no ``fork``, one core, other Python threads running) or the
copy fails or sends nothing for too long, the caller gets no bytes and does that part itself:
the result is the same, only slower.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import threading
import warnings
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """Whether a copy would run beside this process: ``fork`` exists, no other Python thread
    runs (it would not exist in the copy, with whatever lock it held), two cores or more."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ()
    return len(cores) > 1


def beside(
    theirs: Callable[[], bytes], mine: Callable[[], T], timeout_s: float
) -> tuple[T, bytes | None]:
    """``mine()`` here while a forked copy runs ``theirs()``; the copy's bytes, or None where
    there was no copy, it failed, or it sent nothing for ``timeout_s`` (it is killed)."""
    if not can_fork():
        return mine(), None
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns of any other OS thread (NumPy's OpenBLAS keeps one, and has
        # its own fork handlers); no other Python thread runs (``can_fork``).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the copy: work, send, and leave without running this process's exit code
        status = 1
        try:
            os.close(read_fd)
            _write_all(write_fd, theirs())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        result = mine()
    except BaseException:
        _end(pid)
        os.close(read_fd)
        raise
    sent = _read_all(read_fd, timeout_s)
    if sent is None:
        _end(pid)
    else:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            sent = None
    return result, sent


def _end(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)


def _read_all(fd: int, timeout_s: float) -> bytes | None:
    """All the copy sends, or None when it sends nothing for ``timeout_s``."""
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while selector.select(timeout_s):
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                os.close(fd)
                return b"".join(chunks)
            chunks.append(chunk)
    os.close(fd)
    return None
