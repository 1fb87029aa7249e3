"""How a worker process ended, in the words ``result.json`` uses: exit, signal, timeout, oom."""

from __future__ import annotations

import signal
from dataclasses import replace
from typing import Final

from worker_soak.model import Crash, CrashReason, RunOutcome
from worker_soak.oom import oom_kill_count


def oom_killed(returncode: int, oom_before: int | None) -> bool:
    """Whether a process that ended with ``returncode`` (a SIGKILL the harness did not send)
    was killed by the kernel: the memory cgroup's OOM-kill count rose since ``oom_before``."""
    if returncode != -signal.SIGKILL or oom_before is None:
        return False
    oom_after = oom_kill_count()
    return oom_after is not None and oom_after > oom_before


def with_oom(outcome: RunOutcome, oom_before: int | None) -> RunOutcome:
    """A SIGKILL we did not send, while the memory cgroup's OOM-kill count rose, is an OOM."""
    crash = outcome.crash
    if crash is None or crash.signal is None or not oom_killed(-crash.signal, oom_before):
        return outcome
    oom = Crash(
        crash.job_index,
        "oom",
        crash.exitcode,
        crash.signal,
        "killed by the kernel's out-of-memory killer (the cgroup's oom_kill count rose)",
    )
    return replace(outcome, crash=oom)


def crash_of(
    job_index: int,
    returncode: int,
    killed_for: CrashReason | None,
    job_timeout: float | None,
    after_last: bool,
) -> Crash:
    signal_number = -returncode if returncode < 0 else None
    exitcode = returncode if returncode >= 0 else None
    when = "after its last job (in teardown)" if after_last else f"in job {job_index}"
    if killed_for == "timeout":
        message = (
            f"job {job_index} ran longer than --job-timeout {job_timeout:g}s; ended"
            if not after_last
            else f"teardown ran too long {when}; ended"
        )
        return Crash(job_index, "timeout", exitcode, signal_number, message)
    if signal_number is not None:
        name = signal.Signals(signal_number).name if signal_number in _SIGNALS else "?"
        return Crash(
            job_index,
            "signal",
            None,
            signal_number,
            f"worker process ended by signal {signal_number} ({name}) {when}",
        )
    return Crash(
        job_index, "exit", exitcode, None, f"worker process exited with code {exitcode} {when}"
    )


_SIGNALS: Final = frozenset(int(s) for s in signal.Signals)
