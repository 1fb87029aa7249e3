"""The summary printed at the end of ``soak run`` (rich: colours on a terminal, plain text in
a CI log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, TextIO

from worker_soak.report.plain import crash_place, job_source, leak_lines, queue_lines, runner_label

STYLES: Final = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def render_summary(result: dict[str, Any], out: TextIO, run_dir: str) -> None:
    """What ran, how it ended, the checkpoints, each verdict in a sentence, where the data is."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=out, width=120, soft_wrap=True, highlight=False)
    done, asked = result["jobs_completed"], result["jobs_requested"]
    runner = runner_label(result)
    console.print(f"soak: {escape(result['worker'])} on {escape(job_source(result))} ({runner})")
    console.print(
        f"  jobs: {done:,} of {asked:,} completed, {result['jobs_failed']:,} raised"
        f" - stopped: {result['stop_reason']} after {result['duration_s']:.2f}s"
    )
    for crash in result["crashes"]:
        console.print(
            f"  [bold red]CRASH[/] {crash_place(crash)} ({crash['reason']}): "
            f"{escape(crash['message'])}"
        )
    for key in ("setup_error", "teardown_error", "harness_error"):
        if result.get(key):
            console.print(f"  {key.replace('_', ' ')}: {escape(str(result[key]))}")
    for group in result["failures"][:3]:
        console.print(
            f"  {group['count']:,} x {escape(group['type'])}: "
            f"{escape(group['message'][:120])} (first job {group['first_job_index']}"
            f"{', ' + escape(group['where']) if group['where'] else ''})"
        )
    if result["checkpoints"]:
        table = Table(box=None, pad_edge=False, padding=(0, 1))
        for title in (
            "checkpoint",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "jobs/s",
            "py blocks",
            "native MiB",
            "RSS MiB",
        ):
            table.add_column(title, justify="right")
        for point in result["checkpoints"]:
            memory = point["memory"]
            rate = point["throughput_jobs_per_s"]
            table.add_row(
                f"{point['jobs']:,}",
                _ms(point["latency_p50_ms"]),
                _ms(point["latency_p95_ms"]),
                _ms(point["latency_p99_ms"]),
                "-" if rate is None else f"{rate:,.0f}",
                str(memory.get("py_blocks", "-")),
                _mib(memory.get("native_heap_bytes")),
                _mib(memory.get("rss_bytes")),
            )
        console.print(table)
    for recycle in result.get("recycles", ())[:5]:
        gap = recycle.get("restart_seconds")
        console.print(
            f"  recycle ({recycle['reason']}) of pid {recycle['pid']} after job "
            f"{recycle['job_index']}: RSS {_mib(recycle.get('rss_bytes'))} MiB, restart "
            f"{'-' if gap is None else f'{gap:.3f} s'}"
        )
    if len(result.get("recycles", ())) > 5:
        console.print(f"  ... {len(result['recycles']) - 5} more recycles in result.json")
    for name, verdict in result["verdicts"].items():
        word = verdict.get("verdict", "?")
        console.print(
            f"  {name}: [{STYLES.get(word, 'default')}]{word}[/] - "
            f"{escape(verdict.get('summary', ''))}"
        )
        if name == "memory" and word == "fail":
            for line in leak_lines(result.get("leak_sites") or ()):
                console.print(f"    {escape(line)}")
        growth = result.get("rss_growth") or {}
        if name == "memory" and growth.get("grew"):
            console.print(f"    {escape(growth['summary'])}")
    for line in queue_lines(result):
        console.print(f"  {escape(line)}")
    advice = result.get("advice") or {}
    if advice.get("bytes_per_job"):
        console.print(f"  advice: {escape(advice['summary'])}")
        for setting in advice.get("settings", [])[:2]:
            console.print(f"    {escape(setting)}")
    has_report = (Path(run_dir) / "index.html").exists()
    report = f"report: {run_dir}/index.html, " if has_report else ""
    console.print(f"  {report}data: {run_dir}/result.json, {run_dir}/samples.jsonl")
