"""``python -m worker_soak.worker.site_reader RUN_DIR FIRST SECOND ADDRESSED``: read a
worker's closed memray windows into leak sites, beside the worker (see
:meth:`worker_soak.worker.tracing.MemrayWindow.read_beside`), and leave them in
``RUN_DIR/memray-sites.json`` for it: the sites as JSON, the index of the top per-job Python
leak and the addresses of its blocks still alive (the worker finds their retention path on
its own heap)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from worker_soak.worker.tracing import SITES_FILE, WINDOW_FILES, read_sites


def main(argv: list[str]) -> int:
    run_dir = Path(argv[0])
    first, second, addressed = (int(count) for count in argv[1:4])
    sites, top, live = read_sites(
        [run_dir / name for name in WINDOW_FILES], first, second, addressed
    )
    partial = run_dir / f".{SITES_FILE}.{os.getpid()}"
    partial.write_text(json.dumps({"sites": sites, "top": top, "live": live}), encoding="utf-8")
    partial.replace(run_dir / SITES_FILE)  # whole or not at all
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
