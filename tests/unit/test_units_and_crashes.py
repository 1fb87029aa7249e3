"""Sizes as people write them, and how a worker's end is named."""

from __future__ import annotations

import signal

import pytest

from worker_soak.model import Crash, RunOutcome
from worker_soak.runners import crashes
from worker_soak.units import parse_growth, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64", 64),
        ("64B", 64),
        ("48KiB", 48 * 1024),
        ("1.5MB", 1_500_000),
        ("2 GiB", 2 * 2**30),
        ("10k", 10 * 1024),
    ],
)
def test_sizes(text: str, size: float) -> None:
    """Decimal and binary units, with or without a space."""
    assert parse_size(text) == size


def test_bad_size_says_what_is_accepted() -> None:
    """A unit that is not one is refused with the forms that work."""
    with pytest.raises(ValueError, match=r"expected a size such as 64B, 48KiB or 1\.5MB"):
        parse_size("12 parsecs")


def test_growth_per_job_or_over_the_run() -> None:
    """'64B/job' limits each job; '48KiB' the whole run."""
    assert parse_growth("64B/job") == (64, None)
    assert parse_growth("48KiB") == (None, 48 * 1024)
    with pytest.raises(ValueError, match="expected SIZE/job"):
        parse_growth("64B/hour")


def _killed() -> RunOutcome:
    crash = Crash(12, "signal", None, signal.SIGKILL, "ended by signal 9")
    return RunOutcome(12, "crashed", crash)


def test_sigkill_while_the_oom_count_rose_is_an_oom(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cgroup's oom_kill counter went 3 -> 4 during the run: reason 'oom'."""
    monkeypatch.setattr(crashes, "oom_kill_count", lambda: 4)
    outcome = crashes.with_oom(_killed(), oom_before=3)
    assert outcome.crash is not None
    assert (outcome.crash.reason, outcome.crash.job_index) == ("oom", 12)


def test_sigkill_without_an_oom_kill_stays_a_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone else's kill -9 is not called an OOM."""
    monkeypatch.setattr(crashes, "oom_kill_count", lambda: 3)
    outcome = crashes.with_oom(_killed(), oom_before=3)
    assert outcome.crash is not None
    assert outcome.crash.reason == "signal"


def test_crash_names_the_job_and_the_cause() -> None:
    """Exit codes, signals and timeouts read as a sentence with the job index."""
    assert crashes.crash_of(5, 3, None, None, after_last=False).message == (
        "worker process exited with code 3 in job 5"
    )
    assert "SIGSEGV" in crashes.crash_of(5, -11, None, None, after_last=False).message
    timeout = crashes.crash_of(5, -15, "timeout", 2.0, after_last=False)
    assert (timeout.reason, timeout.signal) == ("timeout", 15)
    assert "in teardown" in crashes.crash_of(9, 1, None, None, after_last=True).message
