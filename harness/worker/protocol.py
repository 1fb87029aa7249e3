"""The pipe protocol between the harness and a worker process: one line per message.

Harness to worker: ``b"<job_index> <job as JSON>\\n"``, or the same behind ``P`` for a probe
job; end of input means "no more jobs".
Worker to harness: a sample line (starts with ``{"job_index":``, written to disk as it is) or
an event line ``{"event": NAME, ...}``. JSON escapes newlines, so a line is always a message.
"""

from __future__ import annotations

import json
import os
from typing import Any, Final

EVENT_PREFIX: Final = b'{"event":'
#: A job line prefixed with this is a probe job (aged against fresh): its sample comes back
#: starting with PROBE_PREFIX and is not part of the run's samples.
PROBE_MARK: Final = b"P"
PROBE_PREFIX: Final = b'{"probe_index":'
#: How a traced job's sample ends (the memray window ran during the job).
TRACED_MARK: Final = b',"traced":1}\n'
#: How a pool's sample ends when its job ran while another worker carried the window.
BESIDE_WINDOW_MARK: Final = b',"beside_window":1}\n'
#: ``T <first_jobs>``: open the memray window at this worker's next job (pool runs).
TRACE_MARK: Final = b"T "
#: ``A <first_jobs>``: open the memray window when a recycle limit comes near (pool runs).
ARM_MARK: Final = b"A "
READY: Final = "ready"
#: The probes' cadences changed after the first jobs (``probes``: as in READY).
CADENCES: Final = "cadences"
SPEC_ERROR: Final = "spec_error"
SETUP_ERROR: Final = "setup_error"
TEARDOWN_ERROR: Final = "teardown_error"
LEAK_SITES: Final = "leak_sites"
DONE: Final = "done"
#: The worker finished a job past one of its recycle limits and takes no more.
RECYCLE: Final = "recycle"


#: One compact encoder for every job: ``json.dumps`` with ``separators`` builds a new encoder
#: per call (2.9 us against 1.8 us for a small job; a million no-op jobs spent 6.7 s of the
#: harness's time there).
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"))


def encode_job(job_index: int, job: dict[str, Any]) -> bytes:
    """One job as the worker process reads it."""
    return b"%d %s\n" % (job_index, _ENCODER.encode(job).encode())


#: ``raw_decode`` of our own encoding: 6 us a job right after a real job, where
#: ``json.loads`` (its encoding detection and two more Python frames) took 12 us.
_DECODER: Final = json.JSONDecoder()


def decode_job(line: bytes) -> tuple[int, dict[str, Any]]:
    """Inverse of :func:`encode_job`."""
    index, _, payload = line.partition(b" ")
    job: dict[str, Any] = _DECODER.raw_decode(payload.decode())[0]
    return int(index), job


def encode_event(name: str, **fields: object) -> bytes:
    """An event line; ``name`` is one of the constants above."""
    return json.dumps({"event": name, **fields}, separators=(",", ":")).encode() + b"\n"


def decode_event(line: bytes) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(line)
    return event


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking descriptor (a pipe write may be partial)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
