"""A queue worker with the harness's hooks in it: ``soak worker`` and ``python -m
harness.queues.serve``. The harness starts one beside itself; on other machines, start it by
hand (same spec, same broker URL, same queue) and run the harness with ``--no-start-worker``.

Celery: one real Celery worker (prefork pool, its own recycling of children). RQ: RQ has no
pool; this process keeps ``--concurrency`` RQ worker processes running and starts a new one
when one stops after ``--max-tasks-per-child`` jobs, as a process supervisor would.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Final

from harness.errors import UsageError
from harness.model import QUEUE_RUNNERS, QueueConfig
from harness.queues.channel import check_broker

DEFAULT_BROKER: Final = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE: Final = "soak"
RUNNERS: Final = ("celery", "rq")
_RESTART_PAUSE_S: Final = 0.01


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """The options of a queue's worker, shared by ``soak worker`` and ``soak run``."""
    group = parser.add_argument_group("job queues (--runner celery / rq)")
    group.add_argument(
        "--broker",
        default=None,
        help=f"broker URL: redis://... or amqp://... (default {DEFAULT_BROKER})",
    )
    group.add_argument(
        "--queue",
        default=None,
        help="queue the soak's tasks go on (default: one of the run's own, or 'soak' with "
        "--no-start-worker)",
    )
    group.add_argument("--concurrency", type=int, default=None, help="worker processes (default 1)")
    group.add_argument(
        "--max-tasks-per-child",
        type=int,
        default=None,
        help="recycle a worker process after N tasks (Celery worker_max_tasks_per_child, "
        "RQ --max-jobs)",
    )
    group.add_argument(
        "--max-memory-per-child",
        type=int,
        default=None,
        metavar="KIB",
        help="Celery worker_max_memory_per_child, in KiB as Celery takes it",
    )
    group.add_argument(
        "--rq-worker",
        choices=("fork", "simple"),
        default="simple",
        help="RQ's forking Worker (a process per job) or SimpleWorker (default)",
    )


def queue_config(args: argparse.Namespace) -> QueueConfig | None:
    """The queue options of ``soak run``; None for the other runners (which refuse them)."""
    given = {
        "--broker": args.broker,
        "--queue": args.queue,
        "--concurrency": args.concurrency,
        "--max-tasks-per-child": args.max_tasks_per_child,
        "--max-memory-per-child": args.max_memory_per_child,
        "--no-start-worker": args.no_start_worker,
    }
    if args.runner not in QUEUE_RUNNERS:
        flags = [flag for flag, value in given.items() if value]
        if flags:
            raise UsageError(
                f"{flags[0]} is an option of a job queue; expected --runner celery or "
                f"--runner rq with it (the runner is {args.runner!r})"
            )
        return None
    try:
        return QueueConfig(
            broker=args.broker or DEFAULT_BROKER,
            queue=args.queue,
            start_worker=not args.no_start_worker,
            concurrency=1 if args.concurrency is None else args.concurrency,
            max_tasks_per_child=args.max_tasks_per_child,
            max_memory_per_child_kib=args.max_memory_per_child,
            rq_worker=args.rq_worker,
        )
    except ValueError as exc:
        raise UsageError(f"{exc}; check the queue options") from None


def worker_command(
    runner: str,
    spec: str,
    broker: str,
    queue: str,
    concurrency: int,
    max_tasks_per_child: int | None,
    max_memory_per_child: int | None,
    rq_worker: str,
) -> list[str]:
    """The command line that starts a worker like the one ``serve`` runs."""
    command = [
        sys.executable, "-m", "harness.queues.serve", "--runner", runner,
        "--worker", spec, "--broker", broker, "--queue", queue,
        "--concurrency", str(concurrency), "--rq-worker", rq_worker,
    ]  # fmt: skip
    if max_tasks_per_child is not None:
        command += ["--max-tasks-per-child", str(max_tasks_per_child)]
    if max_memory_per_child is not None:
        command += ["--max-memory-per-child", str(max_memory_per_child)]
    return command


def serve(args: argparse.Namespace) -> int:
    """Run the worker ``args`` describe until SIGTERM/SIGINT; UsageError for bad input."""
    broker: str = args.broker or DEFAULT_BROKER
    queue: str = args.queue or DEFAULT_QUEUE
    concurrency: int = args.concurrency or 1
    if concurrency < 1:
        raise UsageError(f"--concurrency {concurrency}: expected a whole number >= 1")
    check_broker(broker)
    node = f"soak-{os.getpid()}@{socket.gethostname()}"
    if args.runner == "celery":
        from harness.queues.celery_app import load_target
        from harness.queues.celery_app import serve as serve_celery

        target = load_target(args.worker, broker)
        serve_celery(
            target, queue, concurrency, args.max_tasks_per_child, args.max_memory_per_child, node
        )
        return 0
    from harness.queues.rq_app import function_path

    function_path(args.worker)  # a spec RQ cannot import fails here, once
    if args.one:
        from harness.queues.rq_app import serve as serve_rq

        serve_rq(broker, queue, args.rq_worker, args.max_tasks_per_child, node)
        return 0
    return _supervise_rq(args, broker, queue, concurrency)


def _supervise_rq(args: argparse.Namespace, broker: str, queue: str, concurrency: int) -> int:
    """Keep ``concurrency`` RQ worker processes alive; each restarts when it stops."""
    one = [*worker_command(
        "rq", args.worker, broker, queue, 1, args.max_tasks_per_child, None, args.rq_worker
    ), "--one"]  # fmt: skip
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers = [subprocess.Popen(one) for _ in range(concurrency)]
    while not stopping:
        for slot, worker in enumerate(workers):
            if worker.poll() is not None and not stopping:
                time.sleep(_RESTART_PAUSE_S)
                workers[slot] = subprocess.Popen(one)
        time.sleep(0.005)
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait()
    return 0


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--runner", choices=RUNNERS, required=True)
    parser.add_argument("--worker", required=True, help="the task: package.module:task")
    add_worker_options(parser)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argparse.ArgumentParser(prog="harness.queues.serve")).parse_args(argv)
    try:
        return serve(args)
    except UsageError as exc:
        print(f"soak worker: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
