"""The summary printed at the end of ``soak run``."""

from __future__ import annotations

from typing import Any, TextIO


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def render_summary(result: dict[str, Any], out: TextIO, run_dir: str) -> None:
    """A few lines a person reads first: what ran, how it ended, then the checkpoints."""
    done, asked = result["jobs_completed"], result["jobs_requested"]
    out.write(
        f"soak: {result['worker']} on workload {result['workload']!r} ({result['runner']} runner)\n"
    )
    out.write(
        f"  jobs: {done:,} of {asked:,} completed, {result['jobs_failed']:,} raised"
        f" - stopped: {result['stop_reason']} after {result['duration_s']:.2f}s\n"
    )
    for crash in result["crashes"]:
        out.write(f"  CRASH at job {crash['job_index']} ({crash['reason']}): {crash['message']}\n")
    for key in ("setup_error", "teardown_error", "harness_error"):
        if result.get(key):
            out.write(f"  {key.replace('_', ' ')}: {result[key]}\n")
    for group in result["failures"][:3]:
        out.write(
            f"  {group['count']:,} x {group['type']}: {group['message'][:120]}"
            f" (first job {group['first_job_index']}, {group['where']})\n"
        )
    if result["checkpoints"]:
        out.write(
            "  checkpoint   p50 ms   p95 ms   p99 ms    jobs/s  py blocks  native MiB  RSS MiB\n"
        )
    for point in result["checkpoints"]:
        memory = point["memory"]
        rate = point["throughput_jobs_per_s"]
        out.write(
            f"  {point['jobs']:>10,} {_ms(point['latency_p50_ms']):>8} "
            f"{_ms(point['latency_p95_ms']):>8} {_ms(point['latency_p99_ms']):>8} "
            f"{'-' if rate is None else f'{rate:,.0f}':>9} {memory.get('py_blocks', '-'):>10} "
            f"{_mib(memory.get('native_heap_bytes')):>11} {_mib(memory.get('rss_bytes')):>8}\n"
        )
    verdicts = result["verdicts"]
    for name, verdict in verdicts.items():
        out.write(f"  {name}: {verdict.get('verdict', '?')} - {verdict.get('summary', '')}\n")
    out.write(f"  data: {run_dir}/result.json, {run_dir}/samples.jsonl\n")
