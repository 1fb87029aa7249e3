"""The memory verdict at the size a pull request runs (300 jobs), on every CPython this
machine has: the harness's own, and 3.12 and 3.13 wherever they are installed (the worker
processes run on them with ``--python``; the worker side needs only the standard library).

One worker of each kind the verdict must tell apart: leaks of one object per job, an
unbounded cache, a leak beside a filling cache, a native leak, one in steps of varied size
after jobs of microseconds, a leak every tenth job, one in a dict whose table doubles; and
clean workers with bounded caches filling all run long, varied allocation sizes, cyclic
garbage, a warm-up table and stdlib email (re's cache filling).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RAN
from tests.zoo.accuracy import CASES, run_case
from tests.zoo.ci_sizes import Bar, bar

JOBS = 300
KINDS = (
    "leak_one_int",
    "leak_functools_cache",
    "leak_beside_cache",
    "leak_ctypes_malloc",
    "leak_native_steps",
    "leak_intermittent",
    "leak_delivered_ids",
    "clean_lru_filling",
    "clean_regex_per_job",
    "clean_recent_window",
    "clean_varied_sizes",
    "clean_gc_cycles",
    "clean_warmup_table",
    "clean_stdlib_email",
)
OTHER_VERSIONS = ("3.12", "3.13")


def _interpreter(version: str) -> str | None:
    """A CPython ``version`` on this machine: on PATH, or under pyenv."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pyenv = sorted(glob.glob(str(root / "versions" / f"{version}.*" / "bin" / "python3")))
    for candidate in [shutil.which(f"python{version}"), *pyenv]:
        if candidate is None:
            continue
        done = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.stdout.strip() == version:
            return candidate
    return None


INTERPRETERS = [("own", sys.executable)] + [
    (version, _interpreter(version)) for version in OTHER_VERSIONS
]


@pytest.mark.parametrize(("version", "python"), INTERPRETERS, ids=[v for v, _ in INTERPRETERS])
def test_verdicts_at_300_jobs_on_each_python(
    version: str, python: str | None, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """At 300 jobs every leak of >= 1 object/job or >= 256 B/job fails, no clean worker
    fails memory or failed_jobs, and at least 70 % of the clean ones pass memory - on each
    interpreter present. (In --light mode; latency at 300 jobs has no paired check there.)"""
    if python is None:
        pytest.skip(f"CPython {version} is not installed here: its 300-job check did not run")
    cases = [case for case in CASES if case.name in KINDS]
    extra = ("--light", "--no-report", "--python", python)
    outcomes = [run_case(case, tmp_path / case.name, JOBS, extra) for case in cases]
    bars = [Bar(o, bar(o.case, JOBS)) for o in outcomes]
    record_property("soak_ci_sizes", f"{version}: {python}")
    RAN.append(f"{version} ({python})")
    missed = [f"{b.outcome.case.name}: {b.outcome.summary}" for b in bars if not b.met]
    assert not missed, "\n".join(missed)
    clean = [o for o in outcomes if o.case.must_fail is None]
    passed = sum(o.verdicts["memory"] == "pass" for o in clean)
    assert passed >= 0.7 * len(clean), [(o.case.name, o.summary) for o in clean]
