"""What the end of ``soak run`` needs, imported while the run goes on: the report's
libraries and the summary's, in a thread, while this process mostly waits on the worker."""

from __future__ import annotations

import contextlib
import threading
from typing import Final

from worker_soak.runners import ProgressCallback

#: The longest run whose report libraries are imported while it runs.
EARLY_IMPORTS_MAX: Final = 200_000


class EarlyImports:
    """Imports what the report draws with (matplotlib, Jinja2: ~0.4 s) and the summary
    prints with (rich: ~40 ms) in a thread while the worker runs and this process mostly
    waits; after the run the report only draws.

    Started once the first job's sample is in, not before: beside the worker's start-up and
    the probe jobs before the run, the thread held the interpreter lock while this process
    waited on their answers (5-ms switches: round trips of 3.8 ms around 2-ms probe jobs,
    0.4 s in all for 60 of them, against 1.8 ms without it)."""

    def __init__(self, report: bool) -> None:
        self._thread: threading.Thread | None = None
        self._report = report

    def after_first_job(self, on_progress: ProgressCallback) -> ProgressCallback:
        def relay(completed: int) -> None:
            if completed and self._thread is None:
                self._thread = threading.Thread(
                    target=_load,
                    args=(self._report,),
                    name="soak-report-imports",
                    daemon=True,
                )
                self._thread.start()
            on_progress(completed)

        return relay

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()


def _load(report: bool) -> None:
    with contextlib.suppress(Exception):  # the summary and report say what is missing, later
        import rich.console
        import rich.table  # noqa: F401

        if not report:
            return
        import jinja2  # noqa: F401
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.backends.backend_agg
        import matplotlib.figure

        import worker_soak.report.html  # noqa: F401
