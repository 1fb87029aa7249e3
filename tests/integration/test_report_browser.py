"""The report and the site in a real browser: headless Chromium loads them with no console
error, every image decoded, and no script from a job's error text run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, SoakCli, soak_command, worker

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


#: Where the browser tests leave their screenshots for a person to look at (CI keeps the
#: directory as an artifact when it sets this variable; otherwise pytest's temp dir).
SHOTS_ENV = "SOAK_SCREENSHOTS"


def _browse(url: str, screenshot: Path | None = None) -> dict[str, Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'"
    )
    messages: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.on(
            "console",
            lambda m: (
                messages.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
            ),
        )
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        page.goto(url)
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        pwned = page.evaluate("typeof window.pwned")
        text = page.inner_text("body")
        if screenshot is not None:
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return {"messages": messages, "images": images, "pwned": pwned, "text": text}


def test_run_report_loads_cleanly(soak_cli: SoakCli) -> None:
    """No console errors, all plots decoded, the hostile error text stayed text."""
    run = soak_cli("--worker", worker("hostile_errors"), "--jobs", "400")
    seen = _browse((run.out / "index.html").resolve().as_uri())
    assert seen["messages"] == []
    assert len(seen["images"]) >= 5
    assert all(complete and width > 0 for _, complete, width in seen["images"]), seen["images"]
    assert seen["pwned"] == "undefined"


def test_site_loads_cleanly(soak_cli: SoakCli, tmp_path: Path) -> None:
    """The site over two runs loads with its history plot decoded."""
    for name in ("a", "b"):
        soak_cli("--jobs", "300", out=tmp_path / "runs" / name)
    subprocess.run(
        soak_command("site", str(tmp_path / "runs")), cwd=REPO, check=True, capture_output=True
    )
    seen = _browse((tmp_path / "runs" / "index.html").resolve().as_uri())
    assert seen["messages"] == []
    assert seen["images"]
    assert all(complete and width > 0 for _, complete, width in seen["images"])


@pytest.mark.parametrize(
    ("kind", "spec", "jobs", "expected_image", "expected_text"),
    [
        (
            "leaky",
            "tests/zoo/leak_list.py:handle",
            600,
            "memory judged: growth since warm-up",
            "_seen",
        ),
        ("clean", "tests/zoo/clean_bounded_cache.py:handle", 600, "memory against job index", ""),
        (
            "fragmenting",
            "tests/zoo/clean_fragmenting_peaks.py:handle",
            2000,
            "resident memory by part",
            "fragmentation, not a leak",
        ),
    ],
)
def test_memory_reports_show_their_verdict(
    soak_cli: SoakCli,
    tmp_path: Path,
    kind: str,
    spec: str,
    jobs: int,
    expected_image: str,
    expected_text: str,
) -> None:
    """A leaky, a clean and a fragmenting worker's reports: each loads cleanly with its memory
    plots decoded and says what it is; a full-page screenshot of each is kept for a person."""
    run = soak_cli("--worker", spec, "--jobs", str(jobs))
    shots = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"report-{kind}.png"
    seen = _browse((run.out / "index.html").resolve().as_uri(), shot)
    assert seen["messages"] == []
    alts = [alt for alt, complete, width in seen["images"] if complete and width > 0]
    assert any(expected_image in alt for alt in alts), alts
    assert expected_text.lower() in seen["text"].lower()
    assert shot.stat().st_size > 10_000
