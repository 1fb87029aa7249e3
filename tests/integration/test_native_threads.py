"""A worker process keeps glibc's per-thread cache on and reads the caches of Python's
threads; a C library's own thread is counted instead, and its cache allowed for: its filling
fails no clean worker, and a C leak from the jobs still fails."""

from __future__ import annotations

import pytest

from tests.conftest import SoakCli
from worker_soak.worker.tcache import ThreadCaches

WORKER = "tests/workers/native_thread_cache.py:NativeThreadWorker"
#: The native thread frees a new size class every 3 ms: its cache fills over ~0.2 s, the
#: length of a 300-job run here (without the allowance: fail, 92-97 B/job, measured).
FILLING = {"CLASS_EVERY_S": "0.003"}

pytestmark = pytest.mark.skipif(
    ThreadCaches.find() is None, reason="glibc's per-thread caches are not read here"
)


def test_a_c_librarys_thread_filling_its_cache_fails_no_clean_worker(soak_cli: SoakCli) -> None:
    run = soak_cli("--worker", WORKER, "--jobs", "300", "--light", "--no-report", env=FILLING)
    assert run.returncode in (0, 1), run.stderr
    memory = run.result()["verdicts"]["memory"]
    assert memory["verdict"] != "fail", memory["summary"]
    unseen = [s["native_threads_unseen"] for s in run.samples() if "native_threads_unseen" in s]
    assert unseen
    assert max(unseen) == 1


def test_a_c_leak_beside_that_thread_still_fails(soak_cli: SoakCli) -> None:
    leaking = {**FILLING, "LEAK_BYTES": "4096"}
    run = soak_cli("--worker", WORKER, "--jobs", "300", "--light", "--no-report", env=leaking)
    memory = run.result()["verdicts"]["memory"]
    assert memory["verdict"] == "fail", memory["summary"]
