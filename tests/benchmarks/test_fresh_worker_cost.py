"""What one fresh worker of the isolation check costs, each way it can start, on the import
workload's worker over PostgreSQL (a set-up that connects): forked after ``setup()`` (cheap,
but sharing the connection: most outcomes are the shared session's errors), forked before it
(the default for such workers) and a new interpreter. Run with ``nox -s bench``."""

from __future__ import annotations

from typing import Any

import pytest

from worker_soak.worker import fresh_workers as fw
from worker_soak.worker.evidence import VALUE
from worker_soak.worker.spec import load_worker
from worker_soak.workloads import get_workload

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SPEC = "worker_soak.workloads.data_import:ImportWorker"


@pytest.mark.parametrize("mode", [fw.FORK_AFTER_SETUP, fw.FORK_BEFORE_SETUP, fw.SPAWN])
def test_fresh_worker_cost(benchmark: Any, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        import psycopg

        psycopg.connect(POSTGRES, connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")
    monkeypatch.setenv("SOAK_DB", POSTGRES)
    jobs = list(get_workload("import").jobs(40, 0, {}))
    fresh = fw.FreshWorkers(load_worker(SPEC), SPEC, timeout_s=30)
    if mode == fw.FORK_AFTER_SETUP and not fresh.set_up:
        fresh.worker.setup()
        fresh.set_up = True
    fresh.mode = mode
    outcomes: list[Any] = []
    counter = iter(range(len(jobs)))
    benchmark.pedantic(
        lambda: outcomes.append(fresh.run([jobs[next(counter)]])), rounds=8, iterations=1
    )
    good = sum(o is not None and o[0] == VALUE for o in outcomes)
    median_ms = benchmark.stats.stats.median * 1e3
    benchmark.extra_info.update(median_ms=round(median_ms, 1), value_outcomes=f"{good}/8")
    print(f"\n{mode}: {median_ms:.1f} ms per fresh worker, {good}/8 outcomes a value")
    if fresh.set_up:
        fresh.worker.teardown()
