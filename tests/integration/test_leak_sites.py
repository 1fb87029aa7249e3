"""What a leak report says, through the real CLI: the line, the retention path, native frames,
and the capture files a user can open with memray."""

from __future__ import annotations

from pathlib import Path

import memray

from tests.conftest import SoakCli


def test_python_leak_names_its_line_and_why_it_is_alive(soak_cli: SoakCli) -> None:
    """The top site is leak_list.py's append line; the path starts at the module global."""
    run = soak_cli("--worker", "tests/zoo/leak_list.py:handle", "--jobs", "1000")
    assert run.returncode == 1
    result = run.result()
    top = result["leak_sites"][0]
    assert (top["file"].endswith("tests/zoo/leak_list.py"), top["line"], top["kind"]) == (
        True,
        7,
        "per_job",
    )
    assert top["bytes_per_job"] > 50
    assert top["retention_path"][0] == "leak_list._seen"
    assert top["retention_path"][-1] == "str"
    assert "leak_list.py:7" in result["verdicts"]["memory"]["summary"]


def test_native_leak_carries_native_frames(soak_cli: SoakCli) -> None:
    """An SQLite connection kept per job: a native site whose stack shows sqlite3Malloc."""
    run = soak_cli("--worker", "tests/zoo/leak_sqlite.py:handle", "--jobs", "1000")
    native = [
        s
        for s in run.result()["leak_sites"]
        if s["kind"] == "per_job" and s["allocator"] == "native"
    ]
    assert native, run.result()["leak_sites"]
    assert any("sqlite3Malloc" in frame for frame in native[0]["stack"])


def test_capture_files_stay_and_open_with_memray(soak_cli: SoakCli) -> None:
    """The memray files named in result.json are in the run directory and readable."""
    run = soak_cli("--worker", "tests/zoo/leak_list.py:handle", "--jobs", "600")
    files = run.result()["attribution"]["files"]
    assert files == ["memray-window-1.bin", "memray-window-2.bin", "memray-addresses.bin"]
    for name in files:
        reader = memray.FileReader(str(run.out / name))
        assert reader.metadata.trace_python_allocators
        reader.close()


def test_clean_worker_has_no_per_job_site(soak_cli: SoakCli) -> None:
    """A worker that keeps nothing has no per-job leak site."""
    run = soak_cli("--worker", "tests/workers/faulty.py:ok", "--jobs", "1000")
    assert [s for s in run.result()["leak_sites"] if s["kind"] == "per_job"] == []


def test_light_runs_no_memray_and_no_comparison(soak_cli: SoakCli) -> None:
    """--light: no capture files, no aged-against-fresh, every job judged."""
    run = soak_cli("--worker", "tests/zoo/leak_dict.py:handle", "--jobs", "1000", "--light")
    result = run.result()
    assert result["attribution"] == {"note": "--light: no memray window"}
    assert "note" in result["aged_vs_fresh"]
    assert result["jobs_judged"] == 1000
    assert not list(run.out.glob("memray-*.bin"))
    assert result["verdicts"]["memory"]["verdict"] == "fail"


def test_max_growth_sets_the_budget(soak_cli: SoakCli, tmp_path: Path) -> None:
    """The same leak fails at the default budget (4 B/job) and passes under a budget of
    10 MiB over the run (the user's choice)."""
    default = soak_cli(
        "--worker",
        "tests/zoo/leak_dict.py:handle",
        "--jobs",
        "1000",
        "--light",
        out=tmp_path / "default",
    )
    assert default.result()["verdicts"]["memory"]["verdict"] == "fail"
    lenient = soak_cli(
        "--worker",
        "tests/zoo/leak_dict.py:handle",
        "--jobs",
        "1000",
        "--light",
        "--max-growth",
        "10MiB",
        out=tmp_path / "lenient",
    )
    memory = lenient.result()["verdicts"]["memory"]
    assert memory["verdict"] == "pass"
    assert "under the budget of 10.0 MiB over the run" in memory["summary"]
