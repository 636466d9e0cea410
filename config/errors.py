"""Configuration problems: each one names the file, the dotted key and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration.

    ``file`` is the file that supplied the bad value (for a missing key: the file expected to add
    it), ``key`` the dotted key path with list indexes (``business_types[2].wait_limit_min``; empty
    for problems with a whole file), ``line`` the line for TOML syntax errors.
    """

    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        if self.key:
            return f"{self.file}: {self.key}: {self.message}"
        return f"{self.file}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists everything found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
