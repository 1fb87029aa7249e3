"""Where jobs come from: built-in names, generators of the user's (functions, strategies,
Workload objects, entry points), checked jobs, and recorded calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker_soak.errors import UsageError
from worker_soak.options import soak_options, source_for
from worker_soak.options.config import CLI, Door
from worker_soak.workloads import sources
from worker_soak.workloads.base import Workload
from worker_soak.workloads.sources import (
    JobSourceError,
    as_call,
    available_workloads,
    draw,
    resolve_workload,
)

GENERATORS = Path(__file__).parents[1] / "workers" / "job_generators.py"
invoices = st.fixed_dictionaries(
    {
        "customer": st.text(min_size=1, max_size=12),
        "lines": st.lists(st.integers(0, 99), max_size=4),
    }
)


def _jobs(spec: str, count: int, seed: int = 0) -> list[dict[str, Any]]:
    return list(resolve_workload(spec).jobs(count, seed))


def test_a_function_of_index_and_seed_makes_the_jobs() -> None:
    jobs = _jobs(f"{GENERATORS}:make_job", 5, seed=3)
    assert jobs == [{"customer": f"c{i % 4}", "amount": i + 3} for i in range(5)]


def test_a_strategy_draws_the_same_job_for_the_same_index_and_seed_in_any_order() -> None:
    """Job i does not depend on how many jobs came before it, or on another seed's draws."""
    spec = f"{GENERATORS}:invoice_jobs"
    first = _jobs(spec, 20, seed=1)
    assert _jobs(spec, 20, seed=1) == first
    assert _jobs(spec, 5, seed=1) == first[:5]
    assert _jobs(spec, 20, seed=2) != first
    assert len({repr(job) for job in first}) > 10  # varied, not the minimal example each time


@given(seed=st.integers(0, 2**32), index=st.integers(0, 10**6))
def test_draws_are_deterministic_and_of_the_strategy(seed: int, index: int) -> None:
    job = draw("t", invoices, seed, index)
    assert job == draw("t", invoices, seed, index)
    assert isinstance(job, dict)
    assert set(job) == {"customer", "lines"}


def test_a_workload_object_is_taken_as_it_is() -> None:
    workload = resolve_workload(f"{GENERATORS}:NUMBERS")
    assert isinstance(workload, Workload)
    assert workload.name == "numbers"
    assert _jobs(f"{GENERATORS}:NUMBERS", 3) == [{"n": 0}, {"n": 1}, {"n": 2}]


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ("raises", "make_job(0, 0) raised ValueError: no customers table"),
        ("returns_list", "make_job(0, 0) returned list [0]; expected a dict"),
        ("not_json", "returned a dict that is not JSON-serialisable"),
        ("set_jobs", "job 0 returned a dict that is not JSON-serialisable"),
        ("rejects_everything", "no value for job 0 in 50 draws"),
        ("NOT_A_GENERATOR", "is int 42; expected a Workload, a function"),
    ],
)
def test_a_generator_that_cannot_work_is_one_clear_error(attr: str, message: str) -> None:
    with pytest.raises(JobSourceError) as raised:
        _jobs(f"{GENERATORS}:{attr}", 3)
    assert message in str(raised.value)


def test_unknown_names_and_missing_files_say_what_would_work() -> None:
    with pytest.raises(JobSourceError, match="expected one of: counter, email, import, pdf, or a"):
        resolve_workload("emial")
    with pytest.raises(JobSourceError, match="no file"):
        resolve_workload("nowhere/gen.py:make_job")


def test_registered_workloads_resolve_and_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A package's entry point in the ``worker_soak.workloads`` group is a workload by name;
    one that fails to load is listed as such, not fatal."""

    class Entry:
        def __init__(self, name: str, target: object) -> None:
            self.name, self.value, self._target = name, f"pkg:{name}", target

        def load(self) -> object:
            if isinstance(self._target, Exception):
                raise self._target
            return self._target

    entries = {
        "orders": Entry("orders", lambda index, seed: {"order": index}),
        "broken": Entry("broken", ImportError("no module named 'orders_db'")),
    }
    monkeypatch.setattr(sources, "_registered", lambda: entries)
    assert _jobs("orders", 2) == [{"order": 0}, {"order": 1}]
    with pytest.raises(JobSourceError, match="could not be loaded: ImportError"):
        resolve_workload("broken")
    listed = {w.name: w.summary for w in available_workloads()}
    assert {"counter", "email", "orders", "broken"} <= set(listed)
    assert "cannot be loaded" in listed["broken"]


def test_recorded_calls_replay_as_calls_and_other_jobs_as_one_argument() -> None:
    assert as_call({"args": [1, {"a": 2}], "kwargs": {"pin": 3}}) == ([1, {"a": 2}], {"pin": 3})
    assert as_call({"id": 1}) == ([{"id": 1}], {})
    assert as_call({"args": [1], "kwargs": {}, "more": 1}) == (
        [{"args": [1], "kwargs": {}, "more": 1}],
        {},
    )
    assert as_call({"args": "x", "kwargs": {}}) == ([{"args": "x", "kwargs": {}}], {})


def test_payloads_of_every_kind_and_their_errors(tmp_path: Path) -> None:
    """A path, a list (written out, checked), a function, a strategy; and the misuses."""
    door = Door("python", "soak() in t")
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3}\n', encoding="utf-8")
    assert source_for(soak_options({"payloads": str(path)}, "t"), door).jobs == 3  # one pass
    assert source_for(soak_options({"payloads": path, "jobs": 7}, "t"), door).jobs == 7
    listed = source_for(soak_options({"payloads": [{"a": 1}, {"a": 2}]}, "t"), door)
    assert listed.jobs == 2
    assert listed.made_file is not None
    assert list(listed.workload.jobs(3, 0)) == [{"a": 1}, {"a": 2}, {"a": 1}]
    listed.remove_made_file()
    assert not listed.made_file.exists()
    made = source_for(soak_options({"payloads": lambda i, s: {"i": i}}, "t"), door)
    assert made.jobs == 1000
    assert list(made.workload.jobs(2, 0)) == [{"i": 0}, {"i": 1}]
    drawn = source_for(soak_options({"payloads": invoices, "jobs": 5}, "t"), door)
    assert len(list(drawn.workload.jobs(5, 0))) == 5
    for payloads, message in [
        ({"a": 1}, "payloads= got one dict; expected many jobs"),
        ([], "payloads= is empty"),
        ([{"a": 1}, [2]], "payloads: item 1 returned list"),
        (42, "payloads= is int 42; expected a Workload"),
    ]:
        with pytest.raises(UsageError, match=r"^soak\(\) in t: " + message.replace("(", r"\(")):
            source_for(soak_options({"payloads": payloads}, "t"), door)
    with pytest.raises(UsageError, match="--jobs-from and a workload \\('email'\\) both say"):
        source_for(soak_options({"workload": "email"}, "t"), CLI, path)


def test_default_run_directories_are_unique_and_named_after_the_source(tmp_path: Path) -> None:
    """Two runs started in the same second get two directories; a spec or a path is cut to
    its name."""
    from worker_soak.cli import default_out

    first = default_out("myjobs/gen.py:make_job", tmp_path)
    assert first.name.endswith("-gen")
    first.mkdir()
    second = default_out("myjobs/gen.py:make_job", tmp_path)
    assert second != first
    assert not second.exists()
    assert default_out("/data/exports/jobs-2026.jsonl", tmp_path).name.endswith("-jobs-2026")
    assert default_out("email", tmp_path).name.endswith("-email")


def test_each_built_in_workload_is_found_by_its_own_name_alone() -> None:
    """A run imports only its workload's module: the name each is kept under is its own."""
    from worker_soak import workloads

    for name in ("counter", "email", "pdf", "import"):
        found = workloads.builtin(name)
        assert found is not None
        assert found.name == name
    assert workloads.builtin("emial") is None
    script = (
        "import sys\nfrom worker_soak.workloads.sources import resolve_workload\n"
        "resolve_workload('counter')\n"
        "print(sorted(m for m in sys.modules if m.startswith('worker_soak.workloads.')"
        " or m == 'importlib.metadata'))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert "mail" not in loaded
    assert "invoices" not in loaded
    assert "importlib.metadata" not in loaded
    assert "worker_soak.workloads.counter" in loaded
