"""Regenerate the README's picture, ``docs/report.png``: the top of the HTML report of a
leaking email worker (its verdicts and first plot), as headless Chromium shows it in a
1280-px window.

    python -m tests.readme_picture [--out docs/report.png] [--jobs 1000]

Needs Chromium on PATH (Debian: ``apt-get install chromium``) and the test extra (Playwright).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import REPO, soak_command

LEAKY = "worker_soak.workloads.mail:ArchivingEmailWorker"
WIDTH = 1280
HEIGHT = 1000


def screenshot(page_path: Path, out: Path) -> None:
    """The top ``HEIGHT`` pixels of the page at ``WIDTH``, as a PNG."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.goto(page_path.resolve().as_uri())
        page.wait_for_load_state("load")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=False)
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.readme_picture")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "report.png")
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        command = soak_command(
            "run", "--workload", "email", "--worker", LEAKY, "--jobs", str(args.jobs),
            "--out", str(run),
        )  # fmt: skip
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 1 or not (run / "index.html").exists():
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit("the leaking worker's soak did not fail with a report")
        screenshot(run / "index.html", args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
