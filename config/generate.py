"""Write what is generated from the declared settings: ``config/defaults.toml`` and the key
tables of ``docs/configuration.md``.

    python -m config.generate           # write both
    python -m config.generate --check   # exit 1, naming the file, if either is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.loader import default_config_path
from config.render_docs import fill, key_tables, marked
from config.render_toml import defaults_toml

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def expected(defaults: Path, docs: Path) -> dict[Path, str]:
    """Each generated file and the text it should have."""
    return {defaults: defaults_toml(), docs: fill(_read(docs), key_tables())}


def problems(defaults: Path, docs: Path) -> list[str]:
    """What is out of date: stale files, tables without a marker, markers without a table."""
    stale = expected(defaults, docs)
    found = [f"{path}: out of date" for path, text in stale.items() if _read(path) != text]
    tables, document = key_tables(), marked(_read(docs))
    found += [f"{docs}: no <!-- keys {path} --> marker" for path in tables if path not in document]
    found += [
        f"{docs}: <!-- keys {path} --> is no table" for path in document if path not in tables
    ]
    return found


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report what is out of date")
    args = parser.parse_args(argv)
    defaults = default_config_path()
    if not args.check:
        for path, text in expected(defaults, DOCS).items():
            path.write_text(text, encoding="utf-8")
    found = problems(defaults, DOCS)
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
