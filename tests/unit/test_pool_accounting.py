"""The pool's pure parts: the job ledger, verdicts per worker lifetime, the recycling
verdict, the Prometheus text, and samples written out of order by several workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker_soak.analysis.lifetimes import (
    lifetime_samples,
    lifetimes,
    per_lifetime,
    recycling_verdict,
)
from worker_soak.analysis.memory import memory_verdict
from worker_soak.errors import UsageError
from worker_soak.model import PoolConfig, Verdict
from worker_soak.options import Door, SoakOptions, run_config, soak_options, source_for
from worker_soak.runners.ledger import Ledger
from worker_soak.runners.pool_metrics import WorkerMetrics, prometheus_text
from worker_soak.samples import JobError, Samples
from worker_soak.store import read_samples

# What a worker can do with the job in its hands: finish it, or be ended with it.
actions = st.lists(st.sampled_from(["finish", "interrupt", "return"]), max_size=200)


@given(st.integers(0, 3), st.integers(1, 40), actions)
def test_the_ledger_accounts_for_every_job_exactly_once(
    max_retries: int, jobs: int, steps: list[str]
) -> None:
    """Whatever workers do, each job ends finished, failed, or waiting; none is lost, none
    is interrupted more than max_retries + 1 times, and a failed job is never handed out."""
    ledger = Ledger(max_retries)
    source = iter([{"id": i} for i in range(jobs)])
    for step in steps:
        entry = ledger.next_job(source)
        if entry is None:
            break
        index, job = entry
        assert index not in ledger.failed
        if step == "finish":
            assert ledger.finish(index)
        elif step == "interrupt":
            ledger.interrupt(index, job, "crashed")
        else:
            ledger.give_back([entry])
    while (entry := ledger.next_job(source)) is not None:
        assert ledger.finish(entry[0])
    assert ledger.lost == 0
    assert all(ledger.settled(index) for index in range(jobs))
    assert ledger.finished_count + len(ledger.failed) == jobs
    assert all(count <= max_retries + 1 for count in ledger.interruptions.values())
    assert all(ledger.interruptions[index] == max_retries + 1 for index in ledger.failed)


def test_a_second_sample_of_a_job_is_counted_as_run_twice() -> None:
    """A job whose sample arrives twice was run twice: counted, the copy refused."""
    ledger = Ledger(1)
    index, _ = ledger.next_job(iter([{"id": 0}])) or (None, None)
    assert index == 0
    assert ledger.finish(0)
    assert not ledger.finish(0)
    assert ledger.summary()["jobs_run_twice"] == 1


def _sawtooth(lifetime_jobs: int, lives: int, leak: int) -> Samples:
    """A worker recycled every ``lifetime_jobs`` jobs whose heap grows ``leak`` bytes/job."""
    jobs = lifetime_jobs * lives
    native = tuple(10_000_000 + leak * (job % lifetime_jobs) for job in range(jobs))
    return Samples(
        wall_ns=(1000,) * jobs,
        cpu_ns=(1000,) * jobs,
        end_ns=tuple(range(jobs)),
        gauges={
            "native_heap_bytes": native,
            "py_blocks": (1000,) * jobs,
            "worker_pid": tuple(100 + job // lifetime_jobs for job in range(jobs)),
        },
        errors=(),
    )


def test_a_recycled_leaker_fails_memory_per_lifetime() -> None:
    """A sawtooth (64 KiB/job, recycled every 2,000 jobs) fails, naming the first lifetime."""
    samples = _sawtooth(2000, 4, 64 * 1024)
    verdict = per_lifetime(samples, lambda s, _: memory_verdict(s))
    assert verdict.verdict == "fail"
    assert "4 of 4 worker lifetimes fail" in verdict.summary
    assert "pid 100 (jobs 0-1,999" in verdict.summary
    table = verdict.figures["lifetimes"]
    assert isinstance(table, list)
    assert [life["jobs"] for life in table] == [2000] * 4


def test_flat_lifetimes_pass_and_one_worker_is_judged_as_before() -> None:
    """No growth in any lifetime passes; a single lifetime gives the plain verdict."""
    assert per_lifetime(_sawtooth(2000, 3, 0), lambda s, _: memory_verdict(s)).verdict == "pass"
    single = _sawtooth(3000, 1, 0)
    assert per_lifetime(single, lambda s, _: memory_verdict(s)) == memory_verdict(single)


def test_each_lifetime_is_told_how_many_are_tested() -> None:
    """The judge of one lifetime learns the number of lifetimes (to split its alpha)."""
    seen: list[tuple[int, int]] = []

    def judge(lifetime: Samples, tests: int) -> Verdict:
        seen.append((len(lifetime), tests))
        return Verdict("pass", "flat")

    assert per_lifetime(_sawtooth(100, 3, 0), judge).verdict == "pass"
    assert seen == [(100, 3)] * 3


def test_lifetime_samples_renumber_a_workers_own_jobs() -> None:
    """Interleaved workers: each lifetime's samples are its own jobs, in order, from 0."""
    samples = Samples(
        wall_ns=(1, 2, 3, 4),
        cpu_ns=(1, 2, 3, 4),
        end_ns=(1, 2, 3, 4),
        gauges={"worker_pid": (7, 8, 7, 8)},
        errors=(),
    )
    first, second = lifetimes(samples)
    assert (first.pid, first.job_indexes, second.job_indexes) == (7, (0, 2), (1, 3))
    assert lifetime_samples(samples, second).wall_ns == (2, 4)


def _pool(recycles: list[dict[str, object]], **counts: int) -> dict[str, object]:
    return {
        "recycles": recycles,
        "jobs_lost": 0,
        "jobs_run_twice": 0,
        "jobs_retried": 0,
        "jobs_failed_by_interruption": 0,
        "limits": {"max_memory_bytes": 1},
        **counts,
    }


def _recycle(reason: str, job: int = 5) -> dict[str, object]:
    return {"reason": reason, "job_index": job, "pid": 1, "restart_seconds": 0.1}


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        (_pool([_recycle("memory")]), "pass"),
        (_pool([_recycle("memory")], jobs_lost=1), "fail"),
        (_pool([_recycle("jobs")], jobs_run_twice=1), "fail"),
        (_pool([_recycle("memory"), _recycle("crash")], jobs_retried=1), "fail"),
        (_pool([_recycle("kill")], jobs_failed_by_interruption=1), "fail"),
        (_pool([]), "inconclusive"),
        ({**_pool([]), "limits": {}}, "pass"),
    ],
)
def test_recycling_verdict_rules(pool: dict[str, object], expected: str) -> None:
    """Graceful recycles pass; a lost or doubled job, or a worker ended mid-job, fails;
    limits never reached leave the claim untested."""
    assert recycling_verdict(pool).verdict == expected


def test_prometheus_text_has_a_line_per_worker_and_the_totals() -> None:
    """The exposition names each worker by slot and pid and carries the counters."""
    text = prometheus_text(
        [WorkerMetrics(0, 41, 0, 5_000_000, 4_000_000, 12, 30, 0.25)],
        {"jobs_finished": 12},
        {"memory": 2},
    )
    assert 'soak_worker_rss_bytes{worker="0",pid="41"} 5e+06' in text
    assert 'soak_worker_job_running_seconds{worker="0",pid="41"} 0.25' in text
    assert "soak_jobs_finished_total 12" in text
    assert 'soak_recycles_total{reason="memory"} 2' in text
    assert text.endswith("\n")


def test_pool_samples_are_read_in_job_order(tmp_path: Path) -> None:
    """Samples written in arrival order by two workers load in job order, up to a gap."""
    rows = [(1, 8), (0, 7), (3, 8), (2, 7), (5, 7)]
    path = tmp_path / "samples.jsonl"
    path.write_text(
        "".join(
            json.dumps({"job_index": j, "wall_ns": j, "cpu_ns": 0, "end_ns": j, "worker_pid": p})
            + "\n"
            for j, p in rows
        )
    )
    samples = read_samples(path)
    assert tuple(samples.wall_ns) == (0, 1, 2, 3)
    assert tuple(samples.gauges["worker_pid"]) == (7, 8, 7, 8)


def _pool_of(options: SoakOptions) -> PoolConfig | None:
    door = Door("python", "soak() in t")
    runner = options.runner or "process"
    source = source_for(options, door)
    return run_config(options, source, worker="w:f", out=Path("o"), door=door, runner=runner).pool


def test_pool_options_from_python_and_their_errors() -> None:
    """Sizes as text or bytes make a pool; a hard limit under the soft one is refused."""
    options = soak_options({"workers": 2, "max_memory": "200MB", "max_retries": 0}, "here")
    assert _pool_of(options) == PoolConfig(workers=2, max_memory=200_000_000, max_retries=0)
    assert _pool_of(soak_options({}, "here")) is None
    with pytest.raises(UsageError, match=r"soak\(\) in t: kill_memory"):
        _pool_of(soak_options({"max_memory": "2MB", "kill_memory": "1MB"}, "here"))
    with pytest.raises(UsageError, match="max_memory= needs worker processes"):
        _pool_of(soak_options({"max_memory": "2MB", "runner": "inline"}, "here"))
    with pytest.raises(UsageError, match="max_retries=-1 is not usable"):
        soak_options({"max_retries": -1}, "here")


def test_a_pool_run_leaves_out_the_traced_workers_jobs_from_its_window_on() -> None:
    """Untraced samples of a pool: the traced worker's jobs from its window on are gone, so
    are the other worker's jobs beside the window; the rest kept, errors renumbered; without
    worker_pid the run is cut at the window."""
    samples = Samples(
        wall_ns=(0, 1, 2, 3, 4, 5, 6),
        cpu_ns=(0,) * 7,
        end_ns=(0, 1, 2, 3, 4, 5, 6),
        gauges={
            "worker_pid": (7, 8, 7, 8, 7, 8, 8),
            "traced": (None, None, 1, None, 1, None, None),
            "beside_window": (None, None, None, None, None, 1, None),
        },
        errors=(JobError(6, "E", "m", "w.py:1"),),
    )
    judged = samples.untraced()
    assert judged.wall_ns == (0, 1, 3, 6)
    assert "traced" not in judged.gauges
    assert "beside_window" not in judged.gauges
    assert [e.job_index for e in judged.errors] == [3]
    plain = Samples(
        samples.wall_ns, samples.cpu_ns, samples.end_ns, {"traced": samples.gauges["traced"]}, ()
    )
    assert plain.untraced().wall_ns == (0, 1)


def _fleet_samples(traced_at: int | None = None) -> Samples:
    """Two containers' workers, both pid 7, taking turns in blocks of 50 jobs; the last
    sample (a job the supervisor recorded for a worker that died in it) has no node."""
    count = 400
    nodes: list[int | None] = [111 if (job // 50) % 2 == 0 else 222 for job in range(count)]
    nodes[-1] = None
    traced = tuple(
        1 if traced_at is not None and job >= traced_at and nodes[job] == 111 else None
        for job in range(count)
    )
    gauges: dict[str, tuple[int | None, ...]] = {
        "worker_pid": (7,) * count,
        "worker_node": tuple(nodes),
    }
    if traced_at is not None:
        gauges["traced"] = traced
    return Samples(tuple([1_000] * count), tuple([900] * count), tuple(range(count)), gauges, ())


def test_equal_pids_on_two_nodes_are_two_lifetimes() -> None:
    """Containers each count pids from 1: (node, pid) tells their workers apart; a sample
    without a node belongs to the node last seen with its pid."""
    lives = sorted(lifetimes(_fleet_samples()), key=lambda life: life.node or 0)
    assert [(life.node, life.pid, len(life.job_indexes)) for life in lives] == [
        (111, 7, 200),
        (222, 7, 200),
    ]
    assert 399 in lives[1].job_indexes  # node 222 ran the jobs 350-398 before it


def test_a_memray_window_on_one_node_cuts_only_that_nodes_jobs() -> None:
    """The traced worker's jobs from its window on are left out; the other node's stay."""
    kept = _fleet_samples(traced_at=300).untraced()
    assert len(kept) == 400 - 50  # node 111's jobs 300-349; node 222's all kept
