"""Where a run happened: the machine, the Python, and the commit of the code it ran, for the
report and for telling apart runs that are not comparable."""

from __future__ import annotations

import os
import platform
import subprocess
import sys


def _git_commit() -> str | None:
    """The commit of the current directory's git checkout, when there is one."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = completed.stdout.strip()
    return commit if completed.returncode == 0 and commit else None


def environment() -> dict[str, str]:
    """Where the run happened, for the report."""
    commit = _git_commit()
    return {
        **({"git_commit": commit} if commit else {}),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
        "hostname": platform.node(),
    }
