"""The run directory: samples streamed as they happen, and ``result.json`` written atomically.

Layout of ``OUT/``::

    samples.jsonl   one JSON object per completed job, appended as each job completes
    result.json     the run's summary (schema in docs/result-schema.md), replaced atomically
    worker.log      the worker process's stdout and stderr (process runner)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import pickle
import re
import tempfile
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final, cast

from worker_soak import __version__
from worker_soak.columns import column_of
from worker_soak.errors import RunDirError, UsageError
from worker_soak.forked import beside
from worker_soak.redact import environment_secrets, redact, redact_json
from worker_soak.samples import JobError, Samples

SAMPLES_FILE: Final = "samples.jsonl"
RESULT_FILE: Final = "result.json"
#: The major version of the result.json schema this harness writes; it reads this one and
#: older ones (docs/result-schema.md).
SCHEMA_VERSION: Final = 1
WORKER_LOG: Final = "worker.log"
_TIMING_FIELDS: Final = ("job_index", "wall_ns", "cpu_ns", "end_ns", "error")


def run_dir_name(label: str, index: int = 1) -> str:
    """A directory name for the run called ``label`` (a test's node id): readable, safe on
    every file system, the same in every session (so a baseline directory is searched by
    name), distinct for labels that differ only in characters a file name cannot hold."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._")[:80] or "run"
    digest = hashlib.sha1(label.encode("utf-8")).hexdigest()[:8]
    suffix = f"-{index}" if index > 1 else ""
    return f"{readable}-{digest}{suffix}"


def prepare_run_dir(out: Path) -> Path:
    """Create ``out`` for a new run; refuse one that already holds a run's data."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {str(out)!r} is a file; expected a directory for the run")
    existing = [name for name in (SAMPLES_FILE, RESULT_FILE) if (out / name).exists()]
    if existing:
        raise RunDirError(
            f"--out {str(out)!r} already holds a run ({', '.join(existing)}); "
            "choose a new directory or delete that one"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"--out {str(out)!r} cannot be created: {exc.strerror}") from None
    return out


class SampleLog:
    """Appends sample lines to ``samples.jsonl``; the bytes are written as given."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / SAMPLES_FILE
        self._file: IO[bytes] = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        #: Append a line without a system call; ``flush()`` hands the lines to the OS.
        self.write_buffered: Callable[[bytes], object] = self._file.write

    def write(self, lines: bytes) -> None:
        """Append whole lines and hand them to the OS at once (they survive our own crash)."""
        self._file.write(lines)
        self._file.flush()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> SampleLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


#: Samples parsed at once: one ``json.loads`` of a chunk of lines as an array (~3x faster
#: than a call per line), in bounded memory.
CHUNK_BYTES: Final = 1 << 20
#: A samples file this big (~180,000 samples) is read half here, half by a forked copy of
#: this process (``worker_soak.forked``): a million samples took ~5 s on one core.
SPLIT_BYTES: Final = 16 << 20
#: Longest silence from the copy reading the second half before it is read here.
COPY_TIMEOUT_S: Final = 120.0


def sample_chunks(
    path: Path, start: int = 0, stop: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Every complete sample in a samples file (or its bytes from ``start``, a line's start,
    to ``stop``, a line's end), in chunks as written; a torn last line (a crash mid-write) is
    skipped."""
    with open(path, "rb") as handle:
        handle.seek(start)
        left = b""
        while True:
            size = CHUNK_BYTES if stop is None else min(CHUNK_BYTES, stop - handle.tell())
            data = handle.read(size) if size > 0 else b""
            if not data:
                return
            data = left + data
            cut = data.rfind(b"\n") + 1
            left = data[cut:]
            if cut:  # JSON escapes newlines: each one ends a sample
                yield json.loads(b"[" + data[: cut - 1].replace(b"\n", b",") + b"]")


def _in_job_order(path: Path) -> Iterator[list[dict[str, Any]]]:
    """The samples in job order, in chunks. A pool's workers finish jobs out of order, and
    their samples (tagged ``worker_pid``) are written as they arrive: those are sorted, up to
    the first job missing (an interrupted run). Any other file is read as it is, streamed."""
    chunks = sample_chunks(path)
    first = next(chunks, None)
    if first is None:
        return
    if "worker_pid" not in first[0]:
        yield first
        yield from chunks
        return
    by_index: dict[int, dict[str, Any]] = {}
    for chunk in itertools.chain((first,), chunks):
        for sample in chunk:
            by_index.setdefault(sample["job_index"], sample)
    ordered: list[dict[str, Any]] = []
    for index in range(len(by_index)):
        if index not in by_index:
            break
        ordered.append(by_index[index])
    if ordered:
        yield ordered


#: The last samples file read, by (path, inode, size, mtime): judging a run and drawing its
#: report read the same file one after the other (~0.3 s per 100,000 samples). One entry:
#: a process keeps at most one run's columns beyond what it uses.
_LAST_READ: list[tuple[tuple[str, int, int, int], Samples]] = []


def read_samples(path: Path) -> Samples:
    """Load a samples file into columns; positions must equal job indexes."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return _read_samples(path)
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if _LAST_READ and _LAST_READ[0][0] == key:
        return _LAST_READ[0][1]
    samples = _read_samples(path)
    _LAST_READ[:] = [(key, samples)]
    return samples


class _Columns:
    """Samples gathered column by column from ``first`` on, a chunk at a time, into compact
    columns (``worker_soak.columns``): linear in the samples, whatever the number of gauges."""

    def __init__(self, path: Path, first: int = 0) -> None:
        self.path = path
        self.first = first
        self.position = first
        self.wall, self.cpu, self.end = array("q"), array("q"), array("q")
        # Per field, the jobs that have it and their values: one pass over each sample's
        # own fields (most samples carry few), not one per field over every sample.
        self.indexes: dict[str, array[int]] = {}
        self.values: dict[str, list[Any]] = {}
        self.errors: list[JobError] = []

    def add(self, chunk: list[dict[str, Any]]) -> None:
        position = self.position
        jobs = [sample["job_index"] for sample in chunk]
        if jobs != list(range(position, position + len(chunk))):
            _out_of_order(self.path, position, jobs)
        self.wall.extend([sample["wall_ns"] for sample in chunk])
        self.cpu.extend([sample["cpu_ns"] for sample in chunk])
        self.end.extend([sample["end_ns"] for sample in chunk])
        skip = _SKIPPED_FIELDS
        indexes, values, errors = self.indexes, self.values, self.errors
        for job, sample in enumerate(chunk, position):
            for name, value in sample.items():
                if name in skip or value is None:
                    if name == "error" and value is not None:
                        errors.append(
                            JobError(job, value["type"], value["message"], value["where"])
                        )
                    continue
                try:
                    indexes[name].append(job)
                    values[name].append(value)
                except KeyError:  # first seen here; fields keep that order
                    indexes[name] = array("q", [job])
                    values[name] = [value]
        self.position += len(chunk)

    def extend(self, later: _Columns) -> None:
        """Append the columns read from where these end (none: a torn line only)."""
        if later.position == later.first:
            return
        if later.first != self.position:
            _out_of_order(self.path, self.position, [later.first])
        self.wall.extend(later.wall)
        self.cpu.extend(later.cpu)
        self.end.extend(later.end)
        for name, jobs in later.indexes.items():
            self.indexes.setdefault(name, array("q")).extend(jobs)
            self.values.setdefault(name, []).extend(later.values[name])
        self.errors.extend(later.errors)
        self.position = later.position

    def samples(self) -> Samples:
        return Samples(
            wall_ns=self.wall,
            cpu_ns=self.cpu,
            end_ns=self.end,
            gauges={
                name: column_of(self.position, self.indexes.pop(name), self.values.pop(name))
                for name in list(self.indexes)
            },
            errors=tuple(self.errors),
        )


_SKIPPED_FIELDS: Final = frozenset(_TIMING_FIELDS)


def _out_of_order(path: Path, position: int, jobs: list[int]) -> None:
    line, index = next((position + i + 1, job) for i, job in enumerate(jobs) if job != position + i)
    raise ValueError(f"{path}: line {line} is job {index}, expected {line - 1}")


def _read_samples(path: Path) -> Samples:
    if not path.exists():
        return _Columns(path).samples()
    middle = _middle(path)
    if middle is not None:
        columns = _read_halves(path, middle)
        if columns is not None:
            return columns.samples()
    columns = _Columns(path)
    for chunk in _in_job_order(path):
        columns.add(chunk)
    return columns.samples()


def _middle(path: Path) -> int | None:
    """Where a big file written in job order (not a pool's) can be cut in two: the start of
    the line after its middle byte; None for any other file."""
    size = path.stat().st_size
    if size < SPLIT_BYTES:
        return None
    with open(path, "rb") as handle:
        if b'"worker_pid"' in handle.readline():
            return None
        handle.seek(size // 2)
        handle.readline()
        middle = handle.tell()
    return middle if middle < size else None


def _read_halves(path: Path, middle: int) -> _Columns | None:
    """The first half read here while a forked copy reads the second; None when the copy
    could not (no fork here, or it failed): the caller then reads the whole file."""

    def second_half() -> bytes:
        chunks = sample_chunks(path, middle)
        first = next(chunks, None)
        later = _Columns(path, first[0]["job_index"] if first else 0)
        for chunk in itertools.chain((first,) if first else (), chunks):
            later.add(chunk)
        return pickle.dumps(later, protocol=pickle.HIGHEST_PROTOCOL)

    def first_half() -> _Columns:
        columns = _Columns(path)
        for chunk in sample_chunks(path, 0, middle):
            columns.add(chunk)
        return columns

    columns, sent = beside(second_half, first_half, COPY_TIMEOUT_S)
    if sent is None:
        return None
    later = pickle.loads(sent)
    if not isinstance(later, _Columns):
        return None
    columns.extend(later)
    return columns


def write_result(run_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write ``result.json`` so that a reader sees the old file or the new one, never half;
    every string redacted (``worker_soak.redact``). Returns the document as written: what
    reports, the terminal and pytest show."""
    target = run_dir / RESULT_FILE
    result = cast(dict[str, Any], redact_json(result, environment_secrets(os.environ)))
    fd, tmp = tempfile.mkstemp(prefix=".result-", suffix=".json", dir=run_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2, ensure_ascii=False, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result


def scrub_logs(run_dir: Path) -> None:
    """Redact the run's log files in place: worker processes write them straight to disk
    (their stderr), so what user code printed — a DSN in a connection error — is redacted
    once the writers are gone."""
    secrets = environment_secrets(os.environ)
    for path in sorted(run_dir.glob("*.log")):
        fd, tmp = tempfile.mkstemp(prefix=".log-", dir=run_dir)
        changed = False
        try:
            with (
                path.open(encoding="utf-8", errors="surrogateescape") as source,
                os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as target,
            ):
                for line in source:
                    shown = redact(line, secrets)
                    changed = changed or shown != line
                    target.write(shown)
            if changed:
                os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)


def read_result(path: Path) -> dict[str, Any]:
    """Load a ``result.json`` (or the one inside a run directory) of this schema version or an
    older one; a newer one is a :class:`~worker_soak.errors.UsageError` (its meaning may have
    changed: a verdict read the old way could be wrong)."""
    if path.is_dir():
        path = path / RESULT_FILE
    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    version = data.get("schema_version", 1) if isinstance(data, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise UsageError(f"{str(path)!r} is not a soak result: no schema_version number")
    if version > SCHEMA_VERSION:
        raise UsageError(
            f"{str(path)!r} was written by a newer soak (result schema {version}, "
            f"{data.get('harness_version', '?')}); this soak {__version__} reads schema "
            f"{SCHEMA_VERSION} and older: upgrade it (pip install -U) to read this run"
        )
    return data
