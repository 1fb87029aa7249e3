"""``soak record`` of 100,000 pending Celery messages on Redis: target < 10 s, memory bounded
(the file is written as the queue is read). Run with ``nox -s bench``."""

from __future__ import annotations

import json
import resource
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import soak_command

BROKER = "redis://127.0.0.1:6379/0"
MESSAGES = 100_000
TARGET_S = 10.0

redis = pytest.importorskip("redis")
celery = pytest.importorskip("celery")


def _fill(client: Any, queue: str) -> None:
    """One real message as Celery sends it, repeated with each one's own job."""
    app = celery.Celery("billing", broker=BROKER)
    app.send_task("billing.render", args=[{"customer": "c", "amount": 0}], queue=queue)
    template = json.loads(client.rpop(queue))
    pipeline = client.pipeline(transaction=False)
    for index in range(MESSAGES):
        body = json.dumps([[{"customer": f"c{index}", "amount": index}], {}, {}])
        message = dict(template, body=body)
        message["properties"] = dict(template["properties"], body_encoding="utf-8")
        pipeline.lpush(queue, json.dumps(message))
        if index % 10_000 == 9_999:
            pipeline.execute()
    pipeline.execute()


def test_record_100000_messages(benchmark: Any, tmp_path: Path) -> None:
    client: Any = redis.Redis.from_url(BROKER)
    queue = f"soak-bench-{uuid.uuid4().hex[:8]}"
    try:
        _fill(client, queue)
        outs = iter(tmp_path / f"jobs-{n}.jsonl" for n in range(100))

        def record() -> None:
            command = soak_command("record", "--broker", BROKER, "--queue", queue,
                                   "--out", str(next(outs)))  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)

        benchmark.pedantic(record, rounds=3, iterations=1)
        assert client.llen(queue) == MESSAGES
    finally:
        client.delete(queue)
        client.close()
    lines = len((tmp_path / "jobs-0.jsonl").read_text(encoding="utf-8").splitlines())
    assert lines == MESSAGES
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        seconds=round(median, 3), target_s=TARGET_S, peak_rss_mib=round(peak_mib, 1)
    )
    print(f"\nrecord {MESSAGES:,} messages: {median:.2f} s (target {TARGET_S} s), "
          f"largest child RSS {peak_mib:.0f} MiB")  # fmt: skip
