"""The isolation verdict through the real CLI: workers that let one job's state reach the
next fail, naming the job, both results and the shortest reproducing sequence; clean and
memoising workers pass."""

from __future__ import annotations

import pytest

from tests.conftest import SoakCli

ISOLATION = "tests/isolation"


@pytest.mark.parametrize(
    ("worker", "reason"),
    [
        ("sticky_customer", "history changed the outcome"),
        ("mutable_default", "history changed the outcome"),
        ("env_leak", "history changed the outcome"),
        ("cached_mutation", "history changed the outcome"),
        ("logging_handlers", "jobs leave process state behind: logging["),
    ],
)
def test_leaking_state_fails_isolation(soak_cli: SoakCli, worker: str, reason: str) -> None:
    """Each way of carrying state from job to job fails, and says how."""
    run = soak_cli("--worker", f"{ISOLATION}/{worker}.py:handle", "--jobs", "600", "--no-report")
    assert run.returncode == 1, run.stdout
    verdict = run.result()["verdicts"]["isolation"]
    assert verdict["verdict"] == "fail"
    assert reason in verdict["summary"]
    assert verdict["jobs_compared"] >= 1


def test_the_reproduction_is_the_shortest_sequence(soak_cli: SoakCli) -> None:
    """The sticky customer: one earlier job that sets the customer reproduces it; the
    reproduction carries the jobs to replay and what the job then returns."""
    run = soak_cli("--worker", f"{ISOLATION}/sticky_customer.py:handle", "--jobs", "600")
    verdict = run.result()["verdicts"]["isolation"]
    reproduction = verdict["reproduction"]
    first = verdict["differing_jobs"][0]
    assert len(reproduction["sequence"]) == 1
    assert reproduction["sequence"][0] % 7 == 0
    assert reproduction["jobs"][-1] == {"id": reproduction["job_index"]}
    assert f"customer-{reproduction['sequence'][0]}" in reproduction["after_sequence"]
    assert first["fresh"].endswith("'billed_to': None}")
    page = (run.out / "index.html").read_text()
    assert "Reproduction:" in page


@pytest.mark.parametrize("worker", ["clean_pure", "clean_memo"])
def test_clean_and_memoising_workers_pass(soak_cli: SoakCli, worker: str) -> None:
    """Same results on a fresh worker; a memo cache growing is evidence, not a failure."""
    run = soak_cli("--worker", f"{ISOLATION}/{worker}.py:handle", "--jobs", "600", "--no-report")
    verdict = run.result()["verdicts"]["isolation"]
    assert verdict["verdict"] == "pass", verdict["summary"]
    assert verdict["jobs_compared"] == 30
    if worker == "clean_memo":
        assert any(c["key"].startswith("global clean_memo.") for c in verdict["state_changes"])


def test_a_declared_stateful_worker_passes_with_its_state_listed(soak_cli: SoakCli) -> None:
    """--stateful: the differences and state are listed, the verdict passes."""
    run = soak_cli(
        "--worker", f"{ISOLATION}/env_leak.py:handle", "--jobs", "600", "--stateful", "--no-report"
    )
    verdict = run.result()["verdicts"]["isolation"]
    assert verdict["verdict"] == "pass"
    assert verdict["stateful"] is True
    assert verdict["differing_jobs"]


def test_no_isolation_and_light_skip_it(soak_cli: SoakCli) -> None:
    """--no-isolation: not judged, no fresh worker started."""
    run = soak_cli(
        "--worker",
        f"{ISOLATION}/sticky_customer.py:handle",
        "--jobs",
        "300",
        "--no-isolation",
        "--no-report",
    )
    assert run.result()["verdicts"]["isolation"]["verdict"] == "inconclusive"
    assert not (run.out / "isolation.json").exists()


def test_isolation_jobs_sets_how_many_are_compared(soak_cli: SoakCli) -> None:
    """--isolation-jobs 5: five kept results, five jobs compared."""
    run = soak_cli(
        "--worker",
        f"{ISOLATION}/clean_pure.py:handle",
        "--jobs",
        "300",
        "--isolation-jobs",
        "5",
        "--no-report",
    )
    assert run.result()["verdicts"]["isolation"]["jobs_compared"] == 5
