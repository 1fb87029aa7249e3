"""The option table is the one place an option lives: the command line, the keywords of
``soak(...)`` and the pytest marker, the typed options and the docs all agree with it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker_soak.cli import build_parser
from worker_soak.errors import UsageError
from worker_soak.options import KEYWORDS, OPTIONS, SoakOptions, soak_options
from worker_soak.options.arguments import parsed_options
from worker_soak.options.docs import README_BEGIN, README_END, markdown, readme_table

ROOT = Path(__file__).resolve().parents[2]
BOTH = [o for o in OPTIONS if o.python and o.cli is not None]

#: A usable value of every option offered by both front doors, as a user writes it. A new
#: option without one here fails the test below: add its example.
EXAMPLES: dict[str, str] = {
    "workload": "email", "jobs": "2,500", "runner": "celery", "job_timeout": "2.5",
    "python": "python3", "seed": "-3", "profile": "large", "smtp": "127.0.0.1:2525",
    "db": "sqlite:///x.db", "isolation_jobs": "7", "normalise": "app.norm:drop_ids",
    "broker": "amqp://guest:guest@127.0.0.1:5672//", "queue": "soak-q", "concurrency": "3",
    "max_tasks_per_child": "50", "max_memory_per_child": "20000", "rq_worker": "fork",
    "workers": "2", "max_memory": "200MB", "kill_memory": "1GiB", "max_jobs_per_worker": "99",
    "max_worker_age": "30", "max_retries": "0", "metrics_file": "m.prom", "metrics_port": "0",
    "max_growth": "64B/job", "max_failed_jobs": "1%", "bounded_caches": "billing.pdf:_FONTS",
    "significance": "0.05", "latency_tolerance": "20%",
}  # fmt: skip


def _cli(*argv: str) -> SoakOptions:
    return parsed_options(build_parser().parse_args(["run", *argv]))


def test_the_typed_options_are_the_tables_keywords_with_its_defaults() -> None:
    """One field per keyword, in the table's order, with the table's default."""
    fields = dataclasses.fields(SoakOptions)
    assert tuple(field.name for field in fields) == KEYWORDS
    defaults = {option.name: option.default for option in OPTIONS if option.python}
    assert {field.name: field.default for field in fields} == defaults


@pytest.mark.parametrize("option", BOTH, ids=lambda option: option.name)
def test_the_cli_and_the_keywords_take_an_option_alike(option: object) -> None:
    """``soak run --flag VALUE`` and ``soak(..., name=VALUE)`` give the same options."""
    assert set(EXAMPLES) == {o.name for o in BOTH if o.cli in ("value", "append")}
    name = option.name  # type: ignore[attr-defined]
    form = option.cli  # type: ignore[attr-defined]
    flag = option.flag  # type: ignore[attr-defined]
    if form in ("flag", "negated"):
        value = form == "flag"
        assert _cli(flag) == soak_options({name: value}, "t")
        assert _cli() == soak_options({}, "t")  # not given: the default
        return
    assert flag == "--" + name.replace("_", "-").removesuffix("s" if form == "append" else "")
    assert _cli(flag, EXAMPLES[name]) == soak_options({name: EXAMPLES[name]}, "t")


def test_an_option_of_one_front_door_says_why() -> None:
    """``--out`` is the plugin's ``--soak-report``; ``benchmark`` needs pytest."""
    for option in OPTIONS:
        assert bool(option.one_door) == (not option.python or option.cli is None), option.name


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return capsys.readouterr().out


def test_help_lists_every_flag_and_soak_worker_its_queue_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every flag in ``soak run --help``; ``soak worker`` offers exactly the queue worker's."""
    run = _help("run", capsys)
    worker = _help("worker", capsys)
    for option in OPTIONS:
        offered = re.compile(rf"\[{option.flag}[ \]]")  # in the usage line
        if option.cli is not None:
            assert offered.search(run), option.name
        if option.name not in ("runner", "worker"):  # soak worker has its own, required
            assert bool(offered.search(worker)) == option.worker, option.name


options_and_text = st.tuples(
    st.sampled_from(["jobs", "max_growth", "max_failed_jobs", "latency_tolerance",
                     "significance", "max_memory", "metrics_port", "seed"]),
    st.one_of(st.text(max_size=8), st.integers(-5, 10**6).map(str),
              st.sampled_from(["1%", "64B/job", "48KiB", "0.5", "10,000", "1e3", "-1"])),
)  # fmt: skip


@given(options_and_text)
def test_both_doors_accept_and_refuse_the_same_text(case: tuple[str, str]) -> None:
    """Whatever is written, both doors accept it as the same value or both refuse it."""
    name, text = case
    option = next(o for o in OPTIONS if o.name == name)
    try:
        from_python: SoakOptions | None = soak_options({name: text}, "t")
    except UsageError:
        from_python = None
    try:
        from_cli: SoakOptions | None = _cli(f"{option.flag}={text}")
    except SystemExit:
        from_cli = None
    assert from_cli == from_python


def test_the_docs_tables_are_made_from_the_table() -> None:
    """docs/options.md and the README's table are what the table makes now (regenerate:
    ``python -m worker_soak.options.docs > docs/options.md``; ``--readme`` for the README's)."""
    assert (ROOT / "docs" / "options.md").read_text() == markdown()
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(README_BEGIN), readme.index(README_END) + len(README_END)
    assert readme[start:end] == readme_table()


def test_a_huge_value_is_quoted_shortened() -> None:
    """A usage error quotes what was given, not 500 dicts of it."""
    with pytest.raises(UsageError) as raised:
        soak_options({"jobs": [{"customer": "x" * 20, "n": i} for i in range(500)]}, "soak() in t")
    message = str(raised.value)
    assert len(message) < 200
    assert message.startswith("soak() in t: jobs=[{'customer': ")
    assert "(500 items) is not usable; expected a whole number >= 1" in message
