"""``soak run`` end to end, through the real command in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, SoakCli, soak_command, worker
from worker_soak.analysis.latency import MIN_JOBS as LATENCY_MIN_JOBS
from worker_soak.runners.aged_vs_fresh import CONTROL_EXTRA_JOBS, FRESH_WARMUP_JOBS, PROBE_PAIRS
from worker_soak.worker.cadences import longest_for
from worker_soak.worker.probes import HEAP_READS


def test_callable_in_a_file_writes_one_sample_per_job_and_a_result(soak_cli: SoakCli) -> None:
    """N jobs give N sample lines, in job order, and a complete result.json; exit 0."""
    run = soak_cli("--worker", worker("ok"), "--jobs", "250")
    assert run.returncode == 0, run.stderr
    samples = run.samples()
    assert [s["job_index"] for s in samples] == list(range(250))
    result = run.result()
    assert result["schema_version"] == 1
    assert result["worker"] == worker("ok")
    assert result["workload"] == "counter"
    assert result["runner"] == "process"
    assert (result["jobs_requested"], result["jobs_completed"], result["jobs_failed"]) == (
        250,
        250,
        0,
    )
    assert result["crashes"] == []
    assert result["stop_reason"] == "completed"
    assert set(result["verdicts"]) == {"failed_jobs", "memory", "resources", "latency", "isolation"}
    for verdict in result["verdicts"].values():
        assert verdict["verdict"] in ("pass", "fail", "inconclusive")
        assert verdict["summary"]
    assert result["leak_sites"] == []
    assert [c["jobs"] for c in result["checkpoints"]] == [10, 100, 250]


@pytest.mark.parametrize("name", ["ok", "slower"])
def test_every_sample_carries_timing_and_the_every_job_probes(soak_cli: SoakCli, name: str) -> None:
    """Wall and CPU time on every line; sparse probes exactly on their declared cadence,
    also when 20-ms jobs retuned them after the first jobs (``every_before``, ``from_job``)."""
    run = soak_cli("--worker", worker(name), "--jobs", "120", "--light")
    assert run.returncode == 0, run.stderr
    samples = run.samples()
    for sample in samples:
        assert sample["wall_ns"] > 0
        assert sample["cpu_ns"] >= 0
    probes = run.result()["probes"]
    assert {p["name"] for p in probes} >= {
        "PythonHeap",
        "NativeHeap",
        "ProcessStat",
        "OpenFiles",
        "ChildProcesses",
        "GcCollections",
    }
    for probe in probes:
        # The first jobs may retune a cadence: the old one up to ``from_job``, then the new.
        start = probe.get("from_job", 0)
        before = probe.get("every_before", probe["every"])
        expected = [*range(0, start, before), *range(start, 120)][::1]
        expected = [i for i in expected if i % (before if i < start else probe["every"]) == 0]
        for field in probe["fields"]:
            having = [s["job_index"] for s in samples if field in s]
            assert having == expected, field
    # A 100-us budget: some probe reads more often than calibrated. (With 2-ms jobs, a
    # 10-us budget, whether any did depended on the machine's pace: a CI run here had none.)
    if name == "slower":
        assert any("every_before" in probe for probe in probes), probes


def test_worker_exiting_at_job_150_is_a_crash_at_150(soak_cli: SoakCli) -> None:
    """150 jobs completed, the crash recorded at index 150 with its exit code; exit 1."""
    run = soak_cli("--worker", worker("exit_at_150"), "--jobs", "400")
    assert run.returncode == 1, run.stderr
    result = run.result()
    assert result["jobs_completed"] == 150
    assert len(run.samples()) == 150
    assert result["crashes"] == [
        {
            "job_index": 150,
            "reason": "exit",
            "exitcode": 7,
            "signal": None,
            "message": "worker process exited with code 7 in job 150",
            "phase": "",
        }
    ]
    assert result["stop_reason"] == "crashed"


@pytest.mark.parametrize(
    ("name", "signal_number"),
    [("segfault_at_150", signal.SIGSEGV), ("killed_at_150", signal.SIGKILL)],
)
def test_worker_killed_by_a_signal_at_job_150(
    soak_cli: SoakCli, name: str, signal_number: int
) -> None:
    """A segfault or an outside SIGKILL is a 'signal' crash at the job that was running."""
    run = soak_cli("--worker", worker(name), "--jobs", "400")
    assert run.returncode == 1
    result = run.result()
    assert result["jobs_completed"] == 150
    (crash,) = result["crashes"]
    assert (crash["job_index"], crash["reason"], crash["signal"]) == (150, "signal", signal_number)


def test_segfault_leaves_a_python_traceback_in_the_worker_log(soak_cli: SoakCli) -> None:
    """faulthandler writes where the worker died into OUT/worker.log."""
    run = soak_cli("--worker", worker("segfault_at_150"), "--jobs", "400")
    log = (run.out / "worker.log").read_text()
    assert "Segmentation fault" in log
    assert "segfault_at_150" in log


def test_sys_exit_in_a_job_is_an_exit_crash(soak_cli: SoakCli) -> None:
    """sys.exit(5) inside handle() ends the worker with code 5, recorded at its job."""
    run = soak_cli("--worker", worker("sys_exit_at_150"), "--jobs", "400")
    (crash,) = run.result()["crashes"]
    assert (crash["job_index"], crash["reason"], crash["exitcode"]) == (150, "exit", 5)


def test_hanging_job_is_cut_by_job_timeout(soak_cli: SoakCli) -> None:
    """A job that sleeps for an hour is ended within seconds of --job-timeout 2."""
    started = time.monotonic()
    run = soak_cli("--worker", worker("hang_at_20"), "--jobs", "100", "--job-timeout", "2")
    elapsed = time.monotonic() - started
    assert run.returncode == 1
    assert elapsed < 10, elapsed
    result = run.result()
    assert result["jobs_completed"] == 20
    (crash,) = result["crashes"]
    assert (crash["job_index"], crash["reason"], crash["signal"]) == (20, "timeout", signal.SIGTERM)


def test_job_ignoring_sigterm_is_killed_after_the_grace_period(soak_cli: SoakCli) -> None:
    """TERM is ignored, so KILL follows the grace period; still a timeout at job 20."""
    started = time.monotonic()
    run = soak_cli(
        "--worker", worker("hang_ignoring_term_at_20"), "--jobs", "100", "--job-timeout", "1"
    )
    assert time.monotonic() - started < 10
    (crash,) = run.result()["crashes"]
    assert (crash["job_index"], crash["reason"], crash["signal"]) == (20, "timeout", signal.SIGKILL)


def test_no_process_outlives_a_timed_out_worker(soak_cli: SoakCli, tmp_path: Path) -> None:
    """A process the worker started is ended with it: no orphans after the run."""
    pidfile = tmp_path / "grandchild.pid"
    run = soak_cli(
        "--worker",
        worker("spawn_then_hang_at_5"),
        "--jobs",
        "10",
        "--job-timeout",
        "1",
        env={"SOAK_TEST_PIDFILE": str(pidfile)},
    )
    assert run.returncode == 1
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_failing_jobs_are_recorded_and_the_run_goes_on(soak_cli: SoakCli) -> None:
    """Handler exceptions are data: every job runs, each error is kept; allowed by
    --max-failed-jobs 50%, exit 0 (without it, exit 1: see the failed-jobs test below)."""
    run = soak_cli("--worker", worker("raise_on_odd"), "--jobs", "100", "--max-failed-jobs", "50%")
    assert run.returncode == 0, run.stderr
    result = run.result()
    assert (result["jobs_completed"], result["jobs_failed"]) == (100, 50)
    (group,) = result["failures"]
    assert (group["type"], group["count"], group["first_job_index"]) == ("ValueError", 50, 1)
    source = (REPO / "tests" / "workers" / "faulty.py").read_text().splitlines()
    raising_line = 1 + next(i for i, text in enumerate(source) if "raise ValueError" in text)
    assert group["where"] == f"{REPO / 'tests' / 'workers' / 'faulty.py'}:{raising_line}"
    errors = {s["job_index"]: s.get("error") for s in run.samples()}
    assert errors[3] == {"type": "ValueError", "message": "odd job 3", "where": group["where"]}
    assert errors[4] is None


def test_ctrl_c_stops_cleanly_keeping_what_was_measured(tmp_path: Path) -> None:
    """SIGINT mid-run: exit 1, stop_reason 'interrupted', samples on disk match the result."""
    out = tmp_path / "run"
    # As from a terminal: a suite started in the background (``pytest &`` from a script)
    # ignores SIGINT and its children inherit that, so Python never raises KeyboardInterrupt
    # in them. A handler of ours is reset to the default in the child.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            soak_command("run", "--worker", worker("slow"), "--jobs", "100000", "--out", str(out)),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT: every thread's stack
        )
    finally:
        signal.signal(signal.SIGINT, inherited)
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 30
    while (not samples.exists() or samples.stat().st_size < 2000) and (time.monotonic() < deadline):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{process.pid}/status").read_text()
        masks = [line for line in status.splitlines() if line.startswith("Sig")]
        process.send_signal(signal.SIGABRT)
        stdout, stderr = process.communicate()
        pytest.fail(f"still running 30 s after SIGINT {masks}; its stacks:\n{stderr}\n{stdout}")
    assert process.returncode == 1, stderr
    result = json.loads((out / "result.json").read_text())
    assert result["stop_reason"] == "interrupted"
    lines = samples.read_text().splitlines()
    assert 0 < result["jobs_completed"] == len(lines) < 100000
    assert "interrupted" in stdout


def test_setup_failure_is_reported_with_exit_1(soak_cli: SoakCli) -> None:
    """setup() raising means no job ran: exit 1 and the error in result.json."""
    run = soak_cli("--worker", worker("BrokenSetup"), "--jobs", "10")
    assert run.returncode == 1
    result = run.result()
    assert result["stop_reason"] == "error"
    assert result["setup_error"] == "setup() raised RuntimeError: database unreachable"
    assert result["jobs_completed"] == 0


def test_lifecycle_hooks_run_once_in_the_worker_process(soak_cli: SoakCli, tmp_path: Path) -> None:
    """A worker class is instantiated once; setup before the first job, teardown after; the
    isolation check first sets up a forked copy to see what setup() leaves (torn down at
    once), then, that being fork-safe, one more set-up worker whose forked copies run jobs
    but are not set up or torn down again; it is torn down at the end."""
    marks = tmp_path / "marks"
    run = soak_cli(
        "--worker", worker("Lifecycle"), "--jobs", "30", env={"SOAK_TEST_MARKS": str(marks)}
    )
    assert run.returncode == 0, run.stderr
    lines = marks.read_text().splitlines()
    setup, teardown, probe_setup, probe_teardown, fresh_setup, fresh_teardown = lines
    assert setup.startswith("setup ")
    assert int(setup.split()[1]) != os.getpid()
    assert teardown == "teardown 30"
    assert probe_setup.startswith("setup ")
    assert probe_teardown == "teardown 0"
    assert fresh_setup.startswith("setup ")
    assert len({setup, probe_setup, fresh_setup}) == 3
    assert fresh_teardown == "teardown 0"
    assert run.result()["worker_kind"] == "class"


def test_the_comparisons_fresh_workers_are_torn_down(soak_cli: SoakCli, tmp_path: Path) -> None:
    """Aged against fresh: both fresh workers are set up, run the warm-up and probe jobs
    and are torn down (not killed: they end beside the aged worker's own end)."""
    marks = tmp_path / "marks"
    run = soak_cli(
        "--worker",
        worker("Lifecycle"),
        "--jobs",
        str(LATENCY_MIN_JOBS),
        "--no-isolation",
        env={"SOAK_TEST_MARKS": str(marks)},
    )
    assert run.returncode in (0, 1), run.stderr  # a verdict may fail; the hooks are what count
    lines = marks.read_text().splitlines()
    probe_jobs = FRESH_WARMUP_JOBS + PROBE_PAIRS
    assert f"teardown {probe_jobs}" in lines, lines  # the fresh one
    # The control warms up longer (CONTROL_EXTRA_JOBS) before the same pairs.
    assert f"teardown {probe_jobs + CONTROL_EXTRA_JOBS}" in lines, lines
    # The aged one: the run's jobs, the probe jobs before the run, the pairs after it.
    assert f"teardown {LATENCY_MIN_JOBS + probe_jobs + PROBE_PAIRS}" in lines, lines
    assert len([line for line in lines if line.startswith("setup ")]) == 3, lines
    assert run.result()["aged_vs_fresh"]["pairs"] == PROBE_PAIRS


def test_inline_runner_gives_the_same_record(soak_cli: SoakCli) -> None:
    """--runner inline writes the same files with the same job indexes."""
    run = soak_cli("--worker", worker("raise_on_odd"), "--jobs", "40", "--runner", "inline")
    assert run.returncode == 1, run.stderr  # 20 failed jobs fail the soak
    result = run.result()
    assert (result["runner"], result["jobs_completed"], result["jobs_failed"]) == ("inline", 40, 20)
    assert [s["job_index"] for s in run.samples()] == list(range(40))


def test_coroutine_handler_runs(soak_cli: SoakCli) -> None:
    """async def handle(job) is awaited on one event loop kept for the worker's life."""
    run = soak_cli("--worker", worker("async_handle"), "--jobs", "50")
    assert run.returncode == 0, run.stderr
    assert run.result()["jobs_failed"] == 0


def test_workload_reference_worker_is_the_default(soak_cli: SoakCli) -> None:
    """Without --worker, the workload's reference worker runs."""
    run = soak_cli("--jobs", "20")
    assert run.returncode == 0, run.stderr
    assert run.result()["worker"] == "worker_soak.workloads.counter:handle"


def test_existing_run_is_never_overwritten(soak_cli: SoakCli) -> None:
    """A second run into the same --out is refused with exit 2; the first run is intact."""
    first = soak_cli("--worker", worker("ok"), "--jobs", "15")
    before = (first.out / "samples.jsonl").read_bytes()
    second = soak_cli("--worker", worker("ok"), "--jobs", "5")
    assert second.returncode == 2
    assert "already holds a run" in second.stderr
    assert (first.out / "samples.jsonl").read_bytes() == before


@pytest.mark.parametrize(
    ("zoo_worker", "expected"),
    [("leak_intermittent", "fail"), ("clean_regex_per_job", "pass")],
)
def test_light_and_full_runs_reach_the_same_memory_verdict(
    soak_cli: SoakCli, tmp_path: Path, zoo_worker: str, expected: str
) -> None:
    """memray only names and sizes: a 205 B/job leak fails and a worker filling re's cache
    passes with and without --light (light once passed a leak the full run failed)."""
    spec = f"tests/zoo/{zoo_worker}.py:handle"
    verdicts = [
        soak_cli(
            "--worker", spec, "--jobs", "400", "--no-report", *mode, out=tmp_path / name
        ).result()["verdicts"]["memory"]["verdict"]
        for name, mode in (("full", ()), ("light", ("--light",)))
    ]
    assert verdicts == [expected, expected]


def test_a_run_whose_jobs_all_raise_exits_1(soak_cli: SoakCli) -> None:
    """Every job raising fails the soak (exit 1) with the failed_jobs verdict; allowing them
    all passes it."""
    run = soak_cli("--worker", worker("raises"), "--jobs", "60", "--light", "--no-report")
    assert run.returncode == 1, run.stdout
    assert run.result()["verdicts"]["failed_jobs"]["verdict"] == "fail"
    assert "failed_jobs: fail - 60 of 60 jobs failed, from job 0 on" in run.stdout


def test_a_heap_probe_grown_dear_is_read_less_often_but_often_enough(soak_cli: SoakCli) -> None:
    """A cache filling to a million objects makes each heap reading cost tens of microseconds:
    the run reads the heap less often from then on, says from which job in result.json, and
    its clean worker still passes memory; but never less than 100 times over the judged jobs
    (over 3,000 jobs: every 20th at most, where its cost alone asked for every 100th)."""
    jobs = 3_000
    run = soak_cli(
        "--worker",
        "tests/workers/big_cache.py:handle",
        "--jobs",
        str(jobs),
        "--light",
        "--no-report",
    )
    assert run.returncode == 0, run.stderr
    result = run.result()
    (heap,) = [probe for probe in result["probes"] if probe["name"] == "PythonHeap"]
    assert heap["every_before"] < heap["every"] <= longest_for(jobs, HEAP_READS) == 20, heap
    assert 20 < heap["from_job"] < jobs
    assert result["verdicts"]["memory"]["verdict"] == "pass", result["verdicts"]["memory"]
    late = [s for s in run.samples() if s["job_index"] >= heap["from_job"] and "py_blocks" in s]
    assert {s["job_index"] % heap["every"] for s in late} == {0}
    assert sum("py_blocks" in s for s in run.samples()) >= HEAP_READS
