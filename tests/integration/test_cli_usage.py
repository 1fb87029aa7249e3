"""Bad input to ``soak``: one clear line on stderr, exit 2, no traceback, no run left behind."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO, SoakCli, soak_command


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("no_colon", "expected the form 'package.module:attr' or 'path/to/file.py:attr'"),
        ("no_such_package.tasks:handle", "no module named 'no_such_package'"),
        ("tests/workers/missing.py:handle", "no file 'tests/workers/missing.py'"),
        ("tests/workers/faulty.py:nothing_here", "has no attribute 'nothing_here'"),
        ("tests/workers/faulty.py:not_callable", "names int; expected a callable handle(job)"),
        ("tests/workers/broken_syntax.py:handle", "syntax error at"),
        (
            "tests/workers/broken_import.py:handle",
            "raised ModuleNotFoundError: No module named 'a_module_that_does_not_exist'",
        ),
        ("worker_soak.workloads.counter:2x", "'2x' is not a Python attribute name"),
    ],
)
def test_bad_worker_spec_is_one_line_and_exit_2(
    soak_cli: SoakCli, spec: str, expected: str
) -> None:
    """Each kind of bad spec names what was given and what was expected."""
    run = soak_cli("--worker", spec, "--jobs", "5")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"soak: error: worker spec {spec!r}: ")
    assert expected in lines[0]
    assert "Traceback" not in run.stderr
    assert not run.out.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--jobs", "0"], "argument --jobs: expected a whole number >= 1, got '0'"),
        (["--jobs", "many"], "argument --jobs: expected a whole number >= 1, got 'many'"),
        (["--job-timeout", "-1"], "argument --job-timeout: expected seconds > 0, got '-1'"),
        (
            ["--runner", "thread"],
            "argument --runner: expected one of process, inline, celery, rq, got 'thread'",
        ),
        (["--workload", "nope"], "--workload: no workload 'nope'; expected one of: counter"),
        (["--runner", "inline", "--job-timeout", "1"], "--job-timeout needs --runner process"),
        (["--max-growth", "lots"], "argument --max-growth: expected a size such as 64B"),
        (["--significance", "0.7"], "argument --significance: expected a probability in (0, 0.5)"),
        (["--latency-tolerance", "lots"], "argument --latency-tolerance: expected a percentage"),
    ],
)
def test_bad_option_is_one_line_and_exit_2(
    soak_cli: SoakCli, args: list[str], expected: str
) -> None:
    """Option values are checked before anything runs."""
    run = soak_cli(*args)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert expected in run.stderr
    assert not run.out.exists()


def test_workloads_lists_counter() -> None:
    """`soak workloads` prints one line per workload."""
    completed = subprocess.run(
        soak_command("workloads"), cwd=REPO, capture_output=True, text=True, check=True
    )
    assert completed.stdout.startswith("counter ")
