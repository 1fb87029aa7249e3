"""``soak(worker, ...)`` from Python: the same options and the same result as the pytest
fixture and ``soak run``, for a script, a notebook or another test runner.

    from worker_soak import soak

    result = soak("billing.tasks:render_invoice", jobs=2_000, payloads="jobs.jsonl")
    assert result.passed, result.failed_verdicts
"""

from __future__ import annotations

import sys
from pathlib import Path

from worker_soak.options import soak_options
from worker_soak.result import SoakResult
from worker_soak.soak_call import SoakCall
from worker_soak.worker.spec import describe_object


def soak(
    worker: object = None,
    /,
    *,
    out: str | Path | None = None,
    report: bool = True,
    **options: object,
) -> SoakResult:
    """Soak ``worker`` and return what the run found.

    ``worker``: a spec (``"pkg.mod:attr"``, ``"path/file.py:attr"``), or the object itself
    (a function, a class or an object with ``handle``); None soaks the workload's reference
    worker. ``options``: the keywords of the option table (``jobs``, ``workload``,
    ``payloads``, ``max_growth``, ...; docs/options.md lists them). ``out``: the run
    directory (default ``reports/runs/<time>-<source>``, never an existing run); ``report``:
    write its ``index.html`` too.

    Bad options raise :class:`~worker_soak.errors.UsageError` before anything runs; a soak
    whose verdicts fail returns normally, with ``result.passed`` False.
    """
    from worker_soak.cli import default_out

    label = worker if isinstance(worker, str) else describe_object(worker) if worker else "soak"
    checked = soak_options(options, "soak()")
    payloads = options.get("payloads")
    if payloads is None:
        source = str(options.get("workload") or "counter")
    else:
        source = str(payloads) if isinstance(payloads, str | Path) else "payloads"
    run_dir = Path(out) if out is not None else default_out(source)
    call = SoakCall(
        worker,
        checked,
        label=str(label),
        root=run_dir.parent,
        write_report=report,
        import_paths=tuple(sys.path),
        run_dir=run_dir,
    )
    return call.run()
