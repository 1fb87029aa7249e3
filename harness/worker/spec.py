"""Turn a worker spec (``pkg.module:attr`` or ``path/to/file.py:attr``) into a running worker.

A worker is either a callable ``handle(job)``, or an object with ``handle(job)`` and optional
``setup()`` / ``teardown()``; a class is instantiated once per worker process. Coroutine
handlers run on one event loop kept for the worker's lifetime (a new loop per job would cost
more than most jobs).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from worker_soak.errors import SpecError

if TYPE_CHECKING:  # imported when a worker needs its event loop: 30 ms of a worker's start
    import asyncio

FORMS: Final = "'package.module:attr' or 'path/to/file.py:attr'"
Job = dict[str, Any]
Handler = Callable[[Job], object]


@dataclass(slots=True)
class Worker:
    """A loaded worker with its lifecycle hooks; ``handle`` is what the runner calls per job."""

    spec: str
    kind: str
    handle: Handler
    _setup: Callable[[], object] | None = None
    _teardown: Callable[[], object] | None = None
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    def setup(self) -> None:
        """Run the worker's ``setup()`` once, before the first job."""
        if self._setup is not None:
            self._await(self._setup())

    def teardown(self) -> None:
        """Run the worker's ``teardown()`` once, after the last job, and close its event loop."""
        try:
            if self._teardown is not None:
                self._await(self._teardown())
        finally:
            if self._loop is not None:
                self._loop.close()

    def _await(self, value: object) -> object:
        if inspect.isawaitable(value):
            return self._run(value)
        return value

    def _run(self, awaitable: Any) -> object:
        if self._loop is None:
            import asyncio

            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(awaitable)


def load_worker(spec: str) -> Worker:
    """Import the object a spec names and wrap it as a :class:`Worker`, or raise SpecError."""
    return _as_worker(spec, load_object(spec))


def load_object(spec: str) -> object:
    """Import the object a spec names (any object: a worker, a normaliser), or raise SpecError."""
    module_part, attr_path = split_spec(spec)
    module = _import(spec, module_part)
    return _resolve_attr(spec, module, attr_path)


def worker_from_object(label: str, target: object) -> Worker:
    """Wrap an object already in hand (a callable, an object or a class with ``handle``) as a
    :class:`Worker`; ``label`` names it in messages and results."""
    return _as_worker(label, target)


def describe_object(target: object) -> str:
    """``module:qualname`` of a function, class or object: how results name it."""
    owner = target if inspect.isfunction(target) or inspect.isclass(target) else type(target)
    module = getattr(owner, "__module__", None) or "?"
    qualname = getattr(owner, "__qualname__", None) or type(target).__name__
    return f"{module}:{qualname}"


def importable_spec(target: object) -> str | None:
    """A ``module:attr`` spec under which a new process importing ``module`` by name finds
    ``target`` itself; None for lambdas, closures, objects made inside a function, or
    modules that cannot be imported by name (``__main__``, files loaded by path)."""
    if inspect.isfunction(target) or inspect.isclass(target):
        module_name = target.__module__
        attr_path = target.__qualname__
    else:
        module_name = type(target).__module__
        module = sys.modules.get(module_name)
        names = [n for n, v in vars(module).items() if v is target] if module else []
        if not names:
            # A decorated object names the module it was defined in: itself, or through
            # the function it wraps (a Celery task, or the lazy proxy @app.task returns).
            for inner in (
                target,
                getattr(target, "run", None),
                getattr(target, "__wrapped__", None),
            ):
                own = getattr(inner, "__module__", None)
                module = sys.modules.get(own) if isinstance(own, str) else None
                names = [n for n, v in vars(module).items() if v is target] if module else []
                if names:
                    module_name = str(own)
                    break
        if not names:
            return None
        attr_path = names[0]
    module = sys.modules.get(module_name)
    if module is None or module_name == "__main__" or "<" in attr_path:
        return None
    if not _findable(module_name, getattr(module, "__file__", None)):
        return None
    resolved: object = module
    for part in attr_path.split("."):
        resolved = getattr(resolved, part, None)
    return f"{module_name}:{attr_path}" if resolved is target else None


def _findable(module_name: str, file: str | None) -> bool:
    """Would a fresh import of ``module_name`` (with this sys.path) load ``file``? Asks the
    import system's finders directly: ``importlib.util.find_spec`` would answer from
    ``sys.modules``, which a test runner may fill under names no import can find."""
    parent = module_name.rpartition(".")[0]
    path = getattr(sys.modules.get(parent), "__path__", None) if parent else None
    if file is None or (parent and path is None):
        return False
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            found = find_spec(module_name, path)
        except Exception:  # a third-party finder that cannot answer: ask the next one
            continue
        if found is not None:
            return bool(found.origin == file)
    return False


def split_spec(spec: str) -> tuple[str, str]:
    """Split ``left:attr`` at the last colon; the left side is a module or a ``.py`` path."""
    module_part, sep, attr_path = spec.rpartition(":")
    if not sep or not module_part or not attr_path:
        raise SpecError(spec, f"expected the form {FORMS}; add ':' and the name of the handler")
    if not all(part.isidentifier() for part in attr_path.split(".")):
        raise SpecError(
            spec, f"{attr_path!r} is not a Python attribute name; expected the form {FORMS}"
        )
    return module_part, attr_path


def _import(spec: str, module_part: str) -> ModuleType:
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        return _import_file(spec, Path(module_part))
    if not all(part.isidentifier() for part in module_part.split(".")):
        raise SpecError(spec, f"{module_part!r} is neither a module name nor a path to a .py file")
    # Like `python -m`, names resolve against the current directory first.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_part.startswith(exc.name):
            raise SpecError(
                spec,
                f"no module named {exc.name!r}; expected an importable module "
                "(install the package, or run from the directory that contains it)",
            ) from None
        raise _import_failed(spec, module_part, exc) from None
    except SyntaxError as exc:
        raise _syntax_error(spec, exc) from None
    except Exception as exc:
        raise _import_failed(spec, module_part, exc) from None


def _import_file(spec: str, path: Path) -> ModuleType:
    if path.suffix != ".py":
        raise SpecError(spec, f"{str(path)!r} does not end in '.py'; expected the form {FORMS}")
    if not path.is_file():
        raise SpecError(spec, f"no file {str(path)!r} (looked from {Path.cwd()})")
    path = path.resolve()
    # The file's own name, as its siblings would import it, unless that name is taken.
    name = path.stem if path.stem.isidentifier() else f"soak_worker_{abs(hash(path))}"
    existing = sys.modules.get(name)
    if existing is not None:
        if getattr(existing, "__file__", None) == str(path):
            return existing
        name = f"soak_worker_{name}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise SpecError(spec, f"Python cannot load {str(path)!r} as a module")
    module = importlib.util.module_from_spec(module_spec)
    # The worker's own siblings must import as they would when it runs as a script.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise _syntax_error(spec, exc) from None
    except Exception as exc:
        del sys.modules[name]
        raise _import_failed(spec, str(path), exc) from None
    return module


def _syntax_error(spec: str, exc: SyntaxError) -> SpecError:
    where = f"{exc.filename}:{exc.lineno}" if exc.filename else f"line {exc.lineno}"
    return SpecError(spec, f"syntax error at {where}: {exc.msg}; fix the file and run again")


def _import_failed(spec: str, what: str, exc: BaseException) -> SpecError:
    return SpecError(
        spec,
        f"importing {what!r} raised {type(exc).__name__}: {exc}; "
        "the module must import cleanly on its own",
    )


def _resolve_attr(spec: str, module: ModuleType, attr_path: str) -> object:
    target: object = module
    for depth, part in enumerate(attr_path.split(".")):
        try:
            target = getattr(target, part)
        except AttributeError:
            owner = ".".join([spec.rpartition(":")[0], *attr_path.split(".")[:depth]])
            names = sorted(
                name
                for name in dir(target)
                if not name.startswith("_") and _is_candidate(getattr(target, name, None))
            )
            hint = f"; it has: {', '.join(names[:12])}" if names else ""
            raise SpecError(spec, f"{owner!r} has no attribute {part!r}{hint}") from None
    return target


def _is_candidate(value: object) -> bool:
    """Could this be a worker? (for the hint listing what a module does have)."""
    return callable(value) and not (inspect.isclass(value) and value.__module__ == "typing")


def _as_worker(spec: str, target: object) -> Worker:
    handle = getattr(target, "handle", None)
    if handle is not None and callable(handle):
        if inspect.isclass(target):
            try:
                instance = target()
            except Exception as exc:
                raise SpecError(
                    spec,
                    f"instantiating {target.__name__}() raised {type(exc).__name__}: {exc}; "
                    "a worker class must be constructible with no arguments",
                ) from None
            return _object_worker(spec, "class", instance)
        return _object_worker(spec, "object", target)
    if callable(target) and not inspect.isclass(target):
        return _make(spec, "callable", target, None, None)
    kind = "a class without a handle() method" if inspect.isclass(target) else type(target).__name__
    raise SpecError(
        spec,
        f"names {kind}; expected a callable handle(job) or an object/class with a "
        "handle(job) method",
    )


def _object_worker(spec: str, kind: str, instance: Any) -> Worker:
    setup = getattr(instance, "setup", None)
    teardown = getattr(instance, "teardown", None)
    return _make(
        spec,
        kind,
        instance.handle,
        setup if callable(setup) else None,
        teardown if callable(teardown) else None,
    )


def _make(
    spec: str,
    kind: str,
    handle: Any,
    setup: Callable[[], object] | None,
    teardown: Callable[[], object] | None,
) -> Worker:
    worker = Worker(spec, kind, handle, setup, teardown)
    if inspect.iscoroutinefunction(handle):

        def run_coroutine(job: Job) -> object:
            coroutine: Coroutine[Any, Any, object] = handle(job)
            return worker._run(coroutine)

        worker.handle = run_coroutine
    return worker
