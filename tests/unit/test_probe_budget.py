"""The probes' shared budget: after the first jobs, all probes together cost at most
``PROBE_JOB_SHARE`` of a median job, priced at what their reads cost right after real jobs."""

from __future__ import annotations

import gc
import sys
import time
from array import array
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_probes import BusyProbe
from worker_soak.worker.cadences import allot, longest_for
from worker_soak.worker.execute import PROBE_JOB_SHARE, REPRICE_READS, RETUNE_AFTER, JobExecutor
from worker_soak.worker.probes import (
    PROBE_BUDGET_NS,
    MachineSpeed,
    NativeHeap,
    OpenFiles,
    Probe,
    PythonHeap,
)
from worker_soak.worker.spec import Worker

LADDER = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)


@given(
    st.lists(st.tuples(st.integers(1, 10**6), st.sampled_from(LADDER)), min_size=1, max_size=8),
    st.integers(0, 10**6),
)
def test_allot_spends_no_more_than_the_budget_beyond_the_calibrated_floor(
    priced: list[tuple[int, int]], budget: int
) -> None:
    """Cadences stay on the ladder, never longer than calibrated; what they cost on top of
    the calibrated cadences' own cost is within the budget."""
    probes = [BusyProbe(0, every) for _, every in priced]
    costs = [cost for cost, _ in priced]
    chosen = allot(probes, costs, budget)
    floor = sum(cost / every for cost, every in priced)
    spent = sum(cost / every for cost, every in zip(costs, chosen, strict=True))
    assert all(every in LADDER for every in chosen)
    assert all(new <= old for new, (_, old) in zip(chosen, priced, strict=True))
    assert spent <= max(budget, floor) + floor + 1e-6


def test_allot_shares_the_budget_and_gives_the_rest_in_order() -> None:
    """Two 10-us probes and a 1-ms one in a 10-us budget: the dear one stays sparse, the
    cheap ones read every few jobs, the first listed first."""
    probes = [BusyProbe(0, 1000), BusyProbe(0, 1000), BusyProbe(0, 1000)]
    chosen = allot(probes, [10_000, 10_000, 1_000_000], 10_000)
    assert chosen[2] >= 200
    assert chosen[0] <= chosen[1] <= 5
    spent = sum(c / e for c, e in zip([10_000, 10_000, 1_000_000], chosen, strict=True))
    assert spent <= 10_000


class _BusyJob:
    """A worker whose job busy-waits ``job_ns``."""

    kind = "function"

    def __init__(self, job_ns: int) -> None:
        self.job_ns = job_ns

    def handle(self, job: object) -> None:
        end = time.perf_counter_ns() + self.job_ns
        while time.perf_counter_ns() < end:
            pass


def _timed_executor(probes: Sequence[Probe], job_ns: int) -> JobExecutor:
    """An executor that times its first jobs' reads and retunes, without calibrating the
    fakes (they keep the cadences they were made with until then)."""
    worker = Worker(spec="busy:handle", kind="function", handle=_BusyJob(job_ns).handle)
    executor = JobExecutor(worker, probes, time.perf_counter_ns(), calibrate=False)
    executor._retune = True
    return executor


def test_retune_keeps_every_probe_together_within_the_share_of_the_job() -> None:
    """Four probes of 8 us each, calibrated every 20 jobs: after the first jobs of 2 ms
    (a 10-us budget), they read more often, all together within the share, and each
    probe says from which job its new cadence holds."""
    probes = [BusyProbe(8_000, 20) for _ in range(4)]
    executor = _timed_executor(probes, 2_000_000)
    for index in range(RETUNE_AFTER + 40):
        executor.run(index, {})
    assert executor.retuned
    budget = PROBE_JOB_SHARE * 2_000_000
    spent = sum(probe.cost_ns / probe.every for probe in probes)
    assert spent <= budget * 1.5  # measured costs run a little above the busy-wait's
    assert any(probe.every < 20 for probe in probes)
    for probe in probes:
        if probe.every < 20:
            assert probe.describe()["every_before"] == 20
            assert probe.describe()["from_job"] == RETUNE_AFTER


class _DearerProbe(BusyProbe):
    """A busy-wait probe whose cadence may follow its cost (as the Python heap's does)."""

    repriced = True


def test_a_probe_whose_reads_grow_dear_is_read_less_often_and_says_from_when() -> None:
    """Two 2-us probes read every 5th job fit their allowance; when one comes to cost 100 us
    a read (a heap grown big under ``sys.getallocatedblocks``), after ``REPRICE_READS`` such
    reads its cadence is lengthened back within the allowance; the other one keeps its own."""
    steady, grown = _DearerProbe(2_000, 5), _DearerProbe(2_000, 5)
    executor = _timed_executor([steady, grown], 200_000)
    for index in range(RETUNE_AFTER):
        executor.run(index, {})
    assert (steady.every, grown.every) == (5, 5)
    executor.retuned = False
    grown.cost_ns = 100_000
    first = RETUNE_AFTER
    for index in range(first, first + 5 * REPRICE_READS + 5):
        executor.run(index, {})
    allowance = max(PROBE_BUDGET_NS, int(PROBE_JOB_SHARE * 200_000) // 2)
    assert executor.retuned
    assert grown.every >= 100_000 // allowance
    assert grown.retuned is not None
    before, from_job = grown.retuned
    assert before == 5
    assert first < from_job <= first + 5 * REPRICE_READS + 5
    assert steady.every == 5
    assert "every_before" not in steady.describe()
    later = [executor.run(index, {}) for index in range(1000, 1000 + grown.every)]
    assert sum(line.count(b'"slow"') for line in later) == grown.every // 5 + 1


def test_probes_measuring_what_grows_keep_their_cadence_however_dear() -> None:
    """Only the Python heap's cadence follows its cost: the open-files probe gets dearer as
    descriptors leak (read less often, it let a leak pass), the machine-speed probe limits
    its own timings; neither is repriced, and their reads are not timed."""
    speed, files = MachineSpeed(), OpenFiles()
    fake = BusyProbe(100_000, 10)  # a probe as dear as a big heap's, not repriced
    executor = _timed_executor([speed, files, fake], 200_000)
    for index in range(RETUNE_AFTER):
        executor.run(index, {})
    cadences = (speed.every, files.every, fake.every)
    for index in range(RETUNE_AFTER, RETUNE_AFTER + 10 * REPRICE_READS):
        executor.run(index, {})
    assert (speed.every, files.every, fake.every) == cadences
    assert (speed.retuned, files.retuned, fake.retuned) == (None, None, None)
    assert executor._sparse_timed == [0] * len(executor._sparse_probes)
    assert PythonHeap.repriced
    assert [MachineSpeed.repriced, OpenFiles.repriced, NativeHeap.repriced] == [False] * 3
    files.close()


def test_timing_the_sparse_reads_keeps_no_object_of_its_own() -> None:
    """The memory verdict counts every block the worker process keeps, the harness's own
    included: between the first jobs and later ones, the executor's reads and their timings
    leave the heap exactly where it was (a list of timings grew it 0.13 objects a job)."""
    probes = [_DearerProbe(0, 2), _DearerProbe(0, 20), _DearerProbe(0, 50)]
    executor = _timed_executor(probes, 0)
    kept = array("q", bytes(8 * 4))  # raw numbers: the readings add no object either
    for index in range(2_000):
        executor.run(index, {})
        if index in (100, 600, 1_100, 1_600):
            gc.collect()
            kept[index // 500] = sys.getallocatedblocks()
    assert executor._allowance  # the reads were timed
    assert len(set(kept[1:])) == 1, kept


class _HeapLikeProbe(_DearerProbe):
    """A dear probe the memory verdict reads its floor trend from."""

    min_reads = 100


@given(st.integers(1, 20_000), st.sampled_from([10, 100, 1_000]))
def test_longest_for_reads_a_probe_often_enough(span: int, reads: int) -> None:
    """The longest ladder cadence that still reads ``reads`` times over ``span`` jobs."""
    every = longest_for(span, reads)
    assert every in LADDER
    assert every == 1 or span // every >= reads
    longer = [e for e in LADDER if e > every]
    assert not longer or span // longer[0] < reads


def test_a_short_runs_heap_probes_are_read_often_enough_however_dear() -> None:
    """A heap probe costing 60 us a read, after 20-us jobs, is calibrated to every 200th
    job; in a run whose judged jobs end at job 300 it is read every 2nd job at most, from
    the start and after its reads were priced again, while a probe the verdict does not
    read from keeps its cadence; over 10,000 jobs it is read every 100th, and a cheaper
    one as often as its cost allows."""
    heap, other = _HeapLikeProbe(60_000), _DearerProbe(60_000)
    worker = Worker(spec="busy:handle", kind="function", handle=_BusyJob(20_000).handle)
    executor = JobExecutor(worker, [heap, other], time.perf_counter_ns(), collect_after=[99, 299])
    assert heap.every == 2
    assert other.every >= 100
    for index in range(RETUNE_AFTER + 3 * REPRICE_READS * heap.every):
        executor.run(index, {})
    assert heap.every == 2
    long_run, cheaper = _HeapLikeProbe(60_000), _HeapLikeProbe(15_000)
    JobExecutor(worker, [long_run, cheaper], time.perf_counter_ns(), collect_after=[9_999])
    assert long_run.every == 100  # 100 reads over 10,000 jobs
    assert cheaper.every == _DearerProbe(15_000).calibrate() < 100  # as without the cap
