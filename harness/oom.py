"""How many processes the kernel's OOM killer has ended in our memory cgroup.

A worker ended by SIGKILL that we did not send is an OOM kill when this count rose while it
ran; otherwise it was killed by someone else and is reported as a plain signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

_CGROUP_ROOT: Final = Path("/sys/fs/cgroup")


def _candidates() -> list[Path]:
    paths: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, group = rest.partition(":")
        group = group.lstrip("/")
        if hierarchy == "0" and controllers == "":  # cgroup v2
            paths.append(_CGROUP_ROOT / group / "memory.events")
        elif "memory" in controllers.split(","):  # cgroup v1
            paths.append(_CGROUP_ROOT / "memory" / group / "memory.oom_control")
            paths.append(_CGROUP_ROOT / "memory" / "memory.oom_control")
    return paths


def oom_kill_count() -> int | None:
    """The ``oom_kill`` counter of our memory cgroup, or None where the kernel does not say."""
    for path in _candidates():
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    return None
