"""The report's first plot: the heap the memory verdict judged, as growth since warm-up.

Drawn against the whole run's RSS (tens of MiB, lifted at the end by the memray window) a
leak of 262 B/job — 240 KiB over the run — is a flat line under a "fail" card. Here the
scale is the judged signal's own: kibibytes grown since warm-up, the jobs the memray window
traced left out, the fitted growth with its interval, and the budget as a line to compare:
a leak rises above the budget's line, a clean worker stays on or under it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from worker_soak.analysis.heap_floor import heap_points
from worker_soak.analysis.series import gauge_points
from worker_soak.report.figures import data_uri, legend_beside, new_figure
from worker_soak.report.plots import COLORS, thin
from worker_soak.samples import Samples

KIB = 1024.0
MIB = 1024.0 * KIB


def per_job(size: float) -> str:
    """A rate in bytes per job, in the unit a person reads: 113 B/job, 165 KiB/job."""
    for unit, scale in (("MiB", MIB), ("KiB", KIB)):
        if abs(size) >= scale:
            return f"{size / scale:,.3g} {unit}/job"
    return f"{size:,.3g} B/job"


def growth_plot(samples: Samples, result: Mapping[str, Any]) -> str | None:
    """The judged heap's growth since warm-up, in KiB; None when the verdict judged no
    single heap (per worker lifetime, or no heap probe)."""
    memory = result.get("verdicts", {}).get("memory", {})
    block_bytes = memory.get("block_bytes")
    if block_bytes is None or "lifetimes" in memory:
        return None
    judged = samples.untraced() if len(samples) else samples
    xs, ys = heap_points(judged, float(block_bytes), collected=False)
    warmup = int(memory.get("warmup_jobs") or 0)
    after = [(x, y) for x, y in zip(xs, ys, strict=True) if x >= warmup]
    if len(after) < 2:
        return None
    start = statistics.median(y for _, y in after[: max(1, len(after) // 10)])
    figure = new_figure(3.2)
    axes = figure.add_subplot()
    grown = max(abs(y - start) for _, y in after)
    unit, scale = ("MiB", MIB) if grown >= 10 * MIB else ("KiB", KIB)
    thin_x, thin_y = thin([x for x, _ in after], [(y - start) / scale for _, y in after])
    axes.plot(thin_x, thin_y, lw=0.9, color="#6a3d9a", label="heap: native + Python blocks")
    _collected(axes, judged, float(block_bytes), warmup, scale)
    first, last = float(after[0][0]), float(after[-1][0])
    jobs = last - first
    budget = memory.get("budget_bytes_per_job")
    top = max(thin_y)
    bottom = min([0.0, *thin_y])
    if budget is not None:
        axes.plot(
            [first, last],
            [0.0, budget * jobs / scale],
            ":",
            color="#2e7d32",
            lw=1.4,
            label=f"budget {per_job(budget)}",
        )
        top = max(top, 2 * budget * jobs / scale)  # a clean run's noise is read against it
    # The line is drawn in the plotted signal's units (a block as ``block_bytes``); the
    # label says the rate reported, with blocks at the size memray measured.
    shown = memory.get("bytes_per_job")
    rate = memory.get("signal_bytes_per_job", shown)
    interval = memory.get("bytes_per_job_interval")
    rounds = memory.get("rounds") or {}
    filling = [c for c in rounds.get("caches", ()) if c.get("bounded")]
    if rounds.get("explained_by_bounded_caches") and filling:
        # The growth is the caches filling: the verdict judged the rest (the open circles).
        rate = None
        said = "; ".join(f"{c['name']} {c['entries']:,}/{c['capacity']:,}" for c in filling[:3])
        axes.annotate(
            f"bounded caches filling: {said}",
            xy=(0.02, 0.95),
            xycoords="axes fraction",
            va="top",
            fontsize=8,
        )
    if rate is not None:
        axes.plot(
            [first, last],
            [0.0, rate * jobs / scale],
            "--",
            color="black",
            lw=1,
            label=f"fitted {per_job(shown)}",
        )
        top = max(top, rate * jobs / scale)
        if interval:
            axes.fill_between(
                [first, last],
                [0.0, interval[0] * jobs / scale],
                [0.0, interval[1] * jobs / scale],
                color="black",
                alpha=0.08,
                lw=0,
            )
    onset = memory.get("growth_started_at_job")
    if onset is not None and onset >= first:
        axes.axvline(onset, color="black", lw=1.2, label=f"growing from job {onset:,}")
    span = top - bottom or 1.0
    axes.set_ylim(bottom - 0.05 * span, top + 0.1 * span)
    axes.set_xlim(0, last * 1.02)
    axes.axvspan(0, first, color=COLORS["warm"], alpha=0.5, lw=0, label="warm-up")
    axes.set_xlabel("job (the memray window's jobs left out, as the verdict does)")
    axes.set_ylabel(f"{unit} since warm-up")
    verdict = memory.get("verdict", "")
    axes.set_title(f"Memory judged: {verdict} — growth since warm-up")
    legend_beside(figure)
    return data_uri(figure)


def _collected(axes: Any, judged: Samples, block_bytes: float, warmup: int, scale: float) -> None:
    """The heap after each full collection (the exact rounds), from its first after
    warm-up."""

    def at(field: str) -> dict[float, float]:
        return dict(zip(*gauge_points(judged, field), strict=True))

    blocks, native = at("py_blocks_collected"), at("native_heap_collected_bytes")
    cache_blocks, cache_native = at("cache_bounded_blocks"), at("cache_bounded_native_bytes")
    jobs = [x for x in blocks if x >= warmup]
    if len(jobs) < 2:
        return
    heap = [native.get(x, 0.0) + block_bytes * blocks[x] for x in jobs]
    axes.plot(
        jobs,
        [(y - heap[0]) / scale for y in heap],
        "o",
        ms=4,
        color="black",
        label="after full collections",
    )
    if any(cache_blocks.get(x) or cache_native.get(x) for x in jobs):
        rest = [
            y - cache_native.get(x, 0.0) - block_bytes * cache_blocks.get(x, 0.0)
            for x, y in zip(jobs, heap, strict=True)
        ]
        axes.plot(
            jobs,
            [(y - rest[0]) / scale for y in rest],
            "o",
            ms=5,
            mfc="none",
            color="#2e7d32",
            label="... without the bounded caches",
        )
