"""The RSS breakdown read inside a process: each part moves with what it claims to count, the
parts add up to RSS, and where a part cannot be read there is no breakdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from worker_soak.worker.breakdown import breakdown_fields, rss_breakdown

PARTS = ("python_objects", "python_free", "native_in_use", "native_free", "other")

SCRIPT = textwrap.dedent(
    """
    import gc, json, sys
    from worker_soak.worker.breakdown import rss_breakdown
    readings = {"start": rss_breakdown()}
    small = [str(i) * 3 for i in range(400_000)]  # ~20 MiB of pymalloc objects
    readings["small"] = rss_breakdown()
    large = [bytearray(4096) for _ in range(5_000)]  # ~20 MiB of malloc'd buffers
    readings["large"] = rss_breakdown()
    del small, large
    gc.collect()
    readings["freed"] = rss_breakdown()
    print(json.dumps(readings))
    """
)


def _run(env: dict[str, str] | None = None) -> dict[str, dict[str, int] | None]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.skipif(rss_breakdown() is None, reason="needs glibc's mallinfo2 and pymalloc")
def test_each_part_moves_with_what_it_counts_and_the_parts_add_up() -> None:
    """20 MiB of small strings land in python_objects, 20 MiB of 4-KiB buffers in
    native_in_use; at every reading the parts sum to RSS within 10 %."""
    readings = _run()
    for name, parts in readings.items():
        assert parts is not None, name
        total = sum(parts[p] for p in PARTS)
        assert abs(total - parts["rss"]) <= 0.10 * parts["rss"], (name, parts)
    start, small, large = readings["start"], readings["small"], readings["large"]
    assert start
    assert small
    assert large
    assert small["python_objects"] - start["python_objects"] >= 15 << 20
    assert large["native_in_use"] - small["native_in_use"] >= 15 << 20
    assert abs(large["python_objects"] - small["python_objects"]) < 2 << 20


def test_without_pymalloc_there_is_no_breakdown() -> None:
    """PYTHONMALLOC=malloc: no pymalloc arenas to read, so no breakdown at all (never a
    breakdown that pretends Python objects take nothing)."""
    readings = _run({"PYTHONMALLOC": "malloc"})
    assert all(parts is None for parts in readings.values())


@pytest.mark.skipif(rss_breakdown() is None, reason="needs glibc's mallinfo2 and pymalloc")
def test_the_sample_fields_and_stderr_after_a_reading(capfd: pytest.CaptureFixture[str]) -> None:
    """The fields a sample line carries; the statistics never reach the process's stderr."""
    fields = json.loads("{" + breakdown_fields().lstrip(",") + "}")
    assert set(fields) == {f"mem_{p}_bytes" for p in (*PARTS, "rss")}
    os.write(2, b"still here\n")
    captured = capfd.readouterr()
    assert captured.err == "still here\n"
