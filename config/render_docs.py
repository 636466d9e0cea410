"""Write the key tables of ``docs/configuration.md`` from the declared settings.

Each table of the file (``voice``, ``hardware.gpio``, ``business_types.bands`` ...) becomes a
markdown table of its keys: type, shipped default, range or choices, and help. In the document a
table stands between ``<!-- keys PATH -->`` and ``<!-- end keys -->``; ``python -m
config.generate`` rewrites what is between them, and a test keeps them equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from config.declare import NO_VALUE, Key, Section, Table, Tables
from config.layout import ROOT
from config.render_toml import inline
from config.scales import PRESET_SCALES

MARKER = re.compile(r"(<!-- keys (\S+) -->\n)(.*?)(<!-- end keys -->)", re.DOTALL)
HEAD = "| key | type | default | limits / meaning |\n| --- | --- | --- | --- |\n"


def key_tables() -> dict[str, str]:
    """Every declared table's markdown, by dotted path (``hardware.gpio``), and the preset
    rating scales (``rating.presets``)."""
    tables = {path: _markdown(path, key, table) for path, key, table in _tables(ROOT, ())}
    return {**tables, "rating.presets": _presets()}


def _tables(table: Table, path: tuple[str, ...]) -> Iterator[tuple[str, Key, Table]]:
    for key in table.keys:
        if isinstance(key.kind, Section | Tables):
            inner = key.kind.table
            here = (*path, key.name)
            if any(not isinstance(k.kind, Section) for k in inner.keys):
                yield ".".join(here), key, inner
            yield from _tables(inner, here)


def fill(document: str, tables: dict[str, str]) -> str:
    """``document`` with each marked table replaced by its rendering; an unknown path is kept
    as it is (the check reports it)."""

    def replace(match: re.Match[str]) -> str:
        body = tables.get(match.group(2), match.group(3))
        return match.group(1) + body + match.group(4)

    return MARKER.sub(replace, document)


def marked(document: str) -> dict[str, str]:
    """What stands between the markers, by path."""
    return {match.group(2): match.group(3) for match in MARKER.finditer(document)}


def _markdown(path: str, holder: Key, table: Table) -> str:
    rows = [_row(path, key) for key in table.keys]
    text = HEAD + "".join(rows)
    if isinstance(holder.kind, Tables) and holder.file_value not in (NO_VALUE, []):
        text += f"\nShipped in `config/defaults.toml`: {_brief(holder.file_value)}.\n"
    return text


def _row(path: str, key: Key) -> str:
    kind = key.kind
    kind_name = kind.type_name + (", optional" if key.optional else "")
    meaning = ": ".join(part for part in (kind.limits(), key.help) if part)
    if isinstance(kind, Section):
        meaning += f": `[{path}.{key.name}]`"
    if key.model_attr != key.name:
        meaning += f" (model: `{key.model_attr}`)"
    cells = (f"`{key.name}`", kind_name, _default(key), meaning or "—")
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |\n"


def _default(key: Key) -> str:
    if isinstance(key.kind, Section):
        return "—"
    value = key.file_value
    if value is NO_VALUE:
        return "none" if key.optional else "—"
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        return _brief(value)
    return f"`{inline(value)}`"


def _brief(items: list[dict]) -> str:
    """The labels of a list of tables: their ``zh``, ``name.zh`` or ``code``."""
    labels = []
    for item in items:
        if "code" in item:
            labels.append(f"`{item['code']}`")
        elif "zh" in item:
            labels.append(item["zh"])
        else:
            labels.append(item["name"]["zh"])
    return ", ".join(labels)


def _presets() -> str:
    """The preset rating scales, highest level first."""
    rows = ["| scale | levels (value label) | satisfied by default |\n| --- | --- | --- |\n"]
    for name, scale in PRESET_SCALES.items():
        levels = " · ".join(
            f"{value} {zh} {en}" + (" (*neutral*)" if neutral else "")
            for value, zh, en, neutral in scale.levels
        )
        satisfied = ", ".join(str(v) for v in sorted(scale.satisfied, reverse=True))
        rows.append(f"| `{name}` | {levels} | {satisfied} |\n")
    return "".join(rows)
