"""The C library of this process, loaded once.

By its soname where that is glibc's (``libc.so.6``: the library the interpreter already
loaded, so no file is searched); elsewhere by ``ctypes.util.find_library``, which imports
``subprocess`` and runs ``ldconfig -p`` or a compiler: 15-20 ms of every worker process's
start on this VM, three times over before this module.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Final

GLIBC_SONAME: Final = "libc.so.6"


@functools.cache
def libc(use_errno: bool = False) -> ctypes.CDLL | None:
    """The C library (``use_errno``: its functions keep ``errno`` for ``ctypes.get_errno``),
    or None where none is found."""
    if sys.platform.startswith("linux"):
        try:
            return ctypes.CDLL(GLIBC_SONAME, use_errno=use_errno)
        except OSError:
            pass  # musl, or an unusual soname
    from ctypes.util import find_library

    name = find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=use_errno) if name else None
    except OSError:
        return None
