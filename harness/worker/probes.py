"""Cheap per-job measurements, one small class each, all behind :class:`Probe`.

Costs per call measured on the reference machine (CPython 3.11, Linux): allocated blocks
0.5-8 us (it grows with the heap), glibc ``mallinfo2`` via ctypes 0.5 us, ``/proc/self/stat``
4-5 us, ``/proc/self/smaps_rollup`` 120-240 us, listing ``/proc/self/fd`` 9 us, psutil
``memory_info`` 15 us. The runner's whole per-job budget is 10 us, so each probe runs every
``every``-th job, a cadence it chooses from its own measured cost when the worker starts
(``calibrate``), and the data says so: ``result.json`` lists every probe's cadence and a sample
carries only the fields measured for that job.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Final

from worker_soak.worker.cadences import CADENCES
from worker_soak.worker.libc import libc
from worker_soak.worker.tcache import ThreadCaches

_PAGE_SIZE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: What one probe may cost per job, amortised over its cadence.
PROBE_BUDGET_NS: Final = 400
_CALIBRATION_NS: Final = 1_000_000
#: Reads of each heap probe a run's judged jobs get at least: 50 ranges over their last half,
#: each with a fresh reading. Without it a native heap read every 50th job after fast jobs
#: gave a 1,000-job run 9 fresh readings over its last half, too few to see a list's array
#: grow by realloc (8 B/job: inconclusive), and a 300-job run 3.
HEAP_READS: Final = 100
#: Shortest time between two machine-speed readings.
SPEED_INTERVAL_NS: Final = 20_000_000


class Probe(ABC):
    """A measurement taken after a job; ``read()`` returns one int per name in ``fields``."""

    fields: ClassVar[tuple[str, ...]]
    unit: ClassVar[str]
    #: The shortest cadence wanted; ``calibrate`` may lengthen it to fit the budget.
    every: int = 1
    #: What one read cost when calibrated (None before).
    measured_cost_ns: int | None = None
    #: (cadence before, first job of the new one) once the run's own jobs retuned it.
    retuned: tuple[int, int] | None = None
    #: Reads a run's judged jobs must get, whatever they cost: the floor trend of the memory
    #: verdict needs a fresh reading of each heap probe in each of its 50 ranges over the
    #: last half of those jobs (see ``execute.JobExecutor``). 0: none asked.
    min_reads: ClassVar[int] = 0
    #: The longest cadence this run allows it (``min_reads`` over the run's judged jobs).
    longest: int = CADENCES[-1]
    #: Whether its cadence follows what its reads cost later in the run (see
    #: ``execute.REPRICE_READS``). Only where the cost grows with what a verdict judges from
    #: elsewhere too: read less often as the leak it measures grew, the open-files probe
    #: (listing ``/proc/self/fd``) went from every 50th to every 500th job at job 1,551 of a
    #: worker leaking a descriptor per job, and the resources verdict passed it.
    repriced: ClassVar[bool] = False

    def __init__(self, every: int | None = None) -> None:
        if every is not None:
            if every < 1:
                raise ValueError(f"{type(self).__name__}: every must be an int >= 1, got {every}")
            self.every = every
        self.template: Final = "".join(f',"{name}":%d' for name in self.fields)

    @abstractmethod
    def read(self) -> tuple[int, ...]:
        """Measure now; called in the worker process right after a job."""

    def close(self) -> None:
        """Release what ``__init__`` opened."""

    def calibrate(self, budget_ns: int = PROBE_BUDGET_NS) -> int:
        """Lengthen ``every`` (on the 1-2-5 ladder, so checkpoints at 10, 100, ... get a fresh
        value) until the probe's measured cost, amortised per job, fits ``budget_ns``."""
        self.read()  # the first read pays for cold caches and lazy set-up
        costs: list[int] = []
        spent = 0
        while len(costs) < 15 and (len(costs) < 3 or spent < _CALIBRATION_NS):
            start = time.perf_counter_ns()
            self.read()
            costs.append(time.perf_counter_ns() - start)
            spent += costs[-1]
        cost = sorted(costs)[len(costs) // 2]
        self.measured_cost_ns = cost
        for every in CADENCES:
            if every >= self.every and cost <= budget_ns * every:
                self.every = every
                break
        else:
            self.every = CADENCES[-1]
        self.every = min(self.every, self.longest)
        return self.every

    def describe(self) -> dict[str, object]:
        """What the data file needs to say about this probe: its cadence, and the one it
        had before the run's first jobs retuned it (``every_before``, up to ``from_job``)."""
        described: dict[str, object] = {
            "name": type(self).__name__,
            "fields": list(self.fields),
            "unit": self.unit,
            "every": self.every,
        }
        if self.retuned is not None:
            described["every_before"], described["from_job"] = self.retuned
        return described


class PythonHeap(Probe):
    """Blocks currently allocated by CPython's allocators (``sys.getallocatedblocks``).

    CPython 3.11 counts them by walking every pool, so a call costs ~0.5 us on an empty heap,
    1.5 us in a fresh worker process and 8 us with a million live objects (93 us with 3
    million, warm). Its cadence is therefore chosen from its measured cost when the worker
    starts (see ``calibrate``), and lengthened when a heap grown big makes it dear: the
    memory verdict's rounds read the heap after full collections at their own points.
    """

    fields = ("py_blocks",)
    unit = "blocks"
    repriced = True
    min_reads = HEAP_READS

    def read(self) -> tuple[int, ...]:
        return (sys.getallocatedblocks(),)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


class NativeHeap(Probe):
    """Bytes in use in glibc's heap: ``uordblks`` (arena chunks) + ``hblkhd`` (mmapped blocks),
    less the freed chunks its per-thread caches park (:mod:`worker_soak.worker.tcache`)."""

    fields = ("native_heap_bytes", "native_threads_unseen")
    unit = "bytes, count"
    min_reads = HEAP_READS

    def __init__(self, every: int | None = None) -> None:
        super().__init__(every)
        library = libc()
        assert library is not None  # (available() said so)
        self._mallinfo2 = library.mallinfo2
        self._mallinfo2.restype = _MallInfo2
        self._mallinfo2.argtypes = []
        self._caches = ThreadCaches.find()

    @staticmethod
    def available() -> bool:
        """True where the C library is glibc >= 2.33 (it has ``mallinfo2``)."""
        return hasattr(libc(), "mallinfo2")

    def read(self) -> tuple[int, ...]:
        """The bytes in use, and how many threads' caches could not be read (0 where the
        caches are off or unread: ``worker.tcache``)."""
        info = self._mallinfo2()
        if self._caches is None:
            return (info.uordblks + info.hblkhd, 0)
        parked = self._caches.held_bytes()
        return (info.uordblks + info.hblkhd - parked, self._caches.unseen_threads())

    def in_use_and_free(self) -> tuple[int, int] | None:
        """Bytes in use and free chunks kept (``fordblks``); None when glibc's heap is
        empty, as under another ``malloc`` (jemalloc preloaded), whose heap it does not see."""
        info = self._mallinfo2()
        if info.arena == 0 and info.hblkhd == 0:
            return None
        parked = self._caches.held_bytes() if self._caches is not None else 0
        return info.uordblks + info.hblkhd - parked, info.fordblks + parked


class ProcessStat(Probe):
    """Resident set size and kernel thread count from one read of ``/proc/self/stat``.

    Kernel threads count native threads too, which ``threading.active_count()`` misses. The
    kernel takes ~4 us to format this file, so it is read every 10th job.
    """

    fields = ("rss_bytes", "threads")
    unit = "bytes, count"
    every = 10

    def __init__(self, every: int | None = None) -> None:
        super().__init__(every)
        self._fd = os.open("/proc/self/stat", os.O_RDONLY)

    def read(self) -> tuple[int, ...]:
        raw = os.pread(self._fd, 1024, 0)
        # Field 2 (comm) may contain spaces and parentheses: split after its closing ')'.
        rest = raw[raw.rindex(b")") + 2 :].split()
        return (int(rest[21]) * _PAGE_SIZE, int(rest[17]))

    def close(self) -> None:
        os.close(self._fd)


class UniqueSetSize(Probe):
    """Private (unshared) resident bytes from ``/proc/self/smaps_rollup``: costly, so sparse."""

    fields = ("uss_bytes",)
    unit = "bytes"
    every = 100

    def __init__(self, every: int | None = None) -> None:
        super().__init__(every)
        self._fd = os.open("/proc/self/smaps_rollup", os.O_RDONLY)

    def read(self) -> tuple[int, ...]:
        total_kib = 0
        for line in os.pread(self._fd, 8192, 0).splitlines():
            if line.startswith((b"Private_Clean:", b"Private_Dirty:", b"Private_Hugetlb:")):
                total_kib += int(line.split()[1])
        return (total_kib * 1024,)

    def close(self) -> None:
        os.close(self._fd)


class OpenFiles(Probe):
    """Open file descriptors of the worker process."""

    fields = ("fds",)
    unit = "count"
    every = 10

    def read(self) -> tuple[int, ...]:
        # listdir holds one descriptor of its own on the directory while it reads it.
        return (len(os.listdir("/proc/self/fd")) - 1,)


class ChildProcesses(Probe):
    """Direct child processes of the worker, over all its threads."""

    fields = ("children",)
    unit = "count"
    every = 10

    def read(self) -> tuple[int, ...]:
        count = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                fd = os.open(f"/proc/self/task/{tid}/children", os.O_RDONLY)
            except FileNotFoundError:  # the thread ended while we listed
                continue
            try:
                count += len(os.read(fd, 65536).split())
            finally:
                os.close(fd)
        return (count,)


class GcCollections(Probe):
    """Garbage-collector runs since the worker started, all generations, via ``gc.callbacks``.

    A callback costs nothing between collections, unlike ``gc.get_stats()`` (2 us a call).
    """

    fields = ("gc_collections",)
    unit = "count"

    def __init__(self, every: int | None = None) -> None:
        super().__init__(every)
        self._count = 0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            self._count += 1

    def read(self) -> tuple[int, ...]:
        return (self._count,)

    def close(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)


class MachineSpeed(Probe):
    """Nanoseconds a fixed piece of interpreter work takes now: the machine's speed, so runs
    made at different times can be compared (``soak compare``, ``--soak-baseline``).

    On the reference VM the speed of CPU-bound work wanders in phases of seconds (300-job
    stretches of one PDF job at 2.6 and 4.6 ms). This routine's block medians followed a PDF
    worker's with correlation 0.90, and dividing by them cut the job's block-to-block
    variation from 19 % to 7 %. A reading is the median of three timings (an interrupt spoils
    one); a new reading is taken at most every 20 ms and the last one repeated in between, so
    slow jobs get a reading every 10 jobs and fast ones cost almost nothing.
    """

    fields = ("speed_ns",)
    unit = "ns"
    every = 10

    def __init__(self, every: int | None = None) -> None:
        super().__init__(every)
        self._last = 0
        self._next_ns = 0

    def read(self) -> tuple[int, ...]:
        perf = time.perf_counter_ns
        if perf() >= self._next_ns:
            timings = []
            for _ in range(3):
                start = perf()
                _reference_work()
                timings.append(perf() - start)
            self._last = sorted(timings)[1]
            self._next_ns = perf() + SPEED_INTERVAL_NS
        return (self._last,)


def machine_speed_ns(readings: int = 15) -> int:
    """The machine's speed now, as the median of ``readings`` timings of the reference work
    (~0.1 ms in all): for a process that is otherwise waiting, e.g. the harness around the
    probe jobs it compares across the run."""
    perf = time.perf_counter_ns
    timings = []
    for _ in range(readings):
        start = perf()
        _reference_work()
        timings.append(perf() - start)
    return sorted(timings)[len(timings) // 2]


def _reference_work() -> int:
    """Arithmetic, a dict and strings: the interpreter's everyday work (~5 us here)."""
    total = 0
    for i in range(100):
        total += i * i % 7
    table = {i: str(i) for i in range(20)}
    return total + sum(len(text) for text in table.values())


def native_heap_in_use() -> int | None:
    """glibc's heap in use now, or None where there is no ``mallinfo2``."""
    global _NATIVE
    if _NATIVE is None:
        if not NativeHeap.available():
            return None
        _NATIVE = NativeHeap()
    return _NATIVE.read()[0]


def glibc_heap() -> tuple[int, int] | None:
    """glibc's heap now, bytes in use and free, or None (no ``mallinfo2``, or another
    ``malloc``)."""
    if native_heap_in_use() is None or _NATIVE is None:
        return None
    return _NATIVE.in_use_and_free()


_NATIVE: NativeHeap | None = None


def default_probes() -> list[Probe]:
    """The probes this platform supports, cheapest first."""
    probes: list[Probe] = [PythonHeap(), GcCollections(), MachineSpeed()]
    if NativeHeap.available():
        probes.append(NativeHeap())
    if sys.platform.startswith("linux"):
        probes += [ProcessStat(), UniqueSetSize(), OpenFiles(), ChildProcesses()]
    return probes


def describe(probes: Sequence[Probe]) -> list[dict[str, object]]:
    """The probe list as stored in ``result.json``."""
    return [probe.describe() for probe in probes]
