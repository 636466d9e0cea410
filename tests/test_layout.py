"""The layout shows the architecture, and the imports keep to it (issue 8).

- ``domain``: the pure domain (tickets, queue, counter sessions, rating, timing, business days,
  the clock, the typed events); no I/O, no pygame, no MQTT, no SQLite;
- ``device``: the running device app (command line, launch, runtime, MQTT link, store,
  controller's queue service, simulation), which wires everything together;
- ``sync``: the wire (MQTT connection, topics, message schema, uplink, queue protocol);
- ``central``: the central office; ``drivers`` and ``screens``: hardware and pygame views that
  take plain values; ``config``: the configuration; ``support``: small helpers for all;
- ``sim``: simulated people acting through the running apps (``counterside demo``, ``simulate``),
  which start the broker, the centre and the apps by command line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("support", "config", "domain", "drivers", "screens", "sync", "central", "device", "sim")
ALLOWED: dict[str, set[str]] = {
    "support": set(),
    "config": set(),
    "domain": {"config"},
    "drivers": {"config", "support"},
    "screens": {"config"},
    "sync": {"domain", "config", "support"},
    "central": {"sync", "domain", "config", "support"},
    "device": {"domain", "sync", "drivers", "screens", "config", "support"},
    "sim": {"device", "domain", "sync", "config", "support"},
}
# The one import against the flow: `counterside centre ...` is handed to the centre's own command
# line, imported only when that subcommand runs.
EXCEPTIONS = {("device/cli.py", "central.cli"), ("device/cli.py", "sim.cli")}
IO_MODULES = (
    "sqlite3",
    "sqlite_utils",
    "pygame",
    "paho",
    "serial",
    "gpiozero",
    "socket",
    "subprocess",
)


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", OURS)
def test_imports_flow_one_way(package: str) -> None:
    wrong = []
    for path in sources(package):
        rel = path.relative_to(ROOT).as_posix()
        for name in imports(path):
            top = name.split(".")[0]
            against = top in OURS and top != package and top not in ALLOWED[package]
            if against and (rel, name) not in EXCEPTIONS:
                wrong.append(f"{rel} imports {name}")
    assert wrong == [], f"{package} may import only {sorted(ALLOWED[package])}"


def test_the_domain_does_no_io() -> None:
    wrong = [
        f"{path.relative_to(ROOT).as_posix()} imports {name}"
        for path in sources("domain")
        for name in imports(path)
        if name.split(".")[0] in IO_MODULES
    ]
    assert wrong == []


def test_the_drivers_know_every_key_of_the_domain_by_name() -> None:
    from domain.branch import Key
    from drivers.keys import KEY_NAMES

    assert tuple(k.value for k in Key) == KEY_NAMES


def test_every_top_level_package_is_listed() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(OURS)


def test_docs_events_md_is_generated_from_the_event_contract() -> None:
    from device import events_doc

    assert events_doc.main(["--check"]) == 0, "run: python -m device.events_doc"


def test_every_event_type_has_one_payload_class_and_every_class_a_type() -> None:
    from domain import events as ev

    assert set(ev.PAYLOADS) == {str(t) for t in ev.EventType}
    assert len(set(ev.PAYLOADS.values())) == len(ev.PAYLOADS)


def test_production_code_reads_payloads_by_their_typed_fields() -> None:
    """``payload["x"]`` is the stored JSON's view, for tests and tools; the code of every part
    reads typed attributes, so a renamed field cannot go unnoticed."""
    import re

    mapping = re.compile(r"\b(payload|p)(\[\s*[\"']|\.get\(\s*[\"'])")
    wrong = [
        f"{path.relative_to(ROOT).as_posix()}:{n}"
        for package in ("domain", "device", "sync", "central")
        for path in sources(package)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if mapping.search(line) and path.name != "events.py"  # where the JSON view is defined
    ]
    assert wrong == []
