"""``run.json``: what a run was asked to do, written before its first job, so a run whose
harness died (``kill -9``, a CI time-out, the OOM killer) can still be judged from the
samples it left: ``soak report DIR`` rebuilds ``result.json`` and the report from it.

The configuration and the verdicts' policy are stored as JSON (redacted: a DSN's password is
not needed to judge samples), read back into the same frozen dataclasses.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import json
import os
import types
import typing
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from worker_soak.analysis.verdicts import Policy
from worker_soak.errors import RunDirError
from worker_soak.model import RunConfig
from worker_soak.redact import environment_secrets, redact_json

RUN_FILE: Final = "run.json"
RECORD_VERSION: Final = 1

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as it started: its configuration, the worker spec it resolved to, the policy
    its verdicts use, and when it started."""

    config: RunConfig
    spec: str
    policy: Policy
    started_at: dt.datetime


def write_run_record(run_dir: Path, record: RunRecord) -> None:
    document = {
        "record_version": RECORD_VERSION,
        "spec": record.spec,
        "started_at": record.started_at.isoformat(),
        "config": _encode(record.config),
        "policy": _encode(record.policy),
    }
    shown = redact_json(document, environment_secrets(os.environ))
    (run_dir / RUN_FILE).write_text(json.dumps(shown, indent=2) + "\n", encoding="utf-8")


def read_run_record(run_dir: Path) -> RunRecord:
    """The record ``run_dir`` holds, or a RunDirError saying what is wrong with it."""
    path = run_dir / RUN_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("record_version") != RECORD_VERSION:
            raise ValueError(f"record_version {document.get('record_version')!r}")
        return RunRecord(
            config=_decode(RunConfig, document["config"]),
            spec=str(document["spec"]),
            policy=_decode(Policy, document["policy"]),
            started_at=dt.datetime.fromisoformat(document["started_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunDirError(
            f"{str(path)!r} cannot be read ({type(exc).__name__}: {exc}); expected the "
            f"{RUN_FILE} a run of this harness version writes when it starts"
        ) from None


def _encode(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, typing.Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(kind: type[T], data: Any) -> T:
    hints = typing.get_type_hints(kind)
    given = {f.name: _value(hints[f.name], data[f.name]) for f in fields(kind) if f.name in data}  # type: ignore[arg-type]
    return kind(**given)


def _value(hint: Any, data: Any) -> Any:
    """``data`` as a value of the type ``hint`` names (the types configurations use)."""
    origin = typing.get_origin(hint)
    if data is None or origin is typing.Literal:
        result: Any = data
    elif origin in (types.UnionType, typing.Union):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        result = _value(options[0], data)
    elif origin is tuple:
        result = tuple(_value(typing.get_args(hint)[0], x) for x in data)
    elif origin in (typing.Mapping, dict, collections.abc.Mapping):
        result = dict(data)
    elif is_dataclass(hint):
        result = _decode(cast(type[Any], hint), data)
    elif hint in (Path, float):
        result = hint(data)
    else:
        result = data
    return result
