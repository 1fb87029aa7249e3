"""Jobs read from a file: JSON Lines (one job object a line) or one JSON array of objects.

Job *i* is record *i*, cycling when the run asks for more jobs than the file holds. The file is
read as a stream, a record at a time, whatever its size: :func:`scan` checks the records a run
will use (and counts them) before the run starts, so a malformed record is one clear error
naming the file and line, never a failure at job 40,000.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from worker_soak.errors import WorkloadError
from worker_soak.workloads.base import Job, Workload

#: Bytes read at a time from a JSON array file.
CHUNK: Final = 1 << 16
_DECODER: Final = json.JSONDecoder()
_BLANK: Final = " \t\r\n"


class JobFileError(WorkloadError):
    """A job file that cannot be read as jobs; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class Scan:
    """What :func:`scan` found: ``records`` checked (all of them, or the first ``limit``),
    and whether that was the whole file."""

    records: int
    whole_file: bool


def records(path: Path) -> Iterator[tuple[int, Job]]:
    """Each record of ``path`` with the line it starts on; JobFileError at the first record
    that is not a JSON object."""
    try:
        handle = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise JobFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with handle:
        try:
            first = _first_character(handle)
            handle.seek(0)
            if first == "[":
                yield from _array_records(path, handle)
            else:
                yield from _line_records(path, handle)
        except UnicodeDecodeError as exc:
            raise JobFileError(f"{path}: not UTF-8 text ({exc.reason})") from None


def scan(path: Path, limit: int | None = None) -> Scan:
    """Check the first ``limit`` records (all when None) and count them; JobFileError for a
    malformed record or a file with none."""
    count = 0
    for _, _job in records(path):
        count += 1
        if limit is not None and count >= limit:
            return Scan(count, whole_file=False)
    if count == 0:
        raise JobFileError(
            f"{path}: holds no job; expected JSON Lines (one object a line) or a JSON array "
            "of objects"
        )
    return Scan(count, whole_file=True)


def cycled(path: Path, count: int) -> Iterator[Job]:
    """``count`` jobs: the file's records in order, from the start again when it runs out."""
    produced = 0
    while produced < count:
        before = produced
        for _, job in records(path):
            yield job
            produced += 1
            if produced == count:
                return
        if produced == before:  # the file was emptied while the run read it
            raise JobFileError(f"{path}: holds no job any more")


def recorded_workload(path: Path) -> Workload:
    """The workload of the jobs in ``path``; it has no reference worker: ``--worker`` says
    which worker does them."""

    def generate(count: int, seed: int, options: Any) -> Iterator[Job]:
        return cycled(path, count)

    return Workload(
        name=f"jobs from {path}",
        summary=f"recorded jobs replayed from {path}",
        generate=generate,
        reference_worker="",
    )


def _first_character(handle: Any) -> str:
    while chunk := handle.read(4096):
        stripped = chunk.lstrip(_BLANK + "\ufeff")
        if stripped:
            return str(stripped[0])
    return ""


def _line_records(path: Path, handle: Any) -> Iterator[tuple[int, Job]]:
    for number, line in enumerate(handle, start=1):
        text = line.strip().lstrip("\ufeff")
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise JobFileError(
                f"{path}:{number}: not a JSON object ({_reason(exc)}); expected one job "
                "object a line (JSON Lines)"
            ) from None
        yield number, _checked(path, number, value)


def _array_records(path: Path, handle: Any) -> Iterator[tuple[int, Job]]:
    """The elements of a top-level JSON array, decoded one at a time from a sliding buffer."""
    buffer = ""
    line = 1  # the line ``buffer`` starts on
    position = 0
    opened = False
    finished = False
    eof = False
    while True:
        if not eof and len(buffer) - position < CHUNK:
            chunk = handle.read(CHUNK)
            eof = chunk == ""
            line += buffer.count("\n", 0, position)
            buffer = buffer[position:] + chunk
            position = 0
        skipped = _BLANK + "\ufeff" + ("," if opened else "")
        while position < len(buffer) and buffer[position] in skipped:
            position += 1
        here = line + buffer.count("\n", 0, position)
        if position >= len(buffer):
            if eof:
                if not finished:
                    raise JobFileError(f"{path}:{here}: the JSON array is not closed with ']'")
                return
            continue
        if finished:
            raise JobFileError(f"{path}:{here}: text after the JSON array's closing ']'")
        if not opened:
            opened = buffer[position] == "["
            position += 1
            continue
        if buffer[position] == "]":
            finished = True
            position += 1
            continue
        try:
            value, end = _DECODER.raw_decode(buffer, position)
        except ValueError as exc:
            if not eof:  # perhaps a record longer than what is buffered: read on
                chunk = handle.read(CHUNK)
                eof = chunk == ""
                buffer += chunk
                continue
            raise JobFileError(f"{path}:{here}: not a JSON object ({_reason(exc)})") from None
        if end == len(buffer) and not eof:  # a number or a literal may go on in the next chunk
            buffer += handle.read(CHUNK)
            continue
        position = end
        yield here, _checked(path, here, value)


def _checked(path: Path, line: int, value: object) -> Job:
    if not isinstance(value, dict):
        raise JobFileError(
            f"{path}:{line}: a job must be a JSON object, got {type(value).__name__} "
            f"{_short(json.dumps(value))}"
        )
    return value


def _reason(exc: ValueError) -> str:
    return str(exc.args[0]).split(":")[0] if exc.args else str(exc)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
