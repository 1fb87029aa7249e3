"""Comparing a run with an earlier one: the run directory loaded for ``compare_runs``, and the
baseline run of the same name found under a directory of earlier runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker_soak.analysis.compare import Difference, compare_runs
from worker_soak.errors import UsageError
from worker_soak.store import RESULT_FILE, SAMPLES_FILE, read_result, read_samples


@dataclass(frozen=True, slots=True)
class LoadedRun:
    """What a comparison needs of a run: its result, its judged jobs' latencies (seconds)
    after warm-up, and the machine-speed readings at those jobs (None where not read)."""

    result: dict[str, Any]
    latencies: list[float]
    speed_ns: list[int | None]


def load_run(path: Path) -> LoadedRun:
    """The run in ``path``: its directory or its result.json."""
    run_dir = path if path.is_dir() else path.parent
    if not (run_dir / RESULT_FILE).is_file():
        raise UsageError(
            f"{str(path)!r}: no {RESULT_FILE}; expected a run directory or its {RESULT_FILE}"
        )
    result = read_result(run_dir)
    samples = read_samples(run_dir / SAMPLES_FILE).untraced()
    warmup = max(5, len(samples) // 20)
    speed = list(samples.gauges.get("speed_ns", (None,) * len(samples)))
    return LoadedRun(result, [max(ns, 1) / 1e9 for ns in samples.wall_ns[warmup:]], speed[warmup:])


def compare_dirs(
    base: Path, new: Path, alpha: float = 0.01, tolerance: float = 0.10
) -> list[Difference]:
    """Every compared figure of NEW against BASE (both run directories)."""
    old, now = load_run(base), load_run(new)
    return compare_runs(
        old.result,
        now.result,
        old.latencies,
        now.latencies,
        alpha,
        tolerance,
        base_speed=old.speed_ns,
        new_speed=now.speed_ns,
    )


def baseline_run(root: Path, name: str) -> Path | None:
    """The run called ``name`` under ``root`` (a directory an earlier session wrote), if any."""
    candidate = root / name
    return candidate if (candidate / RESULT_FILE).is_file() else None
