"""Helpers shared by the configuration tests: write an override, collect its problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError, Problem
from config.loader import load_config


def write(tmp_path: Path, text: str, name: str = "override.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(*paths: Path, use_defaults: bool = True) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(*paths, use_defaults=use_defaults)
    return caught.value.problems


def assert_one_problem(tmp_path: Path, override: str, key: str, fragment: str) -> None:
    """``override`` over the defaults gives one problem: its file, ``key`` and ``fragment``."""
    path = write(tmp_path, override)
    problems = problems_of(path)
    assert [(p.file, p.key) for p in problems] == [(str(path), key)], problems
    assert fragment in problems[0].message
    assert str(problems[0]) == f"{path}: {key}: {problems[0].message}"
