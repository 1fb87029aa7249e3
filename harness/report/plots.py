"""The report's plots: matplotlib (Agg, no display), returned as PNG data URIs so the page
needs no other file. Long series are thinned for drawing only (every point stays in
samples.jsonl); the figures and their fits come from the same data the verdicts used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from worker_soak.analysis.checkpoints import window_size
from worker_soak.analysis.heap_floor import growth_onset
from worker_soak.analysis.lifetimes import UNGRACEFUL
from worker_soak.analysis.series import gauge_points
from worker_soak.analysis.trend import block_median
from worker_soak.report.figures import data_uri, legend_beside, log_scale, new_figure
from worker_soak.samples import Samples

if TYPE_CHECKING:
    import numpy.typing as npt

#: A series of numbers: a sequence, or numpy's array of them.
Values: TypeAlias = "Sequence[float] | npt.NDArray[Any]"

MAX_POINTS: Final = 4_000
COLORS: Final = {
    "py": "#1f77b4",
    "native": "#ff7f0e",
    "rss": "#2ca02c",
    "p50": "#1f77b4",
    "p95": "#ff7f0e",
    "p99": "#d62728",
    "crash": "#d62728",
    "recycle": "#9467bd",
    "warm": "#dddddd",
    "traced": "#f3e5f5",
}


def thin(xs: Sequence[float], ys: Values) -> tuple[list[float], list[float]]:
    step = max(1, len(xs) // MAX_POINTS)
    return list(xs[::step]), list(ys[::step])


def _mark_run(axes: Any, result: Mapping[str, Any]) -> None:
    """Warm-up, the memray window and crashes, on any plot against job index."""
    memory = result.get("verdicts", {}).get("memory", {})
    # Judged per worker lifetime, the warm-up counts that worker's own jobs: not this axis.
    warmup = None if "lifetimes" in memory else memory.get("warmup_jobs")
    if warmup:
        axes.axvspan(0, warmup, color=COLORS["warm"], alpha=0.5, lw=0, label="warm-up")
    attribution = result.get("attribution", {})
    traced_from = attribution.get("traced_from_job")
    # A pool's window counts one worker's own jobs: it has no span on the run's job axis.
    if traced_from is not None and "traced_pid" not in attribution:
        axes.axvspan(
            traced_from,
            result["jobs_completed"],
            color=COLORS["traced"],
            lw=0,
            label="memray window",
        )
    for crash in result.get("crashes", []):
        if crash.get("phase"):  # in the harness's own probe jobs, not at a run's job
            continue
        axes.axvline(
            crash["job_index"], color=COLORS["crash"], lw=1.5, label=f"crash ({crash['reason']})"
        )
    for number, recycle in enumerate(_recycles_at(result)):
        axes.axvline(
            recycle[0],
            color=COLORS["crash"] if recycle[1] in UNGRACEFUL else COLORS["recycle"],
            lw=1,
            ls="--",
            label="recycle" if number == 0 else None,
        )


def _recycles_at(result: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(job index, reason) of the pool's recycles that happened at a known job."""
    return [
        (int(r["job_index"]), str(r["reason"]))
        for r in result.get("recycles", [])
        if r.get("job_index") is not None
    ]


MEMORY_LINES: Final = (
    ("native_heap_bytes", "native heap (MiB)", "native", 2**20, "axes"),
    ("rss_bytes", "RSS (MiB)", "rss", 2**20, "axes"),
    ("py_blocks", "Python heap (blocks, right)", "py", 1, "twin"),
)
#: Worker processes named in the legend; the rest are drawn unlabelled.
LABELLED_PROCESSES: Final = 8


def per_process_lines(
    axes: Any,
    twin: Any,
    samples: Samples,
    keys: Sequence[tuple[int | None, int] | None],
    processes: Sequence[tuple[int | None, int]],
) -> None:
    """RSS (solid), native heap (dashed) and Python blocks (dotted, right axis) of each
    worker process in a colour of its own: a line jumping between processes is not one a
    reader can follow."""
    from matplotlib.lines import Line2D

    axes.plot([], [], " ", label=f"{len(processes)} worker processes:")
    colour = {key: f"C{i % 10}" for i, key in enumerate(processes)}
    nodes = {node for node, _ in processes}
    for field, _, _, scale, where in MEMORY_LINES:
        style = {"rss_bytes": "-", "native_heap_bytes": "--", "py_blocks": ":"}[field]
        target = twin if where == "twin" else axes
        xs, ys = gauge_points(samples, field)
        by_process: dict[tuple[int | None, int], tuple[list[float], list[float]]] = {}
        for x, y in zip(xs, ys, strict=True):
            key = keys[int(x)]
            if key is not None:
                points = by_process.setdefault(key, ([], []))
                points[0].append(x)
                points[1].append(y / scale)
        for number, key in enumerate(processes):
            if key not in by_process:
                continue
            px, py = thin(*by_process[key])
            named = field == "rss_bytes" and number < LABELLED_PROCESSES
            node = f" on node {key[0]}" if len(nodes) > 1 else ""
            label = f"pid {key[1]}{node}" if named else None
            target.plot(px, py, style, lw=0.8, color=colour[key], label=label)
    for field, style in (("RSS (MiB)", "-"), ("native heap (MiB)", "--"), ("blocks, right", ":")):
        axes.add_line(Line2D([], [], ls=style, color="grey", label=field))


def memory_plot(samples: Samples, result: Mapping[str, Any]) -> str:
    """Python heap (blocks), native heap and RSS over the whole run, the memray window
    included (the judged growth, to scale, is ``growth_plot``'s)."""
    figure = new_figure(3.6)
    axes = figure.add_subplot()
    twin = axes.twinx()
    _mark_run(axes, result)
    keys = samples.process_keys()
    processes = list(dict.fromkeys(key for key in keys or () if key is not None))
    if len(processes) > 1:  # a pool or a queue: one line per worker process
        per_process_lines(axes, twin, samples, keys or [], processes)
    for field, label, key, scale, where in () if len(processes) > 1 else MEMORY_LINES:
        xs, ys = gauge_points(samples, field)
        if xs:
            xs, ys = thin(xs, [y / scale for y in ys])
            target = twin if where == "twin" else axes
            target.plot(xs, ys, lw=0.8, color=COLORS[key], label=label)
    collected_x, collected_y = gauge_points(samples, "native_heap_collected_bytes")
    if collected_x:
        axes.plot(
            collected_x,
            [y / 2**20 for y in collected_y],
            "o",
            ms=4,
            color="black",
            label="native heap after full GC",
        )
    per_lifetime = "lifetimes" in result.get("verdicts", {}).get("memory", {})
    onset = result.get("verdicts", {}).get("memory", {}).get("growth_started_at_job")
    if onset is not None and not per_lifetime:
        axes.axvline(onset, color="black", lw=1.2, label=f"growing from job {onset:,}")
    axes.set_xlabel("job")
    axes.set_ylabel("MiB")
    twin.set_ylabel("blocks")
    handles = axes.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    legend_beside(figure, handles[0] + more[0], handles[1] + more[1], twin=True)
    axes.set_title("Memory over the whole run")
    return data_uri(figure)


def _rolling(values: Values, window: int, q: float) -> list[float]:
    """Quantile ``q`` of each ``window`` values, stepping a quarter window (the order
    statistic at ``int(q * window)``): one partition per window, in columns."""
    import numpy as np

    step = max(1, window // 4)
    if len(values) < window:
        return []
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(values), window)[::step]
    rank = min(window - 1, int(q * window))
    return [float(v) for v in np.partition(windows, rank, axis=1)[:, rank]]


def latency_plot(samples: Samples, result: Mapping[str, Any]) -> str:
    """Per-job latency with rolling p50/p95/p99, and where the latency verdict saw it turn."""
    figure = new_figure()
    axes = figure.add_subplot()
    _mark_run(axes, result)
    import numpy as np

    ms = np.asarray(samples.wall_ns, dtype=np.float64) / 1e6
    xs, ys = thin(range(len(ms)), ms)
    axes.plot(xs, ys, ".", ms=1.5, color="#999999", label="job")
    window = max(10, len(ms) // 50)
    step = max(1, window // 4)
    for q, key in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        rolled = _rolling(ms, window, q)
        axes.plot(
            [window + i * step for i in range(len(rolled))],
            rolled,
            lw=1.2,
            color=COLORS[key],
            label=f"rolling {key}",
        )
    latency = result.get("verdicts", {}).get("latency", {})
    if latency.get("verdict") == "fail" and len(ms) > 20:
        points = (list(map(float, range(len(ms)))), ms.tolist())
        onset = growth_onset(points, 0.0, float(len(ms)), reduce=block_median)
        axes.axvline(onset, color="black", lw=1.2, label=f"slower from job {onset:,}")
    if latency.get("verdict") == "fail" and latency.get("start_ms") is not None:
        axes.axhline(latency["start_ms"], color="black", lw=0.8, ls=":", label="start level")
        axes.axhline(latency["end_ms"], color="black", lw=0.8, ls="--", label="end level")
    log_scale(axes)
    axes.set_xlabel("job")
    axes.set_ylabel("ms (log)")
    axes.set_title("Latency per job")
    axes.legend(loc="upper left", fontsize=7, ncols=3)
    return data_uri(figure)


def throughput_plot(samples: Samples, result: Mapping[str, Any] | None = None) -> str:
    """Jobs per second over the run's wall time; the pool's recycles as dashed lines, where
    the throughput dips."""
    figure = new_figure(2.6)
    axes = figure.add_subplot()
    if samples.end_ns:
        import numpy as np

        first_end = min(samples.end_ns)
        seconds = (np.asarray(samples.end_ns, dtype=np.int64) - first_end) / 1e9
        buckets = max(1, min(100, len(seconds) // 20))
        span = (float(seconds.max()) or 1e-9) / buckets
        slots = np.minimum(buckets - 1, (seconds / span).astype(np.int64))
        counts = np.bincount(slots, minlength=buckets).tolist()
        axes.plot(
            [(i + 0.5) * span for i in range(buckets)],
            [c / span for c in counts],
            color=COLORS["p50"],
        )
        for number, (job_index, reason) in enumerate(_recycles_at(result or {})):
            if job_index < len(samples):
                axes.axvline(
                    (samples.end_ns[job_index] - first_end) / 1e9,
                    color=COLORS["crash"] if reason in UNGRACEFUL else COLORS["recycle"],
                    lw=1,
                    ls="--",
                    label=f"recycle ({reason})" if number == 0 else None,
                )
        if _recycles_at(result or {}):
            axes.legend(loc="lower left", fontsize=7)
    axes.set_xlabel("seconds into the run")
    axes.set_ylabel("jobs/s")
    axes.set_title("Throughput")
    return data_uri(figure)


def checkpoint_distributions_plot(
    samples: Samples, checkpoints: Sequence[Mapping[str, Any]]
) -> str:
    """Latency distributions of the windows behind each checkpoint, side by side."""
    figure = new_figure(2.8)
    axes = figure.add_subplot()
    data, labels = [], []
    for point in checkpoints:
        jobs = point["jobs"]
        first = jobs - window_size(jobs)
        data.append([ns / 1e6 for ns in samples.wall_ns[first:jobs]])
        labels.append(f"{jobs:,}")
    if data:
        axes.boxplot(data, tick_labels=labels, showfliers=False)
    log_scale(axes)
    axes.set_xlabel("checkpoint (jobs done)")
    axes.set_ylabel("ms (log)")
    axes.set_title("Latency at the checkpoints")
    return data_uri(figure)


def aged_vs_fresh_plot(comparison: Mapping[str, Any]) -> str | None:
    """Each probe job's time on the aged worker against a fresh one (and the control)."""
    aged, fresh = comparison.get("aged_ns"), comparison.get("fresh_ns")
    if not aged or not fresh:
        return None
    control = comparison.get("control_ns") or []
    figure = new_figure(3.0)
    axes = figure.add_subplot()
    axes.plot(
        [f / 1e6 for f in fresh],
        [a / 1e6 for a in aged],
        "o",
        ms=4,
        color=COLORS["p99"],
        label="aged vs fresh",
    )
    if control:
        axes.plot(
            [f / 1e6 for f in fresh],
            [c / 1e6 for c in control],
            "s",
            ms=3,
            color="#888888",
            label="fresh, twice as warm, vs fresh (control)",
        )
    top = max(*aged, *fresh, *control) / 1e6
    axes.plot([0, top], [0, top], color="black", lw=0.8, label="equal")
    axes.set_xlabel("fresh worker, ms")
    axes.set_ylabel("ms")
    axes.set_title(f"Aged against fresh: {comparison.get('ratio', float('nan')):.2f}x")
    axes.legend(fontsize=7)
    return data_uri(figure)


def resources_plot(samples: Samples, result: Mapping[str, Any]) -> str | None:
    """Open files, threads and child processes over jobs."""
    series = [(field, gauge_points(samples, field)) for field in ("fds", "threads", "children")]
    series = [(field, points) for field, points in series if points[0]]
    if not series:
        return None
    figure = new_figure(2.6)
    axes = figure.add_subplot()
    _mark_run(axes, result)
    for field, (xs, ys) in series:
        axes.step(xs, ys, where="post", label=field)
    axes.set_xlabel("job")
    axes.set_title("Open files, threads, child processes")
    axes.legend(fontsize=7)
    return data_uri(figure)
