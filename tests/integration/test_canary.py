"""No secret reaches a file the harness writes, nor its output: a canary token in the
environment and canary passwords in a DSN and a broker URL, through every runner, the pytest
plugin and the site; then every byte written is searched."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, soak_command

pytest_plugins = ["pytester"]

CANARY = f"Cnry{uuid.uuid4().hex[:10]}"
TOKEN = f"tok-{CANARY}-t"
DB_PASSWORD = f"pw-{CANARY}-d"
BROKER_PASSWORD = f"pw-{CANARY}-b"
REDIS_USER = "soakcanary"
DSN = f"postgresql://app:{DB_PASSWORD}@127.0.0.1:5432/test"
WORKER = "tests/workers/canary.py:handle"


def _environment() -> dict[str, str]:
    return {**os.environ, "SOAK_CANARY_TOKEN": TOKEN, "SOAK_CANARY_DSN": DSN}


def _hits(root: Path, *texts: str) -> list[str]:
    """Every file under ``root`` (and each text) that holds the canary, by its bytes."""
    needle = CANARY.encode()
    found = [
        str(path) for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()
    ]
    return found + [text[:200] for text in texts if CANARY in text]


def _soak(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        soak_command("run", "--out", str(out), *args),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        env=_environment(),
        check=False,
    )


@pytest.fixture
def broker() -> Iterator[str]:
    """A Redis user with a canary password, for the length of the test."""
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379; CI machines run it")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    client.acl_setuser(
        REDIS_USER,
        enabled=True,
        passwords=[f"+{BROKER_PASSWORD}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    try:
        yield f"redis://{REDIS_USER}:{BROKER_PASSWORD}@127.0.0.1:6379/0"
    finally:
        client.acl_deluser(REDIS_USER)


def test_no_canary_in_any_run_file_report_site_or_output(tmp_path: Path, broker: str) -> None:
    """Process, pool, inline, Celery and RQ soaks of a worker that holds the DSN in a global,
    names it in its errors and prints the token at set-up; then ``soak site``. Zero hits, and
    the redacted error shows the secrets did pass through the harness."""
    runs = tmp_path / "runs"
    outputs: list[str] = []
    for name, args in {
        "process": ("--worker", WORKER, "--jobs", "300"),
        "inline": ("--worker", WORKER, "--jobs", "200", "--runner", "inline"),
        "pool": ("--worker", WORKER, "--jobs", "300", "--workers", "2"),
        "celery": (
            "--jobs",
            "120",
            "--runner",
            "celery",
            "--broker",
            broker,
            "--worker",
            "tests.queues.celery_tasks:canary",
        ),
        "rq": (
            "--jobs",
            "120",
            "--runner",
            "rq",
            "--broker",
            broker,
            "--worker",
            "tests.workers.canary:handle",
        ),
    }.items():
        done = _soak(runs / name, *args)
        outputs += [done.stdout, done.stderr]
        result = (runs / name / "result.json").read_text()
        assert "app:***@127.0.0.1" in result, (name, done.stderr[-2000:])
    site = subprocess.run(
        soak_command("site", str(runs)), cwd=REPO, capture_output=True, text=True, check=False
    )
    assert site.returncode == 0, site.stderr
    assert _hits(runs, *outputs, site.stdout, site.stderr) == []


def test_no_canary_through_the_pytest_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin's terminal lines, failure messages, junit XML and report directory."""
    for name, value in _environment().items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(canary_worker=(REPO / "tests/workers/canary.py").read_text())
    pytester.makepyfile(
        test_canary="""
        from canary_worker import handle

        def test_soak(soak):
            soak(handle, jobs=200)
        """
    )
    report = pytester.path / "reports"
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--soak-report={report}", f"--junitxml={junit}"
    )
    output = "\n".join(result.outlines + result.errlines)
    assert "app:***@127.0.0.1" in output or "app:***@127.0.0.1" in junit.read_text()
    assert _hits(pytester.path, output) == []
