"""The harness passes its own check: its memory stays flat over 10,000 jobs."""

from __future__ import annotations

import pytest

from tests.conftest import SoakCli


def _last(samples: list[dict[str, int]], field: str, before: int) -> int:
    return next(s[field] for s in reversed(samples[:before]) if field in s)


def _first(samples: list[dict[str, int]], field: str, at: int) -> int:
    """The first reading at or after job ``at`` (the state snapshot taken after job 1,000
    keeps ~120 blocks until the next: a step at that job, not growth per job)."""
    return next(s[field] for s in samples[at:] if field in s)


@pytest.mark.parametrize("runner", ["process", "inline"])
def test_no_op_worker_heap_is_flat_from_job_1000_to_10000(soak_cli: SoakCli, runner: str) -> None:
    """With a worker that keeps nothing, any growth is the harness's: under 0.01 block/job.

    A harness keeping one object per job would grow by ~9,000 blocks here; the bound allows
    90, for interned strings and allocator noise.
    """
    run = soak_cli("--jobs", "10000", "--runner", runner)
    assert run.returncode == 0, run.stderr
    samples = run.samples()
    end = run.result()["jobs_judged"]  # the memray window at the end is not the harness's
    assert end >= 9_000
    blocks_growth = _last(samples, "py_blocks", end) - _first(samples, "py_blocks", 1_000)
    assert blocks_growth < 90, blocks_growth
    if any("native_heap_bytes" in s for s in samples):
        native_growth = _last(samples, "native_heap_bytes", end) - _first(
            samples, "native_heap_bytes", 1_000
        )
        assert native_growth < 64 * 1024, native_growth
    assert run.result()["verdicts"]["memory"]["verdict"] == "pass"
