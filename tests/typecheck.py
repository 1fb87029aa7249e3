"""``mypy --strict`` over the package under its import name.

The ``harness/`` and ``workloads/`` folders install as ``worker_soak`` and
``worker_soak.workloads`` (setuptools ``package-dir``); mypy finds modules by folder names,
so it reads them through a tree of links under ``build/typecheck`` that spells the import
names. ``python -m tests.typecheck`` (what ``nox -s lint`` and the suite run) builds the tree,
then runs mypy with any arguments given.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[1]
TREE: Final = REPO / "build" / "typecheck"


def build_tree() -> Path:
    """Link every entry of ``harness/`` into ``TREE/worker_soak``, and ``workloads/`` as its
    ``workloads``; stale links from an earlier layout are removed first."""
    package = TREE / "worker_soak"
    if TREE.exists():
        shutil.rmtree(TREE)
    package.mkdir(parents=True)
    for entry in sorted((REPO / "harness").iterdir()):
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    (package / "workloads").symlink_to(REPO / "workloads")
    return TREE


def main(argv: list[str]) -> int:
    build_tree()
    mypy = Path(sys.executable).parent / "mypy"
    return subprocess.run([str(mypy), *argv], cwd=REPO, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
