"""The option table as argparse arguments (``soak run``, ``soak worker``), and parsed
arguments back as checked options. A bad value is argparse's one-line error: ``argument
--jobs: expected a whole number >= 1, got '0'``."""

from __future__ import annotations

import argparse
from typing import Any

from worker_soak.options.table import GROUPS, OPTIONS, Option
from worker_soak.options.values import SoakOptions


def add_options(parser: argparse.ArgumentParser, *, worker_side: bool = False) -> None:
    """Every option of ``soak run`` (``worker_side``: those of ``soak worker``), grouped."""
    for group, title in GROUPS.items():
        rows = [
            option
            for option in OPTIONS
            if option.group == group and option.cli and (option.worker or not worker_side)
        ]
        if not rows:
            continue
        target: Any = parser if group == "run" else parser.add_argument_group(title)
        for option in rows:
            target.add_argument(option.flag, **_argument(option))


def add_named(parser: argparse.ArgumentParser, *names: str) -> None:
    """Some options of the table, by name (``soak compare --significance``)."""
    for option in OPTIONS:
        if option.name in names:
            parser.add_argument(option.flag, **_argument(option))


def _argument(option: Option) -> dict[str, Any]:
    text = option.described().replace("%", "%%")
    arguments: dict[str, Any] = {"dest": option.name, "default": None, "help": text}
    if option.cli == "flag":
        return arguments | {"action": "store_const", "const": True}
    if option.cli == "negated":
        return arguments | {"action": "store_const", "const": False}
    arguments |= {"type": _typed(option), "metavar": option.metavar}
    if option.cli == "append":
        arguments["action"] = "append"
    return arguments


def _typed(option: Option) -> Any:
    def convert(text: str) -> object:
        try:
            return option.convert(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {option.expected}, got {text!r}") from None

    convert.__name__ = option.name  # argparse names the type in some messages
    return convert


def parsed_options(args: argparse.Namespace) -> SoakOptions:
    """The soak options ``args`` hold: those given; the rest keep their defaults."""
    values: dict[str, object] = {}
    for option in OPTIONS:
        value = getattr(args, option.name, None)
        if not option.python or option.cli is None or value is None:
            continue
        if option.cli == "append":  # one converted tuple per flag given
            value = tuple(item for items in value for item in items)
        values[option.name] = value
    return SoakOptions(**values)  # type: ignore[arg-type]
