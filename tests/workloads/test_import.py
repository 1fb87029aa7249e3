"""The import workload upserts into real databases: SQLite, and the machine's PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from worker_soak.workloads.data_import import (
    ENV_DB,
    ENV_TABLE,
    Database,
    ImportServices,
    ImportWorker,
    generate,
    parse,
    validate,
)
from worker_soak.workloads.strategies import import_jobs

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_answers() -> str | None:
    try:
        import psycopg

        psycopg.connect(POSTGRES, connect_timeout=3).close()
    except Exception as exc:
        return f"no PostgreSQL answers at {POSTGRES}: {exc}"
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ImportServices]:
    """Services for one run, on each database; environment set for the worker."""
    options: dict[str, str] = {"profile": "medium"}
    if request.param == "postgresql":
        reason = _postgres_answers()
        if reason is not None:
            pytest.skip(reason)
        options["db"] = POSTGRES
    services = ImportServices(tmp_path, options, seed=5)
    for name, value in services.environment().items():
        monkeypatch.setenv(name, value)
    yield services
    if request.param == "postgresql":
        db = Database(POSTGRES, services.table)
        db.connection.execute(f"DROP TABLE IF EXISTS {services.table}")
        db.connection.commit()
        db.close()


def test_rows_after_the_run_equal_the_valid_rows_generated(database: ImportServices) -> None:
    """40 medium batches: the table holds exactly the distinct valid keys; bad rows reported."""
    worker = ImportWorker()
    worker.setup()
    jobs = list(generate(40, 5, {"profile": "medium"}))
    rejected = sum(len(worker.handle(job)["rejected"]) for job in jobs)
    worker.teardown()
    report = database.finish(40)
    assert report["rows_in_table"] == report["rows_expected"] == sum(j["valid_keys"] for j in jobs)
    assert report["rows_match"] is True
    assert rejected > 0


def test_running_a_batch_again_changes_nothing(database: ImportServices) -> None:
    """Upserts: importing the same batches twice leaves the same rows."""
    worker = ImportWorker()
    worker.setup()
    jobs = list(generate(10, 5, {"profile": "medium"}))
    for job in jobs + jobs:
        worker.handle(job)
    worker.teardown()
    assert database.finish(10)["rows_match"] is True


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(job=import_jobs())
def test_malformed_batches_are_reported_never_fatal(tmp_path: Path, job: dict[str, Any]) -> None:
    """Garbage lines, wrong types, missing fields, truncated uploads: rows are rejected with
    a reason, the valid ones land, and handle() does not raise."""
    database = tmp_path / "fuzz.sqlite"
    database.unlink(missing_ok=True)  # hypothesis reuses tmp_path across examples
    os.environ[ENV_DB] = f"sqlite:///{database}"
    os.environ[ENV_TABLE] = "fuzz"
    try:
        worker = ImportWorker()
        worker.setup()
        result = worker.handle(job)
        rows = parse(job["batch"], job["format"])
        assert result["imported"] + len(result["rejected"]) == len(rows)
        assert all(r["reason"] for r in result["rejected"])
        valid_keys = {row["customer_id"] for row in rows if validate(row) is None}
        assert worker.db.count() == len(valid_keys)
        worker.teardown()
    finally:
        os.environ.pop(ENV_DB)
        os.environ.pop(ENV_TABLE)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            {
                "customer_id": "1",
                "name": "A",
                "email": "nope",
                "balance_minor": "1",
                "currency": "EUR",
                "signup_date": "2020-01-01",
            },
            "is not an address",
        ),
        (
            {
                "customer_id": "1",
                "name": "A",
                "email": "a@b.example",
                "balance_minor": "1.5",
                "currency": "EUR",
                "signup_date": "2020-01-01",
            },
            "is not a whole number",
        ),
        (
            {
                "customer_id": "1",
                "name": " ",
                "email": "a@b.example",
                "balance_minor": "1",
                "currency": "EUR",
                "signup_date": "2020-01-01",
            },
            "name is missing",
        ),
        (
            {
                "customer_id": "1",
                "name": "A",
                "email": "a@b.example",
                "balance_minor": str(2**63),
                "currency": "EUR",
                "signup_date": "2020-01-01",
            },
            "does not fit a 64-bit BIGINT column",
        ),
        ({"_error": "line 3: not JSON"}, "not JSON"),
    ],
)
def test_validation_says_why(row: dict[str, str], reason: str) -> None:
    """Each kind of bad row has its own reason."""
    problem = validate(row)
    assert problem is not None
    assert reason in problem


def test_bad_dsn_is_refused_with_the_forms_expected(tmp_path: Path) -> None:
    """--db mysql://... names the two forms it takes."""
    from worker_soak.workloads.base import WorkloadOptionError

    with pytest.raises(WorkloadOptionError, match="expected sqlite:///PATH or postgresql://"):
        ImportServices(tmp_path, {"db": "mysql://root@localhost/x"}, seed=0)
