"""The samples of one run, as columns indexed by job (``store.read_samples`` builds them from
``samples.jsonl``; ``worker_soak.columns`` keeps them compact)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from worker_soak.columns import picked


@dataclass(frozen=True, slots=True)
class JobError:
    """A job whose handler raised: where and what, as kept in its sample."""

    job_index: int
    type: str
    message: str
    where: str


@dataclass(frozen=True, slots=True)
class Samples:
    """The samples of one run as columns, indexed by position (position == job index).

    ``gauges`` holds one column per probe field; ``None`` marks a job where a sparse probe
    did not run. Columns are sequences: tuples, or the compact forms of
    ``worker_soak.columns`` for a run read from disk.
    """

    wall_ns: Sequence[int]
    cpu_ns: Sequence[int]
    end_ns: Sequence[int]
    gauges: Mapping[str, Sequence[int | None]]
    errors: tuple[JobError, ...]

    def __post_init__(self) -> None:
        count = len(self.wall_ns)
        lengths = {len(self.cpu_ns), len(self.end_ns), *(len(c) for c in self.gauges.values())}
        if lengths - {count}:
            raise ValueError(f"every sample column must have {count} values, got {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.wall_ns)

    def head(self, count: int) -> Samples:
        """The first ``count`` jobs' samples."""
        return Samples(
            wall_ns=self.wall_ns[:count],
            cpu_ns=self.cpu_ns[:count],
            end_ns=self.end_ns[:count],
            gauges={name: column[:count] for name, column in self.gauges.items()},
            errors=tuple(e for e in self.errors if e.job_index < count),
        )

    def untraced(self) -> Samples:
        """The jobs before the memray window: the ones verdicts may judge (tracing costs
        ~4x per job and allocates memory of its own).

        In a pool run (samples carry ``worker_pid``) a window runs in one worker process
        while the others go on: each traced worker's jobs from its window on are left out,
        and so are the other workers' jobs that ran beside the window (``beside_window``);
        the rest are kept and renumbered in order."""
        traced = self.gauges.get("traced")
        if traced is None:
            return self
        first = next((job for job, mark in enumerate(traced) if mark), len(self))
        gauges = {
            name: column
            for name, column in self.gauges.items()
            if name not in ("traced", "beside_window")
        }
        plain = Samples(self.wall_ns, self.cpu_ns, self.end_ns, gauges, self.errors)
        keys = self.process_keys()
        if keys is None:
            return plain.head(first)
        traced_from: dict[tuple[int | None, int] | None, int] = {}
        for job, mark in enumerate(traced):
            if mark:
                traced_from.setdefault(keys[job], job)
        beside = self.gauges.get("beside_window", (None,) * len(self))
        return plain.select(
            [
                job
                for job in range(len(self))
                if job < traced_from.get(keys[job], len(self)) and not beside[job]
            ]
        )

    def process_keys(self) -> list[tuple[int | None, int] | None] | None:
        """Each job's worker process as (node, pid): equal pids on two nodes (containers)
        are two processes. None without ``worker_pid``. A sample without a node (written by
        the supervisor for a job its worker died in) belongs to the node last seen with that
        pid."""
        pids = self.gauges.get("worker_pid")
        if pids is None:
            return None
        nodes = self.gauges.get("worker_node", (None,) * len(pids))
        last_node: dict[object, object] = {}
        keys: list[tuple[int | None, int] | None] = []
        for pid, given in zip(pids, nodes, strict=True):
            if pid is None:
                keys.append(None)
                continue
            if given is not None:
                last_node[pid] = given
            keys.append((last_node.get(pid), pid))  # type: ignore[arg-type]
        return keys

    def select(self, jobs: Sequence[int]) -> Samples:
        """The samples of ``jobs`` (positions, ascending), renumbered 0..n-1 in that order."""
        position = {job: i for i, job in enumerate(jobs)}
        return Samples(
            wall_ns=picked(self.wall_ns, jobs, position),
            cpu_ns=picked(self.cpu_ns, jobs, position),
            end_ns=picked(self.end_ns, jobs, position),
            gauges={name: picked(column, jobs, position) for name, column in self.gauges.items()},
            errors=tuple(
                replace(error, job_index=position[error.job_index])
                for error in self.errors
                if error.job_index in position
            ),
        )
