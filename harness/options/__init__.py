"""A soak's options: one table (:mod:`worker_soak.options.table`) from which the command line,
the keywords of ``soak(...)`` and the pytest marker, their checks and the documentation's
option tables are made, and the one place that turns checked options into a run."""

from __future__ import annotations

from worker_soak.options.config import CLI, Door, policy, run_config, source_for
from worker_soak.options.job_source import JobSource
from worker_soak.options.table import KEYWORDS, OPTIONS, Option
from worker_soak.options.values import SoakOptions, soak_options

__all__ = [
    "CLI",
    "KEYWORDS",
    "OPTIONS",
    "Door",
    "JobSource",
    "Option",
    "SoakOptions",
    "policy",
    "run_config",
    "soak_options",
    "source_for",
]
