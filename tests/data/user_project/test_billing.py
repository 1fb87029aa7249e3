import pytest
from harness.billing import render


@pytest.mark.soak(jobs=200, payloads="jobs.jsonl", light=True)
def test_render_soaks_on_recorded_jobs(soak):
    assert soak(render).data["jobs_failed"] == 0


def test_render_soaks_on_generated_jobs(soak):
    soak("harness.billing:render", jobs=200, workload="myjobs/gen.py:make_job", light=True)
