"""Fresh workers for the isolation check start the cheapest safe way: forked after
``setup()``, forked before it when ``setup()`` connects, a new interpreter when the worker's
imports already run a thread; and a soak of the import workload on PostgreSQL passes
isolation (forked after its connection, fresh workers shared it and failed)."""

from __future__ import annotations

import json
import pickle

import pytest

from tests.conftest import SoakCli
from worker_soak.worker.evidence import VALUE
from worker_soak.worker.fresh_workers import (
    FORK_AFTER_SETUP,
    FORK_BEFORE_SETUP,
    SPAWN,
    FreshWorkers,
)
from worker_soak.worker.spec import load_worker

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.mark.parametrize(
    ("spec", "mode", "answer"),
    [
        ("tests/isolation/clean_pure.py:handle", FORK_AFTER_SETUP, 15),
        ("tests/isolation/connected_in_setup.py:Worker", FORK_BEFORE_SETUP, 14),
        ("tests/isolation/thread_at_import.py:handle", SPAWN, 8),
    ],
)
def test_fresh_workers_start_the_cheapest_safe_way(spec: str, mode: str, answer: int) -> None:
    """Each mode gives the job's outcome; the reason is said."""
    fresh = FreshWorkers(load_worker(spec), spec, timeout_s=10)
    assert fresh.mode == mode, fresh.how
    outcome = fresh.run([{"id": 7}])
    assert outcome is not None
    assert outcome[0] == VALUE
    assert pickle.loads(outcome[1]) == answer
    assert fresh.set_up is (mode == FORK_AFTER_SETUP)
    if mode == FORK_BEFORE_SETUP:
        assert "socket" in fresh.how


def test_the_import_workload_on_postgresql_passes_isolation(soak_cli: SoakCli) -> None:
    """Its set-up connection is the worker's own in every fresh worker: no 'prepared
    statement already exists' from a connection shared across forks."""
    try:
        import psycopg

        psycopg.connect(POSTGRES, connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")
    run = soak_cli("--workload", "import", "--db", POSTGRES, "--jobs", "300", "--no-report")
    result = run.result()
    isolation = result["verdicts"]["isolation"]
    assert isolation["verdict"] == "pass", isolation["summary"]
    assert isolation["jobs_compared"] >= 5
    details = json.loads((run.out / "isolation.json").read_text())
    assert details["fresh_workers"].startswith("forked before setup()")
