"""The worker side stands apart: a worker process — the soak's own, its isolation check's
fresh workers — carries the harness's worker-side modules and pure values, never the
supervising side (runners, session, options, store), the reports or the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SoakCli
from worker_soak.worker.frames import is_user_file

#: What a worker process may load of ours: its own side, the pure values, analysis and
#: redaction, and (for the isolation check, which regenerates the jobs) the workloads.
ALLOWED = (
    "worker_soak.worker",
    "worker_soak.model",
    "worker_soak.errors",
    "worker_soak.redact",
    "worker_soak.analysis",
    "worker_soak.workloads",
)


def _allowed(module: str) -> bool:
    return module == "worker_soak" or any(
        module == prefix or module.startswith(f"{prefix}.") for prefix in ALLOWED
    )


def test_a_worker_process_loads_no_supervising_module(soak_cli: SoakCli, tmp_path: Path) -> None:
    """A default run (memray window, aged against fresh, isolation check): every process that
    ran a job lists only worker-side modules."""
    seen = tmp_path / "modules"
    seen.mkdir()
    run = soak_cli(
        "--worker", "tests/workers/loaded_modules.py:handle", "--jobs", "120",
        env={"SOAK_TEST_MODULES": str(seen)},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    lists = {path.stem: path.read_text().split() for path in seen.iterdir()}
    assert len(lists) >= 2, lists  # the soaked worker and at least one fresh worker
    for pid, modules in lists.items():
        assert [m for m in modules if not _allowed(m)] == [], pid


def test_worker_side_modules_import_nothing_of_the_supervising_side() -> None:
    """Read from the source: every import in harness/worker names an allowed module."""
    for path in sorted((REPO / "harness" / "worker").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            ours = [n for n in names if n.split(".")[0] == "worker_soak"]
            assert [n for n in ours if not _allowed(n)] == [], f"{path.name}: {ours}"


def test_no_module_of_the_harness_is_taken_for_the_users_code() -> None:
    """Leak sites and error lines name the user's files: none of ours, on either side."""
    ours = sorted((REPO / "harness").rglob("*.py"))
    assert len(ours) > 50
    assert [path for path in ours if is_user_file(str(path))] == []
    assert is_user_file(str(REPO / "tests" / "workers" / "loaded_modules.py"))


def test_a_worker_process_imports_the_state_watcher_only_to_snapshot_state() -> None:
    """What the isolation check's state snapshots read (decimal, logging, random: ~8 ms at
    every worker start, and objects on the heap being measured) loads only when asked for."""
    script = (
        "import sys\nimport worker_soak.worker.child\n"
        "print(sorted(m for m in ('worker_soak.worker.state', 'decimal', 'logging', 'random')"
        " if m in sys.modules))\n"
    )
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
