"""What a setting's value may be: its TOML type, range or choices, and how it becomes a model value.

A kind reads one value out of the merged tree: it returns the model value, or records a
:class:`~config.errors.Problem` and returns :data:`INVALID`. The same kind describes itself for
the documentation (``type_name``, :meth:`Kind.limits`) and turns a model value back into a file
value (:meth:`Kind.to_file`), so settings built by hand are checked by the same rules.

>>> from config.layers import Layers
>>> from config.checker import Checker
>>> c = Checker(Layers())
>>> Integer(80, 450).read(c, 500, ("voice", "rate_wpm")) is INVALID
True
>>> str(c.problems[0])
'<no configuration file>: voice.rate_wpm: must be between 80 and 450, got 500'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

from config.checker import Checker, Unique, describe, quoted, show, suggest, toml_type
from config.layers import KeyPath


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


#: What a reader returns for a bad or missing value (``None`` is a real value: "not given").
INVALID: Final = _Invalid()

#: File unit -> (multiply, divide) to get the model's seconds.
UNITS: dict[str, tuple[int, int]] = {"ms": (1, 1000), "min": (60, 1)}


class Kind:
    """One kind of value. Subclasses set ``type_name`` and implement :meth:`read`."""

    type_name = "value"
    #: Why a missing key matters, shown with "required key is missing" (e.g. ``use [] for none``).
    hint = ""

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        raise NotImplementedError

    def to_file(self, value: Any) -> Any:
        """The file value that reads as the model value ``value``."""
        return value

    def limits(self) -> str:
        """The range, choices or pattern, for the documentation (markdown)."""
        return ""


def _bool_note(value: Any) -> str:
    return " (TOML true/false are not numbers)" if isinstance(value, bool) else ""


def range_problem(
    value: float,
    low: float | None,
    high: float | None,
    above: float | None = None,
    high_note: str = "",
) -> str | None:
    """Why ``value`` is out of range, or ``None``. ``above`` is an exclusive lower bound;
    ``high_note`` explains the upper bound (the bounds are then reported one at a time)."""
    if above is not None and value <= above:
        if high is not None:
            return f"must be greater than {above} and at most {high}, got {value}"
        return f"must be greater than {above}, got {value}"
    if low is not None and high is not None and not high_note and not low <= value <= high:
        return f"must be between {low} and {high}, got {value}"
    if low is not None and value < low:
        return f"must be at least {low}, got {value}"
    if high is not None and value > high:
        return f"must be at most {high}, got {value}" + (f": {high_note}" if high_note else "")
    return None


def range_text(
    low: float | None, high: float | None, above: float | None = None, unit: str = ""
) -> str:
    """``80–450``, ``≥ 1``, ``> 0 and ≤ 600`` ... for the documentation."""
    after = f" {unit}" if unit else ""
    if above is not None:
        return f"> {above} and ≤ {high}{after}" if high is not None else f"> {above}{after}"
    if low is not None and high is not None:
        return f"{low}–{high}{after}"
    if low is not None:
        return f"≥ {low}{after}"
    return f"≤ {high}{after}" if high is not None else ""


class Boolean(Kind):
    type_name = "boolean"

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        if not isinstance(value, bool):
            c.bad(path, f"expected true or false, got {describe(value)}")
            return INVALID
        return value


class _Numeric(Kind):
    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        above: float | None = None,
        unit: str = "",
        high_note: str = "",
    ) -> None:
        self.low, self.high, self.above = low, high, above
        self.unit, self.high_note = unit, high_note

    def _in_range(self, c: Checker, value: float, path: KeyPath) -> bool:
        problem = range_problem(value, self.low, self.high, self.above, self.high_note)
        if problem:
            c.bad(path, problem)
        return problem is None

    def _to_model(self, value: float) -> float:
        if not self.unit:
            return value
        mul, div = UNITS[self.unit]
        return value * mul / div

    def to_file(self, value: Any) -> Any:
        if not self.unit or value is None:
            return value
        mul, div = UNITS[self.unit]
        return value * div / mul

    def limits(self) -> str:
        return range_text(self.low, self.high, self.above)


class Integer(_Numeric):
    """A TOML integer (never a boolean), optionally one of ``choices``."""

    type_name = "integer"

    def __init__(
        self,
        low: int | None = None,
        high: int | None = None,
        *,
        choices: Sequence[int] | None = None,
        unit: str = "",
        high_note: str = "",
    ) -> None:
        super().__init__(low, high, unit=unit, high_note=high_note)
        self.choices = choices

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            c.bad(path, f"expected an integer, got {describe(value)}{_bool_note(value)}")
            return INVALID
        if self.choices is not None and value not in self.choices:
            listed = ", ".join(str(v) for v in self.choices)
            c.bad(path, f"must be one of {listed}, got {value}")
            return INVALID
        return self._to_model(value) if self._in_range(c, value, path) else INVALID

    def to_file(self, value: Any) -> Any:
        converted = super().to_file(value)
        return round(converted) if isinstance(converted, float) else converted

    def limits(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(str(v) for v in self.choices)
        return super().limits()


class Number(_Numeric):
    """An integer or float (not a boolean), finite; read as a float."""

    type_name = "*number*"

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            c.bad(path, f"expected a number, got {describe(value)}{_bool_note(value)}")
            return INVALID
        if not math.isfinite(value):
            c.bad(path, f"must be a finite number, got {show(value)}")
            return INVALID
        return float(self._to_model(value)) if self._in_range(c, value, path) else INVALID


#: What an empty string means: a mistake, a value of its own, or "not given" (``None``).
Empty = Literal["error", "keep", "none"]


class String(Kind):
    """A string: one of ``choices``, or matching ``pattern`` (described by ``rule``), and passing
    ``check`` (which returns what is wrong, or ``None``). Blank strings are refused unless
    ``empty`` says otherwise; a ``secret`` may be any string and is never shown in a message."""

    type_name = "string"

    def __init__(
        self,
        *,
        choices: Sequence[str] | None = None,
        pattern: re.Pattern[str] | None = None,
        rule: str = "",
        check: Callable[[str], str | None] | None = None,
        empty: Empty = "error",
        noun: str = "",
        secret: bool = False,
    ) -> None:
        self.choices, self.pattern, self.rule, self.check = choices, pattern, rule, check
        self.empty, self.noun, self.secret = empty, noun, secret
        self.hint = 'use "" for none' if empty == "keep" else ""

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        if self.empty != "error" and value == "":
            return "" if self.empty == "keep" else None
        problem = self.problem(value)
        if problem:
            c.bad(path, problem)
            return INVALID
        return value

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value``, or ``None``."""
        if not isinstance(value, str):
            got = toml_type(value) + " (value not shown)" if self.secret else describe(value)
            return f"expected a string, got {got}"
        if self.choices is not None and value not in self.choices:
            tip = suggest(value, self.choices)
            if self.noun:
                listed = ", ".join(self.choices)
                return f"unknown {self.noun} {show(value)}{tip} ({self.noun}s: {listed})"
            return f"must be one of {quoted(self.choices)}, got {show(value)}{tip}"
        blank = not value.strip() and not self.secret
        if blank and self.empty != "error":  # "" means none here, so "  " is a slip
            return f"must not be empty, got {show(value)}"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"must be {self.rule}, got {show(value)}"
        if blank:
            return f"must not be empty, got {show(value)}"
        return self.check(value) if self.check else None

    def to_file(self, value: Any) -> Any:
        return "" if value is None and self.empty == "none" else value

    def limits(self) -> str:
        parts = []
        if self.choices is not None:
            parts.append(or_list([f"`{choice}`" for choice in self.choices]))
        elif self.rule:
            parts.append(self.rule)
        if self.empty == "keep":
            parts.append('`""` = none')
        elif self.empty == "none":
            parts.append('`""` or absent = none')
        return "; ".join(parts)


def or_list(items: Sequence[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" or {items[-1]}"


class ListOf(Kind):
    """A TOML array of ``item`` values, read as a tuple; ``unique`` names what must not repeat,
    ``length`` fixes the size (``shape`` then says what is expected)."""

    def __init__(
        self,
        item: Kind,
        *,
        nonempty: bool = False,
        unique: str = "",
        length: int | None = None,
        shape: str = "",
    ) -> None:
        self.item, self.nonempty, self.unique = item, nonempty, unique
        self.length, self.shape = length, shape
        count = f"{length} " if length is not None else ""
        self.type_name = f"array of {count}{item.type_name}s"

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        problem = self.shape_problem(value)
        if problem:
            c.bad(path, problem)
            return INVALID
        seen = Unique(c, self.unique) if self.unique else None
        out: list[Any] = []
        for i, item in enumerate(value):
            here = (*path, i)
            model = self.item.read(c, item, here)
            if model is not INVALID and (seen is None or seen.add(model, here)):
                out.append(model)
        return tuple(out) if len(out) == len(value) else INVALID

    def shape_problem(self, value: Any) -> str | None:
        if not isinstance(value, list):
            return f"expected an array, got {describe(value)}"
        if self.nonempty and not value:
            return "must not be empty, got []"
        if self.length is not None and len(value) != self.length:
            return f"expected {self.shape}, got {show(value)}"
        return None

    def to_file(self, value: Any) -> Any:
        return [self.item.to_file(v) for v in value]

    def limits(self) -> str:
        parts = ["non-empty"] if self.nonempty else []
        if self.unique:
            parts.append("no duplicates")
        if self.item.limits():
            parts.append(f"each {self.item.limits()}")
        return ", ".join(parts)


class TextPair(Kind):
    """A text in both languages, ``{ zh = "...", en = "..." }``: ``zh`` required, ``en``
    optional (falls back to ``zh``); ``build(zh, en)`` makes the model value."""

    type_name = "text"
    KEYS = ("zh", "en")

    def __init__(self, build: Callable[[str, str], Any]) -> None:
        self.build = build

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        table = c.table(value, path, self.KEYS, hint=' like { zh = "...", en = "..." }')
        return INVALID if table is None else self.read_pair(c, table, path)

    def read_pair(self, c: Checker, table: dict[str, Any], path: KeyPath) -> Any:
        """The text whose ``zh`` and ``en`` are keys of ``table`` (maybe among others)."""
        plain = String()
        zh: Any  # the text, or INVALID
        if "zh" not in table:
            c.missing((*path, "zh"))
            zh = INVALID
        else:
            zh = plain.read(c, table["zh"], (*path, "zh"))
        en = plain.read(c, table["en"], (*path, "en")) if "en" in table else None
        if zh is INVALID or en is INVALID:
            return INVALID
        return self.build(zh, zh if en is None else en)

    def to_file(self, value: Any) -> Any:
        return {"zh": value.zh, "en": value.en}
