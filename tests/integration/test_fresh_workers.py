"""Fresh workers for the isolation check start the cheapest safe way: forked after
``setup()``, forked before it when ``setup()`` connects, a new interpreter when the worker's
imports already run a thread; and a soak of the import workload on PostgreSQL passes
isolation (forked after its connection, fresh workers shared it and failed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, SoakCli
from worker_soak.worker.evidence import VALUE
from worker_soak.worker.fresh_workers import FORK_AFTER_SETUP, FORK_BEFORE_SETUP, SPAWN

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


#: The check as the isolation check's own process runs it: a new interpreter, so that what
#: pytest's process runs (threads an earlier test left ending, a plugin's) is not judged.
CHECK = """
import json, pickle, sys
from worker_soak.worker.fresh_workers import FreshWorkers
from worker_soak.worker.spec import load_worker
spec = sys.argv[1]
fresh = FreshWorkers(load_worker(spec), spec, timeout_s=10)
outcome = fresh.run([{"id": 7}])
print(json.dumps({
    "mode": fresh.mode, "how": fresh.how, "set_up": fresh.set_up,
    "kind": outcome[0] if outcome else None,
    "answer": pickle.loads(outcome[1]) if outcome and outcome[0] == sys.argv[2] else None,
}))
"""


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
    done = subprocess.run(
        [sys.executable, "-c", CHECK, spec, VALUE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout.splitlines()[-1])
    assert fresh["mode"] == mode, fresh["how"]
    assert fresh["kind"] == VALUE
    assert fresh["answer"] == answer
    assert fresh["set_up"] is (mode == FORK_AFTER_SETUP)
    if mode == FORK_BEFORE_SETUP:
        assert "socket" in fresh["how"]


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
