"""Soaks the project's task from a script, with jobs of three kinds; one JSON line each."""

import json

from harness.billing import render
from hypothesis import strategies as st

from worker_soak import soak

drawn = st.fixed_dictionaries({"customer": st.text(min_size=1), "amount": st.integers(0, 10**6)})
for kind, payloads in [
    ("file", "jobs.jsonl"),
    ("list", [{"customer": "a", "amount": i} for i in range(120)]),
    ("strategy", drawn),
]:
    result = soak(render, jobs=200, payloads=payloads, light=True, report=False)
    print(
        json.dumps(
            {
                "kind": kind,
                "passed": result.passed,
                "completed": result.data["jobs_completed"],
                "failed": result.data["verdicts"]["failed_jobs"]["verdict"],
                "failed_jobs": result.data["jobs_failed"],
                "run_dir": str(result.run_dir),
            }
        )
    )
