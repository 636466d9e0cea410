"""Typed reading of one merged TOML tree that records a :class:`Problem` for each bad value.

Every accessor returns the value when it is good and ``None`` otherwise (TOML has no null, so
``None`` never is a real value), so callers can keep going and report everything in one pass.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Iterable, Sequence
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
    elif isinstance(value, list):
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
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "integer"
    elif isinstance(value, float):
        kind = "float"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, list):
        kind = "array"
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, dt.datetime):
        kind = "datetime"
    elif isinstance(value, dt.date):
        kind = "date"
    elif isinstance(value, dt.time):
        kind = "time"
    else:
        kind = type(value).__name__
    return f"{kind} {show(value)}"


def suggest(word: str, options: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def quoted(options: Iterable[Any]) -> str:
    return ", ".join(json.dumps(o, ensure_ascii=False) for o in options)


class Checker:
    """Reads values out of ``layers.data``, blaming the file that supplied each bad one."""

    def __init__(self, layers: Layers) -> None:
        self.layers = layers
        self.problems: list[Problem] = []

    # -- recording ---------------------------------------------------------------------------

    def bad(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.layers.origin(path), format_key(path), message))

    def missing(self, path: KeyPath, why: str = "") -> None:
        message = "required key is missing" + (f" ({why})" if why else "")
        file = self.layers.origin_of_missing(path[:-1])
        self.problems.append(Problem(file, format_key(path), message))

    # -- structure ---------------------------------------------------------------------------

    def table(
        self, value: Any, path: KeyPath, allowed: Sequence[str], hint: str = ""
    ) -> Table | None:
        """``value`` if it is a table; unknown keys in it are reported (with a suggestion)."""
        if not isinstance(value, dict):
            self.bad(path, f"expected a table{hint}, got {describe(value)}")
            return None
        for key in value:
            if key not in allowed:
                tip = suggest(key, allowed) or f" (allowed: {', '.join(allowed)})"
                self.bad((*path, key), f'unknown key "{key}"{tip}')
        return value

    def section(
        self, parent: Table, path: KeyPath, key: str, allowed: Sequence[str], required: bool = True
    ) -> Table | None:
        """The sub-table ``parent[key]``, checked like :meth:`table`."""
        if key not in parent:
            if required:
                self.missing((*path, key))
            return None
        return self.table(parent[key], (*path, key), allowed)

    def array(
        self,
        parent: Table,
        path: KeyPath,
        key: str,
        *,
        required: bool = True,
        nonempty: bool = False,
        why: str = "",
    ) -> list[Any] | None:
        if key not in parent:
            if required:
                self.missing((*path, key), why)
            return None
        value = parent[key]
        if not isinstance(value, list):
            self.bad((*path, key), f"expected an array, got {describe(value)}")
            return None
        if nonempty and not value:
            self.bad((*path, key), "must not be empty, got []")
            return None
        return value

    def tables(
        self,
        parent: Table,
        path: KeyPath,
        key: str,
        allowed: Sequence[str],
        *,
        nonempty: bool,
        why: str = "",
    ) -> list[tuple[KeyPath, Table]]:
        """An array of tables as ``(path, table)`` pairs; bad elements are reported and left out."""
        items = self.array(parent, path, key, nonempty=nonempty, why=why)
        out: list[tuple[KeyPath, Table]] = []
        for i, item in enumerate(items or []):
            here = (*path, key, i)
            table = self.table(item, here, allowed)
            if table is not None:
                out.append((here, table))
        return out

    # -- scalars -----------------------------------------------------------------------------

    def _get(self, parent: Table, path: KeyPath, key: str, required: bool, why: str) -> Any:
        if key not in parent:
            if required:
                self.missing((*path, key), why)
            return None
        return parent[key]

    def string(
        self,
        parent: Table,
        path: KeyPath,
        key: str,
        *,
        required: bool = True,
        pattern: re.Pattern[str] | None = None,
        rule: str = "",
        choices: Sequence[str] | None = None,
    ) -> str | None:
        value = self._get(parent, path, key, required, "")
        if value is None:
            return None
        return self.check_string(value, (*path, key), pattern=pattern, rule=rule, choices=choices)

    def check_string(
        self,
        value: Any,
        path: KeyPath,
        *,
        pattern: re.Pattern[str] | None = None,
        rule: str = "",
        choices: Sequence[str] | None = None,
    ) -> str | None:
        if not isinstance(value, str):
            self.bad(path, f"expected a string, got {describe(value)}")
            return None
        if choices is not None and value not in choices:
            self.bad(
                path,
                f"must be one of {quoted(choices)}, got {show(value)}{suggest(value, choices)}",
            )
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.bad(path, f"must be {rule}, got {show(value)}")
            return None
        if not value.strip():
            self.bad(path, f"must not be empty, got {show(value)}")
            return None
        return value

    def integer(
        self,
        parent: Table,
        path: KeyPath,
        key: str,
        *,
        required: bool = True,
        why: str = "",
        low: int | None = None,
        high: int | None = None,
    ) -> int | None:
        value = self._get(parent, path, key, required, why)
        if value is None:
            return None
        return self.check_integer(value, (*path, key), low=low, high=high)

    def check_integer(
        self, value: Any, path: KeyPath, *, low: int | None = None, high: int | None = None
    ) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(path, f"expected an integer, got {describe(value)}{_bool_note(value)}")
            return None
        return value if self._in_range(value, path, low, high, None) else None

    def number(
        self,
        parent: Table,
        path: KeyPath,
        key: str,
        *,
        low: float | None = None,
        high: float | None = None,
        above: float | None = None,
    ) -> float | None:
        """An int or float (not a boolean), finite; ``above`` is an exclusive lower bound."""
        value = self._get(parent, path, key, True, "")
        if value is None:
            return None
        here = (*path, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(here, f"expected a number, got {describe(value)}{_bool_note(value)}")
            return None
        if not math.isfinite(value):
            self.bad(here, f"must be a finite number, got {show(value)}")
            return None
        return float(value) if self._in_range(value, here, low, high, above) else None

    def _in_range(
        self,
        value: float,
        path: KeyPath,
        low: float | None,
        high: float | None,
        above: float | None,
    ) -> bool:
        if above is not None and value <= above:
            if high is not None:
                self.bad(path, f"must be greater than {above} and at most {high}, got {value}")
            else:
                self.bad(path, f"must be greater than {above}, got {value}")
            return False
        if low is not None and high is not None and not low <= value <= high:
            self.bad(path, f"must be between {low} and {high}, got {value}")
            return False
        if low is not None and high is None and value < low:
            self.bad(path, f"must be at least {low}, got {value}")
            return False
        if high is not None and value > high:
            self.bad(path, f"must be at most {high}, got {value}")
            return False
        return True

    def boolean(
        self, parent: Table, path: KeyPath, key: str, *, required: bool = True
    ) -> bool | None:
        value = self._get(parent, path, key, required, "")
        if value is None:
            return None
        if not isinstance(value, bool):
            self.bad((*path, key), f"expected true or false, got {describe(value)}")
            return None
        return value


def _bool_note(value: Any) -> str:
    return " (TOML true/false are not numbers)" if isinstance(value, bool) else ""
