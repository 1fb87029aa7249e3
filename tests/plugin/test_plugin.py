"""The pytest plugin end to end: a user's test suite, run by pytest in a subprocess with the
installed plugin, as CI runs it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

WORKERS = """
import os
import time

_seen = []


def leaky(job):
    _seen.append("x" * 100 + str(job["id"]))  # LEAK LINE


def clean(job):
    return job["id"] * 2


_customer = {}


def sticky(job):
    if job["id"] % 9 == 0:
        _customer["name"] = f"c{job['id']}"
    return _customer.get("name")


class Bloating:
    def setup(self):
        self.kept = []

    def handle(self, job):
        self.kept.append(bytearray(64 * 1024))  # LEAK LINE 2


bloating = Bloating()


def maybe_slow(job):
    if os.environ.get("SOAK_TEST_SLOW"):
        time.sleep(0.002)
    return job["id"]
"""


def _leak_line(source: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if "LEAK LINE" in line)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's project: workers in ``workers.py`` beside the tests."""
    pytester.makepyfile(workers=WORKERS)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    return pytester


def test_leaky_worker_fails_naming_its_line_and_clean_one_passes(suite: pytest.Pytester) -> None:
    """A leaking worker fails its test with the verdict, bytes/job and its file:line; a
    clean one passes."""
    suite.makepyfile(
        test_soaks="""
        from workers import clean, leaky

        def test_leaky(soak):
            soak(leaky, jobs=2000)

        def test_clean(soak):
            soak(clean, jobs=2000)
        """
    )
    line = _leak_line((suite.path / "workers.py").read_text())
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*soak failed (memory): workers:leaky on workload 'counter', 2,000 of 2,000 jobs*",
            f"*memory: grows * B/job from job * on *top leak: workers.py:{line} "
            "(leaky) keeps * B/job*",
            "*kept alive by workers._seen -> list*",
            "*report: */test_soaks.py_test_leaky-*/index.html",
            "*= soak =*",
            "FAIL test_soaks.py::test_leaky - failed_jobs pass, memory fail, *2,000 jobs*",
            "PASS test_soaks.py::test_clean - failed_jobs pass, memory pass, resources pass, "
            "*2,000 jobs*",
        ]
    )


def test_jobs_that_raise_fail_the_soak_unless_allowed(suite: pytest.Pytester) -> None:
    """A worker whose every job raises fails its test naming the error and its line (it
    passed before: memory and latency were flat); ``max_failed_jobs`` allows failures."""
    suite.makepyfile(
        test_raising="""
        import pytest

        def number(job):
            return job["number"]

        def test_raises(soak):
            soak(number, jobs=150, runner="inline")

        @pytest.mark.soak(max_failed_jobs="100%")
        def test_allowed(soak):
            soak(number, jobs=150, runner="inline")
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*soak failed (failed_jobs)*",
            "*failed_jobs: 150 of 150 jobs failed, from job 0 on; most: KeyError: 'number' at "
            "*test_raising.py:4 (150 jobs); allowed: 0*",
            "FAIL test_raising.py::test_raises - failed_jobs fail, *150 jobs*",
            "PASS test_raising.py::test_allowed - failed_jobs pass, *150 jobs*",
        ]
    )


def test_isolation_failure_shows_the_reproduction(suite: pytest.Pytester) -> None:
    """A worker whose jobs see an earlier job's customer fails isolation; the message shows
    the shortest job sequence to replay on a fresh worker and what the job then returns."""
    suite.makepyfile(
        test_sticky="""
        from workers import sticky

        def test_sticky(soak):
            soak(sticky, jobs=400)
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*soak failed (isolation)*",
            "*isolation: history changed the outcome: job * returned 'c*' on the aged worker "
            "but None on a fresh one*",
            '*reproduce on a fresh worker: {"id": *} then {"id": *}',
            "*which returns 'c*'",
        ]
    )


def test_pool_options_recycle_and_the_leaker_still_fails(suite: pytest.Pytester) -> None:
    """``soak(worker, workers=2, max_memory=...)`` runs a recycled pool: the result carries
    the recycles and the job ledger; memory still fails per worker lifetime."""
    suite.makepyfile(
        test_pool="""
        from workers import bloating

        def test_pool(soak):
            result = soak(bloating, jobs=3000, workers=2, max_memory="120MB", check=False)
            assert result.data["workers"] == 2
            assert result.data["recycles"], result.data
            assert {r["reason"] for r in result.data["recycles"]} == {"memory"}
            assert result.data["jobs_lost"] == result.data["jobs_run_twice"] == 0
            assert result.verdicts["recycling"].verdict == "pass"
            assert result.failed_verdicts == ["memory"]

        def test_bad_limits(soak):
            soak(bloating, jobs=10, max_memory="2MB", kill_memory="1MB")
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*soak() in test_pool.py::test_bad_limits: kill_memory*"])


def test_a_failing_pool_soak_says_how_its_workers_recycled(suite: pytest.Pytester) -> None:
    """The failure message of a pool soak carries the recycles and the job accounting."""
    suite.makepyfile(
        test_pool="""
        from workers import bloating

        def test_pool(soak):
            soak(bloating, jobs=3000, max_memory="120MB")
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*soak failed (memory*",  # a 64-KiB/job leaker's jobs may slow down too
            "*pool of 1 worker processes: * recycles (memory *); jobs lost 0, retried 0, run*",
            "*memory: * worker lifetimes fail*",
        ]
    )


CELERY_TASKS = """
from celery import Celery

app = Celery("suite_tasks")
kept = []


@app.task
def leaky(job):
    kept.append(bytearray(64 * 1024))  # LEAK LINE
"""


def test_a_celery_task_soaks_through_the_fixture(suite: pytest.Pytester) -> None:
    """``soak(task, runner="celery")`` runs the task in a real Celery worker over the
    machine's Redis; its failure names the leaking line and the recycles' accounting."""
    suite.makepyfile(suite_tasks=CELERY_TASKS)
    suite.makepyfile(
        test_celery="""
        from suite_tasks import leaky

        def test_leaky_task(soak):
            soak(leaky, runner="celery", jobs=600, concurrency=1)

        def test_queue_option_needs_a_queue_runner(soak):
            soak(leaky, concurrency=2)
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    line = _leak_line(CELERY_TASKS.lstrip("\n"))
    result.stdout.fnmatch_lines(
        [
            # memory fails; a 0.1-ms task's latency may fail beside it on a busy machine
            "*soak failed (memory*",
            "*celery worker, 1 process(es) on 1 node(s), redis://127.0.0.1:6379/0: 0 recycles*",
            f"*top leak: suite_tasks.py:{line}*",
            "*concurrency= is an option of a job queue; expected runner='celery'*",
        ],
        consecutive=False,
    )


def test_check_false_returns_the_result_for_custom_assertions(suite: pytest.Pytester) -> None:
    """``check=False`` never fails the test; the result carries verdicts, checkpoints and
    leak sites."""
    suite.makepyfile(
        test_custom="""
        from workers import leaky

        def test_custom(soak):
            result = soak(leaky, jobs=1000, check=False)
            assert not result.passed
            assert result.failed_verdicts == ["memory"]
            assert result.verdicts["memory"].figures["bytes_per_job"] > 50
            assert [c["jobs"] for c in result.checkpoints][:2] == [10, 100]
            assert result.leak_sites[0]["file"].endswith("workers.py")
            assert (result.run_dir / "result.json").is_file()
        """
    )
    suite.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_soak_jobs_overrides_every_soak_and_the_marker_sets_options(
    suite: pytest.Pytester,
) -> None:
    """``--soak-jobs`` wins over the marker and the call; the marker's options apply, the
    call's keywords win over the marker's."""
    suite.makepyfile(
        test_override="""
        import pytest
        from workers import clean

        @pytest.mark.soak(jobs=5000, seed=7, workload="counter")
        def test_asks_many(soak):
            result = soak(clean, jobs=4000, check=False)
            assert result.jobs_completed == 20
            assert result.data["seed"] == 7

        @pytest.mark.soak(runner="inline")
        def test_marker_runner(soak):
            assert soak(clean, jobs=10).data["runner"] == "inline"
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--soak-jobs=20")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["PASS test_override.py::test_asks_many - *20 jobs*"])


def test_plugin_is_inert_when_unused(suite: pytest.Pytester) -> None:
    """A suite that never calls ``soak`` imports no memray, matplotlib or runner and prints
    no soak section."""
    suite.makepyfile(
        test_plain="""
        import sys

        def test_plain():
            loaded = [m for m in ("memray", "matplotlib", "jinja2", "worker_soak.session",
                                  "worker_soak.options") if m in sys.modules]
            assert loaded == []
            assert "worker_soak.pytest_plugin" in sys.modules
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "= soak =" not in result.stdout.str()


def test_bad_options_are_usage_errors(suite: pytest.Pytester) -> None:
    """A bad ``--soak-jobs`` stops pytest with a usage error (exit 4); a bad marker or call
    keyword fails that test with one line naming the option and what it expects."""
    result = suite.runpytest_subprocess("--soak-jobs=ten")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--soak-jobs: jobs='ten' is not usable; expected a whole*"])
    suite.makepyfile(
        test_bad="""
        import pytest
        from workers import clean

        @pytest.mark.soak(jobs=0)
        def test_zero_jobs(soak):
            soak(clean)

        def test_unknown(soak):
            soak(clean, job=10)

        def test_closure_in_process(soak):
            soak(lambda job: None, runner="process", jobs=10)

        def test_bad_job_file(soak, tmp_path):
            jobs = tmp_path / "jobs.jsonl"
            jobs.write_text('{"id": 1}\\n[2]\\n')
            soak(clean, payloads=jobs)

        def test_generator_raises(soak):
            def make_job(index, seed):
                raise KeyError("customer")
            soak(clean, payloads=make_job, jobs=10)
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(
        [
            "*UsageError: soak() in test_bad.py::test_zero_jobs: jobs=0 is not usable; "
            "expected a whole number >= 1",
            "*UsageError: soak() in test_bad.py::test_unknown: unknown soak option 'job'*",
            "*UsageError: soak(*<lambda>, runner='process'): a worker process can only import*",
            "*UsageError: soak() in test_bad.py::test_bad_job_file: *jobs.jsonl:2: a job must be "
            "a JSON object, got list [[]2]",
            "*UsageError: soak() in test_bad.py::test_generator_raises: *make_job(0, 0) "
            "raised KeyError: 'customer'",
        ]
    )
    missing = suite.runpytest_subprocess("--soak-baseline=nowhere")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*--soak-baseline: 'nowhere' is not a directory*"])


def test_xdist_aggregates_summary_and_report_dir(suite: pytest.Pytester) -> None:
    """Under ``-n 2`` every soak reaches the controller's summary, the report directory holds
    each run and one site index over them, and junit-xml carries each soak's record."""
    suite.makepyfile(
        test_parallel="""
        import pytest
        from workers import clean

        @pytest.mark.parametrize("seed", [1, 2, 3])
        def test_clean(soak, seed):
            soak(clean, jobs=100, seed=seed)
        """
    )
    result = suite.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--soak-report=out", "--junit-xml=junit.xml"
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines_random(
        [f"PASS test_parallel.py::test_clean?{seed}? - *100 jobs*" for seed in (1, 2, 3)]
    )
    out = suite.path / "out"
    runs = sorted(p.parent.name for p in out.glob("*/result.json"))
    assert len(runs) == 3
    assert all((out / run / "index.html").is_file() for run in runs)
    site = (out / "index.html").read_text()
    assert all(run in site for run in runs)
    properties = [
        json.loads(p.get("value", ""))
        for p in ET.parse(suite.path / "junit.xml").iter("property")
        if p.get("name") == "soak"
    ]
    assert sorted(p["test"] for p in properties) == [
        f"test_parallel.py::test_clean[{seed}]" for seed in (1, 2, 3)
    ]
    for record in properties:
        run = json.loads((Path(record["report"]).parent / "result.json").read_text())
        assert record["verdicts"] == {k: v["verdict"] for k, v in run["verdicts"].items()}


def test_benchmark_json_carries_soak_latencies_and_verdicts(suite: pytest.Pytester) -> None:
    """With the ``benchmark`` fixture, the soak's judged jobs after warm-up become the
    benchmark's rounds, its verdicts go into extra_info, and the JSON lists every soak."""
    suite.makepyfile(
        test_bench="""
        from workers import clean

        def test_latency(soak, benchmark):
            soak(clean, jobs=300)

        def test_asked_by_option(soak):
            soak(clean, jobs=50, benchmark=True)
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--benchmark-json=bench.json")
    result.assert_outcomes(passed=2)
    saved = json.loads((suite.path / "bench.json").read_text())
    by_name = {b["name"]: b for b in saved["benchmarks"]}
    latency = by_name["test_latency"]
    soaked = latency["extra_info"]["soak"]
    run = json.loads((Path(soaked["run_dir"]) / "result.json").read_text())
    warmup = soaked["warmup_jobs_excluded"]
    assert warmup == run["verdicts"]["latency"]["warmup_jobs"] >= 5
    assert latency["stats"]["rounds"] == run["jobs_judged"] - warmup
    assert 0 < latency["stats"]["median"] < 0.01
    assert set(latency["extra_info"]["soak"]["verdicts"]) == set(run["verdicts"])
    assert "isolation" in run["verdicts"]
    assert by_name["test_asked_by_option"]["stats"]["rounds"] > 0
    assert sorted(s["test"] for s in saved["soak"]) == [
        "test_bench.py::test_asked_by_option",
        "test_bench.py::test_latency",
    ]


def test_benchmark_disabled_still_runs_every_job(suite: pytest.Pytester) -> None:
    """``--benchmark-disable`` records no rounds but the soak still runs all its jobs, and
    the summary says so."""
    suite.makepyfile(
        test_bench="""
        from workers import clean

        def test_latency(soak, benchmark):
            assert soak(clean, jobs=400).jobs_completed == 400
        """
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--benchmark-disable")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*benchmark disabled: 3?? jobs ran, no rounds recorded*"])


def test_baseline_comparison_fails_on_regression(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A soak compared with its own earlier run passes; the same test after its worker
    became slower fails, naming the regressed figure and both values."""
    suite.makepyfile(
        test_base="""
        from workers import maybe_slow

        def test_speed(soak):
            soak(maybe_slow, jobs=300)
        """
    )
    suite.runpytest_subprocess("-p", "no:cacheprovider", "--soak-report=base").assert_outcomes(
        passed=1
    )
    same = suite.runpytest_subprocess(
        "-p", "no:cacheprovider", "--soak-report=same", "--soak-baseline=base"
    )
    same.assert_outcomes(passed=1)
    monkeypatch.setenv("SOAK_TEST_SLOW", "1")
    slower = suite.runpytest_subprocess(
        "-p", "no:cacheprovider", "--soak-report=slow", "--soak-baseline=base"
    )
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(
        [
            "*soak failed (regressed against the baseline)*",
            "*regressed: latency (median job): * ms (baseline) -> * ms *x (p = *",
            "FAIL test_base.py::test_speed - *regressed: latency (median job)*",
        ]
    )
    clash = suite.runpytest_subprocess("--soak-report=base", "--soak-baseline=base")
    assert clash.ret == pytest.ExitCode.USAGE_ERROR


def test_report_dir_keeps_the_latest_run_of_each_soak(suite: pytest.Pytester) -> None:
    """Running the suite twice into one report directory replaces each soak's run, and leaves
    a directory that is not a run alone."""
    suite.makepyfile(
        test_twice="""
        from workers import clean

        def test_clean(soak):
            soak(clean, jobs=30)
        """
    )
    for _ in range(2):
        suite.runpytest_subprocess("-p", "no:cacheprovider", "--soak-report=out").assert_outcomes(
            passed=1
        )
    runs = list((suite.path / "out").glob("*/result.json"))
    assert len(runs) == 1
    (Path(runs[0].parent) / "result.json").unlink()
    (Path(runs[0].parent) / "samples.jsonl").unlink()
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--soak-report=out")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*exists and holds no soak run; remove it*"])
