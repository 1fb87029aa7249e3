"""The HTML report, the site over runs and `soak compare`, through the real CLI."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.conftest import REPO, SoakCli, soak_command, worker


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        soak_command(*args), cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_run_writes_a_self_contained_report(soak_cli: SoakCli) -> None:
    """index.html holds the verdict banner, inline plots, tables; no script, no outside asset."""
    run = soak_cli("--worker", worker("raise_on_odd"), "--jobs", "400")
    page = (run.out / "index.html").read_text()
    assert "<h1>Soak of" in page
    for name in ("failed_jobs", "memory", "resources", "latency", "crashes"):
        assert f"<b>{name}</b>" in page
    assert page.count('src="data:image/png;base64,') >= 5
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "ValueError" in page  # the failed-jobs table
    summary = json.loads((run.out / "summary.json").read_text())
    assert summary["jobs_completed"] == 400
    assert summary["overall"] == "FAILED"  # 200 jobs raised


def test_hostile_error_text_is_escaped(soak_cli: SoakCli) -> None:
    """An error message made of HTML shows as text: safe to publish."""
    run = soak_cli("--worker", worker("hostile_errors"), "--jobs", "60")
    page = (run.out / "index.html").read_text()
    assert "<script>window.pwned" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;window.pwned" in page


def test_crash_shows_in_the_banner_and_the_report(soak_cli: SoakCli) -> None:
    """A worker dying at job 150: FAILED, the crash card and the crash table say where."""
    run = soak_cli("--worker", worker("exit_at_150"), "--jobs", "300")
    page = (run.out / "index.html").read_text()
    assert "FAILED" in page
    assert "1 crash" in page
    assert "worker process exited with code 7 in job 150" in page


def test_report_command_rewrites_a_report(soak_cli: SoakCli) -> None:
    """`soak report DIR` writes index.html again from result.json and samples.jsonl."""
    run = soak_cli("--jobs", "50")
    (run.out / "index.html").unlink()
    completed = _cli("report", str(run.out))
    assert completed.returncode == 0, completed.stderr
    assert (run.out / "index.html").exists()


def test_site_links_every_run_newest_first(soak_cli: SoakCli, tmp_path: Path) -> None:
    """`soak site DIR`: one row per run, links that resolve, history for repeated workloads."""
    for name in ("one", "two"):
        soak_cli("--jobs", "300", out=tmp_path / "runs" / name)
    completed = _cli("site", str(tmp_path / "runs"))
    assert completed.returncode == 0, completed.stderr
    page = (tmp_path / "runs" / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+)">', page)
    assert len(links) == 2
    assert all((tmp_path / "runs" / link).exists() for link in links)
    assert 'alt="history of counter"' in page


def test_a_published_site_holds_reports_not_raw_run_files(
    soak_cli: SoakCli, tmp_path: Path
) -> None:
    """`soak site DIR --out PUBLISH`: each run's report, result.json and summary.json and the
    site page over them; samples, logs, memray captures and kept results only with
    --include-raw; a PUBLISH inside DIR is a usage error."""
    runs = tmp_path / "runs"
    soak_cli("--jobs", "300", out=runs / "nightly" / "one")
    assert any(path.suffix == ".pickle" for path in (runs / "nightly" / "one").iterdir())
    published = tmp_path / "site"
    completed = _cli("site", str(runs), "--out", str(published))
    assert completed.returncode == 0, completed.stderr
    files = sorted(p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file())
    assert files == [
        "index.html",
        "nightly/one/index.html",
        "nightly/one/result.json",
        "nightly/one/summary.json",
    ]
    links = re.findall(r'<a href="([^"]+)">', (published / "index.html").read_text())
    assert links == ["nightly/one/index.html"]
    raw = tmp_path / "raw"
    assert _cli("site", str(runs), "--out", str(raw), "--include-raw").returncode == 0
    assert (raw / "nightly" / "one" / "samples.jsonl").is_file()
    inside = _cli("site", str(runs), "--out", str(runs / "pub"))
    assert inside.returncode == 2
    assert "expected a directory apart from" in inside.stderr


def test_site_of_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    """No runs under DIR: exit 2 and a line saying so."""
    completed = _cli("site", str(tmp_path))
    assert completed.returncode == 2
    assert "no run (result.json)" in completed.stderr


def test_compare_fails_on_a_slower_new_run(soak_cli: SoakCli, tmp_path: Path) -> None:
    """A worker whose jobs rescan a growing file against one that does not: exit 1, and
    the latency row says REGRESSED; a run against itself: exit 0."""
    base = soak_cli("--worker", worker("ok"), "--jobs", "300", "--light", out=tmp_path / "base")
    new = soak_cli(
        "--worker",
        "tests/zoo/slow_rescan.py:handle",
        "--jobs",
        "300",
        "--light",
        out=tmp_path / "new",
    )
    completed = _cli("compare", str(base.out), str(new.out))
    assert completed.returncode == 1, completed.stdout
    assert re.search(r"latency .*REGRESSED", completed.stdout)
    same = _cli("compare", str(base.out), str(base.out / "result.json"))
    assert same.returncode == 0, same.stdout
    assert "REGRESSED" not in same.stdout


def test_a_stored_schema_1_run_still_reads_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    """A run directory written by soak 0.1 (result schema 1, kept in tests/data) is reported
    and compared today; the same run claiming schema 2 is refused in one line (exit 2) by
    ``soak report`` and ``soak compare``, and left out of a site with a warning."""
    import shutil

    old = tmp_path / "runs" / "old"
    shutil.copytree(REPO / "tests" / "data" / "result-v1", old)
    report = _cli("report", str(old))
    assert report.returncode == 0, report.stderr
    assert "memory" in (old / "index.html").read_text()
    assert _cli("compare", str(old), str(old)).returncode == 0

    newer = tmp_path / "runs" / "newer"
    shutil.copytree(old, newer)
    data = json.loads((newer / "result.json").read_text())
    (newer / "result.json").write_text(json.dumps({**data, "schema_version": 2}))
    for command in (["report", str(newer)], ["compare", str(old), str(newer)]):
        refused = _cli(*command)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "written by a newer soak (result schema 2" in refused.stderr
    site = _cli("site", str(tmp_path / "runs"))
    assert site.returncode == 0, site.stderr
    assert "left out of the site" in site.stderr
    page = (tmp_path / "runs" / "index.html").read_text()
    assert "old" in page
    assert "newer/index.html" not in page
