"""Tell the user's own code apart from the standard library, installed packages and us."""

from __future__ import annotations

import sys
import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Final

#: The whole harness package (this file is in its worker side).
_HARNESS_DIR: Final = str(Path(__file__).resolve().parents[1])


@lru_cache(maxsize=1)
def _foreign_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots |= {sys.base_prefix, sys.base_exec_prefix}
    # purelib of a venv lives under sys.prefix, and the user's project may too: only the
    # site-packages folders themselves count as foreign there.
    roots.discard(sys.prefix)
    return (*sorted(str(Path(root).resolve()) for root in roots), _HARNESS_DIR)


@lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """True for a real file outside the stdlib, site-packages and the harness itself."""
    if not filename or filename.startswith("<"):
        return False
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    resolved = str(Path(filename).resolve())
    return not resolved.startswith(_foreign_prefixes())
