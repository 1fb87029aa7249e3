"""Loading workers from specs, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import WORKERS
from worker_soak.errors import SpecError
from worker_soak.worker.spec import describe_object, importable_spec, load_worker, split_spec


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_function_in_a_file(tmp_path: Path) -> None:
    """path/to/file.py:attr loads a plain function."""
    spec = _write(tmp_path / "tasks.py", "def handle(job):\n    return job['id'] + 1\n")
    worker = load_worker(f"{spec}:handle")
    assert worker.kind == "callable"
    assert worker.handle({"id": 1}) == 2


def test_module_spec() -> None:
    """package.module:attr loads from an importable module."""
    worker = load_worker("worker_soak.workloads.counter:handle")
    assert worker.handle({"id": 21}) == 42


def test_class_is_instantiated_once_with_lifecycle(tmp_path: Path) -> None:
    """A class with handle() becomes one instance; setup/teardown are its methods."""
    spec = _write(
        tmp_path / "w.py",
        (
            "class W:\n"
            "    instances = 0\n"
            "    def __init__(self):\n        W.instances += 1; self.log = []\n"
            "    def setup(self):\n        self.log.append('setup')\n"
            "    def handle(self, job):\n        self.log.append(job['id'])\n"
            "    def teardown(self):\n        self.log.append('teardown')\n"
        ),
    )
    worker = load_worker(f"{spec}:W")
    worker.setup()
    worker.handle({"id": 1})
    worker.teardown()
    instance = worker.handle.__self__  # type: ignore[attr-defined]
    assert worker.kind == "class"
    assert instance.log == ["setup", 1, "teardown"]
    assert type(instance).instances == 1


def test_object_with_handle(tmp_path: Path) -> None:
    """A module-level object with handle() is used as it is."""
    spec = _write(
        tmp_path / "o.py",
        ("class _W:\n    def handle(self, job):\n        return 'ok'\nworker = _W()\n"),
    )
    worker = load_worker(f"{spec}:worker")
    assert worker.kind == "object"
    assert worker.handle({}) == "ok"


def test_dotted_attribute(tmp_path: Path) -> None:
    """attr may be a dotted path, e.g. a static method of a class."""
    spec = _write(
        tmp_path / "d.py",
        ("class Tasks:\n    @staticmethod\n    def send(job):\n        return 'sent'\n"),
    )
    assert load_worker(f"{spec}:Tasks.send").handle({}) == "sent"


def test_coroutine_handler_and_async_lifecycle(tmp_path: Path) -> None:
    """async handle/setup/teardown run on one loop kept for the worker's life."""
    spec = _write(
        tmp_path / "a.py",
        (
            "import asyncio\n"
            "class W:\n"
            "    async def setup(self):\n        self.loop = asyncio.get_running_loop()\n"
            "    async def handle(self, job):\n"
            "        return asyncio.get_running_loop() is self.loop\n"
            "    async def teardown(self):\n        pass\n"
        ),
    )
    worker = load_worker(f"{spec}:W")
    worker.setup()
    assert worker.handle({}) is True
    assert worker.handle({}) is True
    worker.teardown()


def test_sibling_imports_work_for_a_file_worker(tmp_path: Path) -> None:
    """A worker file can import modules next to it, as when run as a script."""
    (tmp_path / "helpers_for_soak_test.py").write_text("VALUE = 7\n")
    spec = _write(
        tmp_path / "w2.py",
        ("from helpers_for_soak_test import VALUE\ndef handle(job):\n    return VALUE\n"),
    )
    assert load_worker(f"{spec}:handle").handle({}) == 7


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("handle", "expected the form"),
        (":handle", "expected the form"),
        ("pkg.mod:", "expected the form"),
        ("pkg.mod:a-b", "is not a Python attribute name"),
        ("pkg mod:handle", "is neither a module name nor a path"),
        ("tests/workers/faulty.txt:handle", "does not end in '.py'"),
    ],
)
def test_malformed_specs(spec: str, message: str) -> None:
    """Malformed specs are refused before anything is imported."""
    with pytest.raises(SpecError, match=message) as caught:
        load_worker(spec)
    assert caught.value.spec == spec
    assert str(caught.value).startswith(f"worker spec {spec!r}: ")


def test_module_whose_own_import_fails_is_not_called_missing() -> None:
    """A module that exists but imports a missing package names that package."""
    with pytest.raises(SpecError, match="raised ModuleNotFoundError: No module named 'a_module"):
        load_worker(f"{WORKERS / 'broken_import.py'}:handle")


def test_class_needing_arguments(tmp_path: Path) -> None:
    """A worker class whose constructor needs arguments is a spec error saying so."""
    spec = _write(
        tmp_path / "c.py",
        (
            "class W:\n    def __init__(self, dsn):\n        pass\n"
            "    def handle(self, job):\n        pass\n"
        ),
    )
    with pytest.raises(SpecError, match="constructible with no arguments"):
        load_worker(f"{spec}:W")


def test_class_without_handle(tmp_path: Path) -> None:
    """A class is only a worker if it has handle()."""
    spec = _write(tmp_path / "n.py", "class W:\n    pass\n")
    with pytest.raises(SpecError, match="a class without a handle"):
        load_worker(f"{spec}:W")


def test_split_spec_uses_the_last_colon() -> None:
    """Windows-style drive letters keep their colon in the module part."""
    assert split_spec("C:/work/tasks.py:handle") == ("C:/work/tasks.py", "handle")


class _ModuleLevelWorker:
    def handle(self, job: dict[str, object]) -> object:
        return job


MODULE_LEVEL_INSTANCE = _ModuleLevelWorker()


def test_importable_spec_names_module_level_workers() -> None:
    """Functions, classes and objects bound at module level get the spec a new process
    imports them by; ``load_worker`` on it finds the very same object."""
    import worker_soak.workloads.counter

    assert (
        importable_spec(worker_soak.workloads.counter.handle)
        == "worker_soak.workloads.counter:handle"
    )
    assert importable_spec(_ModuleLevelWorker) == f"{__name__}:_ModuleLevelWorker"
    spec = importable_spec(MODULE_LEVEL_INSTANCE)
    assert spec == f"{__name__}:MODULE_LEVEL_INSTANCE"
    assert load_worker(spec).handle.__self__ is MODULE_LEVEL_INSTANCE  # type: ignore[attr-defined]


def test_importable_spec_refuses_what_no_new_process_can_import() -> None:
    """Lambdas, closures and objects made in a function have no importable name."""

    def closure(job: dict[str, object]) -> object:
        return job

    assert importable_spec(lambda job: job) is None
    assert importable_spec(closure) is None
    assert importable_spec(_ModuleLevelWorker()) is None
    assert describe_object(closure).endswith("closure")
