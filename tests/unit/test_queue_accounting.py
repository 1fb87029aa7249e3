"""A job queue's pure parts: the task ledger, recycles and their gaps from the workers'
events, idle stretches, the framework's cost per job, the advice, and the queue options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker_soak.analysis.advice import DEFAULT_LIMIT_BYTES, advise, recycle_settings
from worker_soak.analysis.idle import MIN_IDLE_NS, framework_cost, idle_stretches, node_idle
from worker_soak.cli import build_parser
from worker_soak.errors import UsageError
from worker_soak.model import QueueConfig
from worker_soak.options import CLI, run_config, source_for
from worker_soak.options.arguments import parsed_options
from worker_soak.queues.accounts import ProcessBook, TaskLedger, recycles
from worker_soak.queues.channel import redacted, scheme_of
from worker_soak.queues.task_meter import envelope_of

MS = 1_000_000


@given(
    st.integers(1, 60),
    st.lists(
        st.tuples(st.sampled_from(["start", "finish"]), st.integers(0, 59), st.integers(1, 3))
    ),
)
def test_the_task_ledger_counts_each_task_once(
    sent: int, events: list[tuple[str, int, int]]
) -> None:
    """Whatever order starts and samples arrive in: finished + lost = sent, a second sample
    is counted as run twice and never as finished, and in-flight tasks are never settled."""
    ledger = TaskLedger(sent=sent)
    samples: dict[int, int] = {}
    for kind, raw_index, pid in events:
        index = raw_index % sent
        if kind == "start":
            ledger.start(index, (None, pid))
        else:
            ledger.finish(index)
            samples[index] = samples.get(index, 0) + 1
    summary = ledger.summary()
    assert ledger.finished == len(samples)
    assert summary["jobs_run_twice"] == sum(n - 1 for n in samples.values())
    assert summary["jobs_finished"] + summary["jobs_lost"] == sent
    assert not set(ledger.in_flight) & set(samples)


def test_a_task_started_again_by_another_process_counts_as_interrupted_once() -> None:
    """Start in pid 1, start again in pid 2 (pid 1 died), finish: retried 1, lost 0."""
    ledger = TaskLedger(sent=1)
    ledger.start(0, (None, 1))
    ledger.start(0, (None, 2))
    assert ledger.finish(0)
    assert not ledger.finish(0)
    summary = ledger.summary()
    assert (summary["jobs_retried"], summary["jobs_lost"], summary["jobs_run_twice"]) == (1, 0, 1)
    assert summary["interrupted_jobs"] == [0]
    assert ledger.crashed() == {(None, 1): 0}


def test_a_given_up_task_is_failed_and_names_the_process_that_died() -> None:
    """Started in pid 7, given up by the framework: settled (not lost), pid 7 crashed with
    it; a second give-up of the same task changes nothing; a task still running at the end
    counts its process as crashed too."""
    ledger = TaskLedger(sent=2)
    ledger.start(0, (None, 7))
    ledger.start(1, (None, 8))
    assert ledger.give_up(0) == (None, 7)
    assert ledger.give_up(0) is None
    summary = ledger.summary()
    assert (summary["jobs_lost"], summary["jobs_failed_by_interruption"]) == (1, 1)
    assert summary["jobs_run_twice"] == 0
    assert ledger.crashed() == {(None, 7): 0, (None, 8): 1}


def _book(*lives: tuple[int, int, int, int, int, dict[str, Any] | None]) -> ProcessBook:
    """(pid, ready ms, first start ms, last end ms, jobs, exit event) per process, one node."""
    book = ProcessBook()
    for pid, ready, first, last, jobs, exit_event in lives:
        book.ready({"pid": pid, "parent": 1, "host": "h", "at_ns": ready * MS})
        book.started({"pid": pid, "at_ns": first * MS})
        for job in range(jobs):
            book.finished(
                (None, pid),
                pid * 1000 + job,
                (first + job) * MS if job < jobs - 1 else last * MS,
                None,
            )
        if exit_event is not None:
            book.exited({"pid": pid, **exit_event})
    return book


def test_a_recycle_gap_runs_from_the_last_job_to_the_replacements_first() -> None:
    """Process 10 ends after its 100th job at 1,000 ms; 11 is ready at 1,050 and starts at
    1,150: one recycle (its task limit), gap 0.15 s; 11 still running at the end is none."""
    exit_event = {"at_ns": 1_010 * MS, "jobs_done": 100, "rss_bytes": 5, "peak_rss_bytes": 9}
    book = _book((10, 0, 10, 1_000, 100, exit_event), (11, 1_050, 1_150, 2_000, 50, None))
    found = recycles(book, {}, 2_000 * MS, {"max_jobs_per_worker": 100})
    assert len(found) == 1
    record = found[0]
    assert (record["pid"], record["reason"], record["next_pid"]) == (10, "jobs", 11)
    assert record["restart_seconds"] == pytest.approx(0.15)
    assert record["peak_rss_bytes"] == 9


def test_an_exit_at_the_end_of_the_run_is_no_recycle() -> None:
    """The worker was stopped after the last job: its processes' exits are not recycles."""
    exit_event = {"at_ns": 3_000 * MS, "jobs_done": 10}
    book = _book((10, 0, 10, 1_000, 10, exit_event))
    assert recycles(book, {}, 1_000 * MS, {}) == []


def test_a_peak_rss_recycle_says_the_current_rss_was_far_below() -> None:
    """Celery's memory limit on ru_maxrss: a recycle with current RSS under the limit and
    a peak over it is explained."""
    exit_event = {"at_ns": 1_010 * MS, "rss_bytes": 40 * 2**20, "peak_rss_bytes": 350 * 2**20}
    book = _book((10, 0, 10, 1_000, 5, exit_event), (11, 1_050, 1_100, 2_000, 5, None))
    found = recycles(book, {}, 2_000 * MS, {"max_memory_bytes": 200 * 2**20})
    assert found[0]["reason"] == "memory"
    assert "peak RSS (350 MiB" in found[0]["note"]
    assert "current RSS was 40 MiB" in found[0]["note"]


def test_a_process_that_died_with_a_task_is_a_crash() -> None:
    """No exit event, a task in its hands: a crash at that task."""
    book = _book((10, 0, 10, 1_000, 5, None), (11, 1_050, 1_100, 2_000, 5, None))
    found = recycles(book, {(None, 10): 7}, 2_000 * MS, {})
    assert [(r["pid"], r["reason"], r["job_index"]) for r in found] == [(10, "crash", 7)]


@given(st.lists(st.tuples(st.integers(0, 10**10), st.integers(0, 10**9)), max_size=60))
def test_idle_stretches_are_where_no_job_ran(raw: list[tuple[int, int]]) -> None:
    """Every stretch is at least MIN_IDLE_NS long, inside the run, and overlaps no job."""
    intervals = [(start, start + length) for start, length in raw]
    gaps = idle_stretches(intervals)
    for start, end in gaps:
        assert end - start >= MIN_IDLE_NS
        assert all(job_end <= start or job_start >= end for job_start, job_end in intervals)
        assert min(s for s, _ in intervals) <= start
        assert end <= max(e for _, e in intervals)


def test_two_processes_recycling_at_once_leave_the_node_idle() -> None:
    """Processes 1 and 2 both stop at 1.0 s; the next job starts at 1.46 s: one 0.46-s
    stretch for the node, none while either was busy."""
    starts_ends = [(0, 1_000 * MS), (500 * MS, 1_000 * MS), (1_460 * MS, 2_000 * MS)]
    idle = node_idle(starts_ends, [1, 2, 3], {1: "n", 2: "n", 3: "n"})
    assert idle["n"]["longest_idle_seconds"] == pytest.approx(0.46)
    assert idle["n"]["idle_stretches"] == 1


def test_the_framework_cost_is_the_time_outside_the_jobs() -> None:
    """10 jobs of 1 ms in 100 ms on one process: 10 ms per job, 9 of them outside the job."""
    starts_ends = [(i * 10 * MS, i * 10 * MS + MS) for i in range(10)]
    starts_ends[-1] = (90 * MS, 100 * MS)
    walls = [MS] * 9 + [10 * MS]
    cost = framework_cost(walls, starts_ends, 1)
    assert cost is not None
    assert cost["jobs_per_second"] == pytest.approx(100.0)
    assert cost["outside_task_ms_per_job"] == pytest.approx(8.1)


def _result(verdict: str, bytes_per_job: float, runner: str = "celery") -> dict[str, Any]:
    return {
        "workers": 2,
        "pool": {"queue": {"runner": runner}, "limits": {}},
        "verdicts": {"memory": {"verdict": verdict, "bytes_per_job": bytes_per_job}},
        "checkpoints": [
            {"throughput_jobs_per_s": 100.0, "memory": {"rss_bytes": 50 * 2**20}},
            {"throughput_jobs_per_s": 1900.0, "memory": {"rss_bytes": 74 * 2**20}},
        ],
    }


def test_advice_projects_the_time_to_the_limit() -> None:
    """2 KiB/job at 950 jobs/s per process from 74 MiB: 1 GiB in 486,400 jobs, 512 s;
    recycle after 80 % of a fresh process's headroom (50 MiB .. 1 GiB)."""
    advice = advise(_result("fail", 2048.0))
    assert advice["jobs_per_second_per_process"] == pytest.approx(950.0)
    assert advice["jobs_to_limit"] == (DEFAULT_LIMIT_BYTES - 74 * 2**20) // 2048
    assert advice["jobs_to_limit"] == 486_400
    assert advice["seconds_to_limit"] == pytest.approx(512.0)
    assert advice["recycle_after_jobs"] == int((DEFAULT_LIMIT_BYTES - 50 * 2**20) / 2048 * 0.8)
    assert "reaches 1.0 GiB RSS in ~9 minutes" in advice["summary"]
    assert advice["settings"][0].startswith("Celery: worker_max_tasks_per_child = ")


def test_no_growth_means_no_memory_recycle_is_advised() -> None:
    """A run whose memory passed gets no recycle settings for memory."""
    advice = advise(_result("pass", 0.0))
    assert advice["settings"] == []
    assert "no recycle limit is needed" in advice["summary"]


def test_recycle_settings_start_with_the_framework_used() -> None:
    """RQ first for an RQ run; gunicorn and uWSGI always listed."""
    settings = recycle_settings("rq", 5000, 800 * 2**20)
    assert settings[0].startswith("RQ: rq worker --max-jobs 5000")
    assert any("--max-requests 5000 --max-requests-jitter 500" in s for s in settings)
    assert any("--reload-on-rss 800" in s for s in settings)


def test_broker_urls_are_checked_and_their_passwords_hidden() -> None:
    """redis/amqp accepted; anything else named with the forms expected; no password shown."""
    assert scheme_of("redis://127.0.0.1:6379/0") == "redis"
    assert scheme_of("amqp://guest:guest@127.0.0.1:5672//") == "amqp"
    assert redacted("amqp://guest:secret@h:5672//") == "amqp://guest:***@h:5672//"
    with pytest.raises(UsageError, match=r"expected a redis:// or amqp:// URL"):
        scheme_of("http://127.0.0.1:6379")


def test_only_the_harness_s_tasks_carry_an_envelope() -> None:
    """Other traffic on the same worker has no envelope and is not measured."""
    assert envelope_of({"soak_run": "r", "soak_index": 3, "other": 1}) == {
        "soak_run": "r",
        "soak_index": 3,
    }
    assert envelope_of({"other": 1}) is None
    assert envelope_of(None) is None


def _queue(*argv: str) -> QueueConfig | None:
    """The queue ``soak run ARGV`` asks for, as the command line builds it."""
    args = build_parser().parse_args(["run", *argv])
    options = parsed_options(args)
    config = run_config(
        options,
        source_for(options, CLI),
        worker="w:f",
        out=Path("out"),
        door=CLI,
        runner=options.runner or "process",
    )
    return config.queue


def test_queue_options_become_a_queue_config(capsys: pytest.CaptureFixture[str]) -> None:
    """Defaults: Redis on loopback, one process, a worker started by the harness."""
    config = _queue("--runner", "celery", "--concurrency", "2", "--max-tasks-per-child", "100")
    assert config is not None
    assert (config.broker, config.concurrency, config.max_tasks_per_child) == (
        "redis://127.0.0.1:6379/0",
        2,
        100,
    )
    assert config.start_worker
    assert _queue("--runner", "process") is None
    assert _queue("--runner", "rq", "--no-start-worker").start_worker is False  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="--concurrency is an option of a job queue"):
        _queue("--runner", "process", "--concurrency", "2")
    with pytest.raises(SystemExit):
        _queue("--runner", "celery", "--concurrency", "0")
    refused = capsys.readouterr().err
    assert "argument --concurrency: expected a whole number >= 1, got '0'" in refused


def test_two_containers_processes_with_one_pid_are_two_processes() -> None:
    """Containers repeat pids: events and samples carry the node, and the book, the ledger
    and the recycles tell (node, pid) apart."""
    book = ProcessBook()
    for node, host in ((111, "box-a"), (222, "box-b")):
        book.ready({"pid": 7, "node": node, "parent": 1, "host": host, "at_ns": 0})
        book.started({"pid": 7, "node": node, "at_ns": MS})
    book.finished((111, 7), 0, 2 * MS, None)
    book.finished((222, 7), 1, 3 * MS, None)
    book.exited({"pid": 7, "node": 111, "at_ns": 4 * MS})
    assert sorted((p.host, p.jobs) for p in book.processes.values()) == [("box-a", 1), ("box-b", 1)]
    assert book.processes[(111, 7)].exit is not None
    assert book.processes[(222, 7)].exit is None
    ledger = TaskLedger(sent=2)
    ledger.start(0, (111, 7))
    ledger.start(1, (222, 7))
    assert ledger.give_up(0) == (111, 7)
    assert ledger.crashed() == {(111, 7): 0, (222, 7): 1}
    lives = book.lifetimes([])
    assert sorted((life["worker"], life["node"]) for life in lives) == [
        ("box-a/1", 111),
        ("box-b/1", 222),
    ]
