"""Run one job and turn its measurements into a sample line: the hot path of every runner.

A sample is one JSON object on one line. It is formatted with ``%`` templates rather than
``json.dumps`` (0.5 us against 3.3 us per sample), because the whole per-job budget of the
inline runner is 10 us.
"""

from __future__ import annotations

import gc
import json
import math
import os
import time
import traceback
from array import array
from collections.abc import Collection, Sequence
from typing import Any, Final

from worker_soak.redact import environment_secrets, redact
from worker_soak.worker.breakdown import BREAKDOWN_JOBS, breakdown_fields
from worker_soak.worker.cadences import allot, lengthened, longest_for
from worker_soak.worker.census import collected_heap
from worker_soak.worker.frames import is_user_file
from worker_soak.worker.probes import PROBE_BUDGET_NS, Probe
from worker_soak.worker.spec import Worker

SAMPLE_PREFIX: Final = b'{"job_index":'
MAX_ERROR_CHARS: Final = 2000
#: The secret-named environment values of this process, read once: a worker whose every job
#: raises would otherwise scan the environment per job.
_SECRETS: Final = environment_secrets(os.environ)
#: Jobs timed before the probes' cadences are set against the job's own duration.
RETUNE_AFTER: Final = 20
#: Share of a median job's time all probes together may cost, each priced at what its reads
#: took right after those first jobs. (A share per probe, priced at its cost in an idle
#: process, had every probe read after every 1.4-ms job: 80-130 us a job, 6-9 %.)
PROBE_JOB_SHARE: Final = 0.005
#: A sparse probe's reads are timed as the run goes on, and priced again every this many:
#: what a probe costs can grow with what it reads (``sys.getallocatedblocks`` walks every
#: pymalloc pool: 0.6 us on a new interpreter, 93 us with 3 million blocks).
REPRICE_READS: Final = 16
#: How many times its allowance a probe must cost, per job, before its cadence is lengthened
#: back within it: only a cost that grew with the heap moves a cadence, never read-to-read
#: noise (a small heap's probes after 1-ms jobs stay under 2x).
REPRICE_SLACK: Final = 4
_HEAD: Final = '{"job_index":%d,"wall_ns":%d,"cpu_ns":%d,"end_ns":%d'


class JobExecutor:
    """Calls ``worker.handle(job)`` and measures it; owned by exactly one worker process."""

    __slots__ = (
        "_allowance",
        "_collect_after",
        "_costs",
        "_every_job",
        "_fixed",
        "_handle",
        "_head",
        "_origin_ns",
        "_probes",
        "_repriced",
        "_retune",
        "_sparse",
        "_sparse_costs",
        "_sparse_probes",
        "_sparse_step",
        "_sparse_timed",
        "_walls",
        "retuned",
    )

    def __init__(
        self,
        worker: Worker | None,
        probes: Sequence[Probe],
        origin_ns: int,
        collect_after: Collection[int] = (),
        fixed_fields: str = "",
        calibrate: bool = True,
    ) -> None:
        """``fixed_fields``: JSON members the same in every sample (``,"worker_pid":42``).
        ``worker`` None: a job queue's framework runs the jobs, and only :meth:`sample` is
        used. ``calibrate`` False: the probes keep the cadences they were given."""
        self._handle = worker.handle if worker is not None else _framework_runs_jobs
        self._collect_after = frozenset(collect_after)
        self._origin_ns = origin_ns
        # The last collection point is the run's last judged job: the heap probes are read
        # often enough over those jobs for the memory verdict, whatever their reads cost.
        span = max(collect_after, default=-1) + 1
        for probe in probes:
            if span and probe.min_reads:
                probe.longest = longest_for(span, probe.min_reads)
                probe.every = min(probe.every, probe.longest)
            if calibrate:
                probe.calibrate()
        self._probes = tuple(probes)
        self._fixed = fixed_fields.replace("%", "%%")
        self._retune = calibrate
        self._walls: list[int] = []
        self._costs: list[list[int]] = [[] for _ in self._probes]
        #: What one probe may cost per job once the first jobs set the budget (0: not yet, or
        #: never for an executor that keeps its cadences).
        self._allowance = 0
        #: Set when the first jobs retuned the cadences (a worker process then says so).
        self.retuned = False
        self._plan()

    def _plan(self) -> None:
        every_job = [p for p in self._probes if p.every == 1]
        self._every_job = tuple(p.read for p in every_job)
        # One template for the fixed part: a single % costs less than one per probe.
        self._head = _HEAD + self._fixed + "".join(p.template for p in every_job)
        sparse = [p for p in self._probes if p.every > 1]
        self._sparse = tuple((p.every, p.template, p.read) for p in sparse)
        self._sparse_probes = tuple(sparse)
        self._repriced = tuple(p.repriced for p in sparse)
        # Raw numbers in arrays made once, and counts under 257 (CPython's shared small
        # ints): timing the reads keeps no object of its own. (A list of the timings, cleared
        # every 16 reads, was 0.13 objects a job in a 300-job run: its rounds all grew.)
        self._sparse_costs = [array("q", bytes(8 * REPRICE_READS)) for _ in sparse]
        self._sparse_timed = [0] * len(sparse)
        # Sparse probes are only looked at on multiples of their cadences' common divisor.
        self._sparse_step = math.gcd(*(p.every for p in sparse)) if sparse else 0

    @property
    def probes(self) -> tuple[Probe, ...]:
        return self._probes

    def _learn_job_time(self, job_index: int, wall_ns: int) -> None:
        """After the first ``RETUNE_AFTER`` jobs, let all probes together cost up to
        ``PROBE_JOB_SHARE`` of the median job's time, each at what its reads cost after
        those jobs: a job of milliseconds affords its heap probes every job or few (a Celery
        run of 8-ms tasks got 3 heap samples in 100 jobs when cadences knew only the probes'
        microseconds), and no job pays more than its share."""
        self._walls.append(wall_ns)
        if len(self._walls) < RETUNE_AFTER:
            return
        self._retune = False
        budget = int(PROBE_JOB_SHARE * sorted(self._walls)[len(self._walls) // 2])
        self._walls = []
        timed, self._costs = self._costs, []
        self._allowance = max(PROBE_BUDGET_NS, budget // len(self._probes))
        if budget <= PROBE_BUDGET_NS * len(self._probes):
            return
        costs = [_cost_now(probe, taken) for probe, taken in zip(self._probes, timed, strict=True)]
        cadences = allot(self._probes, costs, budget)
        for probe, every in zip(self._probes, cadences, strict=True):
            if every != probe.every:
                probe.retuned = (probe.every, job_index + 1)
                probe.every = every
                self.retuned = True
        if self.retuned:
            self._plan()

    def _timed_reads(self, values: tuple[int, ...], job_index: int) -> str:
        """The sample's probe fields while the first jobs are timed: each read on its own
        clock (its cost after a real job is what the cadences are set from)."""
        perf = time.perf_counter_ns
        line = (_HEAD + self._fixed) % values
        for probe, costs in zip(self._probes, self._costs, strict=True):
            if job_index % probe.every == 0:
                start = perf()
                read = probe.read()
                costs.append(perf() - start)
                line += probe.template % read
        return line

    def _sparse_reads(self, job_index: int) -> str:
        """The sparse probes due after this job, each read timed; a probe whose reads came
        to cost over ``REPRICE_SLACK`` times its allowance is given a longer cadence."""
        perf = time.perf_counter_ns
        fields = ""
        changed = False
        for number, (every, template, read) in enumerate(self._sparse):
            if job_index % every:
                continue
            if not (self._allowance and self._repriced[number]):
                fields += template % read()
                continue
            start = perf()
            values = read()
            timed = self._sparse_timed[number]
            self._sparse_costs[number][timed] = perf() - start
            fields += template % values
            timed += 1
            if timed == REPRICE_READS:
                timed = 0
                probe = self._sparse_probes[number]
                changed |= self._reprice(probe, self._sparse_costs[number], job_index)
            self._sparse_timed[number] = timed
        if changed:
            self.retuned = True
            self._plan()
        return fields

    def _reprice(self, probe: Probe, costs: array[int], job_index: int) -> bool:
        cost = sorted(costs)[len(costs) // 2]
        if cost <= REPRICE_SLACK * self._allowance * probe.every:
            return False
        every = min(probe.longest, lengthened(probe.every, cost, self._allowance))
        if every == probe.every:
            return False
        probe.retuned = (probe.every, job_index + 1)
        probe.every = every
        return True

    def run_keeping_result(
        self, job_index: int, job: dict[str, Any]
    ) -> tuple[bytes, object, BaseException | None]:
        """Run one job as :meth:`run` does, and also return what it returned or raised (for
        the few jobs the isolation verdict compares; ``run`` keeps nothing alive)."""
        kept: list[object] = []
        handle = self._handle
        self._handle = _keeping(handle, kept)
        try:
            sample = self.run(job_index, job)
        finally:
            self._handle = handle
        outcome = kept[0] if kept else None
        if isinstance(outcome, Exception):
            return sample, None, outcome
        return sample, outcome, None

    def run(self, job_index: int, job: dict[str, Any]) -> bytes:
        """Run one job; return its sample line (ending in a newline). Job errors are data."""
        perf = time.perf_counter_ns
        cpu = time.process_time_ns
        error = None
        start_cpu = cpu()
        start = perf()
        try:
            self._handle(job)
        except Exception as exc:  # a failing job is a result, never a harness failure
            error = describe_error(exc)
            del exc  # a kept traceback would pin the job's frames: a leak of our own making
        end = perf()
        end_cpu = cpu()
        return self.sample(
            job_index, end - start, end_cpu - start_cpu, end - self._origin_ns, error
        )

    def sample(
        self,
        job_index: int,
        wall_ns: int,
        cpu_ns: int,
        end_ns: int,
        error: dict[str, str] | None = None,
        extra: str = "",
    ) -> bytes:
        """The sample line of a job measured elsewhere (a queue's task, timed around the
        framework's own call): the probes are read now, right after the job."""
        values: tuple[int, ...] = (job_index, wall_ns, cpu_ns, end_ns)
        if self._retune:
            line = self._timed_reads(values, job_index)
            self._learn_job_time(job_index, wall_ns)
        else:
            for read in self._every_job:
                values += read()
            line = self._head % values
            if self._sparse_step and job_index % self._sparse_step == 0:
                line += self._sparse_reads(job_index)
        if error is not None:
            line += ',"error":' + json.dumps(error, ensure_ascii=False)
        if job_index in self._collect_after:
            line += collected_heap() + breakdown_fields()
        elif job_index in BREAKDOWN_JOBS:
            if job_index == 0:  # the growth is measured from here: what the worker keeps
                gc.collect()
            # At the checkpoints as they are: a full collection there would lower the heap
            # probes' next readings against the rest of the run's (which wait for the GC).
            line += breakdown_fields()
        return (line + extra + "}\n").encode()


def _cost_now(probe: Probe, taken: list[int]) -> int:
    """The median of the reads timed after the first jobs, or one read timed now for a
    probe whose cadence skipped them all."""
    if not taken:
        start = time.perf_counter_ns()
        probe.read()
        taken = [time.perf_counter_ns() - start]
    return sorted(taken)[len(taken) // 2]


def _framework_runs_jobs(job: dict[str, Any]) -> object:
    raise TypeError("this executor only formats samples: a job queue's framework runs jobs")


def _keeping(handle: Any, kept: list[object]) -> Any:
    def keep(job: dict[str, Any]) -> object:
        try:
            kept.append(handle(job))
        except Exception as exc:
            kept.append(exc)
            raise
        return None

    return keep


def describe_error(exc: BaseException) -> dict[str, str]:
    """Type, message and the innermost frame of a job's exception, sized for a sample line."""
    frames = traceback.extract_tb(exc.__traceback__)
    user_frames = [frame for frame in frames if is_user_file(frame.filename)]
    chosen = user_frames or frames
    where = f"{chosen[-1].filename}:{chosen[-1].lineno}" if chosen else ""
    message = redact(str(exc), _SECRETS)
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS] + "..."
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else (f"{kind.__module__}.{kind.__qualname__}")
    )
    return {"type": name, "message": message, "where": where}


def ended_job_sample(
    job_index: int,
    wall_ns: int,
    end_ns: int,
    worker_pid: int,
    message: str,
    worker_node: int | None = None,
) -> bytes:
    """The sample of a job whose worker process was ended (or died) while running it, once
    it will not run again: an error sample, so it counts among the failed jobs. Without
    ``worker_node`` (not known here), the job is its pid's on the node last seen with it."""
    sample: dict[str, object] = {
        "job_index": job_index,
        "wall_ns": wall_ns,
        "cpu_ns": 0,
        "end_ns": end_ns,
        "worker_pid": worker_pid,
        **({"worker_node": worker_node} if worker_node is not None else {}),
        "error": {"type": "WorkerEnded", "message": message, "where": ""},
    }
    return json.dumps(sample, separators=(",", ":")).encode() + b"\n"
