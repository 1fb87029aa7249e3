"""``soak allocators``: the same jobs under each C allocator setting, side by side.

A worker whose RSS grows while its objects do not is fragmenting: glibc keeps freed chunks in
its arenas (one per thread that allocated, up to 8 per core) and gives back only the top of
each. The remedy is a setting, not a code fix, and which one works depends on the worker: this
command measures it. Each setting runs the same soak (same worker, jobs and seed; ``--light
--no-report``, so the run costs what the jobs cost) in a process of its own, one after the
other, and reads RSS at each checkpoint and the jobs' own speed (jobs per second of job time).

- glibc as it is;
- ``MALLOC_ARENA_MAX=2``: at most two arenas, so threads share their free chunks;
- ``MALLOC_TRIM_THRESHOLD_=131072``: give back the top of the heap above 128 KiB (and stop
  glibc from raising that threshold as large blocks are freed);
- jemalloc, preloaded (``LD_PRELOAD``), where the system has it (Debian and Ubuntu:
  ``apt install libjemalloc2``), as it is and giving freed pages back at once
  (``MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0``).

Every run treats glibc's per-thread cache as every soak does (on, what it parks subtracted
from the native heap: ``worker.tcache``), so the settings are compared on equal terms. One
run per setting: RSS is repeatable to ~1 % here, jobs/s only to ~5-10 % (the machine's speed
wanders), so a speed difference under 10 % is reported as none.
"""

from __future__ import annotations

import ctypes.util
import glob
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from worker_soak.store import read_samples
from worker_soak.units import format_bytes

#: jemalloc gives freed pages back at once instead of after its 10-s decay (which a short
#: soak never reaches): more system calls, a lower RSS.
NO_DECAY: Final = "dirty_decay_ms:0,muzzy_decay_ms:0"
#: jobs/s differences under this share are within one run's noise here.
SPEED_NOISE: Final = 0.10
#: An RSS saving under this share is within one run's spread (RSS repeats to ~1 % here).
MIN_SAVING: Final = 0.03
_JEMALLOC_GLOBS: Final = (
    "/usr/lib/*/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
    "/usr/local/lib/libjemalloc.so*",
)
JEMALLOC_HINT: Final = (
    "jemalloc: not found; on Debian or Ubuntu 'apt install libjemalloc2' adds it (then rerun)"
)


@dataclass(frozen=True, slots=True)
class Allocator:
    """One setting: its name, the environment it needs, and the line a user copies."""

    name: str
    env: Mapping[str, str]
    setting: str


@dataclass(slots=True)
class AllocatorRun:
    """What the same jobs did under one setting."""

    name: str
    setting: str
    run_dir: str
    exit_code: int
    jobs: int = 0
    rss_at: list[tuple[int, int]] = field(default_factory=list)
    jobs_per_s: float | None = None
    error: str = ""

    @property
    def final_rss(self) -> int | None:
        return self.rss_at[-1][1] if self.rss_at else None


def find_jemalloc() -> str | None:
    """The path of the system's jemalloc, or None."""
    for pattern in _JEMALLOC_GLOBS:
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(path):
                return path
    name = ctypes.util.find_library("jemalloc")
    return name if name and os.path.isabs(name) else None


def settings(jemalloc: str | None) -> list[Allocator]:
    """The settings compared, glibc as it is first."""
    chosen = [
        Allocator("glibc", {}, "(no setting: glibc as it is)"),
        Allocator("arena-max-2", {"MALLOC_ARENA_MAX": "2"}, "MALLOC_ARENA_MAX=2"),
        Allocator(
            "trim-128k",
            {"MALLOC_TRIM_THRESHOLD_": "131072"},
            "MALLOC_TRIM_THRESHOLD_=131072",
        ),
    ]
    if jemalloc is not None:
        preload = " ".join(filter(None, (jemalloc, os.environ.get("LD_PRELOAD", ""))))
        chosen.append(Allocator("jemalloc", {"LD_PRELOAD": preload}, f"LD_PRELOAD={jemalloc}"))
        chosen.append(
            Allocator(
                "jemalloc-no-decay",
                {"LD_PRELOAD": preload, "MALLOC_CONF": NO_DECAY},
                f"LD_PRELOAD={jemalloc} MALLOC_CONF={NO_DECAY}",
            )
        )
    return chosen


def without_out(run_args: Sequence[str]) -> list[str]:
    """``soak run`` arguments with any ``--out`` taken out (each setting gets its own)."""
    kept: list[str] = []
    skip = False
    for arg in run_args:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            kept.append(arg)
    return kept


def run_setting(allocator: Allocator, run_args: Sequence[str], root: Path) -> AllocatorRun:
    """The soak under one setting, in a process of its own; its figures read back."""
    run_dir = root / allocator.name
    command = [
        sys.executable,
        "-m",
        "worker_soak.cli",
        "run",
        *without_out(run_args),
        "--out",
        str(run_dir),
        "--light",
        "--no-report",
    ]
    env = {**os.environ, **allocator.env}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    run = AllocatorRun(allocator.name, allocator.setting, str(run_dir), done.returncode)
    result_path = run_dir / "result.json"
    if not result_path.exists():
        run.error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return run
    result = json.loads(result_path.read_text(encoding="utf-8"))
    run.jobs = int(result.get("jobs_judged", 0))
    run.rss_at = [
        (int(point["jobs"]), int(point["memory"]["rss_bytes"]))
        for point in result.get("checkpoints", [])
        if "rss_bytes" in point.get("memory", {})
    ]
    samples = read_samples(run_dir / "samples.jsonl").untraced()
    busy_ns = sum(samples.wall_ns)
    run.jobs_per_s = len(samples) / (busy_ns / 1e9) if busy_ns > 0 else None
    return run


def verdict_line(runs: Sequence[AllocatorRun]) -> str:
    """The setting that kept RSS lowest, what it cost in speed, and the lowest at glibc's
    speed when that is another one, against glibc as it is."""
    base = next((r for r in runs if r.name == "glibc" and r.final_rss), None)
    if base is None or base.final_rss is None:
        return "no comparison: the run under glibc as it is did not finish"
    others = [r for r in runs if r is not base and r.final_rss is not None]
    lower = [r for r in others if (r.final_rss or 0) < base.final_rss * (1 - MIN_SAVING)]
    if not lower:
        return (
            f"no setting lowered RSS by {MIN_SAVING:.0%} or more at job {base.rss_at[-1][0]:,} "
            f"({format_bytes(base.final_rss)} under glibc as it is): keep the default"
        )
    best = min(lower, key=lambda r: r.final_rss or 0)
    line = f"lowest RSS: {_against(best, base)}"
    if not _as_fast(best, base):
        fast = [r for r in lower if _as_fast(r, base)]
        if fast:
            line += (
                f"; at glibc's speed: {_against(min(fast, key=lambda r: r.final_rss or 0), base)}"
            )
        else:
            line += f"; none lowers it by {MIN_SAVING:.0%} at glibc's speed"
    return line


def _as_fast(run: AllocatorRun, base: AllocatorRun) -> bool:
    """jobs/s within one run's noise of glibc's, or faster."""
    if run.jobs_per_s is None or base.jobs_per_s is None:
        return True
    return run.jobs_per_s >= base.jobs_per_s * (1 - SPEED_NOISE)


def _against(run: AllocatorRun, base: AllocatorRun) -> str:
    assert run.final_rss is not None
    assert base.final_rss is not None
    saved = base.final_rss - run.final_rss
    speed = "jobs as fast (within 10 %)"
    if not _as_fast(run, base) and run.jobs_per_s and base.jobs_per_s:
        speed = f"jobs/s {run.jobs_per_s / base.jobs_per_s - 1:+.0%}"
    return (
        f"{run.name}, {format_bytes(run.final_rss)} at job {run.rss_at[-1][0]:,} against "
        f"{format_bytes(base.final_rss)} ({format_bytes(saved)}, {saved / base.final_rss:.0%} "
        f"less), {speed}; copy: {run.setting}"
    )


def table_lines(runs: Sequence[AllocatorRun]) -> list[str]:
    """One line per setting: RSS at each checkpoint, jobs/s, the setting to copy."""
    base = next((r for r in runs if r.name == "glibc"), None)
    lines = []
    for run in runs:
        if run.error:
            lines.append(f"{run.name:12} did not run: {run.error}")
            continue
        rss = ", ".join(f"{jobs:,}: {rss / 2**20:.1f}" for jobs, rss in run.rss_at)
        speed = "-" if run.jobs_per_s is None else f"{run.jobs_per_s:,.0f}"
        if base is not None and base.jobs_per_s and run.jobs_per_s and run is not base:
            speed += f" ({run.jobs_per_s / base.jobs_per_s - 1:+.0%})"
        lines.append(f"{run.name:12} RSS MiB at job {rss}; jobs/s {speed}; {run.setting}")
    return lines


def write_outputs(runs: Sequence[AllocatorRun], root: Path) -> None:
    """``allocators.json`` and ``allocators.png`` (RSS against jobs, one line per setting)."""
    document: dict[str, Any] = {
        "schema_version": 1,
        "runs": [asdict(run) for run in runs],
        "summary": verdict_line(runs),
    }
    (root / "allocators.json").write_text(json.dumps(document, indent=2) + "\n")
    from worker_soak.report.figures import new_figure

    figure = new_figure(3.2, fitted=True)
    axes = figure.add_subplot()
    for run in runs:
        if run.error:
            continue
        samples = read_samples(Path(run.run_dir) / "samples.jsonl").untraced()
        column = samples.gauges.get("rss_bytes")
        if column is None:
            continue
        points = [(job, value) for job, value in enumerate(column) if value is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, [y / 2**20 for y in ys], label=run.name, linewidth=1.2)
    axes.set_xlabel("job index")
    axes.set_ylabel("RSS MiB")
    axes.set_ylim(bottom=0)
    axes.set_title("The same jobs under each allocator setting")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.savefig(root / "allocators.png")
