"""The pool's live metrics: each worker's memory and progress, as the supervisor sees them.

The supervisor reads a worker's ``/proc/PID/statm`` (resident size, ~5 us) on every tick and
``/proc/PID/smaps_rollup`` (unique set size, tens of us, the kernel walks the page tables) on
every heartbeat, from outside: a worker stuck in C code with the GIL held is still measured,
and the worker's own measurements are not disturbed by a reporting thread.

They go to ``metrics.jsonl`` in the run directory (one line per worker per heartbeat) and,
when asked, to Prometheus text format: a file replaced atomically (for node_exporter's
textfile collector) or ``http://127.0.0.1:PORT/metrics``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final, TextIO

from worker_soak.errors import UsageError
from worker_soak.worker.recycle import current_memory

METRICS_FILE: Final = "metrics.jsonl"
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def unique_set_size(pid: int) -> int | None:
    """Private resident bytes of process ``pid`` (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    total_kib = 0
    for line in text.splitlines():
        if line.startswith((b"Private_Clean:", b"Private_Dirty:", b"Private_Hugetlb:")):
            total_kib += int(line.split()[1])
    return total_kib * 1024 or None  # a zombie (exited, not reaped) reads as nothing


class ProcessMemory:
    """Current resident size of one process, read through a descriptor kept open."""

    __slots__ = ("_fd", "pid")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self._fd = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        except OSError:
            self._fd = -1

    def rss(self) -> int | None:
        if self._fd < 0:
            return None
        try:
            resident = current_memory(self._fd)[0]
        except (OSError, IndexError, ValueError):  # the process has gone
            return None
        # An exited process not yet reaped (a zombie) reads as all zeros.
        return resident or None

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    """One worker process at one moment."""

    worker: int
    pid: int
    lifetime: int
    rss_bytes: int | None
    uss_bytes: int | None
    jobs_done: int
    job_index: int | None
    job_running_s: float | None


def prometheus_text(
    workers: Sequence[WorkerMetrics], totals: Mapping[str, int], recycles: Mapping[str, int]
) -> str:
    """The Prometheus text exposition of the pool's state."""
    lines: list[str] = []

    def gauge(name: str, text: str, values: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(f"{name}{labels} {value:g}" for labels, value in values)

    def labels(w: WorkerMetrics) -> str:
        return f'{{worker="{w.worker}",pid="{w.pid}"}}'

    gauge(
        "soak_worker_rss_bytes",
        "Current resident set size of the worker process.",
        [(labels(w), w.rss_bytes) for w in workers if w.rss_bytes is not None],
    )
    gauge(
        "soak_worker_uss_bytes",
        "Current unique (private) set size of the worker process.",
        [(labels(w), w.uss_bytes) for w in workers if w.uss_bytes is not None],
    )
    gauge(
        "soak_worker_jobs_done",
        "Jobs this worker process has finished.",
        [(labels(w), w.jobs_done) for w in workers],
    )
    gauge(
        "soak_worker_current_job_index",
        "Index of the job the worker is running (-1: none).",
        [(labels(w), -1 if w.job_index is None else w.job_index) for w in workers],
    )
    gauge(
        "soak_worker_job_running_seconds",
        "How long the current job has run so far.",
        [(labels(w), w.job_running_s) for w in workers if w.job_running_s is not None],
    )
    for name, value in totals.items():
        lines.append(f"# TYPE soak_{name}_total counter")
        lines.append(f"soak_{name}_total {value}")
    lines.append("# TYPE soak_recycles_total counter")
    lines.extend(f'soak_recycles_total{{reason="{r}"}} {n}' for r, n in recycles.items())
    return "\n".join(lines) + "\n"


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` so a reader sees the old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


class MetricsServer:
    """``GET /metrics`` on a loopback port, answered from the latest text in a thread."""

    def __init__(self, port: int) -> None:
        self._text = ""
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics is served")
                    return
                body = server.text().encode()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        # Loopback only: metrics of a soak are nobody else's business.
        self._http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port: int = self._http.server_address[1]
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="soak-metrics", daemon=True
        )
        self._thread.start()

    def text(self) -> str:
        with self._lock:
            return self._text

    def update(self, text: str) -> None:
        with self._lock:
            self._text = text

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)


class MetricsOutputs:
    """Where a pool's metrics go: ``metrics.jsonl`` in the run directory, always; the
    Prometheus file and the loopback port when asked. Opened before any worker starts, so a
    busy port or an unwritable path is a usage error, not a failure halfway through."""

    def __init__(self, run_dir: Path, metrics_file: Path | None, port: int | None) -> None:
        self.file = metrics_file
        self.server: MetricsServer | None = None
        if port is not None:
            try:
                self.server = MetricsServer(port)
            except OSError as exc:
                raise UsageError(
                    f"--metrics-port {port}: cannot listen on 127.0.0.1:{port} "
                    f"({exc.strerror}); choose a free port, or 0 for any"
                ) from None
        if metrics_file is not None:
            try:
                write_text_atomically(metrics_file, "")
            except OSError as exc:
                self.close()
                raise UsageError(
                    f"--metrics-file {metrics_file}: cannot write there ({exc.strerror}); "
                    "give a path in an existing, writable directory"
                ) from None
        # Open for the whole run (closed in close()): one line per worker per heartbeat.
        self.log: TextIO = open(run_dir / METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None

    def publish(
        self,
        at_s: float,
        workers: Sequence[WorkerMetrics],
        totals: Mapping[str, int],
        recycles: Mapping[str, int],
    ) -> None:
        """One heartbeat: a line per worker to the run directory, the exposition to the
        Prometheus outputs."""
        for worker in workers:
            fields = {name: getattr(worker, name) for name in WorkerMetrics.__slots__}
            self.log.write(json.dumps({"at_s": at_s, **fields}) + "\n")
        self.log.flush()
        if self.file is None and self.server is None:
            return
        text = prometheus_text(workers, totals, recycles)
        if self.file is not None:
            write_text_atomically(self.file, text)
        if self.server is not None:
            self.server.update(text)

    def close(self) -> None:
        if getattr(self, "log", None) is not None:
            self.log.close()
        if self.server is not None:
            self.server.close()
            self.server = None
