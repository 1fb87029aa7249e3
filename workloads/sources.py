"""Where a run's jobs come from, resolved once: a built-in workload by name, one a package
registers under the ``worker_soak.workloads`` entry-point group, a generator of the user's
(``pkg.mod:attr`` or ``file.py:attr``), or a file of recorded jobs.

A generator of the user's is any of: a :class:`Workload`; a callable ``make_job(index, seed)``
returning a dict; a Hypothesis strategy of dicts, drawn deterministically per index and seed.
Every job it makes is checked (a dict, JSON-serialisable) as it is made; :func:`preflight`
makes the first one before the run starts, so a generator that cannot work is one clear
error, not a failed run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from worker_soak.errors import WorkloadError
from worker_soak.workloads.base import Job, Workload, WorkloadOptionError

#: The entry-point group under which other packages register workloads.
ENTRY_POINT_GROUP: Final = "worker_soak.workloads"
#: Draws of a strategy per job before a filter that rejects everything is reported.
MAX_DRAW_ATTEMPTS: Final = 50


class JobSourceError(WorkloadError):
    """Jobs cannot come from what was given; the message says what was given and why."""


def resolve_workload(name: str, jobs_from: Path | None = None) -> Workload:
    """The workload ``name`` (or the jobs in ``jobs_from``) stands for; JobSourceError says
    what is wrong and what would work."""
    if jobs_from is not None:
        from worker_soak.workloads.recorded import recorded_workload

        return recorded_workload(jobs_from)
    from worker_soak.workloads import builtin

    found = builtin(name)
    if found is not None:
        return found
    entry = _registered().get(name)
    if entry is not None:
        try:
            return as_workload(name, entry.load())
        except JobSourceError:
            raise
        except Exception as exc:
            raise JobSourceError(
                f"the workload {name!r} ({entry.value}) could not be loaded: {_said(exc)}"
            ) from None
    if ":" not in name:
        known = ", ".join(sorted({w.name for w in available_workloads()}))
        raise JobSourceError(
            f"no workload {name!r}; expected one of: {known}, or a generator of yours as "
            "'package.module:make_job' or 'path/to/file.py:make_job'"
        )
    from worker_soak.errors import SpecError
    from worker_soak.worker.spec import load_object

    try:
        target = load_object(name)
    except SpecError as exc:
        raise JobSourceError(str(exc)) from None
    return as_workload(name, target)


def available_workloads() -> list[Workload]:
    """The built-in workloads and those registered by installed packages."""
    from worker_soak.workloads import available

    found = {w.name: w for w in available()}
    for name, entry in sorted(_registered().items()):
        if name not in found:
            try:
                found[name] = as_workload(name, entry.load())
            except Exception as exc:  # a broken plug-in is listed as broken, not fatal
                found[name] = Workload(
                    name=name,
                    summary=f"cannot be loaded: {type(exc).__name__}: {exc}",
                    generate=_nothing,
                    reference_worker="",
                )
    return [found[name] for name in sorted(found)]


def preflight(workload: Workload, seed: int, options: Mapping[str, str]) -> None:
    """Make the first job now: a generator that raises or returns a wrong value fails here,
    before any run directory exists."""
    try:
        next(iter(workload.jobs(1, seed, options)), None)
    except (JobSourceError, WorkloadOptionError):
        raise
    except Exception as exc:
        raise JobSourceError(f"{workload.name}: job 0 could not be made: {_said(exc)}") from None


def as_call(job: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The call a queued task gets for ``job``: a recorded call ``{"args": [...],
    "kwargs": {...}}`` (what ``soak record`` writes for other shapes) is replayed as that
    call; any other job is the task's one positional argument."""
    if set(job) == {"args", "kwargs"}:
        args, kwargs = job["args"], job["kwargs"]
        if isinstance(args, list) and isinstance(kwargs, dict):
            return list(args), dict(kwargs)
    return [dict(job)], {}


def generator_workload(name: str, make_job: Callable[[int, int], object]) -> Workload:
    """A workload whose job *i* is ``make_job(i, seed)``, checked."""

    def generate(count: int, seed: int, options: Mapping[str, str]) -> Iterator[Job]:
        for index in range(count):
            try:
                job = make_job(index, seed)
            except Exception as exc:
                raise JobSourceError(
                    f"{name}: make_job({index}, {seed}) raised {_said(exc)}"
                ) from None
            yield checked_job(name, f"make_job({index}, {seed})", job)

    return Workload(
        name=name,
        summary=_summary(make_job, "jobs made by a function"),
        generate=generate,
        reference_worker="",
    )


def strategy_workload(name: str, strategy: Any) -> Workload:
    """A workload whose job *i* is drawn from a Hypothesis strategy with a generator seeded
    by (seed, i): the same job for the same index and seed, in any process."""

    def generate(count: int, seed: int, options: Mapping[str, str]) -> Iterator[Job]:
        for index in range(count):
            job = draw(name, strategy, seed, index)
            yield checked_job(name, f"job {index}", job)

    return Workload(
        name=name,
        summary=f"jobs drawn from the strategy {_short(repr(strategy))}",
        generate=generate,
        reference_worker="",
    )


def draw(name: str, strategy: Any, seed: int, index: int) -> object:
    """One value of ``strategy``, the same for the same seed and index.

    Hypothesis has no public call that draws one value from a seed (``example()`` is random
    and meant for the console); its test-case data object, seeded, is what its own engine
    draws from. Filters that reject a draw get further attempts from the same stream."""
    from hypothesis.control import BuildContext
    from hypothesis.errors import HypothesisException
    from hypothesis.internal.conjecture.data import ConjectureData

    stream = random.Random(f"strategy:{seed}:{index}")
    last: BaseException | None = None
    for _ in range(MAX_DRAW_ATTEMPTS):
        data = ConjectureData(random=stream)
        try:
            with BuildContext(data, is_final=True, wrapped_test=_no_test):
                return data.draw(strategy)
        except HypothesisException as exc:
            last = exc
        except BaseException as exc:  # StopTest: the draw was rejected or ran too long
            if type(exc).__name__ != "StopTest":
                raise JobSourceError(f"{name}: drawing job {index} raised {_said(exc)}") from None
            last = exc
    raise JobSourceError(
        f"{name}: no value for job {index} in {MAX_DRAW_ATTEMPTS} draws "
        f"({_said(last) if last else 'every draw was rejected'}); loosen its filters"
    )


def _no_test() -> None:
    """What the draw context names as its test: there is none, only the draw."""


def checked_job(name: str, which: str, job: object) -> Job:
    """``job`` if it is a JSON-serialisable dict, else JobSourceError saying what it is."""
    if not isinstance(job, dict):
        raise JobSourceError(
            f"{name}: {which} returned {type(job).__name__} {_short(repr(job))}; expected a "
            "dict (one job)"
        )
    try:
        json.dumps(job)
    except (TypeError, ValueError) as exc:
        raise JobSourceError(
            f"{name}: {which} returned a dict that is not JSON-serialisable ({exc}); jobs "
            "travel as JSON: use str, int, float, bool, None, lists and dicts"
        ) from None
    return job


def as_workload(name: str, target: object) -> Workload:
    if isinstance(target, Workload):
        return target
    if is_strategy(target):
        return strategy_workload(name, target)
    if callable(target):
        return generator_workload(name, target)
    raise JobSourceError(
        f"{name} is {type(target).__name__} {_short(repr(target))}; expected a Workload, a "
        "function make_job(index, seed) -> dict, or a Hypothesis strategy of dicts"
    )


def is_strategy(target: object) -> bool:
    try:
        from hypothesis.strategies import SearchStrategy
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        return False
    return isinstance(target, SearchStrategy)


@lru_cache(maxsize=1)
def _registered() -> dict[str, Any]:
    """Installed packages' workloads, by name (read only for a name not built in:
    ``importlib.metadata`` alone took ~20 ms of every run's start)."""
    from importlib.metadata import entry_points

    return {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}


def _nothing(count: int, seed: int, options: Mapping[str, str]) -> Iterator[Job]:
    raise JobSourceError("this workload could not be loaded")


def _summary(target: object, fallback: str) -> str:
    doc = (getattr(target, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else fallback


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_short(str(exc), 200)}"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
