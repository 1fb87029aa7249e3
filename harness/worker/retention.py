"""Why is it still alive? The shortest path from a module global to a leaked object.

Runs inside the worker process, on its live heap, after the traced window: a breadth-first
walk from every module's globals through ``gc.get_referents`` (and, for readable names, dict
items, list indexes and instance attributes) until it reaches an object whose memory memray
saw allocated and never freed at the leaking line. Like LeakCanary's leak traces, the answer
reads ``billing.tasks._seen -> list[1234] -> str``.
"""

from __future__ import annotations

import gc
import sys
import time
import types
from collections import deque
from collections.abc import Mapping
from typing import Final, cast

# A GC-tracked object is allocated with its GC header (16 bytes) in front; objects with a
# managed __dict__ (3.11+) carry two more pointers before that.
_HEADER_OFFSETS: Final = (0, 16, 32)
MAX_NODES: Final = 2_000_000
MAX_SECONDS: Final = 5.0


def _edges(obj: object) -> list[tuple[str, object]]:
    """Named references out of ``obj``, found by its real type (an object may claim another
    ``__class__``: mocks and proxies do) through the built-in types' own methods, so that no
    method of the user's runs but a ``__dict__`` property's."""
    kind = type(obj)
    if issubclass(kind, dict):
        pairs = list(dict.items(cast("dict[object, object]", obj)))
        return [
            edge for key, value in pairs for edge in ((f"[{_short(key)}]", value), ("<key>", key))
        ]
    if issubclass(kind, list | tuple):
        items = list(
            list.__iter__(cast("list[object]", obj))
            if issubclass(kind, list)
            else tuple.__iter__(cast("tuple[object, ...]", obj))
        )
        return [(f"[{index}]", value) for index, value in enumerate(items)]
    if issubclass(kind, set | frozenset):
        members = (
            set.__iter__(cast("set[object]", obj))
            if issubclass(kind, set)
            else frozenset.__iter__(cast("frozenset[object]", obj))
        )
        return [("<item>", value) for value in list(members)]
    try:
        attributes = object.__getattribute__(obj, "__dict__")
    except AttributeError:  # slots only
        attributes = None
    edges: list[tuple[str, object]] = []
    if isinstance(attributes, dict):
        edges += ((f".{name}", value) for name, value in list(attributes.items()))
    edges += (("", value) for value in gc.get_referents(obj) if value is not attributes)
    return edges


#: Key types shown by their own ``repr`` (exact types: a subclass's ``repr`` is the user's
#: code, which may be slow, raise or warn); any other key by its type's name.
_SHOWN_KEYS: Final = (str, bytes, int, float, bool, type(None))


def _short(key: object, depth: int = 0) -> str:
    """A dict key as a path step shows it: ``'user'``, ``42``, ``('user', 42)``, ``<Point>``."""
    kind = type(key)
    if kind in (str, bytes):
        text = repr(key[:40])  # type: ignore[index]
    elif kind in _SHOWN_KEYS:
        try:
            text = repr(key)
        except ValueError:  # an int of more digits than CPython converts
            text = f"<{kind.__name__}>"
    elif kind is type:  # a class (not a metaclass's instance): its own name
        text = key.__qualname__  # type: ignore[attr-defined]
    elif kind is tuple and depth < 2:
        items = ", ".join(_short(item, depth + 1) for item in key[:4])  # type: ignore[index]
        text = f"({items}{', ...' if len(key) > 4 else ''}{',' if len(key) == 1 else ''})"  # type: ignore[arg-type]
    else:
        text = f"<{kind.__qualname__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def retention_path(
    addresses: set[int], roots: Mapping[str, object] | None = None
) -> tuple[str, ...]:
    """Steps from a root to the first object found at one of ``addresses``: the root's name
    (``roots`` first, e.g. the worker instance, then every module global), then each object
    on the way as ``type[edge]``, ending with the leaked object's type. Empty when no path is
    found within the node and time budget."""
    if not addresses:
        return ()
    wanted = {address + offset for address in addresses for offset in _HEADER_OFFSETS}
    seen: set[int] = {id(addresses), id(wanted)}
    queue: deque[tuple[object, tuple[str, ...]]] = deque(
        (value, (name,)) for name, value in (roots or {}).items()
    )
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType) or name.split(".")[0] == "worker_soak":
            continue
        namespace = vars(module)
        seen.update((id(module), id(namespace)))
        for attribute, value in list(namespace.items()):
            if not (attribute.startswith("__") and attribute.endswith("__")):
                queue.append((value, (f"{name}.{attribute}",)))
    deadline = time.monotonic() + MAX_SECONDS
    visited = 0
    while queue and visited < MAX_NODES:
        obj, prefix = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        visited += 1
        kind = type(obj).__qualname__
        if id(obj) in wanted:
            return (*prefix, kind)
        if visited % 4096 == 0 and time.monotonic() > deadline:
            break
        if isinstance(obj, types.ModuleType | type | types.FunctionType):
            continue  # reached through another root; code objects hold no job data
        try:
            edges = _edges(obj)
        except Exception:  # its own code raised (a proxy's __dict__): no way through it
            continue
        for edge, child in edges:
            if id(child) not in seen:
                queue.append((child, (*prefix, f"{kind}{edge}")))
    return ()
