"""The in-run cost per job, measured in one process: blocks of a few jobs, each block run bare,
through the worker's own job loop, and through the least loop that measures what a sample
holds, in a shuffled order, block after block.

Between processes, the same 3,000 jobs took 0.88-1.23x as long from one run to the next on
the reference VM (its speed wanders in phases of seconds), far more than the ~1 % at stake.
Blocks of 10 jobs (~15-30 ms) alternate faster than the machine's phases, so each block's
difference is read at one speed; the median over hundreds of blocks is the cost.

Two costs are read. The *loop's* cost is each block's whole time over the bare block: the
job's own slowdown and everything between jobs. The *job's* cost is the job's own time as
the worker's samples record it against the same job timed the same way (the two clocks each
side of the call) in the floor loop, job by job: how much slower the harness's work between
jobs makes the job itself (colder caches), the figure a sample's ``wall_ns`` carries.

- ``worker``: ``child._serve`` on the block's job lines, with a calibrated ``JobExecutor`` and
  the default probes, samples written into a pipe that another process reads every 10 ms (as
  the harness reads a busy worker).
- ``floor``: the process's CPU clock and the wall clock around each job, and the four numbers
  packed into a preallocated buffer: no formatting, no system call besides the clocks. What
  any loop measuring per-job wall and CPU time costs.

``python -m tests.benchmarks.interleaved [blocks] [jobs per block] [worker spec]`` prints
JSON: per loop, the per-block excess over the bare block (``worker``, ``floor``); per block,
the worker's mean job wall and CPU time over the floor's (``worker_job_wall``,
``worker_job_cpu``); and each job's wall time in the floor loop (``floor_job_wall``), in us.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from worker_soak.worker import child, protocol
from worker_soak.worker.evidence import IsolationEvidence
from worker_soak.worker.execute import JobExecutor
from worker_soak.worker.probes import default_probes
from worker_soak.worker.spec import load_worker

WARMUP_JOBS = 100
WORKER = "tests/zoo/clean_real_libraries.py:handle"
#: Reads the worker's samples as the harness reads a busy worker (every 10 ms), and keeps
#: them for the job times, written out at the end.
_DRAIN = (
    "import os, sys, time\n"
    "fd, kept = int(sys.argv[1]), []\n"
    "while chunk := os.read(fd, 1 << 20):\n"
    "    kept.append(chunk)\n"
    "    time.sleep(0.01)\n"
    "sys.stdout.buffer.write(b''.join(kept))\n"
)


def measure(
    blocks: int, per_block: int, seed: int = 1, spec: str = WORKER
) -> dict[str, list[float]]:
    """Each loop's excess over the bare run of the same block, us per job, block by block;
    the worker's job times over the floor's, block by block."""
    read_fd, write_fd = os.pipe()
    drain = subprocess.Popen(
        [sys.executable, "-c", _DRAIN, str(read_fd)], pass_fds=[read_fd], stdout=subprocess.PIPE
    )
    os.close(read_fd)
    perf, cpu = time.perf_counter_ns, time.process_time_ns
    loaded = load_worker(spec)
    handle = loaded.handle
    executor = JobExecutor(loaded, default_probes(), perf())
    evidence = IsolationEvidence(Path(os.devnull), frozenset(), frozenset(), None)
    record = struct.Struct("<qqqq")
    kept = bytearray(record.size * per_block)

    def lines(first: int) -> io.BytesIO:
        encoded = (protocol.encode_job(first + i, {"id": first + i}) for i in range(per_block))
        return io.BytesIO(b"".join(encoded))

    def bare(first: int) -> None:
        for index in range(first, first + per_block):
            handle({"id": index})

    def worker(first: int) -> None:
        child._serve(prepared.pop(), executor, None, write_fd, evidence)

    def floor(first: int) -> None:
        for offset in range(per_block):
            start_cpu = cpu()
            start = perf()
            handle({"id": first + offset})
            end = perf()
            end_cpu = cpu()
            record.pack_into(kept, offset * record.size, first + offset, end - start,
                             end_cpu - start_cpu, end)  # fmt: skip

    modes = {"bare": bare, "worker": worker, "floor": floor}
    #: The worker's job lines, encoded before its block is timed.
    prepared: list[io.BytesIO] = []
    #: The floor loop's job times (index, wall, CPU), copied out after each block.
    floor_jobs: dict[int, tuple[int, int]] = {}
    try:
        for first in range(0, WARMUP_JOBS, per_block):
            prepared.append(lines(first))
            worker(first)  # the executor's first jobs set the probes' cadences
        bare(0)
        floor(0)
        shuffle = random.Random(seed).shuffle
        excess: dict[str, list[float]] = {"worker": [], "floor": []}
        first = WARMUP_JOBS
        for _ in range(blocks):
            order = list(modes)
            shuffle(order)
            took = {}
            prepared.append(lines(first))
            for name in order:
                began = perf()
                modes[name](first)
                took[name] = perf() - began
            for name, values in excess.items():
                values.append((took[name] - took["bare"]) / per_block / 1e3)
            for index, wall, used, _ in record.iter_unpack(kept):
                floor_jobs[index] = (wall, used)
            first += per_block
    finally:
        os.close(write_fd)
        samples = drain.communicate()[0]
    return {**excess, **_job_times(samples, floor_jobs, per_block)}


def _job_times(
    samples: bytes, floor_jobs: dict[int, tuple[int, int]], per_block: int
) -> dict[str, list[float]]:
    """Per block, the worker's mean job wall and CPU time over the floor's for the same jobs
    (us); and every job's wall time in the floor loop (us)."""
    worker_jobs = {}
    for line in samples.splitlines():
        if line.startswith(protocol.EVENT_PREFIX):
            continue
        sample = json.loads(line)
        worker_jobs[sample["job_index"]] = (sample["wall_ns"], sample["cpu_ns"])
    walls: list[float] = []
    cpus: list[float] = []
    for first in range(min(floor_jobs), max(floor_jobs) + 1, per_block):
        block = range(first, first + per_block)
        walls.append(sum(worker_jobs[i][0] - floor_jobs[i][0] for i in block) / per_block / 1e3)
        cpus.append(sum(worker_jobs[i][1] - floor_jobs[i][1] for i in block) / per_block / 1e3)
    floor_walls = [wall / 1e3 for wall, _ in floor_jobs.values()]
    return {"worker_job_wall": walls, "worker_job_cpu": cpus, "floor_job_wall": floor_walls}


def main(argv: list[str]) -> int:
    blocks = int(argv[0]) if argv else 600
    per_block = int(argv[1]) if len(argv) > 1 else 10
    spec = argv[2] if len(argv) > 2 else WORKER
    figures: dict[str, Any] = measure(blocks, per_block, spec=spec)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
