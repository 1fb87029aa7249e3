"""The cadences probes are read on: a 1-2-5 ladder of every-nth-job, and how one shared
budget per job is spent on it (after the first jobs, ``execute.JobExecutor``) or a probe
whose reads grew dearer is moved up it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from worker_soak.worker.probes import Probe

#: Every how many jobs a probe may be read: 1-2-5 steps, so checkpoints at 10, 100, ...
#: get a fresh reading whatever the cadence.
CADENCES: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)


def allot(probes: Sequence[Probe], costs_ns: Sequence[int], budget_ns: int) -> list[int]:
    """Cadences that keep all ``probes`` together within ``budget_ns`` per job, each read
    costing what ``costs_ns`` says (measured right after real jobs, where a cold cache makes
    a probe 3-10 times dearer than when calibrated). Each probe first gets an equal share;
    what the dear ones leave goes, in order, to the ones listed first. A cadence never grows
    past the one the probe has: the calibrated per-probe floor stays."""
    share = budget_ns // max(1, len(probes))
    chosen = [
        min(probe.every, next((e for e in CADENCES if cost <= share * e), CADENCES[-1]))
        for probe, cost in zip(probes, costs_ns, strict=True)
    ]
    spent = sum(cost / every for cost, every in zip(costs_ns, chosen, strict=True))
    for number, cost in enumerate(costs_ns):
        for every in CADENCES:
            if every >= chosen[number]:
                break
            extra = cost / every - cost / chosen[number]
            if spent + extra <= budget_ns:
                spent += extra
                chosen[number] = every
                break
    return chosen


def lengthened(every: int, cost_ns: int, allowance_ns: int) -> int:
    """The shortest cadence on the ladder, no shorter than ``every``, at which a read of
    ``cost_ns`` costs at most ``allowance_ns`` per job."""
    return next((e for e in CADENCES if e >= every and cost_ns <= allowance_ns * e), CADENCES[-1])


def longest_for(span: int, reads: int) -> int:
    """The longest cadence on the ladder that reads a probe at least ``reads`` times over
    ``span`` jobs (every job where the span is shorter than ``reads``)."""
    return max((e for e in CADENCES if e * reads <= span), default=1)
