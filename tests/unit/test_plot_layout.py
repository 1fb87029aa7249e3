"""The report's plots at fixed margins: a legend beside the axes is never cut or drawn over
them, whatever its labels; a log axis is labelled in plain numbers."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from worker_soak.report.figures import legend_beside, log_scale, new_figure

LABELS = st.lists(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=45).filter(
        lambda text: not text.startswith("_") and "$" not in text
    ),
    min_size=1,
    max_size=12,
)


def _drawn(figure: Any) -> Any:
    figure.canvas.draw()
    return figure.canvas.get_renderer()


@settings(max_examples=15, deadline=None)
@given(labels=LABELS, twin=st.booleans())
def test_a_legend_beside_fits_in_the_figure_right_of_the_axes(
    labels: list[str], twin: bool
) -> None:
    figure = new_figure(3.0)
    axes = figure.add_subplot()
    if twin:
        axes.twinx().set_ylabel("blocks")
    for number, label in enumerate(labels):
        axes.plot([0, 1], [number, number + 1], label=label)
    legend_beside(figure, twin=twin)
    renderer = _drawn(figure)
    box = figure.legends[0].get_window_extent(renderer)
    page = figure.bbox
    assert page.x0 <= box.x0
    assert box.x1 <= page.x1 + 0.5
    right_of_axes = axes.get_window_extent(renderer).x1
    if twin:  # the right-hand axis's tick labels sit between the axes and the legend
        right_of_axes = max(right_of_axes, figure.axes[1].get_tightbbox(renderer).x1)
    assert box.x0 >= right_of_axes


def test_the_axes_take_the_width_no_legend_needs() -> None:
    plain, legended = new_figure(3.0), new_figure(3.0)
    for figure in (plain, legended):
        figure.add_subplot().plot([0, 1], [0, 1], label="a line with a long label to show")
    legend_beside(legended)
    width = [f.axes[0].get_window_extent(_drawn(f)).width for f in (plain, legended)]
    assert width[1] < width[0] < plain.bbox.width


def test_a_log_axis_reads_in_plain_numbers_without_mathtext() -> None:
    figure = new_figure(3.0)
    axes = figure.add_subplot()
    axes.plot([0, 1, 2], [0.004, 0.5, 20])
    log_scale(axes)
    _drawn(figure)
    shown = [t.get_text() for t in axes.get_yticklabels() if t.get_text()]
    assert shown
    assert all("$" not in text and "^" not in text for text in shown)
    assert {"0.01", "0.1", "1", "10"} <= set(shown)
    narrow = new_figure(3.0).add_subplot()
    narrow.plot([0, 1], [1.8, 2.7])
    log_scale(narrow)
    _drawn(narrow.figure)
    minor = [t.get_text() for t in narrow.get_yticklabels(minor=True) if t.get_text()]
    assert "2" in minor  # under one decade: the minor ticks are labelled, plainly
