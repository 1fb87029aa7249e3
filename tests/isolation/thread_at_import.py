"""A worker whose module starts a background thread when imported (a metrics flusher)."""

from __future__ import annotations

import threading
import time
from typing import Any

_flusher = threading.Thread(target=lambda: time.sleep(3600), daemon=True)
_flusher.start()


def handle(job: dict[str, Any]) -> int:
    return int(job["id"]) + 1
