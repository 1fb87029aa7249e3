"""A clean worker beside a thread Python does not know, as a C library's own (a Kafka
client's, a gRPC core's): started with ``pthread_create``, it mallocs and frees chunks of
sizes it has not freed before, a few each millisecond, so glibc's per-thread cache of that
thread fills slowly (up to ~235 KiB, counted as in use) and then stays full. Nothing is kept.

The thread runs a ctypes callback that never asks ``threading`` who it is: it is not among
``threading.enumerate()``, so its cache cannot be read. ``LEAK_BYTES`` (environment) makes
each job also leak that many bytes of C memory, from the job itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from typing import Any

_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
_LIBC.malloc.restype = ctypes.c_void_p
_LIBC.malloc.argtypes = [ctypes.c_size_t]
_LIBC.free.argtypes = [ctypes.c_void_p]
_START = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
#: One size class of glibc's cache every this many seconds, 7 chunks each (64 classes).
CLASS_EVERY_S = float(os.environ.get("CLASS_EVERY_S", "0.02"))
LEAK_BYTES = int(os.environ.get("LEAK_BYTES", "0"))
_kept: list[object] = []


def _fill(_: Any) -> None:
    for size_class in range(64):
        request = 24 + 16 * size_class  # a chunk of 32 + 16 * size_class bytes
        pointers = [_LIBC.malloc(request) for _ in range(7)]
        for pointer in pointers:
            _LIBC.free(pointer)
        time.sleep(CLASS_EVERY_S)
    time.sleep(3600)  # alive, its cache full, for the rest of the run


_routine = _START(_fill)


class NativeThreadWorker:
    def setup(self) -> None:
        thread = ctypes.c_ulong()
        if _LIBC.pthread_create(ctypes.byref(thread), None, _routine, None) != 0:
            raise OSError("pthread_create failed")
        _kept.append(thread)

    def handle(self, job: dict[str, Any]) -> int:
        text = ",".join(str(job.get("id", 0) * n) for n in range(200))
        if LEAK_BYTES:
            _LIBC.malloc(LEAK_BYTES)  # a C leak: no Python object keeps it
        return len(text)
