"""A site over many runs: ``DIR/index.html`` links every run under ``DIR``, newest first,
with its verdicts at a glance, and plots each workload's history across runs (latency p50
and p95 at the last checkpoint, bytes per job), as asv does for benchmarks. Static pages,
ready to publish.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from worker_soak.errors import UsageError
from worker_soak.report.html import TEMPLATES, overall
from worker_soak.store import RESULT_FILE, read_result

SITE_FILE: Final = "index.html"


def find_runs(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every run directory under ``root`` (one with a result.json this soak can read), newest
    first; a run written by a newer soak is left out, with a warning on stderr."""
    runs = []
    for path in sorted(root.rglob(RESULT_FILE)):
        try:
            text = path.read_text(encoding="utf-8")
            if "schema_version" not in json.loads(text):
                continue
            result = read_result(path)
        except (OSError, ValueError, TypeError):
            continue
        except UsageError as exc:
            print(f"soak: warning: left out of the site: {exc}", file=sys.stderr)
            continue
        runs.append((path.parent, result))
    runs.sort(key=lambda run: str(run[1].get("started_at", "")), reverse=True)
    return runs


def _last_checkpoint(result: Mapping[str, Any]) -> Mapping[str, Any]:
    checkpoints = result.get("checkpoints") or [{}]
    last: Mapping[str, Any] = checkpoints[-1]
    return last


def history_plot(workload: str, runs: Sequence[Mapping[str, Any]]) -> str:
    """Latency p50/p95 and bytes/job of one workload's runs, oldest to newest."""
    from worker_soak.report.figures import data_uri, new_figure

    ordered = sorted(runs, key=lambda r: str(r.get("started_at", "")))
    # Each run its own label: its number, and the commit it ran (two runs of a commit).
    commits = [r.get("environment", {}).get("git_commit") or "" for r in ordered]
    labels = [f"{i + 1} {commit[:7]}".rstrip() for i, commit in enumerate(commits)]
    figure = new_figure(2.8, fitted=True)
    latency, memory = figure.subplots(1, 2)
    xs = list(range(len(ordered)))
    for key, name in (("latency_p50_ms", "p50"), ("latency_p95_ms", "p95")):
        latency.plot(
            xs,
            [_last_checkpoint(r).get(key) or float("nan") for r in ordered],
            "o-",
            ms=3,
            label=name,
        )
    latency.set_ylabel("ms")
    latency.set_ylim(bottom=0)  # from zero: a run-to-run wobble is not a trend
    latency.set_title(f"{workload}: latency at the last checkpoint")
    latency.legend(fontsize=7, loc="lower left")
    memory.plot(
        xs,
        [
            r.get("verdicts", {}).get("memory", {}).get("bytes_per_job") or float("nan")
            for r in ordered
        ],
        "o-",
        ms=3,
        color="#6a3d9a",
    )
    growth = [r.get("verdicts", {}).get("memory", {}).get("bytes_per_job") or 0.0 for r in ordered]
    if min(growth, default=0.0) >= 0:
        memory.set_ylim(bottom=0)
    memory.set_title(f"{workload}: memory growth (B/job)")
    for axes in (latency, memory):
        axes.set_xticks(xs, labels, rotation=45, fontsize=7)
    return data_uri(figure)


def build_site(root: Path) -> Path:
    """Write ``root/index.html`` for every run under ``root``."""
    import jinja2

    runs = find_runs(root)
    rows = []
    by_workload: dict[str, list[dict[str, Any]]] = {}
    for run_dir, result in runs:
        verdicts = result.get("verdicts", {})
        report = run_dir / "index.html"
        link = report if report.exists() else run_dir / RESULT_FILE
        rows.append(
            {
                "link": link.relative_to(root).as_posix(),
                "started_at": result.get("started_at", "?"),
                "workload": result.get("workload", "?"),
                "worker": result.get("worker", "?"),
                "label": result.get("label", ""),
                "jobs": f"{result.get('jobs_completed', 0):,}",
                "overall": overall(result),
                "verdicts": [
                    (name, verdicts.get(name, {}).get("verdict", "-"))
                    for name in ("memory", "resources", "latency", "isolation", "recycling")
                ],
                "commit": (result.get("environment", {}).get("git_commit") or "")[:7],
            }
        )
        by_workload.setdefault(str(result.get("workload")), []).append(result)
    history = [
        (name, history_plot(name, results))
        for name, results in sorted(by_workload.items())
        if len(results) >= 2
    ]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    page = environment.get_template("site.html.j2").render(
        root=root.name, runs=rows, history=history
    )
    target = root / SITE_FILE
    target.write_text(page, encoding="utf-8")
    return target
