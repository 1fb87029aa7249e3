"""Immutable values that travel between the runners, the analysis and the reports.

Each one checks itself in its constructor, so a bad value fails where it is made, with a
message naming the field, the value and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final, Literal

RUNNERS: Final = ("process", "inline", "celery", "rq")
#: Runners that drive a real job queue through a broker.
QUEUE_RUNNERS: Final = ("celery", "rq")
#: The broker a queue run uses when none is given: the local Redis.
DEFAULT_BROKER: Final = "redis://127.0.0.1:6379/0"
CRASH_REASONS: Final = ("exit", "signal", "timeout", "oom")
STOP_REASONS: Final = ("completed", "crashed", "interrupted", "error", "killed")

CrashReason = Literal["exit", "signal", "timeout", "oom"]
Outcome = Literal["pass", "fail", "inconclusive"]
OUTCOMES: Final = ("pass", "fail", "inconclusive")
StopReason = Literal["completed", "crashed", "interrupted", "error", "killed"]


RecycleReason = Literal["memory", "jobs", "age", "crash", "kill", "timeout", "exit"]


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """How a job queue's real workers are reached (``--runner celery`` / ``rq``)."""

    #: Broker URL: redis://... or amqp://... (RQ: Redis only).
    broker: str = DEFAULT_BROKER
    #: The queue the soak's tasks go on; None: one of the run's own (``soak`` when the
    #: workers are started elsewhere).
    queue: str | None = None
    #: Start a worker beside the harness; False: workers started elsewhere serve the queue.
    start_worker: bool = True
    #: Worker processes of the started worker (Celery's pool children, RQ workers).
    concurrency: int = 1
    #: The framework's own recycling: Celery worker_max_tasks_per_child, RQ --max-jobs.
    max_tasks_per_child: int | None = None
    #: Celery worker_max_memory_per_child, in KiB (Celery's unit).
    max_memory_per_child_kib: int | None = None
    #: RQ: "fork" (a work horse per job) or "simple" (jobs in the worker's process).
    rq_worker: str = "simple"
    #: Seconds without any task finishing before the run stops as stalled.
    stall_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("concurrency", "max_tasks_per_child", "max_memory_per_child_kib"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.rq_worker not in ("fork", "simple"):
            raise ValueError(f"rq_worker must be 'fork' or 'simple', got {self.rq_worker!r}")
        if not self.stall_timeout_s > 0:
            raise ValueError(f"stall_timeout_s must be > 0, got {self.stall_timeout_s}")


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """How the supervised pool runs its worker processes and when it recycles them."""

    #: Worker processes fed from the one job queue.
    workers: int = 1
    #: Soft limit on a worker's current RSS: past it, the worker finishes the job, then
    #: tears down and is replaced.
    max_memory: int | None = None
    #: Hard limit on a worker's current RSS: past it, the supervisor ends the worker.
    kill_memory: int | None = None
    #: Replace a worker after this many jobs (plus up to ``jitter`` more).
    max_jobs_per_worker: int | None = None
    #: Replace a worker after this many seconds (plus up to ``jitter`` more).
    max_worker_age_s: float | None = None
    #: Times a job interrupted by a killed or crashed worker is run again on a fresh one.
    max_retries: int = 1
    #: Start the replacement as soon as a worker announces its recycle, not after it exits.
    prestart: bool = False
    #: Up to this fraction added to the job and age limits, drawn per worker lifetime, so
    #: workers started together do not all recycle together (gunicorn's max_requests_jitter).
    jitter: float = 0.1
    #: Write the pool's metrics in Prometheus text format to this file (atomically).
    metrics_file: Path | None = None
    #: Serve the same metrics on http://127.0.0.1:PORT/metrics (0: any free port).
    metrics_port: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {self.workers!r}")
        for name in ("max_memory", "kill_memory", "max_jobs_per_worker"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int >= 1 or None, got {value!r}")
        if self.max_worker_age_s is not None and not self.max_worker_age_s > 0:
            raise ValueError(f"max_worker_age_s must be > 0 or None, got {self.max_worker_age_s}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, got {self.max_retries!r}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be within 0..1, got {self.jitter}")
        if (
            self.max_memory is not None
            and self.kill_memory is not None
            and self.kill_memory <= self.max_memory
        ):
            raise ValueError(
                f"kill_memory ({self.kill_memory:,} B) must be above max_memory "
                f"({self.max_memory:,} B): the soft limit recycles first, the hard one kills"
            )
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics_port must be within 0..65535, got {self.metrics_port}")


@dataclass(frozen=True, slots=True)
class RunConfig:
    """What one soak run was asked to do."""

    worker: str
    workload: str
    jobs: int
    out: Path
    runner: str = "process"
    job_timeout: float | None = None
    seed: int = 0
    workload_options: Mapping[str, str] = field(default_factory=dict)
    #: Cheap probes and their verdicts only: no memray window.
    light: bool = False
    #: Directories the worker process searches first for the worker's module (a test
    #: suite's own sys.path, so a worker defined in a test module imports there too).
    import_paths: tuple[str, ...] = ()
    #: What the run is called where it was asked for (a test's node id), if anywhere.
    label: str = ""
    #: Judge isolation: compare kept results with a fresh worker's, watch process state.
    isolation: bool = True
    #: The worker keeps state between jobs by design: its state is listed, not judged.
    stateful: bool = False
    #: A spec of a function applied to results before they are compared (drops ids, times).
    normaliser: str = ""
    #: How many jobs' results are kept for the comparison with fresh workers.
    isolation_jobs: int = 30
    #: Run under the supervised pool (several workers, recycling, limits); None: one child.
    pool: PoolConfig | None = None
    #: The broker and worker of a job queue (``runner`` celery or rq).
    queue: QueueConfig | None = None
    #: ``module:attr`` of the user's caches bounded by construction (their growth fills them).
    bounded_caches: tuple[str, ...] = ()
    #: The interpreter that runs the worker processes (None: the harness's own).
    python: str | None = None
    #: The file the jobs are replayed from (``--jobs-from``), if any.
    jobs_from: Path | None = None

    def __post_init__(self) -> None:
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise ValueError(f"jobs must be an int >= 1, got {self.jobs!r}")
        if self.runner not in RUNNERS:
            raise ValueError(f"runner must be one of {', '.join(RUNNERS)}, got {self.runner!r}")
        if self.job_timeout is not None and not self.job_timeout > 0:
            raise ValueError(f"job_timeout must be a number of seconds > 0, got {self.job_timeout}")


@dataclass(frozen=True, slots=True)
class Crash:
    """The worker process ended, or was ended, while ``job_index`` was in its hands."""

    job_index: int
    reason: CrashReason
    exitcode: int | None = None
    signal: int | None = None
    message: str = ""
    #: Where it happened when not in one of the run's jobs: ``probe jobs before the run``,
    #: ``probe jobs after the run`` (the aged-against-fresh comparison's own jobs).
    phase: str = ""

    def __post_init__(self) -> None:
        if self.reason not in CRASH_REASONS:
            raise ValueError(
                f"crash reason must be one of {', '.join(CRASH_REASONS)}, got {self.reason!r}"
            )
        if self.job_index < 0:
            raise ValueError(f"crash job_index must be >= 0, got {self.job_index}")

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a runner reports when it returns: how far it got and why it stopped."""

    jobs_completed: int
    stop_reason: StopReason
    crash: Crash | None = None
    worker_kind: str = ""
    setup_error: str | None = None
    teardown_error: str | None = None
    #: The probes as they ran in the worker (field names, unit, cadence).
    probes: tuple[Mapping[str, object], ...] = ()
    #: What the memray window found: ``sites`` and what they rest on (None: no window).
    attribution: Mapping[str, object] | None = None
    #: Probe-job wall times of the aged and a fresh worker (None: no comparison ran).
    aged_vs_fresh: AgedTimes | None = None
    #: What the supervised pool saw: recycles and the job ledger (None: no pool).
    pool: Mapping[str, object] | None = None

    def __post_init__(self) -> None:
        if self.stop_reason not in STOP_REASONS:
            raise ValueError(
                f"stop_reason must be one of {', '.join(STOP_REASONS)}, got {self.stop_reason!r}"
            )
        if (self.crash is None) == (self.stop_reason == "crashed"):
            raise ValueError("a crash is given exactly when stop_reason is 'crashed'")


@dataclass(frozen=True, slots=True)
class AgedTimes:
    """The probe jobs' wall times (ns), pair by pair: on the aged worker, on fresh ones, on a
    second fresh one warmed up twice as long (the control), and (``start_ns``) on the new
    worker before the run; or ``note``, why no comparison ran."""

    aged_ns: tuple[int, ...] = ()
    fresh_ns: tuple[int, ...] = ()
    control_ns: tuple[int, ...] = ()
    start_ns: tuple[int, ...] | None = None
    warmup_jobs: int = 0
    note: str = ""
    #: The machine's speed (``probes.machine_speed_ns``) the new worker read beside its probe
    #: jobs before the run and a fresh one beside them after it (medians, on the same core):
    #: the comparison across the run is scaled by their ratio.
    start_speed_ns: int | None = None
    end_speed_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Latency, throughput and memory after ``jobs`` jobs, over the jobs just before it."""

    jobs: int
    window_first_job: int
    window_last_job: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    throughput_jobs_per_s: float | None
    memory: Mapping[str, int]
    #: Where resident memory went (``checkpoints.breakdown_at``), where it was read.
    breakdown: Mapping[str, int] | None = None

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        breakdown = data.pop("breakdown")
        data["memory"] = dict(self.memory)
        if breakdown is not None:
            data["memory"]["breakdown"] = dict(breakdown)
        return data


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failed jobs that raised the same error at the same place."""

    type: str
    message: str
    where: str
    count: int
    first_job_index: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One claim judged: ``verdict``, a sentence a person reads first, and the figures."""

    verdict: Outcome
    summary: str
    figures: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in OUTCOMES:
            raise ValueError(f"verdict must be one of {', '.join(OUTCOMES)}, got {self.verdict!r}")
        if not self.summary:
            raise ValueError("a verdict needs a summary a person can read")

    def to_json(self) -> dict[str, object]:
        return {"verdict": self.verdict, "summary": self.summary, **self.figures}
