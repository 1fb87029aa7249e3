"""What a worker's heap holds after a full collection: its exact size, the caches in it and
how full they are, and the object types that grew since the last look.

Runs inside the measured process, a few times per run (the memory verdict's rounds), never
per job. After ``gc.collect()`` CPython's block count has no noise on a warm clean worker,
so deltas between two looks are exact; the census says whether a delta sits in a cache that
is bounded by construction (``lru_cache(maxsize=N)``, ``deque(maxlen=N)``, ``re``'s pattern
cache, cachetools- and Jinja2-style LRU caches) or in one that is not
(``lru_cache(maxsize=None)``, ``functools.cache``, ``linecache``, logging's logger registry).

Cost, measured on CPython 3.11 (median of 5): the collection and the census together take
6 ms with 12,000 tracked objects (the census 3.7 ms), 34 ms with 112,000 (15 ms), 58 ms with
312,000 (40 ms, a big Celery child); ~10 per run. A 300-job soak of a 1-ms job without the
report took 2.45-2.66 s against 2.26-2.38 s before the census (three alternating runs).

Everything is measured *before* the census allocates, and everything the census makes is
freed before the next look except the previous type counts (replaced, same size).
"""

from __future__ import annotations

import collections
import functools
import gc
import itertools
import json
import sys
import types
from collections.abc import Iterable
from typing import Any, Final

from worker_soak.worker.probes import native_heap_in_use

#: Classes known to be bounded caches by their size attribute (``capacity``, ``maxlen``).
_BOUNDED_BY_NAME: Final = frozenset({"LRUCache", "LimitedSet"})
#: Caches listed by name in a census line (the sums cover all of them).
MAX_CACHES: Final = 24
#: Object types listed as grown since the last look.
MAX_TYPES: Final = 8
_LRU_WRAPPER: Final = type(functools.lru_cache(maxsize=1)(len))

#: Caches the user declared bounded (``--bounded-cache module:attr``), comma-separated.
DECLARED_ENV: Final = "SOAK_BOUNDED_CACHES"

_previous_types: dict[str, int] = {}


def collected_heap() -> str:
    """Run a full garbage collection, measure the heap (its floor), then take the census.

    Cyclic garbage that survived into the oldest generation waits for a full collection,
    which CPython runs only when that generation grew by a quarter: thousands of jobs apart
    in a big worker (seen here: one in 3,000 fpdf2 invoices, with 1.4 blocks/job of garbage
    in between). Measured after ``gc.collect()``, the heap is what the worker really keeps.
    """
    _clear_method_cache()
    gc.collect()
    blocks = sys.getallocatedblocks()
    native = native_heap_in_use()
    fields = f',"py_blocks_collected":{blocks}'
    if native is not None:
        fields += f',"native_heap_collected_bytes":{native}'
    return fields + census_fields()


def _clear_method_cache() -> None:
    """Empty CPython's type attribute cache, so the count after the collection is exact.

    The cache (4,096 slots, 3.11 to 3.13) keeps a strong reference to the *name* of every
    attribute looked up through a type, in a slot chosen by the name's address. Names built
    at run time (``PyObject_GetAttrString`` makes a new string per call, as some of ``open()``
    in text mode does) stay alive in whichever slot their address picked, until another
    lookup takes it: up to 4,096 short strings, bounded but random per process. Measured on
    a worker opening a text file per job: +13 to +23 blocks per round of 23 jobs for 4 to 8
    rounds after the census had moved the allocator's free blocks around (seeds 1 and 9 of
    ``PYTHONHASHSEED``); exactly 0 per round with the cache emptied first, on every seed.
    Costs the next lookups of each attribute one miss.
    """
    # 3.13 names it anew (and deprecates the old name); 3.11 and 3.12 have only the old.
    getattr(sys, "_clear_internal_caches", sys._clear_type_cache)()


def census_fields() -> str:
    """The census as sample members: bounded and unbounded cache entries (sums), the
    largest caches by name, and the tracked object types that grew since the last census."""
    global _previous_types
    objects = gc.get_objects()
    try:
        counts = collections.Counter(map(type, objects))
        caches = list(_caches(objects, counts))
    finally:
        del objects
    names = {f"{kind.__module__}.{kind.__qualname__}": count for kind, count in counts.items()}
    del counts
    grown = sorted(
        ((name, count - _previous_types.get(name, 0)) for name, count in names.items()),
        key=lambda item: -item[1],
    )
    # The first census has nothing to compare with: everything would read as grown.
    grown_listed = (
        {name: delta for name, delta in grown[:MAX_TYPES] if delta > 0} if _previous_types else {}
    )
    _previous_types = names
    bounded = sum(cache[1] for cache in caches if cache[2])
    unbounded = sum(cache[1] for cache in caches if not cache[2])
    held, held_bytes = _held([cache.pop() for cache in caches if cache[2]])
    for cache in caches[:]:
        del cache[3:]
    caches = sorted((cache for cache in caches if cache[1] > 0), key=lambda cache: -cache[1])
    return (
        f',"cache_bounded_entries":{bounded},"cache_unbounded_entries":{unbounded}'
        f',"cache_bounded_blocks":{held},"cache_bounded_native_bytes":{held_bytes}'
        f',"caches":{json.dumps(caches[:MAX_CACHES])}'
        f',"types_grown":{json.dumps(grown_listed)}'
    )


def _caches(objects: list[Any], counts: dict[type, int]) -> Iterable[list[Any]]:
    """[name, entries, capacity, contents] of every cache found; capacity 0 means unbounded;
    contents: what to size (bounded caches only)."""
    yield from _stdlib_caches()
    wanted = {kind for kind in counts if _is_cache_type(kind)}
    if not wanted:
        return
    # The few caches among every tracked object, picked out in C (a Python loop over 17,000
    # objects took ~1 ms of each census).
    for obj in itertools.compress(objects, map(wanted.__contains__, map(type, objects))):
        kind = type(obj)
        if kind is _LRU_WRAPPER:
            info = obj.cache_info()
            name = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"
            yield [name, info.currsize, info.maxsize or 0, _lru_contents(obj)]
        elif kind is collections.deque:
            if obj.maxlen is not None and len(obj):
                yield [f"deque(maxlen={obj.maxlen})", len(obj), obj.maxlen, obj]
        else:
            capacity = next(
                (
                    getattr(obj, name)
                    for name in ("maxsize", "capacity", "maxlen")
                    if isinstance(getattr(obj, name, None), int)
                ),
                0,
            )
            entries = getattr(obj, "currsize", None)
            size = len(obj) if entries is None else entries
            yield [f"{kind.__module__}.{kind.__qualname__}", int(size), int(capacity or 0), obj]


def _is_cache_type(kind: type) -> bool:
    if kind is _LRU_WRAPPER or kind is collections.deque:
        return True
    # cachetools' caches (maxsize, currsize); Jinja2's LRUCache (capacity, __len__);
    # Celery's LimitedSet (maxlen, __len__: revoked ids, Celery's own bookkeeping).
    if isinstance(getattr(kind, "currsize", None), property) and hasattr(kind, "maxsize"):
        return True
    return kind.__name__ in _BOUNDED_BY_NAME and hasattr(kind, "__len__")


def _stdlib_caches() -> Iterable[list[Any]]:
    """Module-level caches of the standard library that a worker fills through its jobs."""
    re = sys.modules.get("re")
    if re is not None:
        for attribute, limit in (("_cache", "_MAXCACHE"), ("_cache2", "_MAXCACHE2")):
            cache = getattr(re, attribute, None)
            if isinstance(cache, dict) and cache:
                yield [f"re.{attribute}", len(cache), int(getattr(re, limit, 0)) or 512, cache]
    linecache = sys.modules.get("linecache")
    if linecache is not None and getattr(linecache, "cache", None):
        yield ["linecache.cache", len(linecache.cache), 0, None]
    yield from _declared_caches()
    logging = sys.modules.get("logging")
    if logging is not None:
        loggers = getattr(getattr(logging.root, "manager", None), "loggerDict", None)
        if loggers:
            yield ["logging's logger registry", len(loggers), 0, None]


def _declared_caches() -> Iterable[list[Any]]:
    """The caches the user declared bounded, found by ``module:attr.attr`` in the modules
    already imported; capacity -1: bounded, by the user's word."""
    import os

    for spec in filter(None, os.environ.get(DECLARED_ENV, "").split(",")):
        module_name, _, path = spec.partition(":")
        obj: Any = sys.modules.get(module_name)
        for attribute in filter(None, path.split(".")):
            obj = getattr(obj, attribute, None)
        if obj is None:
            continue
        info = getattr(obj, "cache_info", None)
        try:
            entries = info().currsize if callable(info) else len(obj)
        except TypeError:
            continue
        yield [spec, int(entries), -1, obj]


_NOT_CONTENTS: Final = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.MethodType,
)
_CONTAINERS: Final = (list, dict, set, frozenset, bytearray)
#: Requests up to this size are served by CPython's own pools, larger ones by malloc.
_SMALL: Final = 512
_EMPTY_SIZES: Final[dict[type, int]] = {kind: sys.getsizeof(kind(), 0) for kind in _CONTAINERS}
#: Objects sized per census at most: a cache whose entries reach a whole framework's object
#: graph is sized in part (its growth then reads as growth outside it).
MAX_SIZED: Final = 200_000


def _lru_contents(wrapper: Any) -> list[Any]:
    """What an lru_cache wrapper holds: its keys, results and table (its traversal lists
    them), without the function, its attributes and the wrapper's own types."""
    own = {id(wrapper.__wrapped__), id(getattr(wrapper, "__dict__", None))}
    return [r for r in gc.get_referents(wrapper) if id(r) not in own and not isinstance(r, type)]


def _held(roots: list[Any]) -> tuple[int, int]:
    """(CPython blocks, bytes passed on to malloc) held by the bounded caches' contents.

    ``sys.getallocatedblocks`` counts every allocation of the object allocator whatever its
    size (over 512 bytes it hands them to malloc, where the native heap counts their bytes
    too): so one block per object reached, one more for a container's separate storage;
    small ints and other shared singletons are not the cache's. Sizing the contents of
    ``re``'s cache, ``lru_cache`` and ``deque`` this way matched the heap's growth to 0.1
    block per entry. The memory verdict subtracts their growth from the heap's, so growth
    beside a filling cache still counts.

    Objects of the exact built-in types most contents are made of are classified by their
    type alone (their class cannot be overridden); any other object by ``isinstance``, as
    it says it is (``re``'s cache of 336 patterns: 3.6 ms a census when every object went
    through the ``isinstance`` checks)."""
    seen: set[int] = set()
    stack = list(roots)
    blocks = 0
    native = 0
    sizeof = sys.getsizeof
    referents = gc.get_referents
    while stack and len(seen) < MAX_SIZED:
        obj = stack.pop()
        key = id(obj)
        if key in seen:
            continue
        kind = type(obj)
        if kind in _SKIPPED:
            continue
        base: type | None
        if kind in _BUILTIN_BASES:
            if kind in _SHAREABLE and _shared(obj):
                continue
            base = _BUILTIN_BASES[kind]
        else:
            if isinstance(obj, _NOT_CONTENTS) or _shared(obj):
                continue
            base = next((each for each in _CONTAINERS if isinstance(obj, each)), None)
        seen.add(key)
        blocks += 1
        size = sizeof(obj, 0)
        if base is not None:
            storage = size - _EMPTY_SIZES[base]
            size -= storage
            if storage > 0:
                blocks += 1
                native += storage if storage > _SMALL else 0
        native += size if size > _SMALL else 0
        stack.extend(referents(obj))
    return blocks, native


#: Exact built-in types and the container base each is sized as (None: one block).
_BUILTIN_BASES: Final[dict[type, type | None]] = {
    **{kind: kind for kind in _CONTAINERS},
    **dict.fromkeys((str, bytes, tuple, int, float, complex), None),
}
#: Of them, the types whose objects may be shared singletons (see ``_shared``).
_SHAREABLE: Final = frozenset({str, bytes, tuple, int})
#: Exact types never sized: not contents, or only shared singletons (``type``: 713 of the
#: 2,681 objects met sizing ``re``'s cache of 336 patterns, each pattern's class).
_SKIPPED: Final = frozenset({*_NOT_CONTENTS, type(None), bool})


def _shared(obj: object) -> bool:
    """Objects CPython allocates once and shares: small ints, None, True, False, (), ''."""
    if obj is None or obj is True or obj is False:
        return True
    kind = type(obj)
    if kind is int:
        return -5 <= obj <= 256  # type: ignore[operator]
    if kind is str or kind is tuple or kind is bytes:
        return len(obj) == 0 or (kind is str and len(obj) == 1 and ord(obj) < 256)  # type: ignore[arg-type]
    return False
