"""The run directory: streamed samples, atomic results, refusal to overwrite a run."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker_soak import forked, store
from worker_soak.errors import RunDirError
from worker_soak.samples import Samples
from worker_soak.store import (
    SampleLog,
    prepare_run_dir,
    read_result,
    read_samples,
    run_dir_name,
    write_result,
)


def _line(index: int, **extra: object) -> bytes:
    sample = {
        "job_index": index,
        "wall_ns": 10 + index,
        "cpu_ns": 5,
        "end_ns": 100 * (index + 1),
        **extra,
    }
    return json.dumps(sample).encode() + b"\n"


def test_samples_round_trip_as_columns(tmp_path: Path) -> None:
    """Sparse gauges become None where a probe did not run; errors are collected."""
    with SampleLog(tmp_path) as log:
        log.write(_line(0, py_blocks=100, fds=3))
        log.write(_line(1, py_blocks=101, error={"type": "E", "message": "m", "where": "w:1"}))
        log.write(_line(2, py_blocks=102, fds=4))
    samples = read_samples(tmp_path / "samples.jsonl")
    assert len(samples) == 3
    assert tuple(samples.wall_ns) == (10, 11, 12)
    assert tuple(samples.gauges["py_blocks"]) == (100, 101, 102)
    assert tuple(samples.gauges["fds"]) == (3, None, 4)
    assert [e.job_index for e in samples.errors] == [1]


def test_gauge_first_seen_late_is_padded(tmp_path: Path) -> None:
    """A field that first appears at job 2 is None for jobs 0 and 1."""
    with SampleLog(tmp_path) as log:
        log.write(_line(0) + _line(1) + _line(2, uss_bytes=9))
    assert read_samples(tmp_path / "samples.jsonl").gauges["uss_bytes"] == (None, None, 9)


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    """A line cut by a crash mid-write is not a sample; the ones before it are kept."""
    (tmp_path / "samples.jsonl").write_bytes(_line(0) + _line(1) + b'{"job_index":2,"wa')
    assert len(read_samples(tmp_path / "samples.jsonl")) == 2


def test_out_of_order_samples_are_an_error(tmp_path: Path) -> None:
    """Positions are job indexes; a gap means the file is not one run's record."""
    (tmp_path / "samples.jsonl").write_bytes(_line(0) + _line(2))
    with pytest.raises(ValueError, match="line 2 is job 2, expected 1"):
        read_samples(tmp_path / "samples.jsonl")


GAUGES = ("py_blocks", "fds", "rss_bytes", "caches")


@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={name: st.integers(min_value=0, max_value=2**40) for name in GAUGES},
        ),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=400),
    st.booleans(),
)
def test_samples_read_in_chunks_equal_a_line_by_line_reading(
    extras: list[dict[str, int]], chunk_bytes: int, torn: bool
) -> None:
    """Whatever the chunk size, the columns are those of reading line by line: gauges first
    seen in a later chunk padded with None before, in the order first seen, a torn last line
    left out."""
    lines = [_line(index, **extra) for index, extra in enumerate(extras)]
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "CHUNK_BYTES", chunk_bytes)
        path = Path(folder) / "samples.jsonl"
        path.write_bytes(b"".join(lines) + (b'{"job_index": 99, "wa' if torn else b""))
        samples = read_samples(path)
    order = list(dict.fromkeys(name for extra in extras for name in extra))
    assert list(samples.gauges) == order
    assert tuple(samples.wall_ns) == tuple(10 + index for index in range(len(extras)))
    for name in order:
        assert tuple(samples.gauges[name]) == tuple(extra.get(name) for extra in extras)


def test_a_samples_file_read_again_after_it_grew_is_read_anew(tmp_path: Path) -> None:
    """The last file read is kept for the next reader (the report after the verdicts), and
    read again once it has changed."""
    path = tmp_path / "samples.jsonl"
    path.write_bytes(_line(0) + _line(1))
    first = read_samples(path)
    assert read_samples(path) is first
    with open(path, "ab") as more:
        more.write(_line(2))
    assert len(read_samples(path)) == 3


def test_result_is_replaced_atomically(tmp_path: Path) -> None:
    """write_result leaves exactly result.json, readable, and no temporary files."""
    write_result(tmp_path, {"schema_version": 1, "a": 1})
    write_result(tmp_path, {"schema_version": 1, "a": 2})
    assert read_result(tmp_path) == {"schema_version": 1, "a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_result_with_nan_is_refused_and_the_old_one_kept(tmp_path: Path) -> None:
    """A value JSON cannot hold fails loudly; the previous result.json survives."""
    write_result(tmp_path, {"a": 1})
    with pytest.raises(ValueError, match="Out of range float"):
        write_result(tmp_path, {"a": float("nan")})
    assert read_result(tmp_path) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_run_dir_holding_a_run_is_refused(tmp_path: Path) -> None:
    """An earlier run's files are never appended to or replaced."""
    (tmp_path / "samples.jsonl").write_text("")
    with pytest.raises(RunDirError, match="already holds a run"):
        prepare_run_dir(tmp_path)


def test_run_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """--out naming a file says so."""
    target = tmp_path / "f"
    target.write_text("x")
    with pytest.raises(RunDirError, match="is a file"):
        prepare_run_dir(target)


def test_run_dir_is_created_with_parents(tmp_path: Path) -> None:
    """Nested output directories are made as needed."""
    assert prepare_run_dir(tmp_path / "a" / "b").is_dir()


@given(st.text(max_size=300), st.integers(min_value=1, max_value=50))
def test_run_dir_names_are_safe_and_stable(label: str, index: int) -> None:
    """A run directory name is one safe path component, the same every time for a label."""
    name = run_dir_name(label, index)
    assert name == run_dir_name(label, index)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,100}", name)
    assert not name.startswith(".")


def test_labels_differing_only_in_unsafe_characters_get_different_names() -> None:
    """``test[a/b]`` and ``test[a:b]`` read alike once cleaned; their digests differ."""
    assert run_dir_name("t.py::test[a/b]") != run_dir_name("t.py::test[a:b]")
    assert run_dir_name("t.py::test", 2).endswith("-2")


def _columns(samples: Samples) -> tuple[object, ...]:
    return (
        tuple(samples.wall_ns),
        tuple(samples.cpu_ns),
        tuple(samples.end_ns),
        [(name, tuple(column)) for name, column in samples.gauges.items()],
        samples.errors,
    )


def _read(path: Path, split: bool) -> tuple[Samples, list[bool]]:
    """The file read with or without a forked copy reading its second half; whether a copy
    sent its half."""
    copies: list[bool] = []
    real = forked.beside

    def recorded(*args: Any) -> Any:
        result, sent = real(*args)
        copies.append(sent is not None)
        return result, sent

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "SPLIT_BYTES", 1 if split else 1 << 40)
        patch.setattr(store, "beside", recorded)
        patch.setattr(store, "_LAST_READ", [])
        return read_samples(path), copies


_ERROR = {"type": "E", "message": "m\nwith a newline", "where": "w.py:1"}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "py_blocks": st.integers(min_value=0, max_value=2**40),
                "caches": st.lists(st.text(max_size=3), max_size=2),
                "error": st.just(_ERROR),
            },
        ),
        min_size=2,
        max_size=80,
    ),
    st.integers(min_value=1, max_value=300),
    st.booleans(),
)
def test_a_big_file_read_in_two_halves_equals_one_reading(
    extras: list[dict[str, Any]], chunk_bytes: int, torn: bool
) -> None:
    """Read half here and half by a forked copy, the columns are those of one reading:
    gauges in the order first seen, sparse ones padded, errors kept, a torn line left out."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "CHUNK_BYTES", chunk_bytes)
        path = Path(folder) / "samples.jsonl"
        lines = b"".join(_line(index, **extra) for index, extra in enumerate(extras))
        path.write_bytes(lines + (b'{"job_index": 99, "wa' if torn else b""))
        halves, copies = _read(path, split=True)
        whole, _ = _read(path, split=False)
        patch.setattr(store, "SPLIT_BYTES", 1)
        cut = store._middle(path) is not None  # no line starts after the middle byte: none
    assert _columns(halves) == _columns(whole)
    assert len(halves) == len(extras)
    assert copies == ([len(os.sched_getaffinity(0)) > 1] if cut else [])


@pytest.mark.parametrize("gap_at", [2, 30, 58])
def test_a_gap_in_either_half_is_the_error_one_reading_gives(tmp_path: Path, gap_at: int) -> None:
    """A job missing in the first half, at the cut or in the second half: the same error."""
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b"".join(_line(index) for index in range(60) if index != gap_at))
    messages = []
    for split in (True, False):
        with pytest.raises(ValueError, match=f"is job {gap_at + 1}, expected {gap_at}") as error:
            _read(path, split)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_a_pools_file_is_not_cut(tmp_path: Path) -> None:
    """A pool's samples arrive out of order: read whole, and sorted."""
    path = tmp_path / "samples.jsonl"
    order = [1, 0, 3, 2, 5, 4]
    path.write_bytes(b"".join(_line(index, worker_pid=7) for index in order))
    samples, copies = _read(path, split=True)
    assert (tuple(samples.wall_ns), copies) == (tuple(10 + index for index in range(6)), [])
