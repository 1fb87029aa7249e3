"""A user's project soaks its own task on its own jobs, every way, from its own root: the
project has top-level ``harness`` and ``workloads`` packages of its own, and its task imports
them (``tests/data/user_project``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, soak_command

PROJECT = REPO / "tests" / "data" / "user_project"
RECORDS = 300


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    with open(root / "jobs.jsonl", "w", encoding="utf-8") as out:
        for index in range(RECORDS):
            out.write(json.dumps({"customer": f"c{index}", "amount": index}) + "\n")
    return root


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the project's root is the working directory, as for a user
    return env


def _soak(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _in_project(project, soak_command("run", *args))


def _python(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _in_project(project, [sys.executable, *args])


def _in_project(project: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=240,
        env=_env(),
        check=False,
    )


def _result(project: Path) -> dict[str, object]:
    runs = sorted((project / "reports" / "runs").iterdir())
    assert len(runs) == 1, runs
    found: dict[str, object] = json.loads((runs[0] / "result.json").read_text())
    return found


@pytest.mark.parametrize(
    "args",
    [
        ("--worker", "harness.billing:render", "--jobs-from", "jobs.jsonl", "--no-report"),
        (
            "--worker", "harness.billing:render", "--workload", "myjobs/gen.py:make_job",
            "--jobs", "300", "--workers", "2", "--max-jobs-per-worker", "100", "--no-report",
        ),
        (
            "--runner", "celery", "--worker", "harness.billing:render_task",
            "--jobs-from", "jobs.jsonl", "--jobs", "200", "--light", "--no-report",
        ),
    ],
    ids=["process-jobs-from", "pool-generator", "celery-jobs-from"],
)  # fmt: skip
def test_the_projects_task_soaks_on_its_own_jobs(project: Path, args: tuple[str, ...]) -> None:
    """Zero failed jobs: the worker imported the project's own ``harness`` and ``workloads``,
    and the jobs carried the fields the task reads."""
    run = _soak(project, *args)
    assert run.returncode in (0, 1), run.stderr
    result = _result(project)
    assert result["jobs_failed"] == 0, run.stdout
    assert result["crashes"] == [], run.stdout
    assert result["jobs_completed"] == (200 if "200" in args else RECORDS)
    if "--jobs-from" in args:
        assert result["jobs_from"] == "jobs.jsonl"
    if args[-1] == "--no-report" and "--workers" not in args and "--light" not in args:
        # the default run compared results with fresh workers: they replayed the same jobs
        isolation = result["verdicts"]["isolation"]  # type: ignore[index]
        assert isolation["verdict"] == "pass", isolation["summary"]


def test_the_python_api_takes_a_file_a_list_and_a_strategy(project: Path) -> None:
    run = _python(project, "soak_script.py")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [line["kind"] for line in lines] == ["file", "list", "strategy"]
    for line in lines:
        assert line["completed"] == 200
        assert line["failed_jobs"] == 0, line
        assert line["failed"] == "pass", line
    assert len({line["run_dir"] for line in lines}) == 3  # default run directories are unique


def test_pytest_in_the_project_loads_the_plugin_and_soaks(project: Path) -> None:
    """The project's own ``harness`` package does not shadow the plugin's."""
    run = _python(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_billing.py")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    assert "PASS test_billing.py::test_render_soaks_on_recorded_jobs" in run.stdout


BAD = {
    "bad.jsonl": '{"customer": "a", "amount": 1}\n{"customer": \n',
    "empty.jsonl": "",
    "myjobs/bad.py": (
        "def raises(index, seed):\n    raise ValueError('no customers table')\n"
        "def listy(index, seed):\n    return [index]\n"
        "def opaque(index, seed):\n    return {'when': object()}\n"
    ),
}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--jobs-from", "bad.jsonl"), "bad.jsonl:2: not a JSON object"),
        (("--jobs-from", "empty.jsonl"), "empty.jsonl: holds no job"),
        (("--jobs-from", "missing.jsonl"), "missing.jsonl: cannot be read"),
        (("--workload", "myjobs/bad.py:raises"), "make_job(0, 0) raised ValueError"),
        (("--workload", "myjobs/bad.py:listy"), "make_job(0, 0) returned list [0]"),
        (("--workload", "myjobs/bad.py:opaque"), "not JSON-serialisable"),
        (("--workload", "myjobs/gen.py:make_jobs"), "has no attribute 'make_jobs'"),
        (("--workload", "email", "--jobs-from", "jobs.jsonl"), "give one of them"),
    ],
)
def test_bad_jobs_are_one_line_and_exit_2_and_leave_no_run(
    project: Path, args: tuple[str, ...], message: str
) -> None:
    for name, text in BAD.items():
        (project / name).write_text(text, encoding="utf-8")
    run = _soak(project, "--worker", "harness.billing:render", *args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("soak: error: ")
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    runs = project / "reports" / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []


def test_a_generator_failing_mid_run_keeps_the_samples_and_exits_2(project: Path) -> None:
    (project / "myjobs" / "late.py").write_text(
        "def make_job(index, seed):\n"
        "    if index == 150:\n"
        "        raise RuntimeError('customer 150 has no address')\n"
        "    return {'customer': 'c', 'amount': index}\n",
        encoding="utf-8",
    )
    run = _soak(
        project, "--worker", "harness.billing:render", "--workload", "myjobs/late.py:make_job",
        "--jobs", "300", "--no-report",
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "make_job(150, 0) raised RuntimeError: customer 150 has no address" in run.stderr
    result = _result(project)
    assert "customer 150 has no address" in str(result["harness_error"])
    assert 0 < int(result["jobs_completed"]) <= 150  # type: ignore[call-overload]
