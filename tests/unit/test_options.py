"""Soak options given as Python values: checked once, with one clear message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker_soak.errors import UsageError
from worker_soak.options import SoakOptions, policy, soak_options
from worker_soak.options.table import BY_NAME


def test_values_are_converted_as_a_user_writes_them() -> None:
    """Counts with separators, percentages, sizes per job or per run, flags as text."""
    options = soak_options(
        {"jobs": "10_000", "latency_tolerance": "20%", "max_growth": "64B/job", "light": "yes"},
        "test",
    )
    assert options == SoakOptions(
        jobs=10_000, latency_tolerance=0.2, max_growth=(64.0, None), light=True
    )
    assert soak_options({"max_growth": "48KiB"}, "t").max_growth == (None, 48 * 1024)
    assert soak_options({"max_growth": 1000}, "t").max_growth == (None, 1000.0)


def test_max_growth_sets_the_budget_per_job_or_over_the_run() -> None:
    """``max_growth='64B/job'`` sets the per-job budget; ``'48KiB'`` one over the run; the
    default is 4 B/job."""
    memory = policy(soak_options({"max_growth": "64B/job"}, "t")).memory
    assert (memory.budget(300), memory.max_growth_total) == (64.0, None)
    memory = policy(soak_options({"max_growth": "48KiB"}, "t")).memory
    assert memory.budget(1024) == 48.0
    assert policy(soak_options({}, "t")).memory.budget(300) == 4.0


def test_max_failed_jobs_takes_a_count_or_a_percentage() -> None:
    """``max_failed_jobs=3`` allows three failed jobs, ``'1%'`` one in a hundred; a word is
    refused with what was expected."""
    assert policy(soak_options({"max_failed_jobs": 3}, "t")).failed_jobs.allowed(1000) == 3
    assert policy(soak_options({"max_failed_jobs": "1%"}, "t")).failed_jobs.allowed(1000) == 10
    with pytest.raises(UsageError, match="percentage"):
        soak_options({"max_failed_jobs": "many"}, "t")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jobs", 0),
        ("jobs", True),
        ("jobs", 2.5),
        ("jobs", "ten"),
        ("runner", "thread"),
        ("profile", "huge"),
        ("significance", 0.5),
        ("latency_tolerance", "-5%"),
        ("job_timeout", 0),
        ("light", "maybe"),
        ("max_growth", "64B/day"),
        ("workload", 3),
    ],
)
def test_bad_values_name_the_option_the_value_and_what_is_expected(
    name: str, value: object
) -> None:
    """Every refusal says where, which option, the value given and what it must be."""
    with pytest.raises(UsageError) as caught:
        soak_options({name: value}, "soak() in test_x")
    assert str(caught.value) == (
        f"soak() in test_x: {name}={value!r} is not usable; expected {BY_NAME[name].expected}"
    )


def test_unknown_options_list_the_known_ones() -> None:
    """A misspelt option is named, with every option there is."""
    with pytest.raises(UsageError, match=r"unknown soak option 'job'; the options are: workload"):
        soak_options({"job": 10}, "t")


@given(st.integers(min_value=1, max_value=10**9))
def test_any_positive_count_is_accepted_as_int_or_text(jobs: int) -> None:
    """A job count is the same given as an int, as text, or with thousands separators."""
    assert soak_options({"jobs": jobs}, "t").jobs == jobs
    assert soak_options({"jobs": f"{jobs:,}"}, "t").jobs == jobs
