"""Recording problems while reading one merged TOML tree, each blamed on the file that caused it.

Readers never stop at the first problem: they record it here and go on, so every problem of every
file is reported at once. :class:`Unique` is the one check for values that must not repeat.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from config.errors import Problem
from config.layers import KeyPath, Layers, format_key

Table = dict[str, Any]


def show(value: Any, limit: int = 60) -> str:
    """A short TOML-like rendering of a value for messages."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(show(v, limit) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{k} = {show(v, limit)}" for k, v in value.items()) + " }"
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """The TOML type and value, e.g. ``string "15"`` or ``boolean true``."""
    return f"{toml_type(value)} {show(value)}" if not isinstance(value, dict) else "a table"


def toml_type(value: Any) -> str:
    """The TOML name of a value's type: ``integer``, ``string``, ``array`` ..."""
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (dict, "table"),
        (dt.datetime, "datetime"),
        (dt.date, "date"),
        (dt.time, "time"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def suggest(word: str, options: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def quoted(options: Iterable[Any]) -> str:
    return ", ".join(json.dumps(o, ensure_ascii=False) for o in options)


class Checker:
    """Collects the problems of one merged tree, blaming the file that supplied each bad value.

    ``reads`` keeps what was read at each table or array path (see :mod:`config.declare`), so a
    rule about one part may look at another part read before it.
    """

    def __init__(self, layers: Layers) -> None:
        self.layers = layers
        self.problems: list[Problem] = []
        self.reads: dict[KeyPath, Any] = {}

    def bad(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.layers.origin(path), format_key(path), message))

    def missing(self, path: KeyPath, why: str = "") -> None:
        message = "required key is missing" + (f" ({why})" if why else "")
        file = self.layers.origin_of_missing(path[:-1])
        self.problems.append(Problem(file, format_key(path), message))

    def table(
        self, value: Any, path: KeyPath, allowed: Sequence[str], hint: str = ""
    ) -> Table | None:
        """``value`` if it is a table; unknown keys in it are reported (with a suggestion)."""
        if not isinstance(value, dict):
            self.bad(path, f"expected a table{hint}, got {describe(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.unknown((*path, key), "key", key, allowed)
        return value

    def unknown(self, path: KeyPath, noun: str, name: str, allowed: Sequence[str]) -> None:
        """``unknown key "x" (did you mean "y"?)``, else the allowed names."""
        tip = suggest(name, allowed) or f" (allowed: {', '.join(allowed)})"
        self.bad(path, f'unknown {noun} "{name}"{tip}')


class Unique:
    """Values that must not repeat (codes, numbers, pins ...): a repeat is reported with the
    place of the first, ``duplicate counter number 1 (already used by counters[0])``."""

    def __init__(self, c: Checker, noun: str) -> None:
        self.c = c
        self.noun = noun
        self.first: dict[Hashable, KeyPath] = {}

    def add(self, value: Hashable, path: KeyPath, key: str = "") -> bool:
        """Whether ``value``, found at ``path``, is new; a repeat is reported at ``path`` (or at
        its ``key``, when ``path`` is an element of an array of tables)."""
        if value in self.first:
            where = format_key(self.first[value])
            here = (*path, key) if key else path
            self.c.bad(here, f"duplicate {self.noun} {show(value)} (already used by {where})")
            return False
        self.first[value] = path
        return True
