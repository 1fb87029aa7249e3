"""Job files: JSON Lines and JSON arrays read back record for record, streamed in small
chunks, malformed records named by file and line, cycled when a run wants more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker_soak.workloads import recorded
from worker_soak.workloads.recorded import JobFileError, cycled, records, scan

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
jobs = st.lists(
    st.dictionaries(st.text(max_size=10), json_values, max_size=5), min_size=1, max_size=30
)
SCRATCH = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)


def _write_array(path: Path, items: list[dict[str, Any]], indent: int | None) -> None:
    path.write_text(json.dumps(items, indent=indent, ensure_ascii=False), encoding="utf-8")


def _write_lines(path: Path, items: list[dict[str, Any]], blank_every: int) -> None:
    lines = []
    for number, item in enumerate(items):
        lines.append(json.dumps(item, ensure_ascii=False))
        if blank_every and number % blank_every == 0:
            lines.append("   ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@SCRATCH
@given(items=jobs, indent=st.sampled_from([None, 0, 2]), chunk=st.integers(1, 64))
def test_a_json_array_reads_back_record_for_record(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    items: list[dict[str, Any]],
    indent: int | None,
    chunk: int,
) -> None:
    """Whatever the layout and however small the chunks read, the array's objects come back."""
    monkeypatch.setattr(recorded, "CHUNK", chunk)
    path = tmp_path / "jobs.json"
    _write_array(path, items, indent)
    assert [job for _, job in records(path)] == items
    assert scan(path).records == len(items)


@SCRATCH
@given(items=jobs, blank_every=st.integers(0, 3))
def test_json_lines_read_back_and_blank_lines_are_skipped(
    tmp_path: Path, items: list[dict[str, Any]], blank_every: int
) -> None:
    path = tmp_path / "jobs.jsonl"
    _write_lines(path, items, blank_every)
    assert [job for _, job in records(path)] == items


@SCRATCH
@given(items=jobs, count=st.integers(1, 100))
def test_a_run_longer_than_the_file_cycles_through_it(
    tmp_path: Path, items: list[dict[str, Any]], count: int
) -> None:
    """Job i is record i mod n."""
    path = tmp_path / "jobs.jsonl"
    _write_lines(path, items, 0)
    assert list(cycled(path, count)) == [items[i % len(items)] for i in range(count)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}\n{"a": 2}\n{"a": \n', "jobs.jsonl:3: not a JSON object"),
        ('{"a": 1}\n\n[1, 2]\n', "jobs.jsonl:3: a job must be a JSON object, got list [1, 2]"),
        ('{"a": 1}\n"text"\n', "jobs.jsonl:2: a job must be a JSON object, got str"),
        ('[{"a": 1},\n {"a": 2},\n 7]', "jobs.jsonl:3: a job must be a JSON object, got int 7"),
        ('[{"a": 1},\n {"a": }]', "jobs.jsonl:2: not a JSON object"),
        ('[{"a": 1},\n {"a": 2}', "jobs.jsonl:2: the JSON array is not closed"),
        ('[{"a": 1}]\n{"b": 2}', "jobs.jsonl:2: text after the JSON array"),
        ("", "jobs.jsonl: holds no job"),
        ("\n  \n", "jobs.jsonl: holds no job"),
        ("[]", "jobs.jsonl: holds no job"),
    ],
)
def test_a_bad_file_is_named_by_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(JobFileError) as raised:
        scan(path)
    where, _, rest = message.partition(":")
    assert str(raised.value).startswith(f"{tmp_path / where}:{rest}")


def test_a_limit_reads_only_the_records_a_run_uses(tmp_path: Path) -> None:
    """A run of 3 jobs does not read (or trip over) record 5."""
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3}\n{"a": 4}\nbroken\n', encoding="utf-8")
    assert scan(path, limit=3).records == 3
    with pytest.raises(JobFileError, match=":5:"):
        scan(path)


def test_a_file_that_is_not_text_or_not_there_is_one_clear_error(tmp_path: Path) -> None:
    binary = tmp_path / "jobs.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(JobFileError, match="not UTF-8 text"):
        scan(binary)
    with pytest.raises(JobFileError, match="cannot be read"):
        scan(tmp_path / "missing.jsonl")
