"""Process-global state a job could leave behind for the next one, as a flat snapshot taken
in the worker process: ``{"what[where]": fingerprint}``. Two snapshots differ exactly where
state changed in between (see ``analysis.isolation.diff_states``).

Watched: the worker's own modules' globals (new names, rebound names, grown containers),
``os.environ``, the working directory, ``sys.path``, how many modules are imported, logging
levels and handlers, warnings filters, signal handlers, the default socket timeout, the
``decimal`` context, the locale, and whether the ``random`` module was reseeded. A snapshot
costs ~100 us, so it is taken after a ladder of jobs, not after each one.

Environment variables are kept by name and a salted hash of their value (the salt is this
process's own, drawn at import and never written): two snapshots still tell a changed value
apart, and no value — a token, a password in a DSN — reaches a file. Other texts pass
through ``worker_soak.redact``.
"""

from __future__ import annotations

import contextlib
import decimal
import hashlib
import locale
import logging
import os
import random
import signal
import socket
import sys
import warnings
from collections.abc import Sized
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Final

from worker_soak.redact import environment_secrets, redact

#: Fingerprint kinds that are process-level state (not a module's own globals).
SIGNALS: Final = ("SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGPIPE")
MAX_VALUE_CHARS: Final = 120
_SALT: Final = os.urandom(16)
_SECRETS: Final = environment_secrets(os.environ)


def worker_module(worker: object) -> str:
    """The name of the module that defines the worker's handler."""
    handle = getattr(worker, "handle", worker)
    function = getattr(handle, "__func__", handle)
    return str(getattr(function, "__module__", "") or "")


def own_modules(worker_module: str) -> list[ModuleType]:
    """The worker's module and every imported module from the same source tree (its top
    package's directory, or the file's directory), outside site-packages and the standard
    library: where the user's own globals live."""
    module = sys.modules.get(worker_module)
    file = getattr(module, "__file__", None)
    if module is None or file is None:
        return []
    top = sys.modules.get(worker_module.partition(".")[0])
    top_file = getattr(top, "__file__", None) or file
    root = Path(top_file).resolve().parent
    own = []
    for candidate in list(sys.modules.values()):
        path = getattr(candidate, "__file__", None)
        if not path or "site-packages" in path or path.startswith(sys.base_prefix):
            continue
        resolved = Path(path).resolve()
        if resolved.is_relative_to(root) and candidate.__name__.split(".")[0] != "worker_soak":
            own.append(candidate)
    return own


def _short(value: object) -> str:
    text = redact(str(value), _SECRETS)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."


def env_fingerprint(value: str) -> str:
    """An environment value as a snapshot keeps it: its salted hash, never the value."""
    digest = hashlib.blake2b(value.encode(errors="surrogateescape"), key=_SALT, digest_size=6)
    return f"set (value hash {digest.hexdigest()})"


def _global_fingerprint(value: object) -> str | None:
    """How a module global looks: its identity, and its size when it is a container.
    Functions, classes and modules are left out (they do not change per job)."""
    if isinstance(value, ModuleType | FunctionType | type):
        return None
    if isinstance(value, str | int | float | bool | bytes | type(None)):
        try:
            shown = repr(value)
        except ValueError:  # an int of more digits than CPython converts to text
            shown = f"of {value.bit_length()} bits" if isinstance(value, int) else "?"
        return f"{type(value).__name__} {_short(shown)}"
    size = ""
    if isinstance(value, Sized):
        # A proxy claims a length it may not have (Celery's task proxies raise TypeError).
        with contextlib.suppress(Exception):
            size = f" len={len(value)}"
    return f"{type(value).__name__} id={id(value):#x}{size}"


def _handler_name(handler: object) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


class StateWatcher:
    """Takes snapshots of the watched state; remembers random-module states to spot a
    reseed (the same state twice, non-consecutively, happens only by seeding)."""

    def __init__(self, modules: list[ModuleType]) -> None:
        self._modules = modules
        self._random_states: set[int] = set()
        self._last_random: int | None = None
        self.reseeded_at: list[int] = []

    def snapshot(self, job_index: int) -> dict[str, str]:
        state: dict[str, str] = {}
        for module in self._modules:
            for name, value in list(vars(module).items()):
                if name.startswith("__"):
                    continue
                shown = _global_fingerprint(value)
                if shown is not None:
                    state[f"global {module.__name__}.{name}"] = shown
        for name, value in os.environ.items():
            state[f"os.environ[{name!r}]"] = env_fingerprint(value)
        state["cwd"] = os.getcwd()
        state["sys.path"] = f"{len(sys.path)} entries: {_short(sys.path)}"
        state["sys.modules"] = f"{len(sys.modules)} modules"
        loggers = [("root", logging.getLogger())]
        loggers += [
            (name, logger)
            for name, logger in list(logging.Logger.manager.loggerDict.items())
            if isinstance(logger, logging.Logger)
        ]
        for name, logger in loggers:
            state[f"logging[{name!r}]"] = (
                f"level {logger.level}, {len(logger.handlers)} handlers, "
                f"propagate {logger.propagate}, disabled {logger.disabled}"
            )
        state["logging.disable"] = str(logging.root.manager.disable)
        state["warnings.filters"] = f"{len(warnings.filters)} filters"
        for name in SIGNALS:
            number = getattr(signal, name, None)
            if number is not None:
                state[f"signal {name}"] = _handler_name(signal.getsignal(number))
        state["socket.getdefaulttimeout()"] = str(socket.getdefaulttimeout())
        context = decimal.getcontext()
        state["decimal context"] = (
            f"prec {context.prec}, rounding {context.rounding}, Emax {context.Emax}, "
            f"traps {sorted(t.__name__ for t, on in context.traps.items() if on)}"
        )
        state["locale"] = _short(locale.setlocale(locale.LC_ALL))
        self._watch_random(job_index)
        state["random reseeded"] = str(len(self.reseeded_at))
        return state

    def _watch_random(self, job_index: int) -> None:
        current = hash(random.getstate())
        if current != self._last_random and current in self._random_states:
            self.reseeded_at.append(job_index)
        self._random_states.add(current)
        self._last_random = current
