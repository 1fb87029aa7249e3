"""``soak record`` on a real Celery queue on Redis: the pending messages become a job file,
the queue keeps them, and ``soak run --jobs-from`` replays them through Celery."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, soak_command

BROKER = "redis://127.0.0.1:6379/0"
PENDING = 1000

redis = pytest.importorskip("redis")
celery = pytest.importorskip("celery")


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"soak-record-{uuid.uuid4().hex[:8]}"
    client: Any = redis.Redis.from_url(BROKER)
    try:
        client.ping()
    except redis.RedisError as exc:  # pragma: no cover - the service runs on every machine
        pytest.fail(f"Redis on {BROKER} is needed: {exc}")
    yield name
    client.delete(name)
    client.close()


def _fill(queue: str, count: int) -> None:
    """Send ``count`` tasks as an application would: every tenth with more arguments."""
    app = celery.Celery("billing", broker=BROKER)
    with app.producer_or_acquire() as producer:
        for index in range(count):
            job = {"customer": f"c{index}", "amount": index, "card": {"number": "4111"}}
            if index % 10 == 9:
                app.send_task(
                    "billing.render_copies", args=[job, 2], kwargs={"pin": "1234"},
                    queue=queue, producer=producer,
                )  # fmt: skip
            else:
                app.send_task("billing.render", args=[job], queue=queue, producer=producer)


def _record(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        soak_command("record", "--broker", BROKER, *args),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_recording_leaves_the_queue_as_it_was_and_replays(queue: str, tmp_path: Path) -> None:
    _fill(queue, PENDING)
    client: Any = redis.Redis.from_url(BROKER)
    before = client.lrange(queue, 0, -1)
    out = tmp_path / "jobs.jsonl"
    run = _record("--queue", queue, "--out", str(out), "--redact", "card.number",
                  "--redact", "kwargs.pin")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"recorded 1,000 jobs of 1,000 pending on queue '{queue}'" in run.stdout
    assert client.lrange(queue, 0, -1) == before  # the same messages, in the same order
    jobs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(jobs) == PENDING
    assert jobs[0] == {"customer": "c0", "amount": 0, "card": {"number": "[redacted]"}}
    assert jobs[9] == {
        "args": [{"customer": "c9", "amount": 9, "card": {"number": "[redacted]"}}, 2],
        "kwargs": {"pin": "[redacted]"},
    }
    assert [job.get("amount", job.get("args", [{}])[0].get("amount")) for job in jobs] == list(
        range(PENDING)
    )  # oldest first, as a worker would take them

    replay = subprocess.run(
        soak_command(
            "run", "--runner", "celery", "--worker", "harness.billing:render_copies",
            "--jobs-from", str(out), "--light", "--no-report", "--out", str(tmp_path / "run"),
        ),
        cwd=REPO / "tests" / "data" / "user_project",
        capture_output=True,
        text=True,
        timeout=240,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=False,
    )  # fmt: skip
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["jobs_completed"] == PENDING, replay.stdout + replay.stderr
    assert result["jobs_failed"] == 0, replay.stdout  # the recorded calls were the same calls
    assert client.llen(queue) == PENDING  # the soak ran on a queue of its own
    client.close()


def test_count_limits_and_bad_requests_are_one_clear_error(queue: str, tmp_path: Path) -> None:
    _fill(queue, 30)
    out = tmp_path / "some.jsonl"
    assert _record("--queue", queue, "--out", str(out), "--count", "12").returncode == 0
    assert len(out.read_text().splitlines()) == 12
    for args, message in [
        (("--queue", queue, "--out", str(out)), "exists; a recording never overwrites"),
        (("--queue", f"{queue}-empty", "--out", str(tmp_path / "e.jsonl")), "holds no job"),
        (("--queue", queue, "--out", str(tmp_path / "r.jsonl"), "--redact", "a..b"), "dotted"),
    ]:
        run = _record(*args)
        assert run.returncode == 2, run.stdout + run.stderr
        assert message in run.stderr
        assert run.stderr.count("\n") == 1, run.stderr
    assert not (tmp_path / "e.jsonl").exists()
    amqp = subprocess.run(
        soak_command("record", "--broker", "amqp://guest:secret@127.0.0.1:5672//", "--queue",
                     queue, "--out", str(tmp_path / "a.jsonl")),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert amqp.returncode == 2
    assert "only a Redis broker's queue can be read without taking its messages" in amqp.stderr
    assert "secret" not in amqp.stderr
