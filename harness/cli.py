"""The ``soak`` command: its subcommands, each a thin adapter over the harness."""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import os
import re
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Final, NoReturn

from worker_soak import __version__
from worker_soak.early_imports import EARLY_IMPORTS_MAX, EarlyImports
from worker_soak.errors import HarnessError, UsageError
from worker_soak.options import CLI, policy, run_config, source_for
from worker_soak.options.arguments import add_named, add_options, parsed_options
from worker_soak.queues.serve import build_parser as build_worker_parser
from worker_soak.redact import environment_secrets, redact

DESCRIPTION: Final = (
    "Soak-test a background-job worker: memory, resources, latency and isolation over many "
    "jobs. Exit codes: 0 passed, 1 a verdict failed or the worker crashed, 2 usage."
)
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (what, why) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="soak", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"soak {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run a worker through N jobs and write a run directory")
    add_options(run)

    allocators = commands.add_parser(
        "allocators",
        help="run the same soak under glibc, MALLOC_ARENA_MAX=2, a trim threshold and jemalloc "
        "(where installed): RSS and jobs/s under each, and the setting to copy",
    )
    add_options(allocators)

    commands.add_parser(
        "workloads", help="list the workloads: built in, and those installed packages register"
    )

    report = commands.add_parser("report", help="(re)write a run directory's index.html")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")

    site = commands.add_parser("site", help="write DIR/index.html over every run under DIR")
    site.add_argument("root", type=Path, metavar="DIR")
    site.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PUBLISH",
        help="write a copy to publish here: the site page and each run's report, result.json "
        "and summary.json (not samples, logs, memray captures or kept results)",
    )
    site.add_argument(
        "--include-raw",
        action="store_true",
        help="with --out: copy every file of each run directory",
    )

    build_worker_parser(
        commands.add_parser(
            "worker",
            help="serve a soak's queue: a Celery or RQ worker with the harness's hooks "
            "(for 'soak run --no-start-worker', on this machine or another)",
        )
    )
    record = commands.add_parser(
        "record",
        help="write the jobs waiting on a Celery queue (Redis) to a job file, leaving them there",
    )
    record.add_argument("--broker", required=True, metavar="URL", help="redis://HOST:PORT/DB")
    record.add_argument("--queue", default="celery", metavar="NAME", help="(default: celery)")
    record.add_argument(
        "--count", type=_positive_int, default=None, metavar="N", help="at most N (default: all)"
    )
    record.add_argument("--out", type=Path, required=True, metavar="PATH", help="the job file")
    record.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="FIELD",
        help="replace this field of every job by '[redacted]' (dotted: customer.email, "
        "kwargs.token, args.0.card); repeatable. Recorded jobs carry production data",
    )
    compare = commands.add_parser(
        "compare", help="differences between two runs; exit 1 when NEW regressed"
    )
    compare.add_argument("base", type=Path, metavar="BASE")
    compare.add_argument("new", type=Path, metavar="NEW")
    add_named(compare, "significance", "latency_tolerance")
    return parser


def default_out(source: str, root: Path = Path("reports") / "runs") -> Path:
    """``root/<time>-<source>``, unique: a run started in the same second as another gets
    the next free ``-2``, ``-3``... (a path or a spec as the source is cut to its name)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    head = Path(source.split(":", 1)[0]).name
    for suffix in (".py", ".jsonl", ".json"):
        head = head.removesuffix(suffix)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", head)
    base = root / f"{stamp}-{name.strip('-.')[:40] or 'jobs'}"
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    from worker_soak.progress import progress_bar
    from worker_soak.report.terminal import render_summary
    from worker_soak.session import exit_code, run_soak

    options = parsed_options(args)
    source = source_for(options, CLI, args.jobs_from)
    out = args.out if args.out is not None else default_out(source.name)
    config = run_config(
        options,
        source,
        worker=args.worker or "",
        out=out,
        door=CLI,
        runner=options.runner or "process",
    )
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    # Not beside an inline run: this process is the worker measured. Not for the longest
    # runs: resident while their samples are judged, the libraries raised the peak of a
    # 10^6-job run from 191 to 222 MB, to save 0.3 s of a post-run of 4-5 s.
    early = config.runner != "inline" and config.jobs <= EARLY_IMPORTS_MAX
    imports = EarlyImports(report=not args.no_report)
    try:
        with progress_bar(config.jobs, f"soak {config.workload}") as on_progress:
            progress = imports.after_first_job(on_progress) if early else on_progress
            result = run_soak(config, progress, policy(options), workload=source.workload)
    finally:
        imports.join()
    if not args.no_report:
        _write_report(out)
    render_summary(result, sys.stdout, str(out))
    return exit_code(result)


def _write_report(run_dir: Path) -> None:
    """The HTML report; a failure to draw it never changes the run's outcome."""
    from worker_soak.report.html import write_run_report

    try:
        write_run_report(run_dir)
    except Exception as exc:
        print(f"soak: warning: the HTML report could not be written: {exc}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from worker_soak.killed_run import judge_killed_run
    from worker_soak.report.html import write_run_report
    from worker_soak.run_record import RUN_FILE

    run_dir: Path = args.run_dir
    if not (run_dir / "result.json").is_file():
        if not (run_dir / RUN_FILE).is_file():
            raise UsageError(
                f"{str(run_dir)!r} holds no result.json and no {RUN_FILE}; expected a run "
                "directory ('soak run --out DIR' writes one)"
            )
        result = judge_killed_run(run_dir)
        print(
            f"soak: {str(run_dir)!r}: its harness was killed after {result['jobs_completed']:,} "
            "jobs; judged from the samples it left (result.json written)",
            file=sys.stderr,
        )
    print(write_run_report(run_dir))
    return EXIT_OK


def _site(args: argparse.Namespace) -> int:
    from worker_soak.report.publish import publish_runs
    from worker_soak.report.site import build_site, find_runs

    root: Path = args.root
    if not root.is_dir():
        raise UsageError(f"{str(root)!r} is not a directory; expected one holding run directories")
    runs = find_runs(root)
    if not runs:
        raise UsageError(f"no run (result.json) under {str(root)!r}; run 'soak run --out' there")
    if args.include_raw and args.out is None:
        raise UsageError("--include-raw copies run files to --out PUBLISH; give --out too")
    if args.out is None:
        print(build_site(root))
        return EXIT_OK
    publish_runs(root, args.out, [run_dir for run_dir, _ in runs], args.include_raw)
    print(build_site(args.out))
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from worker_soak.baseline import compare_dirs

    options = parsed_options(args)
    rows = compare_dirs(args.base, args.new, options.significance, options.latency_tolerance)
    print(f"{'':22}{'BASE':>28}{'NEW':>28}  change")
    for row in rows:
        flag = "  REGRESSED" if row.regressed else ""
        print(f"{row.name:22}{row.base:>28}{row.new:>28}  {row.change}{flag}")
    return EXIT_FAILED if any(row.regressed for row in rows) else EXIT_OK


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _record(args: argparse.Namespace) -> int:
    from worker_soak.queues.channel import redacted
    from worker_soak.queues.record import record_to_file

    if args.out.exists():
        raise UsageError(
            f"--out {str(args.out)!r} exists; a recording never overwrites a file: choose "
            "another path or remove it"
        )
    recorded = record_to_file(args.broker, args.queue, args.out, args.count, args.redact)
    skipped = sum(recorded.skipped.values())
    where = f"queue {args.queue!r} on {redacted(args.broker)}"
    if recorded.written == 0:
        args.out.unlink(missing_ok=True)
        why = "; ".join(f"{n} {reason}" for reason, n in recorded.skipped.items())
        raise UsageError(
            f"{where} holds no job to record ({recorded.queue_length} messages"
            f"{': ' + why if why else ''}); is the queue name right (Celery's default is "
            "'celery')?"
        )
    print(
        f"soak: recorded {recorded.written:,} jobs of {recorded.queue_length:,} pending on "
        f"{where} to {args.out} (the queue still holds them)"
    )
    for reason, n in recorded.skipped.items():
        print(f"soak: skipped {n:,}: {reason}")
    if skipped == 0 and args.redact:
        print(f"soak: redacted {', '.join(args.redact)} where present")
    return EXIT_OK


def _allocators(args: argparse.Namespace, raw: list[str]) -> int:
    from worker_soak import allocators

    options = parsed_options(args)
    source = source_for(options, CLI, args.jobs_from)
    root = args.out if args.out is not None else default_out(f"{source.name}-allocators")
    root.mkdir(parents=True, exist_ok=True)
    run_args = raw[raw.index("allocators") + 1 :]
    jemalloc = allocators.find_jemalloc()
    runs = []
    for setting in allocators.settings(jemalloc):
        print(f"soak allocators: {setting.setting} ...", flush=True)
        runs.append(allocators.run_setting(setting, run_args, root))
    if jemalloc is None:
        print(f"soak allocators: {allocators.JEMALLOC_HINT}")
    for line in allocators.table_lines(runs):
        print(f"  {line}")
    print(f"  {allocators.verdict_line(runs)}")
    if runs[0].error:
        return runs[0].exit_code or EXIT_USAGE
    allocators.write_outputs(runs, root)
    print(f"  data: {root}/allocators.json, plot: {root}/allocators.png")
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    from worker_soak.queues.serve import serve

    return serve(args)


def _workloads() -> int:
    from worker_soak.workloads.sources import available_workloads

    for workload in available_workloads():
        print(f"{workload.name:8} {workload.summary}")
        if workload.reference_worker:
            print(f"{'':8} reference worker: {workload.reference_worker}")
        for name, faulty in workload.faulty.items():
            print(f"{'':8} faulty '{name}': {faulty.spec} ({faulty.what}; fails {faulty.fails})")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    raw = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(raw)
    try:
        if args.command == "allocators":
            return _allocators(args, raw)
        commands = {
            "run": _run,
            "report": _report,
            "site": _site,
            "compare": _compare,
            "worker": _worker,
            "record": _record,
        }
        if args.command in commands:
            return commands[args.command](args)
        return _workloads()
    except HarnessError as exc:
        print(f"soak: error: {redact(str(exc), environment_secrets(os.environ))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a second Ctrl-C while the result was being written
        print("soak: interrupted", file=sys.stderr)
        return 130


def console() -> NoReturn:
    """The ``soak`` command: :func:`main`, then out without tearing the interpreter down.
    With matplotlib, NumPy and Jinja2 loaded, CPython's finalisation took ~0.12 s of every
    ``soak run`` with a report on this VM; every file the command wrote is closed by then,
    and exit handlers still run."""
    code = main()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
