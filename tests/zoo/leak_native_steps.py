"""Every fourth job keeps a C buffer of 512 B to 4 KiB (~580 B/job): a native leak in steps,
after jobs of a few microseconds.

Jobs this short leave the native heap probe little time: it is read every 20th to 50th job
when not capped, so between its reads the heap grows by several steps of varied size. The
heap probes see it; memray cannot name the line (ctypes calls malloc through dlsym).
"""

import ctypes
import random

_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_sizes = random.Random()


def handle(job: dict[str, int]) -> None:
    if job["id"] % 4 == 0:
        _libc.malloc(_sizes.randint(512, 4096))  # LEAK
