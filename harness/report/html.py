"""The run report: ``OUT/index.html``, one self-contained page (plots inlined as PNG data,
styles inline, no script, no external asset), and ``OUT/summary.json`` for dashboards.

Every string from the worker or its jobs goes through Jinja2's autoescaping: a job whose
error message is hostile HTML shows as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from worker_soak.report import plots
from worker_soak.report.breakdown_plot import breakdown_plot
from worker_soak.report.growth_plot import growth_plot
from worker_soak.report.parallel import draw_all
from worker_soak.report.plain import job_source, queue_lines, runner_label
from worker_soak.samples import Samples
from worker_soak.store import SAMPLES_FILE, WORKER_LOG, read_result, read_samples

REPORT_FILE: Final = "index.html"
SUMMARY_FILE: Final = "summary.json"
TEMPLATES: Final = Path(__file__).parent / "templates"
VERDICT_NAMES: Final = ("failed_jobs", "memory", "resources", "latency", "isolation")


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _mib(value: Any) -> str:
    return "-" if value is None else f"{value / 2**20:,.1f}"


def overall(result: Mapping[str, Any]) -> str:
    """One word for the whole run: FAILED, PASSED or INCONCLUSIVE."""
    verdicts = [v.get("verdict") for v in result.get("verdicts", {}).values()]
    if (
        result.get("crashes")
        or result.get("stop_reason") not in ("completed", None)
        or ("fail" in verdicts)
    ):
        return "FAILED"
    return "INCONCLUSIVE" if "inconclusive" in verdicts else "PASSED"


def banner(result: Mapping[str, Any]) -> list[dict[str, str]]:
    """The cards a person reads first: each verdict, then crashes."""
    cards = []
    verdicts = result.get("verdicts", {})
    for name in VERDICT_NAMES:
        verdict = verdicts.get(name)
        if verdict is None:
            if name == "isolation":
                cards.append(
                    {
                        "name": name,
                        "verdict": "not judged",
                        "css": "none",
                        "summary": "written by a harness version without the isolation verdict",
                    }
                )
            continue
        cards.append(
            {
                "name": name,
                "verdict": verdict["verdict"],
                "css": verdict["verdict"],
                "summary": verdict.get("summary", ""),
            }
        )
    crashes = result.get("crashes", [])
    cards.append(
        {
            "name": "crashes",
            "verdict": f"{len(crashes)} crash{'es' if len(crashes) != 1 else ''}",
            "css": "fail" if crashes else "pass",
            "summary": "; ".join(
                f"{c.get('phase') or 'job ' + str(c['job_index'])}: {c['message']}" for c in crashes
            )
            or f"stopped: {result.get('stop_reason')}",
        }
    )
    return cards


def _isolation_view(verdict: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not verdict or "jobs_compared" not in verdict:
        return None
    reproduction = verdict.get("reproduction") or {}
    sequence = reproduction.get("sequence")
    if sequence:
        text = (
            f"on a fresh worker, running job(s) {', '.join(map(str, sequence[:20]))} before job "
            f"{reproduction['job_index']} makes it return {reproduction.get('after_sequence')} "
            f"({reproduction['tests']} runs searched jobs {reproduction['searched_from_job']}-"
            f"{reproduction['job_index'] - 1})"
        )
    else:
        text = str(reproduction.get("note", ""))
    return {
        "jobs_compared": verdict["jobs_compared"],
        "fresh_workers": verdict.get("fresh_workers") or "forked after setup()",
        "differing": verdict.get("differing_jobs", []),
        "reproduction": text,
        "state_changes": verdict.get("state_changes", []),
    }


def _pool_view(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The supervised pool's recycles and worker lifetimes, as the Recycling section shows."""
    if "recycles" not in result:
        return None
    pool = result.get("pool", {})
    limits = {k: v for k, v in pool.get("limits", {}).items() if v not in (None, False)}
    judged = {
        name: {life["pid"]: life["verdict"] for life in verdict.get("lifetimes", [])}
        for name, verdict in result.get("verdicts", {}).items()
        if name in ("memory", "latency")
    }
    return {
        "workers": result.get("workers", "?"),
        "limits": ", ".join(f"{k} {v}" for k, v in limits.items()) or "none",
        "accounting": (
            f"Jobs lost: {result.get('jobs_lost')}; retried: {result.get('jobs_retried')}; "
            f"run twice: {result.get('jobs_run_twice')}; failed after retries: "
            f"{pool.get('jobs_failed_by_interruption', 0)}."
        ),
        "recycles": [
            {
                "job_index": r.get("job_index", "-"),
                "reason": r["reason"],
                "worker": r["worker"],
                "pid": r["pid"],
                "rss": _mib(r.get("rss_bytes")),
                "jobs_done": r.get("jobs_done", "-"),
                "restart": _number(r.get("restart_seconds")),
                "note": r.get("exit") or r.get("note") or "",
            }
            for r in result["recycles"][:200]
        ],
        "lifetimes": [
            {
                "worker": life["worker"],
                "pid": life["pid"],
                "jobs": _number(life.get("jobs")),
                "started": _number(life.get("started_s")),
                "ended": _number(life.get("ended_s")),
                "end": life.get("end", "-"),
                "memory": judged.get("memory", {}).get(life["pid"], "-"),
                "latency": judged.get("latency", {}).get(life["pid"], "-"),
            }
            for life in pool.get("lifetimes", [])[:200]
        ],
    }


def build_view(result: Mapping[str, Any], run_dir: Path | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain strings and lists (no plots)."""
    environment = dict(result.get("environment", {}))
    environment.update(
        {
            "harness": result.get("harness_version", "?"),
            "worker": result.get("worker", "?"),
            "workload": result.get("workload", "?"),
            "workload options": json.dumps(result.get("workload_options", {})),
            "runner": runner_label(result),
            "seed": str(result.get("seed", "?")),
            **({"test": result["label"]} if result.get("label") else {}),
        }
    )
    return {
        "worker": result.get("worker", "?"),
        "label": result.get("label", ""),
        "workload": result.get("workload", "?"),
        "source": job_source(result),
        "overall": overall(result),
        "jobs_completed": _number(result.get("jobs_completed")),
        "jobs_requested": _number(result.get("jobs_requested")),
        "jobs_failed": _number(result.get("jobs_failed")),
        "stop_reason": result.get("stop_reason", "?"),
        "duration": f"{result.get('duration_s', 0):.1f} s",
        "started_at": result.get("started_at", "?"),
        "banner": banner(result),
        "crashes": result.get("crashes", []),
        "leak_sites": [
            {
                "where": f"{Path(s['file']).name}:{s['line']}",
                "function": s["function"],
                "kind": s["kind"].replace("_", " "),
                "allocator": s["allocator"],
                "bytes_per_job": _number(s["bytes_per_job"]),
                "allocations_per_job": _number(s["allocations_per_job"]),
                "bytes_kept": _number(s["bytes_kept"]),
                "stack": "\n".join(s["stack"]),
                "retention_path": " → ".join(s["retention_path"]) or "-",
            }
            for s in result.get("leak_sites", [])
            if s["kind"] == "per_job" or s["bytes_kept"] > 0
        ][:10],
        "memray_files": result.get("attribution", {}).get("files", []),
        "checkpoints": [
            {
                "jobs": _number(c["jobs"]),
                "window": f"{c['window_first_job']:,}-{c['window_last_job']:,}",
                "p50": _number(c["latency_p50_ms"]),
                "p95": _number(c["latency_p95_ms"]),
                "p99": _number(c["latency_p99_ms"]),
                "rate": _number(c["throughput_jobs_per_s"]),
                "py_blocks": _number(c["memory"].get("py_blocks")),
                "native": _mib(c["memory"].get("native_heap_bytes")),
                "rss": _mib(c["memory"].get("rss_bytes")),
            }
            for c in result.get("checkpoints", [])
        ],
        "failures": result.get("failures", []),
        "isolation": _isolation_view(result.get("verdicts", {}).get("isolation")),
        "pool": _pool_view(result),
        "queue_lines": queue_lines(result),
        "rss_growth": (result.get("rss_growth") or {}).get("summary"),
        "advice": result.get("advice"),
        "workload_report": sorted(
            (k, str(v)) for k, v in result.get("workload_report", {}).items()
        ),
        "environment": sorted(environment.items()),
        "has_log": run_dir is not None and (run_dir / WORKER_LOG).exists(),
    }


def summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """A small JSON for dashboards: the outcome, each verdict and its headline figure."""
    verdicts = result.get("verdicts", {})
    last = (result.get("checkpoints") or [{}])[-1]
    top = next((s for s in result.get("leak_sites", []) if s.get("kind") == "per_job"), None)
    if verdicts.get("memory", {}).get("verdict") != "fail":
        top = None  # a site is only "the leak" when the heap really grows
    return {
        "schema_version": 1,
        "overall": overall(result),
        "worker": result.get("worker"),
        "workload": result.get("workload"),
        "started_at": result.get("started_at"),
        "jobs_completed": result.get("jobs_completed"),
        "jobs_failed": result.get("jobs_failed"),
        "crashes": len(result.get("crashes", [])),
        "verdicts": {name: v.get("verdict") for name, v in verdicts.items()},
        "bytes_per_job": verdicts.get("memory", {}).get("bytes_per_job"),
        "latency_drift": verdicts.get("latency", {}).get("drift"),
        "aged_vs_fresh_ratio": result.get("aged_vs_fresh", {}).get("ratio"),
        "latency_p50_ms": last.get("latency_p50_ms"),
        "latency_p95_ms": last.get("latency_p95_ms"),
        "top_leak_site": f"{top['file']}:{top['line']}" if top else None,
        "git_commit": result.get("environment", {}).get("git_commit"),
    }


def render_run(result: Mapping[str, Any], samples: Samples, run_dir: Path | None = None) -> str:
    """The page for one run."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    judged = samples.untraced() if len(samples) else samples
    view = build_view(result, run_dir)
    view["plots"] = draw_all(
        {
            "growth": lambda: growth_plot(samples, result),
            "memory": lambda: plots.memory_plot(samples, result),
            "breakdown": lambda: breakdown_plot(samples, result),
            "latency": lambda: plots.latency_plot(judged, result),
            "checkpoints": lambda: plots.checkpoint_distributions_plot(
                judged, result.get("checkpoints", [])
            ),
            "throughput": lambda: plots.throughput_plot(samples, result),
            "aged": lambda: plots.aged_vs_fresh_plot(result.get("aged_vs_fresh", {})),
            "resources": lambda: plots.resources_plot(samples, result),
        }
    )
    return str(environment.get_template("run.html.j2").render(view))


def write_run_report(run_dir: Path) -> Path:
    """Write ``index.html`` and ``summary.json`` for the run in ``run_dir``."""
    result = read_result(run_dir)
    samples = read_samples(run_dir / SAMPLES_FILE)
    page = render_run(result, samples, run_dir)
    target = run_dir / REPORT_FILE
    target.write_text(page, encoding="utf-8")
    (run_dir / SUMMARY_FILE).write_text(
        json.dumps(summary(result), indent=2) + "\n", encoding="utf-8"
    )
    return target
