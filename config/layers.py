"""Deep-merge of TOML documents that remembers which file supplied each value.

Tables merge key by key; anything else (strings, numbers, arrays, arrays of tables) is replaced
whole by the later file. Every node of the merged tree has an origin: the file that last set it
(for a table merged from several files, the last file that touched it).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key(path: KeyPath) -> str:
    """``("business_types", 2, "wait_limit_min")`` -> ``business_types[2].wait_limit_min``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            out += f".{name}" if out else name
    return out


class Layers:
    """The merged configuration tree plus the origin of each of its values."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.files: list[str] = []
        self._origins: dict[KeyPath, str] = {}

    def merge(self, document: dict[str, Any], file: str) -> None:
        """Lay ``document`` (read from ``file``) over what was merged so far."""
        self.files.append(file)
        self._merge(self.data, document, (), file)

    def _merge(self, dst: dict[str, Any], src: dict[str, Any], path: KeyPath, file: str) -> None:
        for key, value in src.items():
            here = (*path, key)
            if isinstance(value, dict) and isinstance(dst.get(key), dict):
                self._origins[here] = file
                self._merge(dst[key], value, here, file)
                continue
            n = len(here)
            for old in [p for p in self._origins if p[:n] == here]:
                del self._origins[old]
            dst[key] = copy.deepcopy(value)
            self._record(value, here, file)

    def _record(self, value: Any, path: KeyPath, file: str) -> None:
        self._origins[path] = file
        if isinstance(value, dict):
            for key, item in value.items():
                self._record(item, (*path, key), file)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._record(item, (*path, i), file)

    @property
    def last_file(self) -> str:
        return self.files[-1] if self.files else "<no configuration file>"

    def origin(self, path: KeyPath) -> str:
        """The file that supplied the value at ``path`` (or its nearest recorded ancestor)."""
        for n in range(len(path), 0, -1):
            found = self._origins.get(path[:n])
            if found is not None:
                return found
        return self.last_file

    def origin_of_missing(self, parent: KeyPath) -> str:
        """The file to blame for a key missing from table ``parent``.

        Inside an array element that is the file that supplied the array (arrays replace whole,
        so only that file could have given the key); elsewhere the last file given.
        """
        if any(isinstance(part, int) for part in parent):
            return self.origin(parent)
        return self.last_file
