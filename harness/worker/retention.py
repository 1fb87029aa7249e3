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
from collections.abc import Iterator, Mapping
from typing import Final

# A GC-tracked object is allocated with its GC header (16 bytes) in front; objects with a
# managed __dict__ (3.11+) carry two more pointers before that.
_HEADER_OFFSETS: Final = (0, 16, 32)
MAX_NODES: Final = 2_000_000
MAX_SECONDS: Final = 5.0


def _edges(obj: object) -> Iterator[tuple[str, object]]:
    """Named references out of ``obj``."""
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            yield f"[{_short(key)}]", value
            yield "<key>", key
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(list(obj)):
            yield f"[{index}]", value
    elif isinstance(obj, set | frozenset):
        for value in list(obj):
            yield "<item>", value
    else:
        attributes = getattr(obj, "__dict__", None)
        if isinstance(attributes, dict):
            for name, value in list(attributes.items()):
                yield f".{name}", value
        for value in gc.get_referents(obj):
            if value is not attributes:
                yield "", value


def _short(key: object) -> str:
    text = repr(key)
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
        for edge, child in _edges(obj):
            if id(child) not in seen:
                queue.append((child, (*prefix, f"{kind}{edge}")))
    return ()
