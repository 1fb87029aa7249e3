"""glibc's per-thread cache (tcache), read so that the native heap counts no freed chunk.

Each thread's cache parks up to 7 freed chunks of each of 64 sizes (32-1,040 bytes on 64-bit
Linux), and ``mallinfo2`` counts them as in use: a clean worker freeing chunks of sizes it has
not freed before reads as slow growth (+100-130 B/job for ~2,000 jobs, measured). Turning the
cache off (``glibc.malloc.tcache_count=0``) made the native heap exact, and every job 2-6 %
slower (a real email/PDF/SQLite job of ~1.3 ms: median 1.05x, alternated bare loops).

So the cache stays on and its content is subtracted. A thread's cache is one struct,
``tcache_perthread_struct`` (``uint16_t counts[64]`` then 64 pointers: glibc 2.30 and newer),
malloc'd by the thread's first ``malloc``. The main thread's is the first chunk of the heap
(``[heap]`` in ``/proc/self/maps``), found by its chunk header. Other threads' are found
through the thread-local pointer to it, at the same offset from each thread's descriptor
(``threading`` idents are those descriptors): the offset is where the main thread's
descriptor area holds the address of the main thread's cache. Other threads are read with
``process_vm_readv`` on this process, which fails cleanly on memory a thread that just
ended gave back. Threads Python does not know (a C library's own) are not seen; a thread's
cache is emptied when it ends.

Where none of this is found (another C library, an older glibc, another layout), a worker
process runs with the cache off (:func:`settle` starts it again so).
"""

from __future__ import annotations

import ctypes
import operator
import os
import platform
import sys
import threading
from typing import Final

from worker_soak.worker.libc import libc

#: The tunable that turns the cache off (where it cannot be read; and the queue runners'
#: workers, whose probes run inside the framework's process).
TCACHE_OFF: Final = "glibc.malloc.tcache_count=0"
#: The size of the chunk holding a ``tcache_perthread_struct`` of 64 ``uint16_t`` counts and
#: 64 pointers (640 bytes, chunk 0x290); its size field's low 3 bits are flags (previous
#: chunk in use, mmapped, not the main arena).
STRUCT_CHUNK: Final = 0x290
_FLAGS: Final = 0x7
BINS: Final = 64
#: The chunk size each count stands for.
CHUNK_SIZES: Final = tuple(32 + 16 * size_class for size_class in range(BINS))
#: How far below a thread's descriptor its thread-local pointer to the cache is looked for.
TLS_SPAN: Final = 0x4000
_WORD: Final = ctypes.sizeof(ctypes.c_void_p)


class _IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


class ThreadCaches:
    """The bytes glibc's per-thread caches hold: :meth:`held_bytes`."""

    def __init__(self, library: ctypes.CDLL, main_struct: int) -> None:
        self._read_vm = library.process_vm_readv
        self._read_vm.restype = ctypes.c_ssize_t
        self._pid = os.getpid()
        self._main_struct = main_struct
        counts = (ctypes.c_uint16 * BINS).from_address(main_struct)
        self._main_counts = memoryview(counts).cast("B").cast("H")
        self._buffer = ctypes.create_string_buffer(max(TLS_SPAN, 2 * BINS + _WORD))
        self._tls_offset: int | None = None
        self._tls_searched = False
        #: Threads whose caches the last :meth:`held_bytes` read (the main thread's always).
        self.threads_read = 1

    @classmethod
    def find(cls) -> ThreadCaches | None:
        """This process's caches, or None where they cannot be read (see the module)."""
        off = TCACHE_OFF in os.environ.get("GLIBC_TUNABLES", "").split(":")
        if off or not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_void_p) != 8:
            return None  # (off: nothing is parked, in any thread)
        library = libc(use_errno=True)
        if library is None or not hasattr(library, "process_vm_readv"):
            return None
        start = _heap_start()
        if start is None:
            return None
        if ctypes.c_size_t.from_address(start + _WORD).value & ~_FLAGS != STRUCT_CHUNK:
            return None
        return cls(library, start + 2 * _WORD)

    def held_bytes(self) -> int:
        """Bytes of freed chunks parked in the caches of this process's Python threads."""
        held: int = sum(map(operator.mul, self._main_counts, CHUNK_SIZES))
        self.threads_read = 1
        if threading.active_count() == 1:
            return held
        offset = self._offset()
        if offset is None:
            return held
        main = threading.main_thread().ident
        for thread in threading.enumerate():
            ident = thread.ident
            if ident is None or ident == main:
                continue
            struct = self._pointer(ident + offset)
            if struct:
                held += self._counted(struct)
                self.threads_read += 1
        return held

    def unseen_threads(self) -> int:
        """Threads of this process whose caches the last :meth:`held_bytes` did not read: a C
        library's own (a Kafka client's, a gRPC core's), or Python's other threads where
        their layout is not known. What they park counts as in use (up to
        ``analysis.allocator_cache.TCACHE_BYTES`` each); the memory verdict allows for it."""
        return max(0, _os_threads() - self.threads_read)

    def _offset(self) -> int | None:
        """Where a thread's pointer to its cache lies, from its ``threading`` ident: below
        the thread's descriptor, in its static thread-local block (x86-64's layout)."""
        if self._tls_searched:
            return self._tls_offset
        self._tls_searched = True
        main = threading.main_thread().ident
        if (
            main is None
            or platform.machine() != "x86_64"
            or not self._read(main - TLS_SPAN, TLS_SPAN)
        ):
            return None
        words = memoryview(self._buffer.raw[:TLS_SPAN]).cast("Q")
        found = [i for i, word in enumerate(words) if word == self._main_struct]
        if len(found) == 1:
            self._tls_offset = found[0] * _WORD - TLS_SPAN
        return self._tls_offset

    def _pointer(self, address: int) -> int:
        if not self._read(address, _WORD):
            return 0
        return int.from_bytes(self._buffer.raw[:_WORD], sys.byteorder)

    def _counted(self, struct: int) -> int:
        """The bytes a thread's cache holds, 0 unless ``struct`` is one."""
        if not self._read(struct - _WORD, _WORD + 2 * BINS):
            return 0
        raw = self._buffer.raw[: _WORD + 2 * BINS]
        if int.from_bytes(raw[:_WORD], sys.byteorder) & ~_FLAGS != STRUCT_CHUNK:
            return 0
        counted: int = sum(map(operator.mul, memoryview(raw[_WORD:]).cast("H"), CHUNK_SIZES))
        return counted

    def _read(self, address: int, length: int) -> bool:
        """Copy ``length`` bytes at ``address`` of this process into the buffer; False where
        they are not mapped (a thread that ended)."""
        local = _IOVec(ctypes.cast(self._buffer, ctypes.c_void_p), length)
        remote = _IOVec(address, length)
        done = self._read_vm(self._pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        return bool(done == length)


def _os_threads() -> int:
    """This process's threads, as the kernel counts them: ``/proc/self/task`` links two
    entries more than it has threads (one ``stat``, no listing)."""
    try:
        return max(1, os.stat("/proc/self/task").st_nlink - 2)
    except OSError:
        return 1


def _heap_start() -> int | None:
    try:
        with open("/proc/self/maps", encoding="ascii") as maps:
            for line in maps:
                if line.rstrip().endswith("[heap]"):
                    return int(line.split("-", 1)[0], 16)
    except OSError:
        return None
    return None


def tcache_set_by_user(tunables: str) -> bool:
    """True when ``GLIBC_TUNABLES`` already sizes the cache: the user's choice stands."""
    return "glibc.malloc.tcache_count=" in tunables


def settle(env: dict[str, str] | None = None) -> None:
    """In a worker process: where the cache is on and cannot be read, start this process
    again with it off (before it has read a job), so the native heap stays exact."""
    env = dict(os.environ if env is None else env)
    tunables = env.get("GLIBC_TUNABLES", "")
    if tcache_set_by_user(tunables) or ThreadCaches.find() is not None:
        return
    env["GLIBC_TUNABLES"] = f"{tunables}:{TCACHE_OFF}" if tunables else TCACHE_OFF
    os.execve(sys.executable, sys.orig_argv, env)
