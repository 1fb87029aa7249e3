"""The import workload: parse a batch of customer records (CSV or JSON Lines), validate each
row (bad rows are reported, not fatal), and upsert the good ones into a database.

The database is SQLite by default (a file in the run directory) or PostgreSQL with
``--db postgresql://user@host:port/dbname``. Every row key is unique to its run, seed and
job, and repeats within a batch are updates, so after a run the table holds exactly the
distinct valid keys generated; re-running a job changes nothing. The workload's report says
how many rows it found against how many it expected.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from worker_soak.workloads.base import (
    ENV_RUN_DIR,
    FaultyWorker,
    Job,
    Workload,
    WorkloadOptionError,
    profile_of,
    rng_for,
)
from worker_soak.workloads.payloads import CURRENCIES, person

ENV_DB: Final = "SOAK_DB"
ENV_TABLE: Final = "SOAK_IMPORT_TABLE"
#: balance_minor goes to a BIGINT column (SQLite INTEGER, PostgreSQL bigint): 64-bit signed.
BIGINT_LIMIT: Final = 2**63
FIELDS: Final = ("customer_id", "name", "email", "balance_minor", "currency", "signup_date")
ROWS: Final = {"small": 20, "medium": 200, "large": 2_000}
BAD_ROW_RATE: Final = 0.05
REPEAT_RATE: Final = 0.1
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _row(rng: random.Random, seed: int, index: int, number: int) -> dict[str, str]:
    customer = person(rng)
    currency, _ = rng.choice(CURRENCIES)
    return {
        "customer_id": f"C{seed}-{index}-{number}",
        "name": customer["name"],
        "email": f"c{seed}.{index}.{number}@example.test",
        "balance_minor": str(rng.randint(-50_000, 5_000_000)),
        "currency": currency,
        "signup_date": f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }


_DAMAGE: Final = (
    ("email", "not-an-address"),
    ("balance_minor", "12,5x"),
    ("name", ""),
    ("signup_date", "31/02/2024"),
    ("customer_id", ""),
)


def generate(count: int, seed: int, options: Mapping[str, str]) -> Iterator[Job]:
    """Batches of customer rows; about 5 % damaged, about 10 % repeats of an earlier key in
    the same batch (an update)."""
    rows = ROWS[profile_of(options)]
    for index in range(count):
        rng = rng_for(seed, index, "import")
        records: list[dict[str, str]] = []
        valid_keys: set[str] = set()
        for number in range(rows):
            if records and rng.random() < REPEAT_RATE:
                record = dict(rng.choice(records))
                record["balance_minor"] = str(rng.randint(0, 1_000_000))
            else:
                record = _row(rng, seed, index, number)
            if rng.random() < BAD_ROW_RATE:
                field, value = rng.choice(_DAMAGE)
                record[field] = value
            if not validate(record):
                valid_keys.add(record["customer_id"])
            records.append(record)
        kind = "csv" if rng.random() < 0.5 else "jsonl"
        yield {
            "id": index,
            "format": kind,
            "batch": encode(records, kind),
            "valid_keys": len(valid_keys),
        }


def encode(records: Sequence[Mapping[str, str]], kind: str) -> str:
    """Records as a CSV document with a header, or as JSON Lines."""
    if kind == "jsonl":
        return "".join(json.dumps(dict(r), ensure_ascii=False) + "\n" for r in records)
    buffer = io.StringIO(newline="")
    # The default "\r\n" terminator makes the writer quote any field holding \r or \n.
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def parse(batch: str, kind: str) -> list[dict[str, Any]]:
    """Rows of a batch; a line that is not a record becomes a row with a ``_error``."""
    if kind == "csv":
        rows: list[dict[str, Any]] = []
        reader = csv.DictReader(io.StringIO(batch, newline=""))
        try:
            rows.extend(dict(row) for row in reader)
        except csv.Error as exc:  # the rest of an unparseable upload is one rejected row
            rows.append({"_error": f"line {reader.line_num}: not CSV ({exc})"})
        return rows
    if kind != "jsonl":
        raise ValueError(f"batch format {kind!r} is neither 'csv' nor 'jsonl'")
    rows = []
    for number, line in enumerate(batch.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append({"_error": f"line {number}: not JSON ({exc.msg})"})
            continue
        rows.append(
            value if isinstance(value, dict) else {"_error": f"line {number}: not an object"}
        )
    return rows


def validate(row: Mapping[str, Any]) -> str | None:
    """Why a row cannot be imported, or None when it can."""
    if "_error" in row:
        return str(row["_error"])
    for field in FIELDS:
        if not isinstance(row.get(field), str) or not row[field].strip():
            return f"{field} is missing"
    return _value_problem(row)


def _value_problem(row: Mapping[str, str]) -> str | None:
    """Why a row with every field present has a value that cannot be imported."""
    if not _EMAIL.match(row["email"]):
        return f"email {row['email']!r} is not an address"
    if not re.fullmatch(r"-?\d+", row["balance_minor"]):
        return f"balance_minor {row['balance_minor']!r} is not a whole number"
    if not -BIGINT_LIMIT <= int(row["balance_minor"]) < BIGINT_LIMIT:
        return f"balance_minor {row['balance_minor']} does not fit a 64-bit BIGINT column"
    if not _DATE.match(row["signup_date"]):
        return f"signup_date {row['signup_date']!r} is not YYYY-MM-DD"
    return None


class Database:
    """The few statements the import needs, on SQLite or PostgreSQL."""

    def __init__(self, dsn: str, table: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
            raise WorkloadOptionError(f"table name {table!r} is not a plain identifier")
        self.table = table
        self.postgres = dsn.startswith(("postgresql://", "postgres://"))
        if self.postgres:
            import psycopg

            self.connection: Any = psycopg.connect(dsn, autocommit=False)
            self.mark = "%s"
        elif dsn.startswith("sqlite:///"):
            import sqlite3

            self.connection = sqlite3.connect(dsn.removeprefix("sqlite:///"), timeout=30)
            # A bounded page cache that fills within a few jobs: SQLite's default (2 MB)
            # fills over ~900 small batches, which a 100-job soak cannot tell from a leak.
            self.connection.execute("PRAGMA cache_size = -64")
            # Bulk-import settings: write-ahead log, no fsync per commit (only at
            # checkpoints). Per-commit fsyncs made job times wander by +-30 % here.
            self.connection.execute("PRAGMA journal_mode = WAL")
            self.connection.execute("PRAGMA synchronous = NORMAL")
            self.mark = "?"
        else:
            raise WorkloadOptionError(
                f"--db {dsn!r}: expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
            )

    def create(self) -> None:
        self.connection.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (customer_id TEXT PRIMARY KEY, "
            "name TEXT NOT NULL, email TEXT NOT NULL, balance_minor BIGINT NOT NULL, "
            "currency TEXT NOT NULL, signup_date TEXT NOT NULL, job INTEGER NOT NULL)"
        )
        self.connection.commit()

    def upsert(self, rows: Sequence[Mapping[str, Any]], job: int) -> None:
        marks = ", ".join([self.mark] * 7)
        statement = (
            f"INSERT INTO {self.table} (customer_id, name, email, balance_minor, currency, "
            f"signup_date, job) VALUES ({marks}) ON CONFLICT (customer_id) DO UPDATE SET "
            "name = excluded.name, email = excluded.email, balance_minor = "
            "excluded.balance_minor, currency = excluded.currency, signup_date = "
            "excluded.signup_date, job = excluded.job"
        )
        values = [
            (
                r["customer_id"],
                r["name"],
                r["email"],
                int(r["balance_minor"]),
                r["currency"],
                r["signup_date"],
                job,
            )
            for r in rows
        ]
        cursor = self.connection.cursor()
        try:
            cursor.executemany(statement, values)
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        finally:
            cursor.close()

    def count(self, where: str = "", *params: Any) -> int:
        cursor = self.connection.cursor()
        try:
            cursor.execute(f"SELECT count(*) FROM {self.table} {where}", params)
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()

    def close(self) -> None:
        self.connection.close()


def _database() -> Database:
    dsn = os.environ.get(ENV_DB) or "sqlite:///" + str(
        Path(os.environ.get(ENV_RUN_DIR, ".")) / "import.sqlite"
    )
    return Database(dsn, os.environ.get(ENV_TABLE, "soak_customers"))


class ImportWorker:
    """Reference worker: parse, validate, upsert the valid rows in one transaction."""

    def setup(self) -> None:
        self.db = _database()
        self.db.create()

    def handle(self, job: Job) -> dict[str, Any]:
        valid: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for number, row in enumerate(parse(job["batch"], job["format"]), 1):
            problem = validate(row)
            if problem is None:
                valid.append(row)
            else:
                rejected.append({"row": number, "reason": problem})
        self.check(valid)
        self.db.upsert(valid, job["id"])
        return {"imported": len(valid), "rejected": rejected}

    def check(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Hook for extra checks before the write; the reference worker needs none."""

    def teardown(self) -> None:
        self.db.close()


class DuplicateScanningImportWorker(ImportWorker):
    """Faulty: looks every email up with a case-insensitive full-table scan before writing.
    Memory stays flat; each job is slower than the last as the table grows."""

    def check(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self.db.count(f"WHERE lower(email) = lower({self.db.mark})", row["email"])


class ImportServices:
    """The database for one run: a new SQLite file, or a new table in the user's PostgreSQL."""

    def __init__(self, run_dir: Path, options: Mapping[str, str], seed: int) -> None:
        self.options = options
        self.seed = seed
        self.dsn = options.get("db") or f"sqlite:///{run_dir / 'import.sqlite'}"
        self.table = "soak_customers_" + secrets.token_hex(4)
        database = Database(self.dsn, self.table)  # fails early on a bad --db
        database.create()
        database.close()

    def environment(self) -> dict[str, str]:
        return {ENV_DB: self.dsn, ENV_TABLE: self.table}

    def finish(self, jobs_completed: int) -> dict[str, Any]:
        expected = sum(
            job["valid_keys"] for job in generate(jobs_completed, self.seed, self.options)
        )
        database = Database(self.dsn, self.table)
        try:
            rows = database.count()
        finally:
            database.close()
        shown = (
            self.dsn
            if not self.dsn.startswith("postgres")
            else re.sub(r"//[^@/]*@", "//…@", self.dsn)
        )
        return {
            "database": shown,
            "table": self.table,
            "rows_in_table": rows,
            "rows_expected": expected,
            "rows_match": rows == expected,
        }


WORKLOAD = Workload(
    name="import",
    summary="CSV and JSON Lines customer batches: parse, validate, upsert into SQLite "
    "(default) or PostgreSQL (--db)",
    generate=generate,
    reference_worker="worker_soak.workloads.data_import:ImportWorker",
    faulty={
        "scan": FaultyWorker(
            "worker_soak.workloads.data_import:DuplicateScanningImportWorker",
            "latency",
            "scans the whole table for every row",
        )
    },
    options={
        "db": "sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: a SQLite "
        "file in the run directory)"
    },
    start=ImportServices,
)
