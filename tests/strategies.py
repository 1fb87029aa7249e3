"""Hypothesis strategies for the harness's own values (samples, series); test-only."""

from __future__ import annotations

from hypothesis import strategies as st

from worker_soak.samples import JobError, Samples

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
jobs = st.dictionaries(st.text(max_size=20), json_values, max_size=8)


@st.composite
def samples(draw: st.DrawFn, min_jobs: int = 1, max_jobs: int = 300) -> Samples:
    """Plausible sample columns: positive latencies, increasing end times, some gauges."""
    count = draw(st.integers(min_jobs, max_jobs))
    wall = draw(st.lists(st.integers(1, 10**9), min_size=count, max_size=count))
    gaps = draw(st.lists(st.integers(0, 10**6), min_size=count, max_size=count))
    end: list[int] = []
    now = 0
    for latency, gap in zip(wall, gaps, strict=True):
        now += latency + gap
        end.append(now)
    every = draw(st.sampled_from([1, 2, 10]))
    blocks = draw(st.lists(st.integers(0, 10**7), min_size=count, max_size=count))
    column = tuple(b if i % every == 0 else None for i, b in enumerate(blocks))
    return Samples(
        wall_ns=tuple(wall),
        cpu_ns=tuple(wall),
        end_ns=tuple(end),
        gauges={"py_blocks": column},
        errors=tuple[JobError, ...](),
    )
