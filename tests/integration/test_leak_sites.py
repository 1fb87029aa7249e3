"""What a leak report says, through the real CLI: the line, the retention path, native frames,
and the capture files a user can open with memray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import memray

from tests.conftest import SoakCli
from worker_soak.worker.tracing import SITES_FILE, WINDOW_FILES, MemrayWindow, read_sites


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


def test_the_sites_read_beside_the_worker_are_the_ones_it_would_read(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """The windows are read by a process of their own while the worker is compared with
    fresh ones: that process finds what the worker itself would (sites, the top leak, its
    live blocks), and the worker falls back to reading them itself when it fails."""
    run = soak_cli("--worker", "tests/zoo/leak_list.py:handle", "--jobs", "1000", "--no-isolation")
    here_counts = run.result()["attribution"]["jobs_traced"]
    first, second, addressed = here_counts
    files = [run.out / name for name in WINDOW_FILES]
    here = read_sites(files, first, second, addressed)
    sites, top, live = here
    assert sites  # a top Python leak and its blocks still alive
    assert top is not None
    assert live
    assert not (run.out / SITES_FILE).exists()  # the worker removed what it read
    read = subprocess.run(
        [
            sys.executable,
            "-m",
            "worker_soak.worker.site_reader",
            str(run.out),
            *map(str, here_counts),
        ],
        check=True,
    )
    assert read.returncode == 0
    beside = json.loads((run.out / SITES_FILE).read_text())
    assert [beside["sites"], beside["top"], beside["live"]] == list(here)

    window = MemrayWindow(run.out, 0, first)
    window.jobs_traced = [first, second, addressed]
    window._reading = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    summary = window.finish({})
    assert [site["line"] for site in summary["sites"]] == [site["line"] for site in sites]
    assert not (run.out / SITES_FILE).exists()
