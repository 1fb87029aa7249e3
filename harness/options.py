"""Soak options given as Python values (fixture keywords, marker arguments, ini lines) checked
and turned into what a run needs: its settings and its verdict policy.

The CLI parses the same options from text with argparse; both end in :func:`build_policy`, so
a threshold means the same wherever it is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from harness.analysis.failed_jobs import FailedJobsPolicy
from harness.analysis.latency import LatencyPolicy
from harness.analysis.memory import MemoryPolicy
from harness.analysis.verdicts import Policy
from harness.errors import UsageError
from harness.model import QUEUE_RUNNERS, RUNNERS, PoolConfig, QueueConfig
from harness.units import parse_growth, parse_size
from workloads.base import PROFILES

#: Option name -> what a value must be, as the error message says it.
EXPECTED: Final = {
    "workload": "a workload name such as 'email' (see 'soak workloads')",
    "jobs": "a whole number >= 1",
    "runner": f"one of {', '.join(RUNNERS)}",
    "job_timeout": "seconds > 0",
    "seed": "an integer",
    "light": "True or False",
    "profile": f"one of {', '.join(PROFILES)}",
    "smtp": "'HOST:PORT' of an SMTP server",
    "db": "'sqlite:///PATH' or 'postgresql://USER@HOST:PORT/DB'",
    "max_growth": "a size over the run ('48KiB') or per job ('64B/job')",
    "significance": "a probability in (0, 0.5) such as 0.01",
    "latency_tolerance": "a fraction > 0 (0.1) or a percentage ('10%')",
    "benchmark": "True or False",
    "isolation": "True or False",
    "isolation_jobs": "a whole number >= 1",
    "stateful": "True or False",
    "normalise": "'module:function' applied to each result before comparing",
    "workers": "a whole number >= 1",
    "max_memory": "a size such as '200MB' or a number of bytes",
    "kill_memory": "a size such as '400MB' or a number of bytes",
    "max_jobs_per_worker": "a whole number >= 1",
    "max_worker_age": "seconds > 0",
    "max_retries": "a whole number >= 0",
    "prestart": "True or False",
    "broker": "a broker URL: 'redis://127.0.0.1:6379/0' or 'amqp://guest:guest@host:5672//'",
    "queue": "a queue name",
    "concurrency": "a whole number >= 1",
    "max_tasks_per_child": "a whole number >= 1",
    "max_memory_per_child": "a number of KiB >= 1 (Celery's unit)",
    "start_worker": "True or False",
    "rq_worker": "'fork' or 'simple'",
    "max_failed_jobs": "a whole number of jobs >= 0 (3) or a percentage of them ('1%')",
    "bounded_caches": "a list of 'module:attribute' naming caches bounded by construction",
}
#: The options of a job queue's runner (runner='celery' or 'rq').
QUEUE_OPTIONS: Final = (
    "broker",
    "queue",
    "concurrency",
    "max_tasks_per_child",
    "max_memory_per_child",
    "start_worker",
    "rq_worker",
)
#: The options that run the worker in the supervised pool.
POOL_OPTIONS: Final = (
    "workers",
    "max_memory",
    "kill_memory",
    "max_jobs_per_worker",
    "max_worker_age",
    "max_retries",
    "prestart",
)


@dataclass(frozen=True, slots=True)
class SoakOptions:
    """Everything a soak can be asked, checked. ``runner`` None: the process runner when the
    worker can be imported by name in a new process, else the inline one."""

    workload: str = "counter"
    jobs: int = 1000
    runner: str | None = None
    job_timeout: float | None = None
    seed: int = 0
    light: bool = False
    profile: str = "small"
    smtp: str | None = None
    db: str | None = None
    max_growth_per_job: float | None = None
    max_growth_total: float | None = None
    significance: float = 0.01
    latency_tolerance: float = 0.10
    #: Feed the per-job latencies to pytest-benchmark's ``benchmark`` fixture.
    benchmark: bool = False
    isolation: bool = True
    isolation_jobs: int = 30
    stateful: bool = False
    normalise: str = ""
    workers: int | None = None
    max_memory: int | None = None
    kill_memory: int | None = None
    max_jobs_per_worker: int | None = None
    max_worker_age: float | None = None
    max_retries: int | None = None
    prestart: bool | None = None
    broker: str | None = None
    queue: str | None = None
    concurrency: int | None = None
    max_tasks_per_child: int | None = None
    max_memory_per_child: int | None = None
    start_worker: bool | None = None
    rq_worker: str | None = None
    #: Failed jobs allowed: a count, or a share of the jobs run (0.01).
    max_failed_jobs: int | None = None
    max_failed_share: float | None = None
    #: The user's own caches, bounded by construction: their growth is a cache filling.
    bounded_caches: tuple[str, ...] = ()

    def queue_config(self, where: str = "soak()") -> QueueConfig | None:
        """The job queue these options ask for (runner 'celery' or 'rq'); None otherwise. A
        queue option with another runner is a UsageError naming ``where``."""
        given = {name: getattr(self, name) for name in QUEUE_OPTIONS}
        given = {name: value for name, value in given.items() if value is not None}
        if self.runner not in QUEUE_RUNNERS:
            if given:
                raise UsageError(
                    f"{where}: {next(iter(given))}= is an option of a job queue; expected "
                    "runner='celery' or runner='rq' with it"
                )
            return None
        if "max_memory_per_child" in given:
            given["max_memory_per_child_kib"] = given.pop("max_memory_per_child")
        try:
            return QueueConfig(**given)
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}") from None

    def pool(self, where: str = "soak()") -> PoolConfig | None:
        """The supervised pool these options ask for; None when no pool option is set."""
        return pool_config({name: getattr(self, name) for name in POOL_OPTIONS}, where)

    def workload_options(self) -> dict[str, str]:
        """The options the workload itself receives."""
        options = {"profile": self.profile}
        if self.smtp is not None:
            options["smtp"] = self.smtp
        if self.db is not None:
            options["db"] = self.db
        return options

    def policy(self) -> Policy:
        return build_policy(
            self.max_growth_per_job,
            self.max_growth_total,
            self.significance,
            self.latency_tolerance,
            FailedJobsPolicy(self.max_failed_jobs, self.max_failed_share),
        )


def pool_config(values: Mapping[str, object], where: str) -> PoolConfig | None:
    """A pool from option values (``max_worker_age`` in seconds; None: not given); None when
    none is given. A rule between options broken (a hard limit under the soft one) is a
    UsageError naming ``where``."""
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        return None
    if "max_worker_age" in given:
        given["max_worker_age_s"] = given.pop("max_worker_age")
    try:
        return PoolConfig(**given)  # type: ignore[arg-type]
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def build_policy(
    per_job: float | None,
    total: float | None,
    significance: float,
    tolerance: float,
    failed_jobs: FailedJobsPolicy | None = None,
) -> Policy:
    """The verdict thresholds: the memory budget per job (or over the run, when that is what
    the user gave), the significance of every trend test, the latency tolerance."""
    memory = MemoryPolicy(alpha=significance)
    if per_job is not None:
        memory = replace(memory, budget_per_job=per_job)
    elif total is not None:
        memory = replace(memory, max_growth_total=total)
    return Policy(
        memory=memory,
        latency=LatencyPolicy(alpha=significance, tolerance=tolerance),
        failed_jobs=failed_jobs or FailedJobsPolicy(),
    )


def parse_failed_jobs(value: object) -> FailedJobsPolicy:
    """``3`` or ``'3'``: that many failed jobs allowed; ``'1%'``: that share of the jobs."""
    text = str(value).strip()
    if text.endswith("%"):
        share = _number(text[:-1]) / 100
        if not 0 <= share <= 1:
            raise ValueError(share)
        return FailedJobsPolicy(max_failed_share=share)
    return FailedJobsPolicy(max_failed=_whole(value, minimum=0))


def soak_options(values: Mapping[str, object], where: str) -> SoakOptions:
    """Check ``values`` (option name -> value) and return them as options; ``where`` names
    their origin for the error message, e.g. ``soak(...) in test_mail``."""
    unknown = sorted(set(values) - set(EXPECTED))
    if unknown:
        raise UsageError(
            f"{where}: unknown soak option {', '.join(map(repr, unknown))}; "
            f"the options are: {', '.join(EXPECTED)}"
        )
    checked: dict[str, object] = {}
    for name, value in values.items():
        try:
            checked.update(_check(name, value))
        except (TypeError, ValueError):
            raise UsageError(
                f"{where}: {name}={value!r} is not usable; expected {EXPECTED[name]}"
            ) from None
    return SoakOptions(**checked)  # type: ignore[arg-type]


def _check(name: str, value: object) -> dict[str, object]:
    if name == "max_growth":
        return _growth(value)
    if name == "max_failed_jobs":
        allowed = parse_failed_jobs(value)
        return {"max_failed_jobs": allowed.max_failed, "max_failed_share": allowed.max_failed_share}
    if name == "bounded_caches":
        return {"bounded_caches": bounded_caches(value)}
    converters: dict[str, Callable[[object], object]] = {
        "jobs": lambda v: _whole(v, minimum=1),
        "isolation_jobs": lambda v: _whole(v, minimum=1),
        "seed": lambda v: _whole(v, minimum=None),
        "light": _flag,
        "benchmark": _flag,
        "isolation": _flag,
        "stateful": _flag,
        "prestart": _flag,
        "start_worker": _flag,
        "concurrency": lambda v: _whole(v, minimum=1),
        "max_tasks_per_child": lambda v: _whole(v, minimum=1),
        "max_memory_per_child": lambda v: _whole(v, minimum=1),
        "workers": lambda v: _whole(v, minimum=1),
        "max_jobs_per_worker": lambda v: _whole(v, minimum=1),
        "max_retries": lambda v: _whole(v, minimum=0),
        "max_memory": _size,
        "kill_memory": _size,
        "max_worker_age": _positive,
        "job_timeout": lambda v: None if v is None else _positive(v),
        "significance": _alpha,
        "latency_tolerance": _tolerance,
    }
    convert = converters.get(name)
    return {name: convert(value) if convert is not None else _choice(name, value)}


def bounded_caches(value: object) -> tuple[str, ...]:
    """``'module:attr'`` names (one, or a list of them) of caches bounded by construction."""
    names = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    for name in names:
        if not isinstance(name, str) or ":" not in name or "," in name:
            raise ValueError(name)
    return tuple(names)


def _alpha(value: object) -> float:
    alpha = _number(value)
    if not 0 < alpha < 0.5:
        raise ValueError(alpha)
    return alpha


def _tolerance(value: object) -> float:
    text = str(value).strip()
    return _positive(_number(text[:-1]) / 100 if text.endswith("%") else _number(value))


def _choice(name: str, value: object) -> str | None:
    if value is None and name in ("runner", "smtp", "db", "broker", "queue", "rq_worker"):
        return None
    if name == "normalise" and isinstance(value, str):
        return value
    if not isinstance(value, str) or not value:
        raise TypeError(name)
    if name == "runner" and value not in RUNNERS:
        raise ValueError(name)
    if name == "profile" and value not in PROFILES:
        raise ValueError(name)
    if name == "rq_worker" and value not in ("fork", "simple"):
        raise ValueError(name)
    return value


def _growth(value: object) -> dict[str, object]:
    if value is None:
        return {}
    if isinstance(value, str):
        per_job, total = parse_growth(value)
        return {"max_growth_per_job": per_job, "max_growth_total": total}
    return {"max_growth_total": _positive(value)}


def _whole(value: object, minimum: int | None) -> int:
    if isinstance(value, bool):
        raise TypeError("a flag is not a count")
    number = int(str(value).replace("_", "").replace(",", "")) if isinstance(value, str) else value
    if not isinstance(number, int) or (minimum is not None and number < minimum):
        raise ValueError(number)
    return number


def _size(value: object) -> int:
    if isinstance(value, str):
        return _whole(int(parse_size(value)), minimum=1)
    return _whole(value, minimum=1)


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(value)
    return float(value)


def _positive(value: object) -> float:
    number = _number(value)
    if not 0 < number < float("inf"):
        raise ValueError(number)
    return number
