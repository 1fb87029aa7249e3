"""What a workload is: a deterministic job generator plus the worker that does its jobs right."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Job = dict[str, Any]
JobGenerator = Callable[[int, int, Mapping[str, str]], Iterator[Job]]


@dataclass(frozen=True, slots=True)
class Workload:
    """A named source of jobs.

    ``generate(count, seed, options)`` yields ``count`` JSON-serialisable dicts; the same seed
    and options give the same jobs, byte for byte. ``reference_worker`` is the spec of a
    worker that does these jobs correctly and passes every verdict.
    """

    name: str
    summary: str
    generate: JobGenerator
    reference_worker: str

    def jobs(
        self, count: int, seed: int = 0, options: Mapping[str, str] | None = None
    ) -> Iterator[Job]:
        """The first ``count`` jobs for ``seed``."""
        return self.generate(count, seed, options or {})
