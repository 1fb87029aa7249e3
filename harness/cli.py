"""The ``soak`` command. Exit codes: 0 passed, 1 a verdict failed or the worker crashed, 2 usage."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Final, NoReturn

from harness import __version__
from harness.errors import HarnessError
from harness.model import RUNNERS, RunConfig

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (what, why) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


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
        help="process: the worker in a child process (default); inline: in this one",
    )
    run.add_argument(
        "--job-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="end the worker when one job runs longer (process runner)",
    )
    run.add_argument("--seed", type=_int, default=0, metavar="S", help="workload seed (default: 0)")

    commands.add_parser("workloads", help="list the built-in workloads")
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
    )
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    with progress_bar(config.jobs, f"soak {config.workload}") as on_progress:
        result = run_soak(config, on_progress)
    render_summary(result, sys.stdout, str(out))
    return exit_code(result)


def _workloads() -> int:
    from workloads import available

    for workload in available():
        print(f"{workload.name:12} {workload.summary}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        return _workloads()
    except HarnessError as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a second Ctrl-C while the result was being written
        print("soak: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
