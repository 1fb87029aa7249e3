"""Every workload's reference worker soaked through the pytest plugin, as a user's suite
would: each must pass. The suite runs them short (300 jobs: crashes, failed jobs, resources
and isolation are judged; memory needs 500+); ``--soak-jobs 10000`` makes them nightly soaks."""

from __future__ import annotations

import pytest

from harness.pytest_plugin import Soak
from workloads import available

REFERENCE = [pytest.param(w.name, w.reference_worker, id=w.name) for w in available()]


@pytest.mark.soak(jobs=300)
@pytest.mark.parametrize(("workload", "worker"), REFERENCE)
def test_reference_worker_passes(soak: Soak, workload: str, worker: str) -> None:
    """A reference worker completes every job and fails no verdict."""
    result = soak(worker, workload=workload)
    assert result.completed
    assert result.data["jobs_failed"] == 0
