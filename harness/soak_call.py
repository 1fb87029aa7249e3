"""One soak asked for from Python (the pytest fixture, or a script): a worker given as a spec
or as the object itself, checked options, a run directory named after the caller's label;
then the run, its optional pytest-benchmark rounds, its baseline comparison and its report.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from worker_soak.errors import RunDirError, UsageError
from worker_soak.options import Door, SoakOptions, policy, run_config, source_for
from worker_soak.result import SoakResult
from worker_soak.store import RESULT_FILE, SAMPLES_FILE, run_dir_name
from worker_soak.worker.spec import describe_object, importable_spec


class SoakCall:
    """A soak of ``worker`` under ``options``, written to ``root/<name of label>``.

    A worker object that a new process can import by name runs in a worker process like a
    spec; one that cannot (a closure, an object made in a test) runs inline, in this process.
    """

    def __init__(
        self,
        worker: object,
        options: SoakOptions,
        *,
        label: str,
        index: int = 1,
        root: Path,
        baseline_root: Path | None = None,
        write_report: bool = False,
        import_paths: tuple[str, ...] = (),
        run_dir: Path | None = None,
    ) -> None:
        self.options = options
        self.label = label
        self.name = run_dir_name(label, index)
        self.run_dir = run_dir if run_dir is not None else root / self.name
        #: A run directory given by the caller is never replaced; the plugin's are.
        self._replace_earlier = run_dir is None
        self.baseline_root = baseline_root
        self.write_report = write_report
        self._object: object | None = None
        #: What became of the pytest-benchmark rounds and of the HTML report, in words.
        self.notes: dict[str, str] = {}
        if isinstance(worker, str):
            spec: str | None = worker
        elif worker is None:
            spec = ""  # the workload's reference worker
        else:
            spec = importable_spec(worker)
            if spec is None:
                self._object = worker
        runner = options.runner or ("inline" if self._object is not None else "process")
        if self._object is not None and runner != "inline":
            raise UsageError(
                f"soak({describe_object(worker)}, runner={runner!r}): a worker process can "
                "only import a worker defined at module level; move it there, pass its spec "
                "string, or use runner='inline'"
            )
        door = Door("python", f"soak() in {label}")
        self.source = source_for(options, door)
        try:
            self.config = run_config(
                options,
                self.source,
                worker=spec if spec is not None else describe_object(worker),
                out=self.run_dir,
                door=door,
                runner=runner,
                label=label,
                import_paths=import_paths,
            )
        except BaseException:
            self.source.remove_made_file()
            raise

    def run(self, benchmark: object | None = None) -> SoakResult:
        """Run the soak; feed ``benchmark`` (pytest-benchmark's fixture) its latencies."""
        from worker_soak.session import run_soak

        if self._replace_earlier:
            _clear_earlier_run(self.run_dir)
        try:
            data = run_soak(
                self.config,
                None,
                policy(self.options),
                worker=self._object,
                workload=self.source.workload,
            )
        finally:
            self.source.remove_made_file()
        if benchmark is not None:
            self.notes["benchmark"] = self._record_rounds(benchmark, data)
        regressions, baseline_dir = self._compare_with_baseline()
        if self.baseline_root is not None and baseline_dir is None:
            self.notes["baseline"] = f"no run named {self.name} under {self.baseline_root}"
        result = SoakResult(self.run_dir, data, baseline_dir, regressions)
        if self.write_report or not result.passed:  # a failure is read in the report
            self._write_report()
        return result

    def _record_rounds(self, benchmark: object, data: dict[str, Any]) -> str:
        from worker_soak.benchmark_rounds import record_rounds
        from worker_soak.store import read_samples

        samples = read_samples(self.run_dir / SAMPLES_FILE).untraced()
        warmup = int(data["verdicts"].get("latency", {}).get("warmup_jobs") or 0)
        extra = {
            "run_dir": str(self.run_dir),
            "jobs": data["jobs_completed"],
            "warmup_jobs_excluded": warmup,
            "verdicts": {
                name: {"verdict": v["verdict"], "summary": v["summary"]}
                for name, v in data["verdicts"].items()
            },
            "leak_sites": [
                f"{s['file']}:{s['line']}" for s in data["leak_sites"] if s["kind"] == "per_job"
            ][:5],
        }
        return record_rounds(benchmark, samples.wall_ns[warmup:], extra)

    def _compare_with_baseline(self) -> tuple[tuple[Any, ...], Path | None]:
        if self.baseline_root is None:
            return (), None
        from worker_soak.baseline import baseline_run, compare_dirs

        base = baseline_run(self.baseline_root, self.name)
        if base is None:
            return (), None
        rows = compare_dirs(
            base, self.run_dir, self.options.significance, self.options.latency_tolerance
        )
        return tuple(row for row in rows if row.regressed), base

    def _write_report(self) -> None:
        """The HTML report; a failure to draw it never changes the soak's outcome."""
        from worker_soak.report.html import write_run_report

        try:
            write_run_report(self.run_dir)
        except Exception as exc:
            self.notes["report"] = f"the HTML report could not be written: {exc}"

    def record(self, result: SoakResult) -> dict[str, Any]:
        """The session summary's entry for this soak."""
        from worker_soak.report.plain import summary_record

        return {**summary_record(result, self.label), "notes": dict(self.notes)}

    def failure_message(self, result: SoakResult, root: Path | None = None) -> str:
        from worker_soak.report.plain import failure_message

        return failure_message(result, root)


def _clear_earlier_run(run_dir: Path) -> None:
    """A report directory keeps the latest run of each soak: an earlier session's run of the
    same name is replaced; a directory that holds anything else is left alone."""
    if not run_dir.exists():
        return
    if not (run_dir / RESULT_FILE).is_file() and not (run_dir / SAMPLES_FILE).is_file():
        raise RunDirError(
            f"{str(run_dir)!r} exists and holds no soak run; remove it or choose another "
            "--soak-report directory"
        )
    shutil.rmtree(run_dir)
