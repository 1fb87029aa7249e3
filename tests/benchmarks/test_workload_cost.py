"""What "normal" costs: each reference worker's bare per-job time, no harness around it.

``nox -s bench`` prints them; the README lists them. Email includes the SMTP round trip to
the embedded sink on loopback; import includes the SQLite commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from worker_soak.worker.spec import load_worker
from worker_soak.workloads import get_workload

JOBS = {"small": 60, "medium": 20, "large": 5}
CASES = [(w, p) for w in ("email", "pdf", "import") for p in ("small", "medium", "large")]


@pytest.fixture
def services(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    workload = get_workload(request.node.callspec.params["case"][0])
    started = workload.start(tmp_path, {}, 0) if workload.start else None
    variables = {"SOAK_RUN_DIR": str(tmp_path), **(started.environment() if started else {})}
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    yield
    if started:
        started.finish(0)


@pytest.mark.parametrize("case", CASES, ids=[f"{w}-{p}" for w, p in CASES])
def test_reference_worker_cost(benchmark: Any, case: tuple[str, str], services: None) -> None:
    """Bare per-job time of the reference worker, per profile."""
    name, profile = case
    workload = get_workload(name)
    worker = load_worker(workload.reference_worker)
    worker.setup()
    jobs = list(workload.jobs(JOBS[profile] + 5, 0, {"profile": profile}))
    for job in jobs[:5]:  # warm-up: imports, caches, connections
        worker.handle(job)

    def run() -> None:
        for job in jobs[5:]:
            worker.handle(job)

    benchmark.pedantic(run, rounds=3, iterations=1)
    worker.teardown()
    per_job_ms = benchmark.stats.stats.median / JOBS[profile] * 1e3
    benchmark.extra_info["per_job_ms"] = round(per_job_ms, 2)
    print(f"\n{name} {profile}: {per_job_ms:.2f} ms/job")
