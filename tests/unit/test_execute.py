"""One job through the executor: the sample line it gives, and what it must not keep."""

from __future__ import annotations

import gc
import json
import weakref
from typing import Any

from hypothesis import given, settings

from tests.strategies import jobs
from worker_soak.worker import protocol
from worker_soak.worker.execute import MAX_ERROR_CHARS, SAMPLE_PREFIX, JobExecutor
from worker_soak.worker.probes import PythonHeap
from worker_soak.worker.spec import Worker
from worker_soak.workloads.strategies import email_jobs, import_jobs, invoice_jobs


class _Big:
    """Something a job's frame refers to when it raises."""


def _worker(handle: Any) -> Worker:
    return Worker("test:handle", "callable", handle)


def test_sample_line_is_one_json_object_with_timing_and_probes() -> None:
    """Each line parses as JSON, ends in one newline, has the probe's field on its cadence."""
    probe = PythonHeap()
    executor = JobExecutor(_worker(lambda job: None), [probe], origin_ns=0)
    lines = [executor.run(index, {"id": index}) for index in range(25)]
    for index, line in enumerate(lines):
        assert line.startswith(SAMPLE_PREFIX)
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        sample = json.loads(line)
        assert sample["job_index"] == index
        assert sample["wall_ns"] > 0
        assert sample["end_ns"] >= sample["wall_ns"]
        assert ("py_blocks" in sample) == (index % probe.every == 0)
        assert "error" not in sample


def test_raising_job_is_recorded_with_type_message_and_line() -> None:
    """The error's type, message and raising line go into the sample."""

    def handle(job: dict[str, Any]) -> None:
        raise KeyError(job["id"])

    sample = json.loads(JobExecutor(_worker(handle), [], 0).run(3, {"id": 3}))
    assert sample["error"]["type"] == "KeyError"
    assert sample["error"]["message"] == "3"
    assert sample["error"]["where"].endswith(
        f"test_execute.py:{handle.__code__.co_firstlineno + 1}"
    )


def test_long_error_message_is_truncated() -> None:
    """An error message is cut to MAX_ERROR_CHARS, so one job cannot flood the log."""

    def handle(job: dict[str, Any]) -> None:
        raise ValueError("x" * (MAX_ERROR_CHARS * 10))

    sample = json.loads(JobExecutor(_worker(handle), [], 0).run(0, {}))
    assert len(sample["error"]["message"]) == MAX_ERROR_CHARS + 3


def test_a_failed_job_leaves_no_reference_to_its_frames() -> None:
    """The harness keeps no traceback: objects local to a failed job are freed."""
    refs: list[weakref.ref[_Big]] = []

    def handle(job: dict[str, Any]) -> None:
        big = _Big()
        refs.append(weakref.ref(big))
        raise RuntimeError("boom")

    executor = JobExecutor(_worker(handle), [], 0)
    executor.run(0, {})
    gc.disable()
    try:
        assert refs[0]() is None
    finally:
        gc.enable()


@given(jobs)
def test_any_json_job_survives_the_pipe_encoding(job: dict[str, Any]) -> None:
    """Jobs with newlines, unicode and nesting decode to the same dict, on one line."""
    line = protocol.encode_job(12, job)
    assert line.count(b"\n") == 1
    assert protocol.decode_job(line) == (12, job)


@settings(max_examples=30, deadline=None)
@given(email_jobs() | import_jobs() | invoice_jobs(max_lines=50))
def test_workload_payloads_survive_the_pipe(job: dict[str, Any]) -> None:
    """Every payload the workload strategies make reaches the worker process unchanged."""
    assert protocol.decode_job(protocol.encode_job(3, job)) == (3, job)
