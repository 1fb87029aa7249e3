"""The supervised pool through the real CLI, with real worker processes: graceful recycling
near a memory limit, kills past the hard limit, crashes, timeouts, several workers, metrics.

What the supervisor reports is checked against what the workers themselves wrote: each test
worker logs every job's start and end (``tests/pool/workers.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

from tests.conftest import REPO, CliRun, SoakCli, soak_command
from tests.pool.workers import read_job_log

WORKERS = "tests/pool/workers.py"


def _run(soak_cli: SoakCli, tmp_path: Path, *args: str, timeout: float = 180) -> CliRun:
    log = tmp_path / "jobs.log"
    return soak_cli(*args, env={"POOL_JOB_LOG": str(log)}, timeout=timeout)


def _once(tmp_path: Path, jobs: int) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """The job log, after checking every job started and ended once, on the same worker."""
    starts, ends = read_job_log(str(tmp_path / "jobs.log"))
    assert sorted(ends) == list(range(jobs))
    assert all(len(pids) == 1 for pids in ends.values())
    return starts, ends


def test_a_leaker_recycles_gracefully_and_still_fails_memory(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """10,000 jobs of a 64 KiB/job leaker under --max-memory 200MB: recycled for memory, no
    job interrupted, lost or run twice, memory fails per lifetime, the report shows it."""
    run = _run(
        soak_cli, tmp_path, "--worker", f"{WORKERS}:leaky", "--jobs", "10000",
        "--max-memory", "200MB",
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    result = run.result()
    recycles = result["recycles"]
    assert len(recycles) >= 1
    assert {r["reason"] for r in recycles} == {"memory"}
    assert all(r["rss_bytes"] > 200e6 for r in recycles)
    assert all(r["restart_seconds"] > 0 for r in recycles)
    assert (result["jobs_lost"], result["jobs_retried"], result["jobs_run_twice"]) == (0, 0, 0)
    starts, ends = _once(tmp_path, 10_000)
    assert all(starts[job] == ends[job] for job in range(10_000))  # none started twice
    memory = result["verdicts"]["memory"]
    assert memory["verdict"] == "fail"
    assert "worker lifetimes fail" in memory["summary"]
    # The memray window ran in one worker near its recycle and names the leaking line.
    source = (REPO / WORKERS).read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if text.endswith("# LEAK"))
    assert f"top leak: {REPO / WORKERS}:{line} (handle)" in memory["summary"]
    assert result["leak_sites"][0]["retention_path"][:2] == ["Leaky (the worker)", "Leaky.kept"]
    assert result["attribution"]["traced_pid"] in {r["pid"] for r in recycles}
    assert 60 * 1024 < memory["bytes_per_job"] < 70 * 1024
    assert result["verdicts"]["recycling"]["verdict"] == "pass"
    # Each lifetime ends right after the job that crossed the limit, never mid-job.
    pids = [r["pid"] for r in recycles]
    for record in recycles:
        assert ends[record["job_index"]] == [record["pid"]]
    assert len(set(pids)) == len(pids)
    page = (run.out / "index.html").read_text()
    assert "<h2>Recycling</h2>" in page
    assert str(recycles[0]["pid"]) in page
    assert "recycle (memory) of pid" in run.stdout


def test_a_job_past_the_hard_limit_is_killed_retried_once_then_failed(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """Job 40 alone needs 400 MB under --kill-memory 300MB: killed, run once more on a fresh
    worker, killed again, recorded as failed; every other job completes once."""
    run = _run(
        soak_cli, tmp_path, "--worker", f"{WORKERS}:one_huge_job", "--jobs", "200",
        "--kill-memory", "300MB", "--no-report",
    )  # fmt: skip
    result = run.result()
    starts, ends = read_job_log(str(tmp_path / "jobs.log"))
    assert len(set(starts[40])) == 2  # two different worker processes started it
    assert 40 not in ends
    assert sorted(ends) == [job for job in range(200) if job != 40]
    assert all(len(starts[job]) == 1 for job in ends)
    assert [r["reason"] for r in result["recycles"]] == ["kill", "kill"]
    assert [r["job_index"] for r in result["recycles"]] == [40, 40]
    assert result["jobs_retried"] == 1
    assert result["jobs_lost"] == 0
    assert result["jobs_completed"] == 200
    [failure] = result["failures"]
    assert failure["type"] == "WorkerEnded"
    assert failure["first_job_index"] == 40
    assert "--kill-memory" in failure["message"]
    assert result["verdicts"]["recycling"]["verdict"] == "fail"
    assert run.returncode == 1


def test_a_worker_that_segfaults_every_1000_jobs_loses_no_job(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """Each crash interrupts one job; it runs again on the next worker; all 3,500 finish."""
    run = _run(
        soak_cli, tmp_path, "--worker", f"{WORKERS}:segfaulting", "--jobs", "3500",
        "--no-report", "--workers", "1",
    )  # fmt: skip
    result = run.result()
    starts, _ = _once(tmp_path, 3500)
    crashed = [r for r in result["recycles"] if r["reason"] == "crash"]
    assert len(crashed) == 3
    assert all("SIGSEGV" in r["exit"] for r in crashed)
    twice = sorted(job for job, pids in starts.items() if len(pids) == 2)
    assert twice == sorted(r["job_index"] for r in crashed)
    assert (result["jobs_lost"], result["jobs_retried"], result["jobs_failed"]) == (0, 3, 0)
    assert result["stop_reason"] == "completed"
    assert "3 workers ended with a job in flight" in result["verdicts"]["recycling"]["summary"]


def test_a_hung_job_is_ended_and_not_retried_with_max_retries_0(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """--job-timeout ends the worker of a hung job; --max-retries 0 records it as failed at
    once; the jobs after it run on a fresh worker."""
    run = _run(
        soak_cli, tmp_path, "--worker", f"{WORKERS}:hangs_on_job_7", "--jobs", "50",
        "--job-timeout", "1", "--max-retries", "0", "--no-report",
    )  # fmt: skip
    result = run.result()
    starts, ends = read_job_log(str(tmp_path / "jobs.log"))
    assert len(starts[7]) == 1
    assert sorted(ends) == [job for job in range(50) if job != 7]
    assert [r["reason"] for r in result["recycles"]] == ["timeout"]
    assert result["failures"][0]["first_job_index"] == 7
    assert "--job-timeout" in result["failures"][0]["message"]
    assert result["jobs_retried"] == 0
    assert result["duration_s"] < 30


def test_two_workers_share_one_queue(soak_cli: SoakCli, tmp_path: Path) -> None:
    """--workers 2: two processes alive at once, each runs jobs, every job once."""
    run = _run(
        soak_cli, tmp_path, "--worker", f"{WORKERS}:steady", "--jobs", "600", "--workers", "2",
        "--no-report",
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stderr
    result = run.result()
    _, ends = _once(tmp_path, 600)
    pids = {pid for pids in ends.values() for pid in pids}
    assert len(pids) == 2
    first, second = result["pool"]["lifetimes"]
    assert first["started_s"] < second["ended_s"]
    assert second["started_s"] < first["ended_s"]
    assert result["verdicts"]["recycling"]["verdict"] == "pass"
    samples = run.samples()
    assert {s["worker_pid"] for s in samples} == pids
    # Each sample names its node beside its pid (the host name's CRC-32).
    assert {s["worker_node"] for s in samples} == {zlib.crc32(socket.gethostname().encode())}


def test_a_node_named_in_the_environment_tags_every_sample(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """SOAK_NODE names the node for fleets whose containers share a host name."""
    run = soak_cli(
        "--worker", f"{WORKERS}:steady", "--jobs", "60", "--workers", "2", "--light",
        "--no-report", env={"SOAK_NODE": "container-b", "POOL_JOB_LOG": str(tmp_path / "log")},
    )  # fmt: skip
    samples = run.samples()
    assert len(samples) == 60, run.stdout + run.stderr
    assert {s["worker_node"] for s in samples} == {zlib.crc32(b"container-b")}


def test_max_jobs_per_worker_recycles_with_jitter(soak_cli: SoakCli, tmp_path: Path) -> None:
    """--max-jobs-per-worker 100: each worker lives 100 to 110 jobs, not the same number."""
    run = _run(
        soak_cli, tmp_path, "--worker", f"{WORKERS}:steady", "--jobs", "1000",
        "--max-jobs-per-worker", "100", "--prestart", "--no-report",
    )  # fmt: skip
    result = run.result()
    _once(tmp_path, 1000)
    lives = [life["jobs"] for life in result["pool"]["lifetimes"] if life["end"] == "jobs"]
    assert len(lives) >= 7
    assert all(100 <= jobs <= 110 for jobs in lives)
    assert len(set(lives)) > 1
    assert {r["reason"] for r in result["recycles"]} == {"jobs"}


def test_each_worker_collects_garbage_by_its_own_job_count(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """A pool's workers measure their heap after a full collection at 20, 25, 31, ... of
    their own jobs and on the job that recycles them, whatever the job indexes they get."""
    run = _run(
        soak_cli, tmp_path, "--worker", f"{WORKERS}:steady", "--jobs", "1200", "--workers", "2",
        "--max-jobs-per-worker", "300", "--light", "--no-report",
    )  # fmt: skip
    result = run.result()
    by_pid: dict[int, list[dict[str, Any]]] = {}
    # In the order each worker ran them: a job given back by a recycled worker goes to the
    # next one out of index order.
    for sample in sorted(run.samples(), key=lambda s: s["end_ns"]):
        by_pid.setdefault(sample["worker_pid"], []).append(sample)
    recycled = {r["pid"] for r in result["recycles"]}
    assert len(recycled) >= 2
    for pid, own in by_pid.items():
        collected = [n for n, s in enumerate(own, 1) if "py_blocks_collected" in s]
        expected = [n for n in (20, 25, 31, 39, 48, 61, 76, 95, 119, 149, 186) if n <= len(own)]
        assert collected[: len(expected)] == expected
        if pid in recycled:
            assert collected[-1] == len(own)


def test_prestart_starts_the_replacement_before_the_old_worker_stops(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """--prestart: each replacement was started (as a standby) before the worker it replaces
    finished its last job, so the pool never runs short of a worker."""
    run = _run(
        soak_cli, tmp_path, "--worker", f"{WORKERS}:slow_leaky", "--jobs", "5000",
        "--max-memory", "120MB", "--prestart", "--no-report",
    )  # fmt: skip
    result = run.result()
    _once(tmp_path, 5000)
    recycles = result["recycles"]
    assert len(recycles) >= 2
    lives = result["pool"]["lifetimes"]
    by_pid = {life["pid"]: index for index, life in enumerate(lives)}
    for record in recycles:
        successor = next(life for life in lives[by_pid[record["pid"]] + 1 :] if life["jobs"] > 0)
        assert record["prestarted"] is True
        assert successor["started_s"] < record["at_s"]


def test_metrics_in_prometheus_format_on_a_loopback_port_and_in_a_file(tmp_path: Path) -> None:
    """While a pool runs, /metrics answers with each worker's RSS; the file has the same."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics_file = tmp_path / "pool.prom"
    command = soak_command(
        "run", "--worker", f"{WORKERS}:steady", "--jobs", "4000", "--workers", "2",
        "--metrics-port", str(port), "--metrics-file", str(metrics_file),
        "--out", str(tmp_path / "run"), "--no-report", "--light",
    )  # fmt: skip
    env = {**os.environ, "POOL_JOB_LOG": str(tmp_path / "jobs.log")}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    text = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "soak_worker_rss_bytes{" not in text:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
            except OSError:
                time.sleep(0.05)
    finally:
        process.communicate(timeout=120)
    assert 'soak_worker_rss_bytes{worker="0",pid="' in text
    assert "# TYPE soak_worker_uss_bytes gauge" in text
    assert "soak_jobs_finished_total" in text
    assert "soak_worker_jobs_done" in metrics_file.read_text()
    heartbeats = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert {h["worker"] for h in heartbeats} == {0, 1}
    assert all(h["rss_bytes"] is None or h["rss_bytes"] > 0 for h in heartbeats)


def test_sigterm_ends_the_pool_keeps_the_samples_and_leaves_no_worker(tmp_path: Path) -> None:
    """SIGTERM mid-run: the workers are ended, every finished job's sample and result.json
    stay, the run says it was interrupted, no worker process is left."""
    out = tmp_path / "run"
    command = soak_command(
        "run", "--worker", f"{WORKERS}:steady", "--jobs", "100000", "--workers", "2",
        "--max-jobs-per-worker", "300", "--out", str(out), "--no-report",
    )  # fmt: skip
    env = {**os.environ, "POOL_JOB_LOG": str(tmp_path / "jobs.log")}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    samples = out / "samples.jsonl"
    while time.monotonic() < deadline and (
        not samples.exists() or samples.stat().st_size < 100_000
    ):
        time.sleep(0.05)
    process.terminate()
    assert process.wait(60) == 1
    result = json.loads((out / "result.json").read_text())
    assert result["stop_reason"] == "interrupted"
    lines = samples.read_text().splitlines()
    # Workers finish jobs out of order: the run keeps the samples up to the first job that
    # never finished (two more had arrived in one run, beyond such a gap).
    indexes = {json.loads(line)["job_index"] for line in lines}
    contiguous = next(i for i in range(len(indexes) + 1) if i not in indexes)
    assert result["jobs_completed"] == contiguous > 300
    _, ends = read_job_log(str(tmp_path / "jobs.log"))
    assert len(ends) >= len(lines)
    left = subprocess.run(["pgrep", "-f", f"--run-dir {out}"], capture_output=True, check=False)
    assert left.stdout == b""


def _usage(soak_cli: SoakCli, tmp_path: Path, *args: str) -> CliRun:
    run = _run(soak_cli, tmp_path, "--worker", f"{WORKERS}:steady", "--no-report", *args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    return run


def test_bad_pool_options_are_one_clear_error(soak_cli: SoakCli, tmp_path: Path) -> None:
    """Sizes that do not parse, a hard limit under the soft one, a pool inline: exit 2."""
    assert "expected a size" in _usage(soak_cli, tmp_path, "--max-memory", "lots").stderr
    run = _usage(soak_cli, tmp_path, "--max-memory", "300MB", "--kill-memory", "200MB")
    assert "must be above" in run.stderr
    run = _usage(soak_cli, tmp_path, "--workers", "2", "--runner", "inline")
    assert "drop --runner inline" in run.stderr
    run = _usage(soak_cli, tmp_path, "--metrics-file", str(tmp_path / "no" / "such" / "m.prom"))
    assert "--metrics-file" in run.stderr
    assert "cannot write there" in run.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = _usage(soak_cli, tmp_path, "--metrics-port", str(port))
    assert f"--metrics-port {port}: cannot listen" in run.stderr


def test_a_memory_limit_below_a_fresh_worker_stops_with_a_usage_error(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """--max-memory 1MB: every worker would recycle after its first job; the run stops with
    exit 2 and says what to raise; the samples measured stay on disk."""
    run = _usage(soak_cli, tmp_path, "--jobs", "100", "--max-memory", "1MB")
    assert "Raise --max-memory" in run.stderr
    samples: list[dict[str, Any]] = run.samples()
    assert len(samples) == 3
    assert json.loads((run.out / "result.json").read_text())["harness_error"]
