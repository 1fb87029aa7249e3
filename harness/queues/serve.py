"""A queue worker with the harness's hooks in it: ``soak worker`` and ``python -m
worker_soak.queues.serve``. The harness starts one beside itself; on other machines, start it by
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

from worker_soak.errors import UsageError
from worker_soak.model import DEFAULT_BROKER
from worker_soak.options.arguments import add_options
from worker_soak.queues.channel import check_broker

DEFAULT_QUEUE: Final = "soak"
RUNNERS: Final = ("celery", "rq")
_RESTART_PAUSE_S: Final = 0.01


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
        sys.executable, "-m", "worker_soak.queues.serve", "--runner", runner,
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
    rq_worker: str = args.rq_worker or "simple"
    check_broker(broker)
    node = f"soak-{os.getpid()}@{socket.gethostname()}"
    if args.runner == "celery":
        from worker_soak.queues.celery_app import load_target
        from worker_soak.queues.celery_app import serve as serve_celery

        target = load_target(args.worker, broker)
        serve_celery(
            target, queue, concurrency, args.max_tasks_per_child, args.max_memory_per_child, node
        )
        return 0
    from worker_soak.queues.rq_app import function_path

    function_path(args.worker)  # a spec RQ cannot import fails here, once
    if args.one:
        from worker_soak.queues.rq_app import serve as serve_rq

        serve_rq(broker, queue, rq_worker, args.max_tasks_per_child, node)
        return 0
    return _supervise_rq(args, broker, queue, concurrency, rq_worker)


def _supervise_rq(
    args: argparse.Namespace, broker: str, queue: str, concurrency: int, rq_worker: str
) -> int:
    """Keep ``concurrency`` RQ worker processes alive; each restarts when it stops."""
    one = [*worker_command(
        "rq", args.worker, broker, queue, 1, args.max_tasks_per_child, None, rq_worker
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
    add_options(parser, worker_side=True)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argparse.ArgumentParser(prog="worker_soak.queues.serve")).parse_args(argv)
    try:
        return serve(args)
    except UsageError as exc:
        print(f"soak worker: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
