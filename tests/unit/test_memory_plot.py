"""The whole-run memory plot: one line per worker process under a pool or a queue."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from worker_soak.report.plots import per_process_lines
from worker_soak.samples import Samples


def _points(line: Any) -> int:
    return len(line.get_xdata())


def _pool_samples() -> Samples:
    """Two worker processes taking turns, the second recycled into a third at job 6."""
    pids = (7, 8, 7, 8, 7, 8, 9, 8, 9, 8)
    rss = tuple(20_000_000 + 1_000 * job for job in range(10))
    jobs = tuple(range(10))
    return Samples(
        wall_ns=(1,) * 10,
        cpu_ns=(1,) * 10,
        end_ns=jobs,
        gauges={"worker_pid": pids, "rss_bytes": rss, "py_blocks": (100,) * 10},
        errors=(),
    )


def test_each_worker_process_gets_its_own_line_and_legend_entry() -> None:
    samples = _pool_samples()
    keys = samples.process_keys()
    assert keys is not None
    processes = list(dict.fromkeys(key for key in keys if key is not None))
    figure = Figure()
    axes = figure.add_subplot()
    twin = axes.twinx()
    per_process_lines(axes, twin, samples, keys, processes)
    labels = axes.get_legend_handles_labels()[1]
    assert [label for label in labels if label.startswith("pid")] == ["pid 7", "pid 8", "pid 9"]
    rss_lines = [line for line in axes.get_lines() if line.get_linestyle() == "-" and _points(line)]
    assert sorted(_points(line) for line in rss_lines) == [2, 3, 5]
    assert len({line.get_color() for line in rss_lines}) == 3
