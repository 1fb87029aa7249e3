"""The zoo through the real CLI: every faulty worker caught, no clean one failed, and the
user's leaking line named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.zoo.accuracy import CASES, SHORT_RUN_KINDS, Case, run_case

LONG = [case for case in CASES if case.name not in SHORT_RUN_KINDS]


@pytest.mark.parametrize("case", LONG, ids=[case.name for case in LONG])
def test_zoo_worker_gets_the_right_verdicts(case: Case, tmp_path: Path) -> None:
    """A faulty worker fails exactly the verdict it was built to fail; a clean one fails none;
    a memory leak's top per-job site is a line marked # LEAK."""
    outcome = run_case(case, tmp_path / "run")
    assert outcome.false_alarms == [], outcome.summary
    if case.must_fail is not None:
        assert outcome.caught, outcome.summary
    if case.names_line:
        assert outcome.line_named, (outcome.top_site, outcome.leak_lines, outcome.summary)
