"""Every workload's jobs are deterministic, JSON, and the same whatever the run's length."""

from __future__ import annotations

import json

import pytest

from worker_soak.workloads import available, get_workload
from worker_soak.workloads.base import PROFILES, WorkloadOptionError

NAMES = [w.name for w in available()]


def _encoded(name: str, count: int, seed: int, profile: str = "small") -> list[bytes]:
    jobs = get_workload(name).jobs(count, seed, {"profile": profile})
    return [json.dumps(job, sort_keys=True, ensure_ascii=False).encode() for job in jobs]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("profile", PROFILES)
def test_same_seed_same_jobs_byte_for_byte(name: str, profile: str) -> None:
    """Two generations with one seed are identical bytes."""
    assert _encoded(name, 30, 7, profile) == _encoded(name, 30, 7, profile)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "counter"])
def test_other_seed_other_jobs(name: str) -> None:
    """A different seed gives different jobs."""
    assert _encoded(name, 10, 1) != _encoded(name, 10, 2)


@pytest.mark.parametrize("name", NAMES)
def test_job_i_does_not_depend_on_how_many_are_generated(name: str) -> None:
    """The first 10 of 50 jobs are the 10 jobs of a 10-job run."""
    assert _encoded(name, 50, 3)[:10] == _encoded(name, 10, 3)


def test_counter_is_exactly_id_i() -> None:
    """counter: job i is {"id": i}, whatever the seed."""
    assert list(get_workload("counter").jobs(4, 99)) == [{"id": i} for i in range(4)]


def test_profiles_scale_the_payload() -> None:
    """A large pdf job carries many more line items than a small one."""
    pdf = get_workload("pdf")
    small = max(len(job["lines"]) for job in pdf.jobs(20, 0, {"profile": "small"}))
    large = min(len(job["lines"]) for job in pdf.jobs(20, 0, {"profile": "large"}))
    assert large > 10 * small


def test_unknown_option_and_profile_are_refused() -> None:
    """Options a workload does not know, and unknown profiles, are errors that say so."""
    with pytest.raises(WorkloadOptionError, match="has no option smtp; it knows: db, profile"):
        list(get_workload("import").jobs(1, 0, {"smtp": "x:1"}))
    with pytest.raises(WorkloadOptionError, match="'huge' is not one of small, medium, large"):
        list(get_workload("pdf").jobs(1, 0, {"profile": "huge"}))
