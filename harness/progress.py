"""A progress bar on a terminal (rich), nothing elsewhere; refreshed at most 10 times a second."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from worker_soak.runners import ProgressCallback


@contextmanager
def progress_bar(
    total: int, label: str, stream: TextIO | None = None
) -> Iterator[ProgressCallback]:
    """Yield a callback taking the number of completed jobs."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        yield lambda completed: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(
        *columns, console=Console(file=stream), refresh_per_second=10, transient=False
    ) as progress:
        task = progress.add_task(label, total=total)

        def update(completed: int) -> None:
            progress.update(task, completed=completed)

        yield update
