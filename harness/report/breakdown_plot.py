"""Where resident memory goes, as a stacked area over the run: objects at the bottom, the
free memory the allocators keep above them, code and mapped files on top, and the RSS read
beside each reading as a line, so a gap between the stack and the line shows what no part
explains. A worker that fragments grows in the free layers; a leak grows in the objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from worker_soak.analysis.checkpoint_jobs import BREAKDOWN_PARTS
from worker_soak.columns import present
from worker_soak.report.figures import data_uri, legend_beside, new_figure
from worker_soak.samples import Samples

LABELS: Final = {
    "python_objects": "Python objects",
    "native_in_use": "native in use",
    "python_free": "Python free (pymalloc)",
    "native_free": "native free (C allocator)",
    "other": "code, libraries, files",
}
#: Bottom to top: what is in use, then what is kept free, then the rest.
ORDER: Final = ("python_objects", "native_in_use", "python_free", "native_free", "other")
FILL: Final = {
    "python_objects": "#1f77b4",
    "native_in_use": "#ff7f0e",
    "python_free": "#aec7e8",
    "native_free": "#ffbb78",
    "other": "#d9d9d9",
}
MIB: Final = float(1 << 20)


def breakdown_plot(samples: Samples, result: Mapping[str, Any]) -> str | None:
    """The breakdown at each reading of the worker process (one process: pool and queue runs
    read each of theirs, and their stacks would not add up); None under two readings."""
    assert set(ORDER) == set(BREAKDOWN_PARTS)
    if result.get("workers") or "queue" in result.get("pool", {}):
        return None
    column = samples.gauges.get("mem_rss_bytes")
    if column is None:
        return None
    jobs, rss = present(column)
    if len(jobs) < 2:
        return None
    layers = []
    for part in ORDER:
        values = samples.gauges.get(f"mem_{part}_bytes")
        if values is None:
            return None
        layers.append([(values[job] or 0) / MIB for job in jobs])
    figure = new_figure(3.0)
    axes = figure.add_subplot()
    xs = list(jobs)
    axes.stackplot(xs, layers, labels=[LABELS[p] for p in ORDER], colors=[FILL[p] for p in ORDER])
    axes.plot(xs, [value / MIB for value in rss], "k--", marker=".", label="RSS")
    axes.set_xlabel("job index (readings after full collections and at checkpoints)")
    axes.set_ylabel("MiB")
    axes.set_ylim(bottom=0)
    axes.set_title("Where resident memory goes")
    legend_beside(figure, fontsize="small")
    return data_uri(figure)
