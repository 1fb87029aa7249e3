"""Starting and ending worker processes.

A worker process leads a session of its own (the terminal's Ctrl-C reaches only the harness)
and talks over two pipes. Ending one: SIGTERM to its whole process group, a grace period,
then SIGKILL; the group is killed again afterwards so nothing it started is left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from worker_soak.worker.interpreter import module_command
from worker_soak.worker.tcache import TCACHE_OFF, tcache_set_by_user


@dataclass(slots=True)
class WorkerProcess:
    """A started worker process and the harness's ends of its pipes."""

    popen: subprocess.Popen[bytes]
    jobs_fd: int | None
    samples_fd: int | None

    def close_input(self) -> None:
        """End of jobs: the worker tears down and exits."""
        if self.jobs_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.jobs_fd)
            self.jobs_fd = None

    def close(self, grace_s: float) -> None:
        """End the process if it still runs, kill what it left, close the pipes."""
        end_process(self.popen, grace_s)
        signal_group(self.popen.pid, signal.SIGKILL)
        self.close_input()
        if self.samples_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.samples_fd)
            self.samples_fd = None


def spawn_worker(
    spec: str,
    run_dir: Path,
    origin_ns: int,
    log_name: str,
    extra_args: list[str],
    import_paths: tuple[str, ...] = (),
) -> WorkerProcess:
    """Start ``python -m worker_soak.worker.child`` for ``spec``; its output goes to
    ``run_dir/log_name``."""
    jobs_r, jobs_w = os.pipe()
    samples_r, samples_w = os.pipe()
    widen_pipe(samples_w)
    command = [
        *module_command("worker_soak.worker.child"),
        "--spec", spec,
        "--origin-ns", str(origin_ns),
        "--jobs-fd", str(jobs_r),
        "--samples-fd", str(samples_w),
        "--parent-pid", str(os.getpid()),
        "--run-dir", str(run_dir),
        *extra_args,
    ]  # fmt: skip
    try:
        with open(run_dir / log_name, "ab") as log:
            popen = subprocess.Popen(
                command,
                pass_fds=(jobs_r, samples_w),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=child_env(import_paths),
            )
    finally:
        os.close(jobs_r)
        os.close(samples_w)
    return WorkerProcess(popen, jobs_w, samples_r)


#: What a worker's output pipe holds unread: ~4,000 samples, so the harness can read it on a
#: tick instead of being woken by every sample (each wake-up cost the writing worker ~30 us
#: per job on this VM) without the worker ever waiting for room.
PIPE_BYTES: Final = 1 << 20


def widen_pipe(fd: int) -> None:
    """Grow the pipe behind ``fd`` to ``PIPE_BYTES`` where the system lets us (Linux, up to
    ``/proc/sys/fs/pipe-max-size``); elsewhere it keeps its size, and the tick shortens."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, set_size, PIPE_BYTES)


def child_env(import_paths: tuple[str, ...] = (), tcache_off: bool = False) -> dict[str, str]:
    """The environment of a worker process. glibc's per-thread cache stays on where the
    worker reads it (:mod:`worker_soak.worker.tcache`: the native heap subtracts what it
    parks); ``tcache_off``: off, for a framework's worker whose start the harness does not
    own (unless the user sized the cache)."""
    env = dict(os.environ)
    # The child finds this package by the command (``module_command``), not by PYTHONPATH: a
    # folder of the user's named like one of ours must not be shadowed, nor shadow ours.
    paths = (*import_paths, env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
    env["PYTHONUNBUFFERED"] = "1"  # the worker's prints reach its log before a crash
    tunables = env.get("GLIBC_TUNABLES", "")
    if tcache_off and not tcache_set_by_user(tunables):
        env["GLIBC_TUNABLES"] = f"{tunables}:{TCACHE_OFF}" if tunables else TCACHE_OFF
    return env


def end_process(popen: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the process group, wait ``grace_s``, then SIGKILL it."""
    if popen.poll() is not None:
        return
    signal_group(popen.pid, signal.SIGTERM)
    try:
        popen.wait(grace_s)
    except subprocess.TimeoutExpired:
        signal_group(popen.pid, signal.SIGKILL)
        popen.wait()


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
