"""``docs/events.md``: every event type with its fields, generated from ``domain/events.py``.

``python -m device.events_doc`` writes the file; ``--check`` says whether it is up to date (a test
runs it). Where each payload is raised and read is found in the sources, so the page cannot drift
from the code either.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import types
import typing
from pathlib import Path

import msgspec

from domain import events as ev

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "events.md"
SOURCES = ("domain", "device", "sync", "central", "drivers")
PARTS = (
    ev.TicketInfo,
    ev.QueuedTicket,
    ev.TellerInfo,
    ev.RequestRef,
    ev.TicketRef,
    ev.Timeline,
    ev.Limits,
)

HEAD = """# Events

Generated from `domain/events.py` by `python -m device.events_doc`; do not edit (a test checks it).

Everything the centre knows is derived from these events. Each has an identity given by the
device's event store (a UUID, the device id, a contiguous sequence number per store, the boot id,
the monotonic and the wall-clock time) and a typed payload, below. Payloads are JSON objects;
instants are `{"mono", "wall", "boot"}`; dates are `YYYY-MM-DD`. Fields added later have defaults,
so older events still read; a field not declared here is ignored; a payload whose fields do not
fit their types is refused (at the centre: quarantined with the reason).

The path of a rating, for example: the customer's key press becomes `rating.press` and the
transaction's record `transaction.closed` in `domain/counter.py`; `device/app.py` stores them
(`device/store.py`, with the branch's state, before the pad says thank you); `sync/uplink.py` sends
them in batches until the centre acknowledges them; `central/` files each exactly once, and the
centre counts 满意率 and 评价率 from `transaction.closed` (its `rating`, `satisfied`,
`rating_status`), derived with `domain/report.py`, the same code as the device's export.
"""


def type_name(annotation: object) -> str:
    """A readable name of a field's type."""
    if isinstance(annotation, type):
        return {"str": "text", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__, f"`{annotation.__name__}`"
        )
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        return " or ".join(type_name(a) for a in args) + (" or null" if optional else "")
    return str(annotation)


def fields_table(cls: type[msgspec.Struct]) -> list[str]:
    hints = typing.get_type_hints(cls)
    lines = ["| field | type | default |", "| --- | --- | --- |"]
    for field in msgspec.structs.fields(cls):
        if field.default is not msgspec.NODEFAULT:
            default = f"`{msgspec.json.encode(field.default).decode()}`"
        elif field.default_factory is not msgspec.NODEFAULT:
            default = f"`{msgspec.json.encode(field.default_factory()).decode()}`"
        else:
            default = "required"
        lines.append(f"| `{field.encode_name}` | {type_name(hints[field.name])} | {default} |")
    return lines


def where(name: str, kind: str, sources: dict[str, str]) -> tuple[list[str], list[str]]:
    """The modules that make a ``name`` payload (or a ``kind`` event of a driver's plain
    values, which the app types) and those that otherwise refer to it."""
    made = re.compile(
        rf"\b(?:ev\.)?{name}\(\s*\w+=|\w\(\s*ev\.{name},|_event\(\s*\"{re.escape(kind)}\""
    )
    named = re.compile(rf"\b(?:ev\.)?{name}\b")

    def making(text: str) -> bool:
        code = "\n".join(
            line for line in text.splitlines() if not line.lstrip().startswith("case ")
        )
        return made.search(code) is not None

    raised = sorted(path for path, text in sources.items() if making(text))
    read = sorted(
        path for path, text in sources.items() if path not in raised and named.search(text)
    )
    return raised, read


def render() -> str:
    sources = {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
        for package in SOURCES
        for p in sorted((ROOT / package).rglob("*.py"))
        if p.name != "events.py" or package != "domain"
    }
    out = [HEAD, "## Event types", ""]
    for event_type in ev.EventType:
        cls = ev.PAYLOADS[event_type]
        out.append(f"### `{event_type}`: {cls.__name__}")
        out.append("")
        doc = inspect.getdoc(cls)
        if doc and cls.__doc__:
            out += [doc, ""]
        out += fields_table(cls)
        raised, read = where(cls.__name__, event_type, sources)
        out.append("")
        made = ", ".join(f"`{p}`" for p in raised) or "—"
        used = ", ".join(f"`{p}`" for p in read)
        out.append(f"Raised in {made}" + (f"; also read in {used}." if used else "."))
        out.append("")
    out += ["## Parts of payloads", ""]
    for part in PARTS:
        out.append(f"### {part.__name__}")
        out.append("")
        out += [inspect.getdoc(part) or "", ""] if part.__doc__ else []
        out += fields_table(part)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m device.events_doc", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python -m device.events_doc")
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}: {len(ev.EventType)} event types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
