"""The pytest plugin ``soak``: a ``soak`` fixture, a ``soak`` marker, ``--soak-*`` options and
a summary at the end of the session.

A thin adapter: the run, its verdicts and every text it shows come from the harness; this
module wires options, fixture, marker, summary and test failure. memray, matplotlib and the
runners are imported only when a test calls ``soak(...)``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from worker_soak.errors import HarnessError
from worker_soak.redact import environment_secrets, redact

if TYPE_CHECKING:
    from worker_soak.options import SoakOptions
    from worker_soak.result import SoakResult

PROPERTY: Final = "soak"


@dataclass(frozen=True, slots=True)
class Settings:
    """The session's soak options: ``--soak-*`` or their ini lines."""

    jobs: int | None
    report_root: Path | None
    baseline_root: Path | None


SETTINGS: Final = pytest.StashKey[Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("soak", "soak tests of background-job workers")
    group.addoption(
        "--soak-jobs",
        metavar="N",
        help="run every soak with N jobs, whatever the test asks (e.g. 10 on pull requests, "
        "10000 nightly)",
    )
    group.addoption(
        "--soak-report",
        metavar="DIR",
        help="write each soak's run directory and HTML report under DIR, and DIR/index.html",
    )
    group.addoption(
        "--soak-baseline",
        metavar="DIR",
        help="compare each soak with its run under DIR (an earlier --soak-report) and fail "
        "on regression",
    )
    parser.addini("soak_jobs", "default for --soak-jobs")
    parser.addini("soak_report", "default for --soak-report")
    parser.addini("soak_baseline", "default for --soak-baseline")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "soak(**options): options for this test's soak(...) calls (jobs=, workload=, "
        "max_growth=, latency_tolerance=, ...); keywords of the call win",
    )
    config.stash[SETTINGS] = _settings(config)
    config.pluginmanager.register(SessionRecords(config), "soak-session")


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"--soak-{name}") or config.getini(f"soak_{name}")
    return str(value) if value else None


def _settings(config: pytest.Config) -> Settings:
    jobs_text = _option(config, "jobs")
    jobs = None
    if jobs_text is not None:
        from worker_soak.options import soak_options

        try:
            jobs = soak_options({"jobs": jobs_text}, "--soak-jobs").jobs
        except HarnessError as exc:
            raise pytest.UsageError(redact(str(exc), environment_secrets(os.environ))) from None
    roots = {name: _option(config, name) for name in ("report", "baseline")}
    paths = {name: Path(value) if value else None for name, value in roots.items()}
    baseline = paths["baseline"]
    if baseline is not None and not baseline.is_dir():
        raise pytest.UsageError(
            f"--soak-baseline: {str(baseline)!r} is not a directory; expected the directory "
            "an earlier run wrote with --soak-report"
        )
    report = paths["report"]
    if report is not None and report.exists() and not report.is_dir():
        raise pytest.UsageError(f"--soak-report: {str(report)!r} is a file; expected a directory")
    if report is not None and baseline is not None and report.resolve() == baseline.resolve():
        raise pytest.UsageError(
            f"--soak-report and --soak-baseline both name {str(report)!r}: the new runs would "
            "replace the baseline; write the new runs to another directory"
        )
    return Settings(jobs, report, baseline)


class Soak:
    """The ``soak`` fixture: ``soak(worker, *, check=True, **options)`` runs a soak of
    ``worker`` (a spec string, or a callable / object / class with ``handle``) and returns its
    :class:`~worker_soak.result.SoakResult`; with ``check`` a failed soak fails the test."""

    def __init__(self, request: pytest.FixtureRequest, scratch: Path) -> None:
        self._request = request
        self._scratch = scratch
        self._calls = 0

    def __call__(self, worker: object, *, check: bool = True, **options: object) -> SoakResult:
        from worker_soak.options import soak_options
        from worker_soak.soak_call import SoakCall

        node = self._request.node
        config = self._request.config
        settings = config.stash[SETTINGS]
        chosen = _marker_options(node) | options
        try:
            checked = soak_options(chosen, f"soak() in {node.nodeid}")
            if settings.jobs is not None:
                checked = replace(checked, jobs=settings.jobs)
            self._calls += 1
            call = SoakCall(
                worker,
                checked,
                label=node.nodeid,
                index=self._calls,
                root=settings.report_root or self._scratch,
                baseline_root=settings.baseline_root,
                write_report=settings.report_root is not None,
                import_paths=tuple(sys.path),
            )
            result = call.run(self._benchmark(checked))
        except HarnessError as exc:
            raise pytest.UsageError(redact(str(exc), environment_secrets(os.environ))) from None
        node.user_properties.append((PROPERTY, json.dumps(call.record(result))))
        if check and not result.passed:
            pytest.fail(call.failure_message(result, config.rootpath), pytrace=False)
        return result

    def _benchmark(self, options: SoakOptions) -> object | None:
        """pytest-benchmark's fixture, when the test uses it or the options ask for it."""
        if not options.benchmark and "benchmark" not in self._request.fixturenames:
            return None
        try:
            fixture: object = self._request.getfixturevalue("benchmark")
            return fixture
        except pytest.FixtureLookupError:
            raise pytest.UsageError(
                "soak(benchmark=True) needs pytest-benchmark's 'benchmark' fixture: "
                "pip install pytest-benchmark (or leave benchmark off)"
            ) from None


def _marker_options(node: pytest.Item) -> dict[str, object]:
    """The ``soak`` markers' keywords, the closest (the test's own) winning."""
    merged: dict[str, object] = {}
    for marker in reversed(list(node.iter_markers("soak"))):
        if marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.soak{marker.args!r} on {node.nodeid}: the marker takes keywords "
                "only, e.g. @pytest.mark.soak(jobs=10_000, max_growth='64B/job')"
            )
        merged.update(marker.kwargs)
    return merged


@pytest.fixture
def soak(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Soak:
    """Run a soak: ``soak(worker, workload="counter", jobs=1000, **options)``."""
    return Soak(request, tmp_path_factory.getbasetemp() / "soak")


class SessionRecords:
    """The session's soaks, as their summary records: collected from every test report (a
    pytest-xdist worker's arrive in the controller's), summarised at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self.records: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.records.extend(
                json.loads(str(value)) for name, value in report.user_properties if name == PROPERTY
            )

    def pytest_sessionfinish(self) -> None:
        """The site over every run (once, in the controlling process)."""
        root = self._config.stash[SETTINGS].report_root
        if root is None or hasattr(self._config, "workerinput") or not self.records:
            return
        from worker_soak.report.site import build_site

        build_site(root)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.records:
            return
        from worker_soak.report.plain import summary_line

        terminalreporter.write_sep("=", "soak")
        for record in self.records:
            terminalreporter.write_line(summary_line(record, self._config.rootpath))
        root = self._config.stash[SETTINGS].report_root
        if root is not None:
            terminalreporter.write_line(f"site: {root / 'index.html'}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(self, output_json: dict[str, Any]) -> None:
        """pytest-benchmark's saved JSON carries every soak of the session under ``soak``."""
        output_json["soak"] = list(self.records)
