"""The report's figures: matplotlib (Agg, no display) at fixed margins, a legend beside the
axes, log axes in plain numbers, and each figure as a PNG data URI so the page needs no
other file."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any, Final

WIDTH: Final = 9.0
#: The room around a plot's axes, in inches: the y tick labels and label (left), the x tick
#: labels and label (bottom), the title (top). Fixed rather than fitted: matplotlib's
#: constrained layout measured every tick label of every figure twice, ~40 % of drawing a
#: report's 8 plots (a 300-job run, one core: 1.24-1.46 s fitted, 0.80-0.92 s fixed).
LEFT_IN: Final = 0.85
RIGHT_IN: Final = 0.2
BOTTOM_IN: Final = 0.5
TOP_IN: Final = 0.3
#: Right of the axes for a right-hand axis's tick labels and label (``twinx``).
TWIN_IN: Final = 0.8
#: Between the axes (or the right-hand axis's label) and a legend beside them.
GAP_IN: Final = 0.1


def new_figure(height: float = 3.2, fitted: bool = False) -> Any:
    """A figure ``WIDTH`` wide whose axes sit at the fixed margins above; ``fitted``:
    matplotlib's constrained layout instead (several axes side by side; drawn rarely)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if fitted:
        return Figure(figsize=(WIDTH, height), dpi=90, layout="constrained")
    figure = Figure(figsize=(WIDTH, height), dpi=90)
    FigureCanvasAgg(figure)  # a renderer to measure a legend with, before drawing
    _margins(figure, RIGHT_IN)
    return figure


def _margins(figure: Any, right_in: float) -> None:
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=LEFT_IN / width,
        right=1 - right_in / width,
        bottom=BOTTOM_IN / height,
        top=1 - TOP_IN / height,
    )


def legend_beside(
    figure: Any,
    handles: Sequence[Any] | None = None,
    labels: Sequence[str] | None = None,
    twin: bool = False,
    fontsize: float | str = 7,
) -> None:
    """The figure's legend right of its axes (``twin``: right of a right-hand axis too); the
    axes narrow by the legend's measured width, so no label is cut however long."""
    if handles is None or labels is None:
        legend = figure.legend(loc="upper left", fontsize=fontsize)
    else:
        legend = figure.legend(handles, labels, loc="upper left", fontsize=fontsize)
    width, height = figure.get_size_inches()
    legend_in = legend.get_window_extent(figure.canvas.get_renderer()).width / figure.dpi
    _margins(figure, legend_in + GAP_IN + (TWIN_IN if twin else 0.0) + RIGHT_IN / 2)
    legend.set_bbox_to_anchor(
        (1 - (legend_in + RIGHT_IN / 2) / width, 1 - TOP_IN / height), figure.transFigure
    )


def log_scale(axes: Any) -> None:
    """A log y axis labelled in plain numbers (``0.5``, ``10``): matplotlib's default
    labels (``10^{-1}``) are typeset by its mathtext parser, whose first use in a process
    took ~0.2 s of the report here."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(Plain())
    axes.yaxis.set_minor_formatter(Plain(labelOnlyBase=False))


def data_uri(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
