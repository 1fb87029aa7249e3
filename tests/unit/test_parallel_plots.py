"""The report's plots drawn on two cores: the same plots as drawn in one process, and drawn
here after all when the forked copy fails or cannot be used."""

from __future__ import annotations

import os
import threading

from worker_soak.report.parallel import draw_all


def _plots(parent: int, calls: list[str]) -> dict[str, object]:
    def plot(name: str) -> object:
        def draw() -> str | None:
            calls.append(f"{name}@{'here' if os.getpid() == parent else 'copy'}")
            return None if name == "none" else f"data:{name}:{len(name) * 7}"

        return draw

    return {name: plot(name) for name in ("a", "b", "none", "d", "e")}


def test_two_cores_draw_what_one_does() -> None:
    """Every plot once, by name and in order; this process draws only its half."""
    calls: list[str] = []
    drawn = draw_all(_plots(os.getpid(), calls))  # type: ignore[arg-type]
    assert drawn == {
        "a": "data:a:7",
        "b": "data:b:7",
        "none": None,
        "d": "data:d:7",
        "e": "data:e:7",
    }
    assert list(drawn) == ["a", "b", "none", "d", "e"]
    here = sorted(c for c in calls if c.endswith("@here"))
    if len(os.sched_getaffinity(0)) > 1:
        assert here == ["a@here", "e@here", "none@here"]


def test_a_failing_copy_leaves_its_plots_to_this_process() -> None:
    """The copy raises in its first plot: this process draws all, the same."""
    parent = os.getpid()

    def fails_in_copy() -> str:
        if os.getpid() != parent:
            raise RuntimeError("only in the copy")
        return "data:b"

    plots = {"a": lambda: "data:a", "b": fails_in_copy, "c": lambda: "data:c"}
    assert draw_all(plots) == {"a": "data:a", "b": "data:b", "c": "data:c"}


def test_no_fork_beside_another_thread() -> None:
    """Another Python thread runs: everything is drawn here."""
    calls: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        draw_all(_plots(os.getpid(), calls))  # type: ignore[arg-type]
    finally:
        stop.set()
        thread.join()
    assert all(call.endswith("@here") for call in calls)
