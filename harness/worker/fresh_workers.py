"""Fresh workers for the isolation check: a worker in the state ``setup()`` left, which has
run no job, on demand.

Forked from the set-up process when that is safe — fast (~1-5 ms a worker) — else a new
interpreter that loads the worker and runs ``setup()`` itself (~150 ms and the set-up's own
time). Forking is unsafe when the set-up process runs another thread (a thread does not
survive a fork: a job waiting on it would hang) or holds an open socket: a forked child
shares the connection (PostgreSQL, Redis, SMTP, HTTP keep-alive), and its requests interleave
with the parent's and its siblings' on one server session — the import worker on PostgreSQL
failed isolation on "prepared statement _pg3_0 already exists" in 29 of 30 forked fresh
workers, for the harness's reasons, not the worker's.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from worker_soak.worker.evidence import outcome_of
from worker_soak.worker.interpreter import module_command
from worker_soak.worker.spec import Worker, load_worker

#: A new interpreter's start, imports and ``setup()``, on top of its jobs' time.
SPAWN_START_S: Final = 30.0
#: How fresh workers start (``FreshWorkers.mode``).
FORK_AFTER_SETUP: Final = "fork after setup"
FORK_BEFORE_SETUP: Final = "fork before setup"
SPAWN: Final = "spawn"

Outcome = tuple[str, Any]


def run_jobs(worker: Worker, jobs: Sequence[dict[str, Any]]) -> Outcome:
    """Run ``jobs`` in order; the last one's outcome."""
    for job in jobs[:-1]:
        # An earlier job's failure is part of the history, not the outcome.
        with contextlib.suppress(Exception):
            worker.handle(job)
    try:
        return outcome_of(worker.handle(jobs[-1]), None)
    except Exception as exc:
        return outcome_of(None, exc)


class FreshWorkers:
    """Fresh workers on demand (see the module's text); counts every job they run.

    Given the loaded worker before its ``setup()``, it chooses how they start, cheapest
    safe first: forked after ``setup()`` (the set-up process runs no other thread and holds
    no socket); forked before it, each running ``setup()`` itself (the worker's imports are
    fork-safe but its set-up connects: a forked child's ``setup()`` costs a connection, not an
    interpreter); a new interpreter each (a thread or socket from the imports already)."""

    def __init__(self, worker: Worker, spec: str, timeout_s: float) -> None:
        self.worker = worker
        self.spec = spec
        self.timeout_s = timeout_s
        self.jobs_run = 0
        self.failure: str | None = None
        #: The parent ran ``setup()`` (and tears down at the end).
        self.set_up = False
        before = _unsafe_to_fork()
        if before:
            self.mode, self.how = SPAWN, f"new processes: after its imports the worker {before}"
            return
        after, imported = self._probe_setup()
        if after:
            # The modules setup() imports (a database driver: 0.26 s for psycopg) are
            # imported here once, so each child's setup() only connects.
            _import_quietly(imported)
            again = _unsafe_to_fork()
            if again:
                self.mode, self.how = SPAWN, f"new processes: after its imports the worker {again}"
                return
            self.mode = FORK_BEFORE_SETUP
            self.how = f"forked before setup(), each running it: after setup() the worker {after}"
            return
        worker.setup()
        self.set_up = True
        self.mode, self.how = FORK_AFTER_SETUP, "forked after setup()"

    def run(self, jobs: Sequence[dict[str, Any]]) -> Outcome | None:
        """The last job's outcome on a fresh worker that first ran the others; None when
        that worker crashed or hung (then ``failure`` says so)."""
        self.jobs_run += len(jobs)
        outcome = self._spawn(jobs) if self.mode == SPAWN else self._fork(jobs)
        if outcome is None and self.failure is None:
            how = "new" if self.mode == SPAWN else "forked"
            last = jobs[-1].get("id") if jobs and isinstance(jobs[-1], dict) else None
            self.failure = (
                f"a {how} fresh worker crashed or ran over {self.timeout_s:.0f} s in the "
                f"isolation check, running {len(jobs)} job(s), the last with payload id {last!r}"
            )
        return outcome

    def _probe_setup(self) -> tuple[str, list[str]]:
        """What a forked child's ``setup()`` leaves that forbids forking after it ("" if
        nothing; a set-up that fails here is left to the parent's own, which reports it),
        and the modules it imported."""
        answer = self._in_child(self._setup_then_check)
        if isinstance(answer, tuple):
            return answer[0], answer[1]
        return "", []

    def _setup_then_check(self) -> tuple[str, list[str]]:
        before = set(sys.modules)
        self.worker.setup()
        unsafe, imported = _unsafe_to_fork(), sorted(set(sys.modules) - before)
        with contextlib.suppress(Exception):
            self.worker.teardown()
        return unsafe, imported

    def _fork(self, jobs: Sequence[dict[str, Any]]) -> Outcome | None:
        if self.mode == FORK_AFTER_SETUP:
            answer = self._in_child(lambda: run_jobs(self.worker, jobs))
        else:
            answer = self._in_child(lambda: _set_up_and_run(self.worker, jobs))
        return answer if isinstance(answer, tuple) else None

    def _in_child(self, work: Callable[[], object]) -> object:
        """``work()`` in a forked child; its pickled return value, or None when it failed."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_fd)
            code = 0
            try:
                answer = work()
                with os.fdopen(write_fd, "wb") as out:
                    pickle.dump(answer, out)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        data = _read_all(read_fd, pid, self.timeout_s)
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            return None
        loaded: object = pickle.loads(data)
        return loaded

    def _spawn(self, jobs: Sequence[dict[str, Any]]) -> Outcome | None:
        with tempfile.TemporaryDirectory() as scratch:
            given, taken = Path(scratch) / "jobs.pickle", Path(scratch) / "outcome.pickle"
            given.write_bytes(pickle.dumps(list(jobs)))
            command = [*module_command("worker_soak.worker.isolation_check"), "--one", str(given)]
            try:
                subprocess.run(
                    [*command, "--spec", self.spec, "--out", str(taken)],
                    stdin=subprocess.DEVNULL,
                    timeout=self.timeout_s + SPAWN_START_S,
                    check=False,
                )
                loaded: Outcome = pickle.loads(taken.read_bytes())
            except (OSError, EOFError, pickle.UnpicklingError, subprocess.TimeoutExpired):
                return None
        return loaded


def _import_quietly(names: Sequence[str]) -> None:
    for name in names:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def _set_up_and_run(worker: Worker, jobs: Sequence[dict[str, Any]]) -> Outcome:
    worker.setup()
    try:
        return run_jobs(worker, jobs)
    finally:
        with contextlib.suppress(Exception):
            worker.teardown()


def _unsafe_to_fork() -> str:
    """Why this process must not be forked now ("" when it may): another thread, or an open
    socket a child would share."""
    threads = max(threading.active_count(), _kernel_threads())
    if threads > 1:
        return f"runs {threads} threads (a thread does not survive a fork)"
    sockets = open_sockets()
    if sockets:
        return f"holds {sockets} open socket(s), which forked workers would share"
    return ""


def open_sockets() -> int:
    """Sockets this process holds open (its file descriptors that are sockets)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    count = 0
    for name in names:
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
    return count


def _kernel_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def run_one(jobs_file: Path, spec: str, out: Path) -> int:
    """``--one``: load and set up the worker, run the pickled jobs, write the last outcome."""
    worker = load_worker(spec)
    worker.setup()
    try:
        outcome = run_jobs(worker, pickle.loads(jobs_file.read_bytes()))
    finally:
        worker.teardown()
    out.write_bytes(pickle.dumps(outcome))
    return 0


def _read_all(fd: int, pid: int, timeout_s: float) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                return b""
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)
