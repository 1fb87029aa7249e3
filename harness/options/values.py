"""A soak's options as checked Python values: what ``soak(...)``, the pytest marker and
``soak run`` were given, each converted by its row of the option table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from worker_soak.analysis.failed_jobs import FailedJobsPolicy
from worker_soak.errors import UsageError
from worker_soak.options.table import BY_NAME, KEYWORDS


@dataclass(frozen=True, slots=True)
class SoakOptions:
    """Everything a soak can be asked, checked; one field per keyword of the option table
    (a test holds the two together). None: not given (the run's own default applies)."""

    workload: str = "counter"
    jobs: int | None = None
    payloads: object = None
    runner: str | None = None
    job_timeout: float | None = None
    python: str | None = None
    seed: int = 0
    profile: str = "small"
    smtp: str | None = None
    db: str | None = None
    light: bool = False
    benchmark: bool = False
    isolation: bool = True
    isolation_jobs: int = 30
    stateful: bool = False
    normalise: str = ""
    broker: str | None = None
    queue: str | None = None
    concurrency: int | None = None
    max_tasks_per_child: int | None = None
    max_memory_per_child: int | None = None
    start_worker: bool | None = None
    rq_worker: str | None = None
    workers: int | None = None
    max_memory: int | None = None
    kill_memory: int | None = None
    max_jobs_per_worker: int | None = None
    max_worker_age: float | None = None
    max_retries: int | None = None
    prestart: bool | None = None
    metrics_file: Path | None = None
    metrics_port: int | None = None
    #: (per job, over the run), one of them None.
    max_growth: tuple[float | None, float | None] | None = None
    max_failed_jobs: FailedJobsPolicy | None = None
    bounded_caches: tuple[str, ...] = ()
    significance: float = 0.01
    latency_tolerance: float = 0.10

    def given(self, names: tuple[str, ...]) -> dict[str, object]:
        """Those of ``names`` that were given (not None)."""
        values = {name: getattr(self, name) for name in names}
        return {name: value for name, value in values.items() if value is not None}


def soak_options(values: Mapping[str, object], where: str) -> SoakOptions:
    """Check ``values`` (keyword -> value) and return them as options; ``where`` names their
    origin for the error message, e.g. ``soak() in test_mail``. None is "not given" for an
    option whose default is None."""
    unknown = sorted(set(values) - set(KEYWORDS))
    if unknown:
        raise UsageError(
            f"{where}: unknown soak option {', '.join(map(repr, unknown))}; "
            f"the options are: {', '.join(KEYWORDS)}"
        )
    checked: dict[str, object] = {}
    for name, value in values.items():
        option = BY_NAME[name]
        if value is None and option.default is None:
            continue
        try:
            checked[name] = option.convert(value)
        except (TypeError, ValueError):
            raise UsageError(
                f"{where}: {name}={shown(value)} is not usable; expected {option.expected}"
            ) from None
    return SoakOptions(**checked)  # type: ignore[arg-type]


#: Characters of a value an error message quotes.
SHOWN_CHARS: Final = 80


def shown(value: object) -> str:
    """``repr(value)``, shortened for a message: a list of 500 dicts is not quoted whole."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    size = f" ({len(value)} items)" if isinstance(value, list | tuple | dict | set) else ""
    return f"{text[: SHOWN_CHARS - 5]} ...{text[-1] if text[-1] in ')]}' else ''}{size}"
