"""A finished soak as code sees it: the verdicts, checkpoints and leak sites of a
``result.json``, typed, with the run directory they came from.

What the pytest fixture returns, and what a test asserts on when it wants its own rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from worker_soak.analysis.compare import Difference
from worker_soak.model import Verdict


@dataclass(frozen=True, slots=True)
class SoakResult:
    """One soak's outcome. ``data`` is ``result.json`` as written (see docs/result-schema.md);
    ``regressions`` holds the figures that regressed against a baseline run, if one was
    compared."""

    run_dir: Path
    data: Mapping[str, Any]
    baseline_dir: Path | None = None
    regressions: tuple[Difference, ...] = ()

    @property
    def verdicts(self) -> dict[str, Verdict]:
        """Verdict name (``memory``, ``resources``, ``latency``) -> its verdict and figures."""
        verdicts: dict[str, Verdict] = {}
        for name, shown in cast(Mapping[str, Mapping[str, Any]], self.data["verdicts"]).items():
            figures = {k: v for k, v in shown.items() if k not in ("verdict", "summary")}
            verdicts[name] = Verdict(shown["verdict"], shown["summary"], figures)
        return verdicts

    @property
    def checkpoints(self) -> Sequence[Mapping[str, Any]]:
        return cast(Sequence[Mapping[str, Any]], self.data.get("checkpoints", []))

    @property
    def leak_sites(self) -> Sequence[Mapping[str, Any]]:
        """Lines that keep memory, per-job leaks first (``file``, ``line``, ...)."""
        return cast(Sequence[Mapping[str, Any]], self.data.get("leak_sites", []))

    @property
    def jobs_completed(self) -> int:
        return int(self.data.get("jobs_completed", 0))

    @property
    def completed(self) -> bool:
        """The run did every job it was asked, without the worker process dying."""
        return self.data.get("stop_reason") == "completed" and not self.data.get("crashes")

    @property
    def failed_verdicts(self) -> list[str]:
        return [name for name, v in self.verdicts.items() if v.verdict == "fail"]

    @property
    def passed(self) -> bool:
        """Completed, no verdict failed, nothing regressed against the baseline."""
        return self.completed and not self.failed_verdicts and not self.regressions

    @property
    def report(self) -> Path:
        """The HTML report when one was written, else ``result.json``."""
        html = self.run_dir / "index.html"
        return html if html.exists() else self.run_dir / "result.json"
