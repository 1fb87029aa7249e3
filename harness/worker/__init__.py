"""The worker side: what runs inside the measured worker process — its loop over jobs
(:mod:`~worker_soak.worker.child`), the job and its probes, the heap census, the memray window,
state snapshots, isolation evidence and its own recycling — and the isolation check's fresh
workers (:mod:`~worker_soak.worker.isolation_check`).

It imports the standard library, the pure values (:mod:`worker_soak.model`,
:mod:`worker_soak.errors`) and pure analysis, never the supervising side (runners, session,
options, store, reports, CLI): a worker process carries as little of the harness as it can,
and what it carries is what it measures beside the user's code.
"""
