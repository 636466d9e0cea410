"""What every speech engine and audio player shares: their interfaces, errors and quiet logging."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol


class SpeechError(Exception):
    """An announcement could not be turned into audio."""


class SpeechUnavailable(SpeechError):
    """The engine itself is missing (binary not installed, clip folder absent)."""


class SpeechEngine(Protocol):
    """Turns text in one language into a WAV file."""

    def synthesize(self, text: str, language: str, out: Path) -> None:
        """Write ``text`` spoken in ``language`` to ``out``; raise :class:`SpeechError`."""
        ...


class Player(Protocol):
    """Plays a WAV file to the end; a failing player logs and returns, it never raises."""

    def __call__(self, wav: Path) -> object: ...


class LogOnce:
    """Warn the first time a kind of problem happens; stay quiet until it has gone away.

    A counter without a speaker must keep working without filling the log with one line per
    announcement.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._active: set[str] = set()

    def problem(self, kind: str, message: str, *args: object) -> None:
        if kind in self._active:
            self._log.debug(message, *args)
            return
        self._active.add(kind)
        self._log.warning(message, *args)

    def resolved(self, kind: str, message: str | None = None) -> None:
        if kind in self._active:
            self._active.discard(kind)
            if message:
                self._log.info(message)
