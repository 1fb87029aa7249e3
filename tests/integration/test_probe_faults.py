"""Faults are named where they happen: a worker that hangs or dies on a payload the
aged-against-fresh comparison runs before the soak is reported in that phase, with the probe
job and its payload id, not as "job 0"; kept results stay small on disk."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SoakCli, worker


def test_a_hang_in_the_probe_jobs_before_the_run_names_them(soak_cli: SoakCli) -> None:
    run = soak_cli("--worker", worker("hang_at_5"), "--jobs", "200", "--job-timeout", "2")
    assert run.returncode == 1, run.stderr
    (crash,) = run.result()["crashes"]
    assert crash["phase"] == "probe jobs before the run"
    assert crash["reason"] == "timeout"
    assert "probe job 5 (payload id 5) on the new worker ran longer than 2 s" in crash["message"]
    assert "CRASH in the probe jobs before the run (timeout)" in run.stdout


def test_a_worker_that_closes_its_pipes_in_a_probe_job_is_named_there(soak_cli: SoakCli) -> None:
    run = soak_cli("--worker", worker("close_fds_at_50"), "--jobs", "200", "--job-timeout", "5")
    assert run.returncode == 1, run.stderr
    (crash,) = run.result()["crashes"]
    assert crash["phase"] == "probe jobs before the run", crash
    assert "payload id 50" in crash["message"]


def test_kept_results_of_20_mib_are_kept_as_digests(soak_cli: SoakCli) -> None:
    """200 jobs each returning 20 MiB: the run directory stays under 20 MB (it held 601 MB
    when kept results were pickled whole), and isolation is still judged."""
    run = soak_cli("--worker", worker("returns_20_mib"), "--jobs", "200", "--no-report")
    # Not the exit code: a 20-MiB memset per job is memory-bandwidth-bound, and its latency
    # may wander on a shared machine (see the zoo's clean_big_temporaries).
    assert run.result()["stop_reason"] == "completed", run.stderr
    size = sum(path.stat().st_size for path in Path(run.out).rglob("*") if path.is_file())
    assert size < 20_000_000, size
    isolation = run.result()["verdicts"]["isolation"]
    assert isolation["verdict"] == "pass", isolation["summary"]
    assert isolation["jobs_compared"] >= 1
