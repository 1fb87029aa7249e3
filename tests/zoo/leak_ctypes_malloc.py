"""Allocates with C malloc through ctypes and never frees.

The heap probes see it (glibc's native heap grows 256 B/job); memray cannot name the line:
ctypes calls malloc through a pointer from dlsym, which memray's PLT hooks never see.
"""

import ctypes

_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]


def handle(job: dict[str, int]) -> None:
    _libc.malloc(256)  # LEAK
