"""Every workload's reference worker soaked through the pytest plugin, as a user's suite
would: each must pass. The suite runs 1,000 jobs each (at 300 the import worker's SQLite WAL
is still growing and its jobs really do get ~12 % slower until the first checkpoint);
``--soak-jobs 10000`` makes them nightly soaks."""

from __future__ import annotations

import pytest

from worker_soak.pytest_plugin import Soak
from worker_soak.workloads import available

REFERENCE = [pytest.param(w.name, w.reference_worker, id=w.name) for w in available()]


@pytest.mark.soak(jobs=1000)
@pytest.mark.parametrize(("workload", "worker"), REFERENCE)
def test_reference_worker_passes(soak: Soak, workload: str, worker: str) -> None:
    """A reference worker completes every job and fails no verdict."""
    result = soak(worker, workload=workload)
    assert result.completed
    assert result.data["jobs_failed"] == 0
