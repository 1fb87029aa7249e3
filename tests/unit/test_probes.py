"""Each probe sees the effect it exists to see, in this very process."""

from __future__ import annotations

import ctypes
import gc
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker_soak.worker.probes import (
    ChildProcesses,
    GcCollections,
    NativeHeap,
    OpenFiles,
    Probe,
    ProcessStat,
    PythonHeap,
    UniqueSetSize,
    default_probes,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_python_heap_sees_ten_thousand_small_objects() -> None:
    """Allocated blocks rise by at least the objects kept alive."""
    probe = PythonHeap()
    (before,) = probe.read()
    kept = [object() for _ in range(10_000)]
    (after,) = probe.read()
    assert after - before >= 10_000
    del kept


@pytest.mark.skipif(not NativeHeap.available(), reason="needs glibc mallinfo2")
def test_native_heap_sees_a_c_malloc() -> None:
    """8 MiB from C malloc (invisible to Python's allocator) shows in the native heap."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    probe = NativeHeap()
    before, _ = probe.read()
    block = libc.malloc(8 << 20)
    during, _ = probe.read()
    libc.free(block)
    after, _ = probe.read()
    assert during - before >= 8 << 20
    assert abs(after - before) < 1 << 20


@linux_only
def test_process_stat_sees_resident_memory_and_a_thread() -> None:
    """RSS grows by touched memory; the kernel's thread count includes a new thread."""
    probe = ProcessStat()
    rss_before, threads_before = probe.read()
    buffer = bytearray(64 << 20)  # zero-filled: every page is touched
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    rss_after, threads_after = probe.read()
    stop.set()
    thread.join()
    probe.close()
    assert rss_after - rss_before >= 48 << 20
    assert threads_after == threads_before + 1
    del buffer


@linux_only
def test_unique_set_size_sees_private_memory() -> None:
    """USS grows with private pages the process writes."""
    probe = UniqueSetSize()
    (before,) = probe.read()
    buffer = bytearray(64 << 20)
    (after,) = probe.read()
    probe.close()
    assert after - before >= 48 << 20
    del buffer


@linux_only
def test_open_files_counts_a_new_descriptor(tmp_path: Path) -> None:
    """Opening a file adds exactly one descriptor; closing it removes it."""
    probe = OpenFiles()
    (before,) = probe.read()
    with open(tmp_path / "f", "w"):
        (during,) = probe.read()
    (after,) = probe.read()
    assert (during - before, after - before) == (1, 0)


@linux_only
def test_child_processes_counts_a_running_child() -> None:
    """A subprocess is a child while it runs, and not after it is reaped."""
    probe = ChildProcesses()
    (before,) = probe.read()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (during,) = probe.read()
    finally:
        child.kill()
        child.wait()
    (after,) = probe.read()
    assert (during - before, after - before) == (1, 0)


def test_gc_collections_counts_collections() -> None:
    """Each full collection counts once; the callback is removed on close."""
    probe = GcCollections()
    (before,) = probe.read()
    gc.collect()
    gc.collect()
    (after,) = probe.read()
    probe.close()
    assert after - before >= 2
    assert probe._on_gc not in gc.callbacks


class BusyProbe(Probe):
    """Costs ``cost_ns`` per read, by busy-waiting."""

    fields = ("slow",)
    unit = "count"

    def __init__(self, cost_ns: int, every: int | None = None) -> None:
        super().__init__(every)
        self.cost_ns = cost_ns

    def read(self) -> tuple[int, ...]:
        end = time.perf_counter_ns() + self.cost_ns
        while time.perf_counter_ns() < end:
            pass
        return (0,)


@pytest.mark.parametrize(
    ("cost_ns", "every", "expected"),
    [
        (100, None, 1),
        (15_000, None, 10),
        (80_000, None, 50),
        (100, 10, 10),
        (9_000_000, None, 5_000),
        (50_000_000, None, 10_000),
    ],
)
def test_calibrate_picks_the_shortest_cadence_within_budget(
    cost_ns: int, every: int | None, expected: int
) -> None:
    """Cadence climbs 1-2-5-10... until cost/every <= 2 us, capped at 10,000 jobs (a 100 ns
    busy-wait measures 400-800 ns with the call around it on this VM: the budget leaves room)."""
    probe = BusyProbe(cost_ns, every)
    assert probe.calibrate(budget_ns=2_000) == expected
    assert probe.every == expected


def test_every_must_be_positive() -> None:
    """A cadence below 1 is refused with the probe's name."""
    with pytest.raises(ValueError, match="PythonHeap: every must be an int >= 1, got 0"):
        PythonHeap(every=0)


@pytest.fixture
def probes() -> Iterator[list[Probe]]:
    made = default_probes()
    yield made
    for probe in made:
        probe.close()


def test_default_probe_fields_are_unique(probes: list[Probe]) -> None:
    """No two probes write the same sample field."""
    fields = [field for probe in probes for field in probe.fields]
    assert len(fields) == len(set(fields))
    assert all(len(probe.read()) == len(probe.fields) for probe in probes)
