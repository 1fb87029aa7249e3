"""The ``soak`` command. Exit codes: 0 passed, 1 a verdict failed or the worker crashed, 2 usage."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Final, NoReturn

from harness import __version__
from harness.analysis.failed_jobs import FailedJobsPolicy
from harness.analysis.verdicts import Policy
from harness.errors import HarnessError, UsageError
from harness.model import RUNNERS, PoolConfig, RunConfig
from harness.options import POOL_OPTIONS, build_policy, parse_failed_jobs, pool_config
from harness.queues.serve import add_worker_options, queue_config
from harness.queues.serve import build_parser as build_worker_parser
from harness.units import parse_growth, parse_size
from workloads.base import PROFILES

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (what, why) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _whole(text: str, minimum: int) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _whole(text, 1)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _growth(text: str) -> tuple[float | None, float | None]:
    try:
        return parse_growth(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size(text: str) -> int:
    try:
        value = int(parse_size(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a size above 0, got {text!r}")
    return value


def _count(text: str) -> int:
    return _whole(text, 0)


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535, got {text!r}")
    return value


def _pool(args: argparse.Namespace) -> PoolConfig | None:
    """The pool the options ask for; None when none of them is given."""
    names = (*POOL_OPTIONS, "metrics_file", "metrics_port")
    given = [name for name in names if getattr(args, name) is not None]
    if given and args.runner == "inline":
        raise UsageError(
            f"--{given[0].replace('_', '-')} needs worker processes: drop --runner inline"
        )
    return pool_config({name: getattr(args, name) for name in names}, "soak run")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"expected a probability in (0, 0.5), got {text!r}")
    return value


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / 100
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a percentage > 0 such as 10%, got {text!r}")
    return value


def _policy(args: argparse.Namespace) -> Policy:
    per_job, total = args.max_growth if args.max_growth is not None else (None, None)
    return build_policy(
        per_job, total, args.significance, args.latency_tolerance, args.max_failed_jobs
    )


def _failed_jobs(text: str) -> FailedJobsPolicy:
    try:
        return parse_failed_jobs(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected a whole number of jobs >= 0 (3) or a percentage of them (1%), got {text!r}"
        ) from None


def _python(text: str) -> str:
    found = shutil.which(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an interpreter found on PATH or at that path; expected the "
            "python of CPython 3.11 or later, e.g. python3.12 or /usr/bin/python3.13"
        )
    return found


def _cache_name(text: str) -> str:
    if ":" not in text or "," in text:
        raise argparse.ArgumentTypeError(
            f"expected module:attribute of a cache (billing.pdf:_FONTS), got {text!r}"
        )
    return text


def _workload_options(args: argparse.Namespace) -> dict[str, str]:
    options = {"profile": args.profile}
    for name in ("smtp", "db"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return options


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="soak", description=__doc__)
    parser.add_argument("--version", action="version", version=f"soak {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run a worker through N jobs and write a run directory")
    run.add_argument(
        "--worker",
        default="",
        metavar="SPEC",
        help="'package.module:attr' or 'path/to/file.py:attr' "
        "(default: the workload's reference worker)",
    )
    run.add_argument(
        "--workload",
        default="counter",
        metavar="NAME",
        help="job source (default: counter); see 'soak workloads'",
    )
    run.add_argument(
        "--jobs", type=_positive_int, default=1000, metavar="N", help="jobs to run (default: 1000)"
    )
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="run directory (default: reports/runs/<time>-<workload>)",
    )
    run.add_argument(
        "--runner",
        choices=RUNNERS,
        default="process",
        help="process: the worker in a child process (default); inline: in this one; "
        "celery / rq: the task in that framework's real worker, through --broker",
    )
    run.add_argument(
        "--job-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="end the worker when one job runs longer (process runner)",
    )
    run.add_argument(
        "--python",
        type=_python,
        default=None,
        metavar="PYTHON",
        help="the interpreter that runs the worker processes (default: this one); the "
        "memray window needs memray installed there (or --light)",
    )
    run.add_argument("--seed", type=_int, default=0, metavar="S", help="workload seed (default: 0)")
    run.add_argument(
        "--profile",
        choices=PROFILES,
        default="small",
        help="payload sizes of the workload's jobs (default: small)",
    )
    run.add_argument(
        "--smtp",
        default=None,
        metavar="HOST:PORT",
        help="email workload: send to this SMTP server instead of the embedded sink",
    )
    run.add_argument(
        "--db",
        default=None,
        metavar="DSN",
        help="import workload: sqlite:///PATH or postgresql://USER@HOST:PORT/DB "
        "(default: a SQLite file in the run directory)",
    )
    run.add_argument(
        "--no-report",
        action="store_true",
        help="write result.json and samples only, no index.html (the report costs ~1 s)",
    )
    run.add_argument(
        "--light",
        action="store_true",
        help="cheap probes and their verdicts only: no memray window",
    )
    isolation = run.add_argument_group("isolation")
    isolation.add_argument(
        "--no-isolation",
        action="store_true",
        help="skip the isolation verdict (comparing kept results with fresh workers)",
    )
    isolation.add_argument(
        "--isolation-jobs",
        type=_positive_int,
        default=30,
        metavar="N",
        help="jobs whose results are compared with fresh workers, spread over the run "
        "(default: 30; the comparisons stop after 10%% of the run's time)",
    )
    isolation.add_argument(
        "--stateful",
        action="store_true",
        help="the worker keeps state between jobs by design: list its state, do not judge it",
    )
    isolation.add_argument(
        "--normalise",
        default="",
        metavar="SPEC",
        help="'module:function' applied to each result before results are compared (drop "
        "timestamps, ids); default: soak_normalise in the worker's module, if any",
    )
    add_worker_options(run)
    run.add_argument(
        "--no-start-worker",
        action="store_true",
        help="celery/rq: start no worker; workers started elsewhere ('soak worker') serve "
        "--queue on --broker",
    )
    pool = run.add_argument_group(
        "supervised pool (any of these runs the worker in a pool of recycled processes)"
    )
    pool.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes fed from one job queue (default: 1)",
    )
    pool.add_argument(
        "--max-memory",
        type=_size,
        default=None,
        metavar="SIZE",
        help="soft limit on a worker's current RSS (e.g. 200MB): past it the worker finishes "
        "its job, tears down and is replaced",
    )
    pool.add_argument(
        "--kill-memory",
        type=_size,
        default=None,
        metavar="SIZE",
        help="hard limit on a worker's current RSS: past it the worker is ended (TERM, then "
        "KILL) and its job retried on a fresh worker",
    )
    pool.add_argument(
        "--max-jobs-per-worker",
        type=_positive_int,
        default=None,
        metavar="N",
        help="replace a worker after N jobs (plus up to 10%% jitter)",
    )
    pool.add_argument(
        "--max-worker-age",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="replace a worker after this long (plus up to 10%% jitter)",
    )
    pool.add_argument(
        "--max-retries",
        type=_count,
        default=None,
        metavar="N",
        help="runs of a job again after its worker was killed or crashed (default: 1)",
    )
    pool.add_argument(
        "--prestart",
        action="store_true",
        default=None,
        help="start a worker's replacement as soon as it announces its recycle",
    )
    pool.add_argument(
        "--metrics-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="keep the pool's metrics in Prometheus text format in PATH",
    )
    pool.add_argument(
        "--metrics-port", type=_port, default=None, metavar="PORT",
        help="serve the pool's metrics on http://127.0.0.1:PORT/metrics",
    )  # fmt: skip
    judged = run.add_argument_group("verdict thresholds")
    judged.add_argument(
        "--max-growth",
        type=_growth,
        default=None,
        metavar="SIZE[/job]",
        help="memory the worker may keep: per job (the default, 4B/job) or over the whole "
        "run (48KiB)",
    )
    judged.add_argument(
        "--max-failed-jobs",
        type=_failed_jobs,
        default=None,
        metavar="N|P%",
        help="failed jobs allowed before the soak fails (default: 0)",
    )
    judged.add_argument(
        "--bounded-cache",
        type=_cache_name,
        action="append",
        metavar="MODULE:ATTR",
        help="a cache of yours bounded by construction: its growth is a cache filling (repeatable)",
    )
    judged.add_argument(
        "--significance",
        type=_fraction,
        default=0.01,
        metavar="ALPHA",
        help="false-alarm rate of each trend test (default: 0.01)",
    )
    judged.add_argument(
        "--latency-tolerance",
        type=_percent,
        default=0.10,
        metavar="PERCENT",
        help="slowdown over the run that fails a significant trend (default: 10%%)",
    )

    commands.add_parser("workloads", help="list the built-in workloads")

    report = commands.add_parser("report", help="(re)write a run directory's index.html")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")

    site = commands.add_parser("site", help="write DIR/index.html over every run under DIR")
    site.add_argument("root", type=Path, metavar="DIR")

    build_worker_parser(
        commands.add_parser(
            "worker",
            help="serve a soak's queue: a Celery or RQ worker with the harness's hooks "
            "(for 'soak run --no-start-worker', on this machine or another)",
        )
    )
    compare = commands.add_parser(
        "compare", help="differences between two runs; exit 1 when NEW regressed"
    )
    compare.add_argument("base", type=Path, metavar="BASE")
    compare.add_argument("new", type=Path, metavar="NEW")
    compare.add_argument("--significance", type=_fraction, default=0.01, metavar="ALPHA")
    compare.add_argument("--latency-tolerance", type=_percent, default=0.10, metavar="PERCENT")
    return parser


def _default_out(workload: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("reports") / "runs" / f"{stamp}-{workload}"


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    from harness.progress import progress_bar
    from harness.report.terminal import render_summary
    from harness.session import exit_code, run_soak

    out = args.out if args.out is not None else _default_out(args.workload)
    config = RunConfig(
        worker=args.worker,
        workload=args.workload,
        jobs=args.jobs,
        out=out,
        runner=args.runner,
        job_timeout=args.job_timeout,
        seed=args.seed,
        light=args.light,
        workload_options=_workload_options(args),
        isolation=not args.no_isolation,
        isolation_jobs=args.isolation_jobs,
        stateful=args.stateful,
        normaliser=args.normalise,
        pool=_pool(args),
        queue=queue_config(args),
        bounded_caches=tuple(args.bounded_cache or ()),
        python=args.python,
    )
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    with progress_bar(config.jobs, f"soak {config.workload}") as on_progress:
        result = run_soak(config, on_progress, _policy(args))
    if not args.no_report:
        _write_report(out)
    render_summary(result, sys.stdout, str(out))
    return exit_code(result)


def _write_report(run_dir: Path) -> None:
    """The HTML report; a failure to draw it never changes the run's outcome."""
    from harness.report.html import write_run_report

    try:
        write_run_report(run_dir)
    except Exception as exc:
        print(f"soak: warning: the HTML report could not be written: {exc}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from harness.report.html import write_run_report

    run_dir: Path = args.run_dir
    if not (run_dir / "result.json").is_file():
        raise UsageError(f"{str(run_dir)!r} holds no result.json; expected a run directory")
    print(write_run_report(run_dir))
    return EXIT_OK


def _site(args: argparse.Namespace) -> int:
    from harness.report.site import build_site, find_runs

    root: Path = args.root
    if not root.is_dir():
        raise UsageError(f"{str(root)!r} is not a directory; expected one holding run directories")
    if not find_runs(root):
        raise UsageError(f"no run (result.json) under {str(root)!r}; run 'soak run --out' there")
    print(build_site(root))
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from harness.baseline import compare_dirs

    rows = compare_dirs(args.base, args.new, args.significance, args.latency_tolerance)
    print(f"{'':22}{'BASE':>28}{'NEW':>28}  change")
    for row in rows:
        flag = "  REGRESSED" if row.regressed else ""
        print(f"{row.name:22}{row.base:>28}{row.new:>28}  {row.change}{flag}")
    return EXIT_FAILED if any(row.regressed for row in rows) else EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    from harness.queues.serve import serve

    return serve(args)


def _workloads() -> int:
    from workloads import available

    for workload in available():
        print(f"{workload.name:8} {workload.summary}")
        print(f"{'':8} reference worker: {workload.reference_worker}")
        for name, faulty in workload.faulty.items():
            print(f"{'':8} faulty '{name}': {faulty.spec} ({faulty.what}; fails {faulty.fails})")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {
            "run": _run,
            "report": _report,
            "site": _site,
            "compare": _compare,
            "worker": _worker,
        }
        if args.command in commands:
            return commands[args.command](args)
        return _workloads()
    except HarnessError as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a second Ctrl-C while the result was being written
        print("soak: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
