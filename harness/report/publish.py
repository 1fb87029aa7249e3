"""What a published site holds: chosen files, not the run directories as they are.

A run directory keeps what the harness needs to judge and to debug — samples, worker logs,
memray captures, the pickled results of the jobs kept for the isolation check (the user's
data) — beside what a reader needs: the HTML report (self-contained), ``result.json`` and
``summary.json``. ``soak site DIR --out PUBLISH`` copies only the latter, the same tree
shape, and writes the site page over them; ``--include-raw`` copies everything.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

from worker_soak.errors import UsageError

#: A run directory's files a published site carries.
PUBLISHED: Final = ("index.html", "result.json", "summary.json")


def publish_runs(root: Path, out: Path, run_dirs: list[Path], include_raw: bool) -> None:
    """Copy the runs under ``root`` to ``out`` (the same relative paths): the published files,
    or every file with ``include_raw``."""
    root, out = root.resolve(), out.resolve()
    if out == root or root.is_relative_to(out) or out.is_relative_to(root):
        raise UsageError(
            f"--out {str(out)!r}: expected a directory apart from {str(root)!r} (not it, "
            "inside it or around it): the published copy is a tree of its own"
        )
    for run_dir in run_dirs:
        target = out / run_dir.resolve().relative_to(root)
        target.mkdir(parents=True, exist_ok=True)
        if include_raw:
            shutil.copytree(run_dir, target, dirs_exist_ok=True)
            continue
        for name in PUBLISHED:
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, target / name)
