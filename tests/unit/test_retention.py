"""What the worker reads of the user's objects (the retention path's steps, module globals'
fingerprints, kept results) never fails on them: a ``repr`` that raises, warns or is huge,
an int too long for text."""

from __future__ import annotations

import sys
import types
import warnings

import pytest

from worker_soak.worker.retention import _short, retention_path


class _Loud:
    """A key whose ``repr`` warns (as some libraries' do for huge objects) and then raises."""

    def __repr__(self) -> str:
        warnings.warn("repr called", UserWarning, stacklevel=1)
        raise RuntimeError("repr called")

    def __hash__(self) -> int:
        return 7


def test_a_path_through_keys_whose_repr_is_the_users_code() -> None:
    leaked = ["the leaked object"]
    module = types.ModuleType("retention_probe")
    module.cache = {_Loud(): {10**5000: {("user", 42): leaked}}}  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            path = retention_path({id(leaked)})
    finally:
        del sys.modules[module.__name__]
    assert path == (
        "retention_probe.cache",
        "dict[<_Loud>]",
        "dict[<int>]",
        "dict[('user', 42)]",
        "list",
    )


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("user", "'user'"),
        (42, "42"),
        (None, "None"),
        ((1,), "(1,)"),
        (tuple(range(9)), "(0, 1, 2, 3, ...)"),
        ("x" * 100, "'" + "x" * 36 + "..."),
        (frozenset(), "<frozenset>"),
        ((bytes, b"^a+$", 0), "(bytes, b'^a+$', 0)"),
    ],
)
def test_keys_are_shown_short(key: object, shown: str) -> None:
    assert _short(key) == shown


def test_a_global_int_too_long_for_text_is_fingerprinted_by_its_size() -> None:
    """The state watcher's fingerprint of a module global never fails on the global."""
    from worker_soak.worker.state import _global_fingerprint

    assert _global_fingerprint(10**5000) == "int of 16610 bits"
    assert _global_fingerprint(42) == "int 42"


def test_an_unpicklable_result_whose_repr_raises_is_shown_by_its_type() -> None:
    from worker_soak.worker.evidence import REPR, outcome_of

    class Sealed:
        def __reduce__(self) -> str:
            raise TypeError("not picklable")

        def __repr__(self) -> str:
            raise RuntimeError("no repr either")

    kind, shown = outcome_of(Sealed(), None)
    assert kind == REPR
    assert "Sealed" in shown
    assert "repr raised RuntimeError" in shown


class _ClaimsList:
    """Claims to be a list (as mocks do) and is not iterable."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return list

    def __init__(self, inner: object) -> None:
        self.inner = inner


class _OutOfContext:
    """A proxy whose attributes raise outside its context (Werkzeug's ``LocalProxy``)."""

    @property
    def __dict__(self) -> dict[str, object]:  # type: ignore[override]
        raise RuntimeError("working outside of the context")


def test_a_path_past_objects_that_lie_about_their_class_or_raise() -> None:
    leaked = ["the leaked object"]
    module = types.ModuleType("retention_liars")
    module.first = _OutOfContext()  # type: ignore[attr-defined]
    module.second = _ClaimsList({"kept": leaked})  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        path = retention_path({id(leaked)})
    finally:
        del sys.modules[module.__name__]
    assert path == ("retention_liars.second", "_ClaimsList.inner", "dict['kept']", "list")
