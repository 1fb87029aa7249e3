"""Where a worker's resident memory goes, read inside the worker at a few jobs per run.

Five parts, each read from the allocator that owns it, never computed as a remainder, so
their sum is a check on the reading (3-6 % under RSS on the reference workers):

- ``python_objects``: bytes in pymalloc's allocated blocks (objects of 512 bytes or less;
  ``sys._debugmallocstats``).
- ``python_free``: the rest of pymalloc's arenas (free blocks, unused pools, headers):
  memory Python keeps for its next small objects.
- ``native_in_use``: bytes in use in glibc's heap (``mallinfo2``: ``uordblks + hblkhd``);
  Python objects over 512 bytes are allocated here, with every C extension's memory.
- ``native_free``: free chunks glibc keeps in its arenas (``fordblks``): fragmentation, or
  memory kept for reuse, that the process does not give back.
- ``other``: resident pages mapped from files and shared memory (code, libraries, mapped
  files; ``RssFile + RssShmem`` in ``/proc/self/status``).

Allocated memory that was never touched is not resident (a big ``calloc`` is mapped lazily),
so the sum can exceed RSS; thread stacks and other anonymous mappings are in RSS but in no
part. The reading needs glibc's ``mallinfo2`` and pymalloc; without either (musl, another
``malloc`` preloaded, ``PYTHONMALLOC=malloc``) there is none. Cost: 0.3 ms a reading, on a
fresh worker and with a million live objects alike (median of 20 here).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Final

from worker_soak.analysis.checkpoint_jobs import BREAKDOWN_PARTS, CHECKPOINT_JOBS
from worker_soak.worker.probes import glibc_heap

#: Sample-line fields, one per part plus the RSS read beside them.
FIELDS: Final = (*(f"mem_{part}_bytes" for part in BREAKDOWN_PARTS), "mem_rss_bytes")
#: Jobs (0-based) read besides the full-collection points: the first job (where the run's
#: growth is measured from) and the last of each standard checkpoint's window.
BREAKDOWN_JOBS: Final = frozenset({0, *(jobs - 1 for jobs in CHECKPOINT_JOBS)})
_ALLOCATED: Final = re.compile(rb"# bytes in allocated blocks\s*=\s*([\d,]+)")
_ARENAS: Final = re.compile(rb"arenas \* \d+ bytes/arena\s*=\s*([\d,]+)")
_STATUS_KEYS: Final = (b"VmRSS:", b"RssFile:", b"RssShmem:")


def pymalloc_bytes() -> tuple[int, int] | None:
    """Bytes in pymalloc's allocated blocks and in its arenas, or None without pymalloc.

    ``sys._debugmallocstats`` writes to the C stream ``stderr``: it is pointed at an
    in-memory file for the call, then back."""
    if not hasattr(sys, "_debugmallocstats") or not hasattr(os, "memfd_create"):
        return None
    sink = os.memfd_create("soak-malloc-stats")
    saved = os.dup(2)
    try:
        os.dup2(sink, 2)
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    try:
        offset = 0
        chunks = []
        while chunk := os.pread(sink, 65536, offset):
            chunks.append(chunk)
            offset += len(chunk)
        text = b"".join(chunks)
    finally:
        os.close(sink)
    allocated = _ALLOCATED.search(text)
    arenas = _ARENAS.search(text)
    if allocated is None or arenas is None:
        return None
    return _number(allocated.group(1)), _number(arenas.group(1))


def _number(digits: bytes) -> int:
    return int(digits.replace(b",", b""))


def resident() -> dict[bytes, int]:
    """RSS and its file-backed and shared parts, in bytes (``/proc/self/status``)."""
    found: dict[bytes, int] = {}
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(_STATUS_KEYS):
                key, value = line.split(None, 2)[:2]
                found[key] = int(value) * 1024
    return found


def rss_breakdown() -> dict[str, int] | None:
    """The five parts and the RSS beside them, in bytes; None where they cannot be read."""
    heap = glibc_heap()
    python = pymalloc_bytes()
    if heap is None or python is None:
        return None
    in_use, free = heap
    allocated, arenas = python
    try:
        status = resident()
    except OSError:
        return None
    return {
        "python_objects": allocated,
        "python_free": arenas - allocated,
        "native_in_use": in_use,
        "native_free": free,
        "other": status.get(b"RssFile:", 0) + status.get(b"RssShmem:", 0),
        "rss": status.get(b"VmRSS:", 0),
    }


def breakdown_fields() -> str:
    """The breakdown as sample-line fields (``,"mem_..._bytes":N``), or "" without one."""
    parts = rss_breakdown()
    if parts is None:
        return ""
    values = [parts[part] for part in BREAKDOWN_PARTS] + [parts["rss"]]
    return "".join(f',"{name}":{value}' for name, value in zip(FIELDS, values, strict=True))
