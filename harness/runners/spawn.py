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


def child_env(import_paths: tuple[str, ...] = ()) -> dict[str, str]:
    env = dict(os.environ)
    # The child finds this package by the command (``module_command``), not by PYTHONPATH: a
    # folder of the user's named like one of ours must not be shadowed, nor shadow ours.
    paths = (*import_paths, env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
    env["PYTHONUNBUFFERED"] = "1"  # the worker's prints reach its log before a crash
    env["GLIBC_TUNABLES"] = without_tcache(env.get("GLIBC_TUNABLES", ""))
    return env


#: glibc's per-thread cache keeps up to 7 freed chunks of each of 64 sizes (up to ~240 KiB)
#: and ``mallinfo2`` counts them as in use: a worker allocating varied sizes read as
#: +100-130 B/job of native heap for ~2,000 jobs. Without it the collected native heap of
#: a clean worker is exactly flat; its cost to the jobs measured here is below the noise
#: (a malloc-heavy loop: 0.048-0.071 s with it off, 0.067-0.073 s with it on).
TCACHE_OFF: Final = "glibc.malloc.tcache_count=0"


def without_tcache(tunables: str) -> str:
    """``GLIBC_TUNABLES`` with the per-thread cache off, unless the user set its size."""
    if "glibc.malloc.tcache_count=" in tunables:
        return tunables
    return f"{tunables}:{TCACHE_OFF}" if tunables else TCACHE_OFF


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
