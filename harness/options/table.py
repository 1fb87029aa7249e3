"""Every option of a soak, once: its name, what it takes, its default, its help, and where it
is offered. argparse (``soak run``, ``soak worker``), the keywords of ``soak(...)`` and the
pytest marker, the checks and their error messages, and the option tables of the README are
all made from this table.

Names are the same in every front door: the keyword ``max_worker_age`` is the flag
``--max-worker-age``; a flag that turns a default off is ``--no-`` and the name
(``--no-isolation``); a repeatable flag takes one item each time and is singular
(``--bounded-cache`` for ``bounded_caches``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from worker_soak.model import RUNNERS
from worker_soak.options import convert
from worker_soak.options.convert import Converter
from worker_soak.workloads.base import PROFILES

#: How the command line takes an option: ``value`` (``--jobs 100``), ``flag`` (``--light``
#: sets True), ``negated`` (``--no-isolation`` sets False), ``append`` (repeated, one item
#: each); None: not on the command line.
#: Defaults shown where the Python default means "decided later".
SHOWN_DEFAULTS: Final = {"runner": "process", "latency_tolerance": "10%"}
CliForm = Literal["value", "flag", "negated", "append"]
#: The groups, in the order ``soak run --help`` and the docs list them.
GROUPS: Final = {
    "run": "the run",
    "isolation": "isolation",
    "queue": "job queues (--runner celery / rq)",
    "pool": "supervised pool (any of these runs the worker in a pool of recycled processes)",
    "verdict": "verdict thresholds",
}


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    convert: Converter
    #: What a value must be, as an error message says it ("expected ...").
    expected: str
    help: str
    default: object = None
    group: str = "run"
    metavar: str | None = None
    cli: CliForm | None = "value"
    #: A keyword of ``soak(...)`` and of ``@pytest.mark.soak``.
    python: bool = True
    #: Also an option of ``soak worker`` (a queue's worker started by hand).
    worker: bool = False
    #: Why the option is offered by one front door only (the docs say it).
    one_door: str = ""

    @property
    def flag(self) -> str:
        dashed = self.name.replace("_", "-")
        if self.cli == "negated":
            return f"--no-{dashed}"
        if self.cli == "append":
            return f"--{dashed.removesuffix('s')}"
        return f"--{dashed}"

    def described(self) -> str:
        """The help text, with the default when it is a value worth showing."""
        shown = SHOWN_DEFAULTS.get(self.name, self.default)
        if shown in (None, False, True, "", ()) or "(default" in self.help:
            return self.help
        return f"{self.help} (default: {shown})"

    def named(self, style: Literal["cli", "python"]) -> str:
        """How an error message names the option: ``--max-memory`` or ``max_memory=``."""
        return self.flag if style == "cli" and self.cli is not None else f"{self.name}="


def _whole(minimum: int) -> tuple[Converter, str]:
    return convert.whole(minimum), f"a whole number >= {minimum}"


_N1, _N1_TEXT = _whole(1)
_N0, _N0_TEXT = _whole(0)

OPTIONS: Final = (
    Option("worker", convert.text, "'package.module:attr' or 'path/to/file.py:attr'",
           "the worker to soak (default: the workload's reference worker)",
           default="", metavar="SPEC", python=False,
           one_door="soak(worker, ...) takes it as its first argument"),
    Option("workload", convert.text, "a workload name such as 'email' (see 'soak workloads') "
           "or a generator of yours, 'pkg.mod:make_job' or 'file.py:make_job'",
           "where jobs come from: a workload's name ('soak workloads' lists them; counter: "
           "job i is {'id': i}) or your generator, 'pkg.mod:attr' / 'file.py:attr' (a "
           "function make_job(index, seed) -> dict, a Hypothesis strategy or a Workload)",
           default="counter", metavar="NAME"),
    Option("jobs", _N1, _N1_TEXT, "jobs to run (default: 1000; with a job file, one pass "
           "over it; fewer or more jobs take its first records or cycle through it)",
           metavar="N"),
    Option("jobs_from", convert.path, "a JSON Lines file (one job object a line) or a JSON "
           "array of job objects", "replay the jobs in this file (JSON Lines or a JSON "
           "array; 'soak record' writes one from a live queue)", metavar="PATH",
           python=False, one_door="soak(..., payloads=PATH) takes the file"),
    Option("payloads", convert.anything, "a path, an iterable of dicts, a function "
           "make_job(index, seed) -> dict, a Hypothesis strategy of dicts or a Workload",
           "where jobs come from instead of a workload: a job file's path, an iterable of "
           "dicts, make_job(index, seed), a strategy or a Workload", cli=None,
           one_door="objects live in Python; the command line takes a file (--jobs-from) or "
           "a generator's spec (--workload pkg.mod:make_job)"),
    Option("out", convert.path, "a directory path",
           "the run directory (default: reports/runs/<time>-<source>, made unique); an existing "
           "run is never overwritten", metavar="DIR",
           python=False, one_door="the plugin writes runs under --soak-report DIR/<test id>"),
    Option("runner", convert.choice(*RUNNERS), f"one of {', '.join(RUNNERS)}",
           "process: the worker in a child process (the default for a worker importable by "
           "name); inline: in this process (the default for an object made in a test); "
           "celery / rq: the task in that framework's real worker, through --broker",
           metavar="|".join(RUNNERS)),
    Option("job_timeout", convert.positive, "seconds > 0",
           "a job running longer ends the worker: SIGTERM, then SIGKILL 2 s later (process "
           "runner)", metavar="SECONDS"),
    Option("python", convert.interpreter,
           "the python of CPython 3.11 or later, on PATH or by path (python3.12, "
           "/usr/bin/python3.13)",
           "the interpreter that runs the worker processes (default: this one); the memray "
           "window needs memray installed there (or --light)", metavar="PYTHON"),
    Option("seed", convert.whole(None), "an integer", "workload seed", default=0, metavar="S"),
    Option("profile", convert.choice(*PROFILES), f"one of {', '.join(PROFILES)}",
           "payload sizes of the workload's jobs", default="small", metavar="|".join(PROFILES)),
    Option("smtp", convert.text, "'HOST:PORT' of an SMTP server",
           "email workload: send to this SMTP server instead of the embedded sink",
           metavar="HOST:PORT"),
    Option("db", convert.text, "'sqlite:///PATH' or 'postgresql://USER@HOST:PORT/DB'",
           "import workload: this database (default: a SQLite file in the run directory)",
           metavar="DSN"),
    Option("no_report", convert.flag, "True or False",
           "write result.json and samples only, no index.html (the report costs ~0.5 s)",
           default=False, cli="flag", python=False,
           one_door="the plugin writes reports only with --soak-report"),
    Option("light", convert.flag, "True or False",
           "cheap probes and their verdicts only: no memray window, no aged-against-fresh "
           "comparison, no isolation check", default=False, cli="flag"),
    Option("benchmark", convert.flag, "True or False",
           "feed the judged jobs' latencies to pytest-benchmark's 'benchmark' fixture",
           default=False, cli=None, one_door="pytest-benchmark's fixture lives in pytest"),
    Option("isolation", convert.flag, "True or False",
           "judge isolation: compare kept results with fresh workers' (--no-isolation: skip)",
           default=True, group="isolation", cli="negated"),
    Option("isolation_jobs", _N1, _N1_TEXT,
           "jobs whose results are compared with fresh workers, spread over the run (the "
           "comparisons stop after 5% of the run's time)",
           default=30, group="isolation", metavar="N"),
    Option("stateful", convert.flag, "True or False",
           "the worker keeps state between jobs by design: its state is listed, not judged",
           default=False, group="isolation", cli="flag"),
    Option("normalise", convert.any_text, "'module:function' applied to each result before "
           "comparing", "'module:function' applied to each result before results are "
           "compared (drop timestamps, ids); default: soak_normalise in the worker's module",
           default="", group="isolation", metavar="SPEC"),
    Option("broker", convert.text,
           "a broker URL: 'redis://127.0.0.1:6379/0' or 'amqp://guest:guest@host:5672//'",
           "broker URL: redis://... or amqp://... (default redis://127.0.0.1:6379/0)",
           group="queue", metavar="URL", worker=True),
    Option("queue", convert.text, "a queue name",
           "queue the soak's tasks go on (default: one of the run's own, or 'soak' with "
           "--no-start-worker)", group="queue", metavar="NAME", worker=True),
    Option("concurrency", _N1, _N1_TEXT, "worker processes (default: 1)", group="queue",
           metavar="N", worker=True),
    Option("max_tasks_per_child", _N1, _N1_TEXT,
           "recycle a worker process after N tasks (Celery worker_max_tasks_per_child, RQ "
           "--max-jobs)", group="queue", metavar="N", worker=True),
    Option("max_memory_per_child", _N1, "a number of KiB >= 1 (Celery's unit)",
           "Celery worker_max_memory_per_child, in KiB as Celery takes it", group="queue",
           metavar="KIB", worker=True),
    Option("start_worker", convert.flag, "True or False",
           "start a worker beside the soak (--no-start-worker: workers started elsewhere with "
           "'soak worker' serve --queue on --broker)", group="queue", cli="negated"),
    Option("rq_worker", convert.choice("fork", "simple"), "'fork' or 'simple'",
           "RQ's forking Worker (a process per job) or SimpleWorker (the default)",
           group="queue", metavar="fork|simple", worker=True),
    Option("workers", _N1, _N1_TEXT, "worker processes fed from one job queue (default: 1)",
           group="pool", metavar="N"),
    Option("max_memory", convert.size, "a size such as '200MB' or a number of bytes",
           "soft limit on a worker's current RSS (e.g. 200MB): past it the worker finishes "
           "its job, tears down and is replaced", group="pool", metavar="SIZE"),
    Option("kill_memory", convert.size, "a size such as '400MB' or a number of bytes",
           "hard limit on a worker's current RSS: past it the worker is ended (TERM, then "
           "KILL) and its job retried on a fresh worker", group="pool", metavar="SIZE"),
    Option("max_jobs_per_worker", _N1, _N1_TEXT,
           "replace a worker after N jobs (plus up to 10% jitter)", group="pool", metavar="N"),
    Option("max_worker_age", convert.positive, "seconds > 0",
           "replace a worker after this long (plus up to 10% jitter)", group="pool",
           metavar="SECONDS"),
    Option("max_retries", _N0, _N0_TEXT,
           "runs of a job again after its worker was killed or crashed (default: 1)",
           group="pool", metavar="N"),
    Option("prestart", convert.flag, "True or False",
           "start a worker's replacement as soon as it announces its recycle", group="pool",
           cli="flag"),
    Option("metrics_file", convert.path, "a file path",
           "keep the pool's metrics in Prometheus text format in PATH", group="pool",
           metavar="PATH"),
    Option("metrics_port", convert.port, "a port 0..65535",
           "serve the pool's metrics on http://127.0.0.1:PORT/metrics (0: any free port)",
           group="pool", metavar="PORT"),
    Option("max_growth", convert.growth,
           "a size such as 64B/job (per job) or 48KiB (over the run)",
           "the memory budget: per job (default 4B/job, under one retained Python object per "
           "job) or, if you must, over the whole run (48KiB)", group="verdict",
           metavar="SIZE[/job]"),
    Option("max_failed_jobs", convert.failed_jobs,
           "a whole number of jobs >= 0 (3) or a percentage of them ('1%')",
           "failed jobs allowed before the soak fails (default: 0; a workload's deliberately "
           "provoked errors never count)", group="verdict",
           metavar="N|P%"),
    Option("bounded_caches", convert.cache_names,
           "'module:attribute' of a cache bounded by construction (billing.pdf:_FONTS), or a "
           "list of them", "a cache of yours bounded by construction (evicts, is flushed, "
           "has a fixed key space): its growth is a cache filling (repeatable)", default=(),
           group="verdict", metavar="MODULE:ATTR", cli="append"),
    Option("significance", convert.alpha, "a probability in (0, 0.5) such as 0.01",
           "false-alarm rate of each statistical test", default=0.01, group="verdict",
           metavar="ALPHA"),
    Option("latency_tolerance", convert.tolerance,
           "a percentage such as '10%' or a fraction > 0 such as 0.1",
           "slowdown that fails a significant trend or comparison", default=0.10,
           group="verdict", metavar="PERCENT"),
)  # fmt: skip

BY_NAME: Final = {option.name: option for option in OPTIONS}
#: The keywords of ``soak(...)``.
KEYWORDS: Final = tuple(option.name for option in OPTIONS if option.python)
