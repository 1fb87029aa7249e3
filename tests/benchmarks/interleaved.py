"""The in-run cost per job, measured in one process: blocks of a few jobs, each block run bare,
through the worker's own job loop, and through the least loop that measures what a sample
holds, in a shuffled order, block after block.

Between processes, the same 3,000 jobs took 0.88-1.23x as long from one run to the next on
the reference VM (its speed wanders in phases of seconds), far more than the ~1 % at stake.
Blocks of 10 jobs (~15-30 ms) alternate faster than the machine's phases, so each block's
difference is read at one speed; the median over hundreds of blocks is the cost.

- ``worker``: ``child._serve`` on the block's job lines, with a calibrated ``JobExecutor`` and
  the default probes, samples written into a pipe that another process reads every 10 ms (as
  the harness reads a busy worker).
- ``floor``: the process's CPU clock and the wall clock around each job, and the four numbers
  packed into a preallocated buffer: no formatting, no system call besides the clocks. What
  any loop measuring per-job wall and CPU time costs.

``python -m tests.benchmarks.interleaved [blocks] [jobs per block]`` prints JSON:
per mode, the per-block excess over the bare block, in us per job.
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

from tests.zoo.clean_real_libraries import handle
from worker_soak.worker import child, protocol
from worker_soak.worker.evidence import IsolationEvidence
from worker_soak.worker.execute import JobExecutor
from worker_soak.worker.probes import default_probes
from worker_soak.worker.spec import Worker

WARMUP_JOBS = 100
WORKER = "tests/zoo/clean_real_libraries.py:handle"
_DRAIN = (
    "import os, sys, time\n"
    "fd = int(sys.argv[1])\n"
    "while os.read(fd, 1 << 20):\n"
    "    time.sleep(0.01)\n"
)


def measure(blocks: int, per_block: int, seed: int = 1) -> dict[str, list[float]]:
    """Each mode's excess over the bare run of the same block, us per job, block by block."""
    read_fd, write_fd = os.pipe()
    drain = subprocess.Popen([sys.executable, "-c", _DRAIN, str(read_fd)], pass_fds=[read_fd])
    os.close(read_fd)
    perf, cpu = time.perf_counter_ns, time.process_time_ns
    executor = JobExecutor(Worker(WORKER, "function", handle), default_probes(), perf())
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
            first += per_block
    finally:
        os.close(write_fd)
        drain.wait()
    return excess


def main(argv: list[str]) -> int:
    blocks = int(argv[0]) if argv else 600
    per_block = int(argv[1]) if len(argv) > 1 else 10
    figures: dict[str, Any] = measure(blocks, per_block)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
