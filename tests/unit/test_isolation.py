"""The isolation verdict's pure parts: state diffs, the shortest cause, the verdict."""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from worker_soak.analysis.isolation import (
    Comparison,
    isolation_verdict,
    isolation_warmup,
    plan,
    shortest_cause,
    state_changes,
)
from worker_soak.worker.evidence import IsolationEvidence, read_aged_results, read_snapshots
from worker_soak.worker.isolation_check import cause_window, differing_job, write_jobs_file


def test_state_changes_after_warmup_each_once_at_first_change() -> None:
    """Changes before warm-up are ignored; each key is reported at its first change."""
    snapshots = [
        (0, {"cwd": "/a", "os.environ['X']": "1"}),
        (10, {"cwd": "/b", "os.environ['X']": "1"}),
        (20, {"cwd": "/b", "os.environ['X']": "2"}),
        (50, {"cwd": "/b", "os.environ['X']": "3", "logging['app']": "1 handlers"}),
    ]
    changes = state_changes(snapshots, warmup_jobs=10)
    assert [(c.key, c.first_seen_after_job, c.not_yet_after_job) for c in changes] == [
        ("os.environ['X']", 20, 10),
        ("logging['app']", 50, 20),
    ]
    assert changes[1].before is None
    assert all(c.fails for c in changes)


@given(
    st.integers(min_value=1, max_value=300),
    st.sets(st.integers(min_value=0, max_value=299), min_size=1, max_size=3),
)
def test_shortest_cause_finds_the_culprits(length: int, culprits: set[int]) -> None:
    """With a difference caused by a set of earlier jobs all being present, delta debugging
    returns exactly those jobs, in order, within its budget of 200 tests (one culprit takes
    O(log n); three spread over 278 jobs took 185: ddmin is quadratic in the culprits)."""
    culprits = {c for c in culprits if c < length} or {0}

    def reproduces(sequence: Sequence[int]) -> bool:
        return culprits <= set(sequence)

    found, tests = shortest_cause(range(length), reproduces)
    assert found == sorted(culprits)
    assert tests <= 200
    if len(culprits) == 1:
        assert tests <= 60


def test_shortest_cause_of_what_does_not_reproduce() -> None:
    """No reproduction from the whole history: None, after one test; reproduction with no
    job at all: the empty sequence."""
    assert shortest_cause(range(10), lambda s: False) == (None, 1)
    assert shortest_cause(range(10), lambda s: True)[0] == []


def test_verdict_fails_on_a_differing_result_and_names_the_cause() -> None:
    """A differing job fails, with both results and the reproducing sequence."""
    verdict = isolation_verdict(
        [Comparison(120, False, "'acme'", "None"), Comparison(240, True, "1", "1")],
        [],
        reproduction={"sequence": [117]},
    )
    assert verdict.verdict == "fail"
    assert verdict.summary == (
        "history changed the outcome: job 120 returned 'acme' on the aged worker but None on a "
        "fresh one (1 of 2 compared jobs differ); reproduced on a fresh worker by running "
        "job(s) 117 before it"
    )


def test_verdict_on_state_left_behind_and_on_module_globals() -> None:
    """A logging handler per job fails; a growing memo cache with equal results passes and
    is listed; a declared stateful worker passes."""
    same = [Comparison(i, True, "1", "1") for i in range(5)]
    handler = state_changes(
        [(10, {"logging['app']": "1 handlers"}), (20, {"logging['app']": "2 handlers"})], 10
    )
    cache = state_changes(
        [(10, {"global m.CACHE": "dict len=10"}), (20, {"global m.CACHE": "dict len=20"})], 10
    )
    assert isolation_verdict(same, handler).verdict == "fail"
    memo = isolation_verdict(same, cache)
    assert memo.verdict == "pass"
    assert "1 module global(s) changed, results unaffected" in memo.summary
    assert isolation_verdict(same, handler, stateful=True).verdict == "pass"
    assert isolation_verdict([], []).verdict == "inconclusive"


@given(st.integers(min_value=1, max_value=20_000))
def test_plan_keeps_results_after_warmup_and_snapshots_around_them(judged: int) -> None:
    """Kept results: at most 30, all after warm-up and inside the judged jobs; snapshots
    include the warm-up job and the last judged job whenever anything is kept."""
    keep, after = plan(judged)
    warmup = isolation_warmup(judged)
    assert len(keep) <= 30
    assert all(warmup <= job < judged for job in keep)
    assert list(keep) == sorted(set(keep))
    if keep:
        assert {warmup, judged - 1} <= set(after)
        assert len(keep) == min(30, judged - warmup)
    assert all(0 <= job < judged for job in after)
    fewer, _ = plan(judged, kept=5)
    assert len(fewer) == min(5, len(keep)) or not keep


def test_evidence_round_trips_through_its_files(tmp_path: Path) -> None:
    """Kept results and state snapshots are written as they are taken (as changes) and read
    back whole."""

    class Watcher:
        states = iter([{"warm": "up"}, {"a": "1", "b": "2"}, {"a": "3"}])

        def snapshot(self, job_index: int) -> dict[str, str]:
            return next(self.states)

    class Executor:
        def run_keeping_result(
            self, job_index: int, job: dict[str, int]
        ) -> tuple[bytes, object, None]:
            return b"sample", {"twice": job["id"] * 2}, None

        def run(self, job_index: int, job: dict[str, int]) -> bytes:
            return b"sample"

    evidence = IsolationEvidence(tmp_path, frozenset({1}), frozenset({0, 1}), Watcher())  # type: ignore[arg-type]
    for index in (0, 1, 2):
        assert evidence.run(Executor(), index, {"id": index}) == b"sample"  # type: ignore[arg-type]
    evidence.close()
    assert read_snapshots(tmp_path) == [(0, {"a": "1", "b": "2"}), (1, {"a": "3"})]
    kind, payload = read_aged_results(tmp_path)[1]
    assert (kind, pickle.loads(payload)) == ("value", {"twice": 2})


@given(
    st.sets(st.integers(min_value=0, max_value=300), max_size=40),
    st.integers(min_value=0, max_value=400),
)
def test_the_jobs_file_holds_only_the_wanted_jobs_and_stops_reading_after_the_last(
    wanted: set[int], count: int
) -> None:
    """The parent writes the jobs the fresh workers replay by index, from a stream it reads
    no further than the last wanted job: a 10,000-job run of 300-KiB jobs writes 30 of them,
    not 3 GB."""
    read: list[int] = []

    def jobs() -> Iterator[dict[str, Any]]:
        for index in range(count):
            read.append(index)
            yield {"id": index, "body": "x" * (index % 7)}

    with tempfile.TemporaryDirectory() as folder:
        path = write_jobs_file(Path(folder), jobs(), wanted)
        lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    expected = sorted(i for i in wanted if i < count)
    assert [r["index"] for r in records] == expected
    assert all(r["job"]["id"] == r["index"] for r in records)
    assert len(read) <= max(wanted, default=-1) + 2


def test_the_cause_search_replays_the_window_before_the_first_differing_job() -> None:
    """Only a comparison that found a difference, and no error, asks for a cause search;
    its window is the job and the 500 before it."""
    found = {
        "comparisons": [
            {"job_index": 40, "equal": True},
            {"job_index": 900, "equal": False},
            {"job_index": 1200, "equal": False},
            {"job_index": 60, "equal": None},
        ]
    }
    assert differing_job(found) == 900
    assert cause_window(900) == range(400, 901)
    assert cause_window(3) == range(0, 4)
    assert differing_job({**found, "error": "stopped comparing: hung"}) is None
    assert differing_job({"comparisons": [{"job_index": 5, "equal": True}]}) is None
