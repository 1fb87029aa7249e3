"""Which Python runs worker processes: ``--python``, passed down in the environment, else the
harness's own."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Final

#: The interpreter worker processes run (``--python``), when not the harness's own.
WORKER_PYTHON_ENV: Final = "SOAK_WORKER_PYTHON"


def worker_python() -> str:
    """The Python that runs worker processes: ``--python``, else the harness's own. The
    worker side imports only the standard library, so any CPython >= 3.11 runs it; the
    verdicts then speak of that interpreter's allocator."""
    return os.environ.get(WORKER_PYTHON_ENV) or sys.executable


#: Imports the package from where the supervising side found it, whatever the worker's Python
#: (``--python`` may be another interpreter, without this package installed), then runs the
#: named module as ``__main__``: the two import names map to their folders, nothing else moves.
_BOOTSTRAP: Final = """\
import importlib.util, json, runpy, sys
roots = json.loads(sys.argv[1])
class _Roots:
    @staticmethod
    def find_spec(name, path=None, target=None):
        where = roots.get(name)
        if where is None:
            return None
        return importlib.util.spec_from_file_location(
            name, where + "/__init__.py", submodule_search_locations=[where])
sys.meta_path.insert(0, _Roots)
module = sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def module_command(module: str) -> list[str]:
    """The command that runs ``python -m module`` of this package in a worker process."""
    import importlib.util

    here = Path(__file__).resolve().parents[1]
    found = importlib.util.find_spec("worker_soak.workloads")
    locations = list(found.submodule_search_locations or ()) if found else []
    roots = {"worker_soak": str(here)}
    if locations:
        roots["worker_soak.workloads"] = str(Path(locations[0]).resolve())
    return [worker_python(), "-c", _BOOTSTRAP, json.dumps(roots), module]
