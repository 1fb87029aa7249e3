"""The zoo at the job counts CI affords (100, 300, 1,000), and repeated runs of the clean
workers: the accuracy tables of ``docs/accuracy.md``.

``python -m tests.zoo.ci_sizes --jobs 100 --jobs 300 --jobs 1000 --repeats 6 --out
docs/accuracy.md`` runs every zoo worker through ``soak run`` at each size, one at a time,
and scores them against the bars the memory verdict promises:

- 300 jobs: every leak of >= 1 Python object/job or >= 256 B/job fails the soak; no clean
  worker fails; >= 70 % of clean workers pass memory.
- 100 jobs: no leak of >= 200 B/job passes memory.
- 1,000 jobs: every leak fails; no clean worker fails; >= 90 % of them pass memory.
- Repeated runs of every clean worker at 300 jobs: false alarms <= 1 %.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.zoo.accuracy import CASES, Case, Outcome, run_case


@dataclass(frozen=True)
class Bar:
    """What one outcome had to show, and whether it did."""

    outcome: Outcome
    must: str  # "fail", "not pass", "not fail" or "" (no bar at this size)

    @property
    def met(self) -> bool:
        verdicts = self.outcome.verdicts
        failed = any(v == "fail" for v in verdicts.values())
        if self.must == "fail":
            return failed
        if self.must == "not pass":
            return verdicts["memory"] != "pass"
        if self.must == "not fail":
            return not self.outcome.false_alarms
        return True


def bar(case: Case, jobs: int) -> str:
    """The bar a case must meet at ``jobs``."""
    if case.must_fail is None:
        return "not fail"
    if jobs >= 1_000:
        return "fail"
    if jobs >= 300 and (case.objects_per_job >= 1 or case.bytes_per_job >= 256):
        return "fail"
    if jobs >= 100 and case.bytes_per_job >= 200:
        return "not pass"
    return ""


def run_all(cases: Iterable[Case], jobs: int, scratch: Path, seed: int = 0) -> list[Outcome]:
    """Every case at ``jobs``, one at a time (two at a time on two cores made the latency
    verdict of clean workers fail: the machine's noise, not theirs)."""

    def one(case: Case) -> Outcome:
        out = scratch / f"{case.name}-{jobs}-{seed}"
        return run_case(case, out, jobs, ("--no-report", "--seed", str(seed)))

    with ThreadPoolExecutor(max_workers=1) as pool:
        return list(pool.map(one, cases))


def size_table(jobs: int, outcomes: list[Outcome]) -> str:
    """One size's table and its summary line, in Markdown."""
    bars = [Bar(o, bar(o.case, jobs)) for o in outcomes]
    rows = [
        f"### {jobs:,} jobs",
        "",
        "| worker | kind | bar | failed_jobs | memory | resources | latency | met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for b in bars:
        o = b.outcome
        kind = "clean" if o.case.must_fail is None else f"leak ({o.case.must_fail})"
        if o.case.declared and jobs < o.case.declared_below:
            kind += f", declared `{o.case.declared}`"
        rows.append(
            f"| {o.case.name} | {kind} | {b.must or '-'} | {o.verdicts.get('failed_jobs', '-')} "
            f"| {o.verdicts['memory']} | {o.verdicts['resources']} | {o.verdicts['latency']} "
            f"| {'yes' if b.met else '**no**'} |"
        )
    leaks = [b for b in bars if b.outcome.case.must_fail is not None and b.must]
    clean = [b for b in bars if b.outcome.case.must_fail is None]
    passed = sum(b.outcome.verdicts["memory"] == "pass" for b in clean)
    rows += [
        "",
        f"{jobs:,} jobs: leaks meeting their bar {sum(b.met for b in leaks)} of {len(leaks)}; "
        f"clean workers failed {sum(not b.met for b in clean)} of {len(clean)}; clean "
        f"workers passing memory {passed} of {len(clean)} ({passed / max(1, len(clean)):.0%}).",
        "",
    ]
    return "\n".join(rows)


def repeats_table(jobs: int, runs: list[Outcome]) -> str:
    """False alarms over repeated runs of the clean workers."""
    alarms = [o for o in runs if o.false_alarms]
    passed = sum(o.verdicts["memory"] == "pass" for o in runs)
    lines = [
        f"### Clean workers, {len(runs)} runs of {jobs:,} jobs",
        "",
        f"False alarms: {len(alarms)} of {len(runs)} runs ({len(alarms) / max(1, len(runs)):.1%});"
        f" memory passed in {passed} of {len(runs)} ({passed / max(1, len(runs)):.0%}).",
    ]
    lines += [f"- {o.case.name}: {', '.join(o.false_alarms)} - {o.summary}" for o in alarms]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.zoo.ci_sizes")
    parser.add_argument("--jobs", type=int, action="append", help="sizes (default 100, 300)")
    parser.add_argument("--repeats", type=int, default=0, help="seeds per clean worker")
    parser.add_argument("--out", type=Path, help="write the Markdown here too")
    args = parser.parse_args(argv)
    sizes = args.jobs or [100, 300]
    parts = []
    with tempfile.TemporaryDirectory() as scratch:
        for jobs in sizes:
            parts.append(size_table(jobs, run_all(CASES, jobs, Path(scratch))))
            print(parts[-1], flush=True)
        if args.repeats:
            clean = [c for c in CASES if c.must_fail is None]
            runs = [
                o
                for seed in range(1, args.repeats + 1)
                for o in run_all(clean, 300, Path(scratch), seed)
            ]
            parts.append(repeats_table(300, runs))
            print(parts[-1], flush=True)
    if args.out is not None:
        args.out.write_text("\n".join(parts), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
