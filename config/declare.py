"""Declaring settings once: a :class:`Key` per setting, a :class:`Table` per TOML table.

A model dataclass declares its settings on its fields::

    @dataclass(frozen=True)
    class SerialKeypadConfig:
        baudrate: int = setting(Integer(choices=BAUDRATES), 9600, help="the keypad's speed")
        buzzer: int | None = option(PIN, None, help="pin of an active buzzer")

:func:`setting` (a key the merged files must give) and :func:`option` (a key that may be left
out) record the key (name, kind, default, help) in the field's metadata and give the field its
model default, read from the file default by the same kind. :meth:`Table.of` turns the
declared fields into a table declaration; :func:`read_table` reads a TOML table by it (unknown
keys, missing keys, every value, then the table's cross-field rules) and builds the model.
The shipped ``defaults.toml`` and the key tables of ``docs/configuration.md`` are generated from
the same declarations (:mod:`config.render_toml`, :mod:`config.render_docs`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from config.checker import Checker, Unique, describe
from config.kinds import INVALID, Kind
from config.layers import KeyPath, Layers


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


#: "No default" (``None`` is a default of its own: the model's "not given").
NO_VALUE: Final = _NoValue()


@dataclass(frozen=True)
class Key:
    """One setting of a table.

    ``default`` (file units) is the model's default and, for an ``optional`` key, its value when
    the key is absent; ``None`` means "not given" and is never written to a file. ``shipped`` is
    the value in ``defaults.toml`` when it differs from ``default`` (the demo branch's own);
    ``example`` is shown commented out for a key that is not shipped. ``unique`` names what must
    not repeat across the elements of an array of tables. ``attr`` is the model attribute when it
    is not the key's name (``bounce_ms`` -> ``bounce_s``).
    """

    name: str
    kind: Kind
    default: Any = NO_VALUE
    shipped: Any = NO_VALUE
    optional: bool = False
    unique: str = ""
    why: str = ""
    example: Any = None
    help: str = ""
    attr: str = ""

    @property
    def model_attr(self) -> str:
        return self.attr or self.name

    @property
    def file_value(self) -> Any:
        """What ``defaults.toml`` gives (``NO_VALUE``: nothing)."""
        value = self.default if self.shipped is NO_VALUE else self.shipped
        return NO_VALUE if value is None else value

    def absent(self) -> Any:
        """The model value when an optional key is absent."""
        if isinstance(self.kind, Section) and self.default is NO_VALUE:
            return self.kind.default_model()
        return None if self.default is NO_VALUE else model_value(self.kind, self.default)


def model_value(kind: Kind, value: Any) -> Any:
    """A declared file value read as a model value; a bad declaration fails at import."""
    if value is None:
        return None
    c = Checker(Layers())
    model = kind.read(c, value, ("<declared default>",))
    if c.problems:
        raise ValueError("; ".join(str(p) for p in c.problems))
    return model


def setting(kind: Kind, default: Any = NO_VALUE, **declared: Any) -> Any:
    """A dataclass field declaring a setting whose key the merged files must give."""
    return declared_field(kind, default, optional=False, **declared)


def option(kind: Kind, default: Any = NO_VALUE, **declared: Any) -> Any:
    """A dataclass field declaring a setting that may be left out: then ``default`` (or
    ``None``) applies."""
    return declared_field(kind, default, optional=True, **declared)


def declared_field(
    kind: Kind,
    default: Any,
    *,
    optional: bool,
    shipped: Any = NO_VALUE,
    key: str = "",
    unique: str = "",
    why: str = "",
    example: Any = None,
    repr: bool = True,
    help: str = "",
) -> Any:
    """The field of :func:`setting` and :func:`option` (the keywords are :class:`Key`'s;
    ``key`` is the TOML key when it is not the field's name, ``repr=False`` keeps a secret out
    of the ``repr``). Its metadata holds the declaration, its default is the model's."""
    declared = Key(key, kind, default, shipped, optional, unique, why, example, help)
    metadata = {"setting": declared}
    if isinstance(kind, Section) and default is NO_VALUE:
        return field(default_factory=kind.default_model, repr=repr, metadata=metadata)
    if default is NO_VALUE:
        return field(repr=repr, metadata=metadata)
    model = model_value(kind, default)
    if isinstance(model, dict | list | set):
        return field(default_factory=lambda: copy.deepcopy(model), repr=repr, metadata=metadata)
    return field(default=model, repr=repr, metadata=metadata)


@dataclass
class Read:
    """What reading a table (or an array of tables) gave: its values and its model."""

    values: Any  # attribute -> model value (INVALID where bad); a list of Reads for an array
    model: Any  # the built model, or INVALID


@dataclass
class Scope:
    """What a rule sees: the table's path, its raw keys and its model values by attribute
    (for an array of tables: the raw array and the :class:`Read` of each element)."""

    c: Checker
    path: KeyPath
    raw: Any
    values: Any

    def at(self, *keys: str | int) -> KeyPath:
        """The path of a key inside this table."""
        return (*self.path, *keys)

    def bad(self, key: str | int, message: str) -> None:
        self.c.bad((*self.path, key), message)

    def read(self, path: KeyPath) -> Read | None:
        """What was read at ``path`` earlier (a section or array before this one)."""
        return self.c.reads.get(path)


Rule = Callable[[Scope], None]


@dataclass(frozen=True)
class Table:
    """A TOML table: its keys in order, how its model is built, and its cross-field rules (run
    after its keys are read, in order). Its help is that of the key that holds it."""

    keys: tuple[Key, ...]
    build: Callable[[dict[str, Any]], Any] = dict
    rules: tuple[Rule, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    @staticmethod
    def of(model: type, *, rules: tuple[Rule, ...] = ()) -> Table:
        """The table that ``model``'s declared fields make, with the model's own ``RULES`` and
        then ``rules``; the model is built from the values."""
        own = getattr(model, "RULES", ())
        return Table(_declared_keys(model), lambda values: model(**values), own + rules)


@functools.cache
def _declared_keys(model: type) -> tuple[Key, ...]:
    keys = []
    for f in dataclasses.fields(model):
        declared = f.metadata.get("setting")
        if declared is not None:
            keys.append(dataclasses.replace(declared, name=declared.name or f.name, attr=f.name))
    return tuple(keys)


def read_table(c: Checker, table: Table, raw: Any, path: KeyPath) -> Read:
    """Read ``raw`` by ``table``: unknown keys, every key in order, then the rules."""
    given = c.table(raw, path, table.names)
    if given is None:
        read = Read({}, INVALID)
    else:
        values = {key.model_attr: _read_key(c, key, given, path) for key in table.keys}
        for rule in table.rules:
            rule(Scope(c, path, given, values))
        valid = not any(value is INVALID for value in values.values())
        read = Read(values, table.build(values) if valid else INVALID)
    c.reads[path] = read
    return read


def _read_key(c: Checker, key: Key, given: dict[str, Any], path: KeyPath) -> Any:
    if key.name in given:
        return key.kind.read(c, given[key.name], (*path, key.name))
    if key.optional:
        return key.absent()
    c.missing((*path, key.name), key.why or key.kind.hint)
    return INVALID


def _as_table(table: Table | type) -> Table:
    """A table declaration, or the one that a model class's declared fields make."""
    return table if isinstance(table, Table) else Table.of(table)


class Section(Kind):
    """A table inside a table (``[hardware.gpio]``), read by its own declaration."""

    type_name = "table"

    def __init__(self, table: Table | type) -> None:
        self._table = table

    @functools.cached_property
    def table(self) -> Table:
        return _as_table(self._table)

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        return read_table(c, self.table, value, path).model

    def default_model(self) -> Any:
        """The model built from the keys' defaults (for a section that may be left out)."""
        return self.table.build({key.model_attr: key.absent() for key in self.table.keys})

    def to_file(self, value: Any) -> Any:
        get = value.get if isinstance(value, dict) else functools.partial(getattr, value)
        return {
            key.name: key.kind.to_file(get(key.model_attr))
            for key in self.table.keys
            if get(key.model_attr) is not None
        }


class Tables(Kind):
    """An array of tables (``[[counters]]``), each read by ``table``; read as a tuple.

    Keys declared ``unique`` must differ across the elements; ``rules`` see all elements.
    """

    type_name = "array of tables"

    def __init__(
        self, table: Table | type, *, nonempty: bool = False, rules: tuple[Rule, ...] = ()
    ) -> None:
        self._table, self.nonempty, self.rules = table, nonempty, rules

    @functools.cached_property
    def table(self) -> Table:
        return _as_table(self._table)

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        if not isinstance(value, list):
            c.bad(path, f"expected an array, got {describe(value)}")
            return INVALID
        if self.nonempty and not value:
            c.bad(path, "must not be empty, got []")
            return INVALID
        unique = {key: Unique(c, key.unique) for key in self.table.keys if key.unique}
        elements = []
        for i, item in enumerate(value):
            read = read_table(c, self.table, item, (*path, i))
            for key, seen in unique.items():
                found = read.values.get(key.model_attr, INVALID)
                if found is not INVALID and not seen.add(found, (*path, i), key.name):
                    read.model = INVALID
            elements.append(read)
        for rule in self.rules:
            rule(Scope(c, path, value, elements))
        valid = all(read.model is not INVALID for read in elements)
        model = tuple(read.model for read in elements) if valid else INVALID
        c.reads[path] = Read(elements, model)
        return model

    def to_file(self, value: Any) -> Any:
        return [Section(self.table).to_file(item) for item in value]

    def limits(self) -> str:
        return "at least one" if self.nonempty else ""


def check_instance(instance: Any, section: str) -> None:
    """Check a settings object built by hand by its declarations and ``RULES``, as if it had
    been read from ``[section]``; raise :class:`ValueError` naming every bad key."""
    table = Table.of(type(instance))
    c = Checker(Layers())
    read_table(
        c, dataclasses.replace(table, build=dict), Section(table).to_file(instance), (section,)
    )
    if c.problems:
        raise ValueError("; ".join(f"{p.key}: {p.message}" for p in c.problems))
