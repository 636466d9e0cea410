"""Load the configuration: shipped defaults, then each given TOML file over it, then validate.

>>> cfg = load_config("/etc/counterside/counterside.toml")      # doctest: +SKIP
>>> cfg.business_type("cash").wait_limit_s                       # doctest: +SKIP
900.0

Every problem found (in all files) is raised together as one :class:`ConfigError`; each names the
file that supplied the bad value, the dotted key and what is wrong.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.errors import ConfigError, Problem
from config.layers import Layers
from config.model import Config
from config.validate import build_config

ENV_VAR = "COUNTERSIDE_CONFIG"
SYSTEM_CONFIG_PATH = Path("/etc/counterside/counterside.toml")

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def default_config_path() -> Path:
    """The shipped defaults (a complete demo branch)."""
    return Path(__file__).with_name("defaults.toml")


def example_config_path() -> Path:
    """The shipped example override for a real branch."""
    return Path(__file__).parent / "examples" / "branch-example.toml"


def find_config(
    explicit: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    system_path: Path = SYSTEM_CONFIG_PATH,
) -> list[Path]:
    """Which files to load over the defaults.

    ``[explicit]`` if given (e.g. ``--config``); else ``$COUNTERSIDE_CONFIG`` (several files may
    be separated by ``os.pathsep``); else ``/etc/counterside/counterside.toml`` if it exists;
    else ``[]`` (defaults only). Existence is checked only for the system path: an explicitly
    named file that is missing is reported by :func:`load_config`.
    """
    if explicit:
        return [Path(explicit)]
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "").strip()
    if value:
        return [Path(part) for part in value.split(os.pathsep) if part.strip()]
    if system_path.is_file():
        return [system_path]
    return []


def load_config(*paths: str | os.PathLike[str], use_defaults: bool = True) -> Config:
    """Merge the defaults (unless ``use_defaults=False``) and ``paths`` in order, then validate.

    Raises :class:`ConfigError` with every problem: unreadable or missing files and TOML syntax
    errors first (nothing is validated then), otherwise every invalid value.
    """
    files = list(map(Path, paths))
    documents: list[tuple[str, dict[str, Any]]] = []
    problems: list[Problem] = []
    if use_defaults:
        defaults = _defaults(problems)
        if defaults is not None:
            documents.append(defaults)
    for path in files:
        name = str(path)
        text = _read(path, problems)
        if text is not None:
            document = _parse(text, name, problems)
            if document is not None:
                documents.append((name, document))
    return _build(documents, problems)


def load_config_text(text: str, name: str = "<string>", *, use_defaults: bool = True) -> Config:
    """Like :func:`load_config` with one file whose content is ``text``, reported as ``name``."""
    problems: list[Problem] = []
    documents: list[tuple[str, dict[str, Any]]] = []
    if use_defaults:
        defaults = _defaults(problems)
        if defaults is not None:
            documents.append(defaults)
    document = _parse(text, name, problems)
    if document is not None:
        documents.append((name, document))
    return _build(documents, problems)


def _defaults(problems: list[Problem]) -> tuple[str, dict[str, Any]] | None:
    """The shipped defaults, parsed once per version of the file (a centre reads hundreds of
    branch files over them); a copy each time, so no caller can change another's."""
    path = default_config_path()
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = (str(path), 0, 0)
    parsed = _parsed_defaults(key)
    if parsed is None:  # not readable or not TOML: say why, as for any file
        text = _read(path, problems)
        if text is not None:
            _parse(text, str(path), problems)
        return None
    return str(path), copy.deepcopy(parsed)


@functools.lru_cache(maxsize=4)
def _parsed_defaults(key: tuple[str, int, int]) -> dict[str, Any] | None:
    scratch: list[Problem] = []
    text = _read(Path(key[0]), scratch)
    return _parse(text, key[0], scratch) if text is not None else None


def _build(documents: list[tuple[str, dict[str, Any]]], problems: list[Problem]) -> Config:
    if problems:
        raise ConfigError(problems)
    if not documents:
        raise ConfigError([Problem("<no configuration file>", "", "no configuration file given")])
    layers = Layers()
    for name, document in documents:
        layers.merge(document, name)
    return build_config(layers)


def _read(path: Path, problems: list[Problem]) -> str | None:
    name = str(path)
    where = "" if path.is_absolute() else f" (looked for {path.absolute()})"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append(Problem(name, "", f"configuration file not found{where}"))
        return None
    except IsADirectoryError:
        problems.append(Problem(name, "", "is a directory, expected a TOML file"))
        return None
    except OSError as err:
        problems.append(Problem(name, "", f"cannot read the file: {err.strerror or err}"))
        return None
    try:
        # utf-8-sig: tolerate the byte-order mark some Windows editors write.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        problems.append(
            Problem(name, "", f"not UTF-8 text (bad byte at offset {err.start}); save as UTF-8")
        )
        return None


def _parse(text: str, name: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        match = _AT.search(message)
        if match is None:
            problems.append(Problem(name, "", f"TOML syntax error: {message}"))
            return None
        line, column = int(match.group(1)), int(match.group(2))
        reason = message[: match.start()]
        lines = text.splitlines()
        shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        context = f" in {shown[:60]!r}" if shown else ""
        problems.append(
            Problem(
                name,
                "",
                f"TOML syntax error at line {line}, column {column}: {reason}{context}",
                line=line,
            )
        )
        return None
