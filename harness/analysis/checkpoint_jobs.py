"""What the worker reads for the checkpoints: the job counts a run is described at (10, 100,
1,000 and 10,000), and the parts resident memory is broken into (no imports, so the worker
process reads them without loading the analysis)."""

from typing import Final

CHECKPOINT_JOBS: Final = (10, 100, 1_000, 10_000)
#: Where resident memory goes (``worker_soak.worker.breakdown``); sample-line fields are
#: ``mem_<part>_bytes``, with ``mem_rss_bytes`` read beside them.
BREAKDOWN_PARTS: Final = ("python_objects", "python_free", "native_in_use", "native_free", "other")
