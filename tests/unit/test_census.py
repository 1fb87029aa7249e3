"""The census's collected heap count is exact: what CPython's own caches hold is not counted
as the worker's."""

from __future__ import annotations

import collections
import functools
import gc
import json
import re
import sys
import weakref
from typing import Any
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from worker_soak.worker import census
from worker_soak.worker.census import collected_heap


class _Looked:
    """A class whose attributes are looked up by names made at run time."""


def _collected_blocks() -> int:
    fields: dict[str, int] = json.loads("{" + collected_heap()[1:] + "}")
    return fields["py_blocks_collected"]


def test_attribute_names_made_at_run_time_are_not_counted_as_kept() -> None:
    """CPython's type attribute cache keeps a reference to every name looked up through a
    type, in a slot chosen by the name's address: 300 names built at run time and dropped
    would stay alive there (as ``open()`` in text mode leaves them, job after job)."""
    _collected_blocks()
    before = _collected_blocks()
    names = ["attribute_" + str(number) for number in range(300)]
    for name in names:
        hasattr(_Looked, name)
    del names, name
    kept = _collected_blocks() - before
    assert kept < 10, f"{kept} blocks kept by 300 dropped attribute names"


def _held_by_isinstance(roots: list[Any], limit: int) -> tuple[int, int]:
    """The sizing rule as first written, every object through ``isinstance``: the
    definition the faster ``_held`` must agree with."""
    seen: set[int] = set()
    stack = list(roots)
    blocks = native = 0
    while stack and len(seen) < limit:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, census._NOT_CONTENTS) or census._shared(obj):
            continue
        seen.add(id(obj))
        blocks += 1
        size = sys.getsizeof(obj, 0)
        base = next((kind for kind in census._CONTAINERS if isinstance(obj, kind)), None)
        if base is not None:
            storage = size - census._EMPTY_SIZES[base]
            size -= storage
            if storage > 0:
                blocks += 1
                native += storage if storage > census._SMALL else 0
        native += size if size > census._SMALL else 0
        stack.extend(gc.get_referents(obj))
    return blocks, native


class _Dict(dict[Any, Any]):
    pass


class _List(list[Any]):
    pass


class _SaysList:
    """An object whose ``__class__`` claims a container (as mocks and proxies do)."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return list

    def __init__(self, inner: object) -> None:
        self.inner = inner


class _Plain:
    def __init__(self, inner: object) -> None:
        self.inner = inner


_SCALARS = st.one_of(
    st.integers(min_value=-10, max_value=300),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.text(min_size=400, max_size=700),
    st.binary(max_size=600),
    st.sampled_from([len, str, re, _Plain, (), "", b""]),
)


def _nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=40),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(st.text(max_size=4), children, max_size=40),
        st.lists(children, max_size=5).map(_List),
        st.dictionaries(st.integers(), children, max_size=5).map(_Dict),
        st.frozensets(st.integers(), max_size=80),
        st.binary(max_size=700).map(bytearray),
        children.map(_SaysList),
        children.map(_Plain),
        st.lists(children, max_size=3).map(_proxy),
    )


#: What the generated proxies point at, kept alive for the test session.
_PROXIED: list[object] = []


def _proxy(items: list[Any]) -> object:
    target = _List(items)
    _PROXIED.append(target)
    return weakref.proxy(target)


@settings(max_examples=150, deadline=None)
@given(
    roots=st.lists(st.recursive(_SCALARS, _nested, max_leaves=120), min_size=1, max_size=4),
    limit=st.sampled_from([5, 40, census.MAX_SIZED]),
)
def test_cache_contents_are_sized_as_isinstance_would(roots: list[Any], limit: int) -> None:
    """Sizing bounded caches' contents by exact built-in type gives what ``isinstance`` on
    every object gives: subclasses, objects lying about their class, proxies, shared
    singletons, big strings and the cut-off after ``MAX_SIZED`` objects alike."""
    with patch.object(census, "MAX_SIZED", limit):
        assert census._held(list(roots)) == _held_by_isinstance(list(roots), limit)


def test_the_census_finds_every_kind_of_bounded_cache_among_the_objects() -> None:
    """lru_cache wrappers, deques with a maxlen and cachetools-style classes are found among
    every tracked object, with their entries."""

    class LRUCache(dict[Any, Any]):  # Jinja2's name, sized by capacity
        capacity = 3

    @functools.lru_cache(maxsize=7)
    def squared(n: int) -> int:
        return n * n

    for n in range(5):
        squared(n)
    recent: collections.deque[int] = collections.deque(range(4), maxlen=9)
    jinja = LRUCache(a=1, b=2)
    objects = gc.get_objects()
    counts = collections.Counter(map(type, objects))
    found = {cache[0]: cache[1:3] for cache in census._caches(objects, counts)}
    del objects
    assert found[f"{__name__}.{squared.__qualname__}"] == [5, 7]
    assert found["deque(maxlen=9)"] == [4, 9]
    assert found[f"{__name__}.{LRUCache.__qualname__}"] == [2, 3]
    del recent, jinja  # alive until here
