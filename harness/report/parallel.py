"""Draw the report's plots on two cores: a forked copy of this process draws every other
plot while this one draws the rest (matplotlib draws one figure at a time, ~0.1 s each).

The copy (``worker_soak.forked``) shares everything already read (samples, result,
matplotlib) and sends back only the finished data URIs. Where it cannot fork safely or the
copy fails, this process draws every plot itself: the report is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final

from worker_soak.forked import beside

Plot = Callable[[], "str | None"]
#: Longest wait for the copy's plots (each takes ~0.1 s) before drawing them here.
COPY_TIMEOUT_S: Final = 60.0


def draw_all(plots: Mapping[str, Plot]) -> dict[str, str | None]:
    """Every plot's data URI (or None), by name, in the order given."""
    names = list(plots)
    if len(names) < 2:
        return {name: plots[name]() for name in names}
    theirs = names[1::2]
    drawn, sent = beside(
        lambda: json.dumps({name: plots[name]() for name in theirs}).encode(),
        lambda: {name: plots[name]() for name in names[0::2]},
        COPY_TIMEOUT_S,
    )
    try:
        received = json.loads(sent) if sent is not None else None
    except ValueError:
        received = None
    if not isinstance(received, dict) or set(received) != set(theirs):
        received = {name: plots[name]() for name in theirs}
    drawn.update(received)
    return {name: drawn[name] for name in names}
