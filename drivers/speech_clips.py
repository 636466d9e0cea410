"""Announcements joined from pre-recorded clips: ``<clips_dir>/<language>/<name>.wav``.

The text is cut into clip names by greedy longest match (``欢迎光临.wav`` wins over ``欢.wav``);
digit clips may be named ``0.wav``…``9.wav`` or ``零.wav``…``九.wav``, and either spelling in the
text finds them. Spaces and punctuation without a clip of their own are skipped. If any part has
no clip, or the clips differ in format, the whole announcement is spoken by the fallback engine
(espeak-ng) instead and the reason is logged.
"""

from __future__ import annotations

import logging
import unicodedata
import wave
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from drivers.speech_base import SpeechEngine, SpeechError, SpeechUnavailable

log = logging.getLogger(__name__)

ZH_DIGITS = "零一二三四五六七八九"
_ALIASES = {**{z: str(d) for d, z in enumerate(ZH_DIGITS)}, "幺": "1", "〇": "0"}
_ALIASES |= {str(d): z for d, z in enumerate(ZH_DIGITS)}


class MissingClip(SpeechError):
    """A part of the text has no clip."""

    def __init__(self, fragment: str, position: int) -> None:
        super().__init__(f"no clip for {fragment!r} (at character {position})")
        self.fragment = fragment
        self.position = position


class ClipFormatError(SpeechError):
    """Clips that cannot be joined because their WAV formats differ."""


def _skippable(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PZ"


def _lookup(fragment: str, names: Collection[str]) -> str | None:
    for candidate in (fragment, fragment.upper(), _ALIASES.get(fragment)):
        if candidate is not None and candidate in names:
            return candidate
    return None


def split_into_clips(text: str, names: Collection[str]) -> list[str]:
    """Cut ``text`` into clip names, longest match first; raise :class:`MissingClip`."""
    longest = max((len(n) for n in names), default=0)
    parts: list[str] = []
    i = 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 0, -1):
            name = _lookup(text[i : i + size], names)
            if name is not None:
                parts.append(name)
                i += size
                break
        else:
            if not _skippable(text[i]):
                raise MissingClip(text[i], i)
            i += 1
    return parts


def clip_index(folder: Path) -> dict[str, Path]:
    """Clip name → file for every ``*.wav`` in ``folder`` (Unicode names normalised to NFC)."""
    return {unicodedata.normalize("NFC", p.stem): p for p in sorted(folder.glob("*.wav"))}


def _format(w: wave.Wave_read) -> tuple[int, int, int, str]:
    return (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getcomptype())


def _describe(fmt: tuple[int, int, int, str]) -> str:
    return f"{fmt[0]} channel(s), {8 * fmt[1]} bit, {fmt[2]} Hz, {fmt[3]}"


def join_wavs(paths: Sequence[Path], out: Path, gap_s: float = 0.0) -> None:
    """Concatenate WAV files of one format into ``out``, with ``gap_s`` of silence between."""
    if not paths:
        raise SpeechError("nothing to join: the text has no clips")
    chunks: list[bytes] = []
    first: tuple[int, int, int, str] | None = None
    for path in paths:
        try:
            with wave.open(str(path), "rb") as w:
                fmt = _format(w)
                frames = w.readframes(w.getnframes())
        except (OSError, EOFError, wave.Error) as exc:
            raise ClipFormatError(f"{path}: not a readable PCM WAV file ({exc})") from exc
        if first is None:
            first = fmt
        elif fmt != first:
            raise ClipFormatError(
                f"{path}: {_describe(fmt)} differs from {paths[0]}: {_describe(first)}; "
                "all clips of a language must share one format"
            )
        if chunks and gap_s > 0:
            silence = b"\x80" if fmt[1] == 1 else b"\x00"
            chunks.append(silence * (round(gap_s * fmt[2]) * fmt[0] * fmt[1]))
        chunks.append(frames)
    assert first is not None
    with wave.open(str(out), "wb") as w:
        w.setnchannels(first[0])
        w.setsampwidth(first[1])
        w.setframerate(first[2])
        w.writeframes(b"".join(chunks))


class ClipEngine:
    """Speaks by joining clips; falls back to another engine for texts it cannot cover."""

    def __init__(
        self,
        clips_dir: Path | str,
        fallback: SpeechEngine | None = None,
        gap_s: float = 0.0,
        folders: Mapping[str, str] | None = None,
    ) -> None:
        self.clips_dir = Path(clips_dir)
        self.fallback = fallback
        self.gap_s = gap_s
        self.folders = dict(folders or {})
        self._warned: set[str] = set()

    def folder(self, language: str) -> Path:
        return self.clips_dir / self.folders.get(language, language)

    def plan(self, text: str, language: str) -> list[Path]:
        """The clip files that speak ``text``; raises `MissingClip` or `SpeechUnavailable`."""
        folder = self.folder(language)
        index = clip_index(folder) if folder.is_dir() else {}
        if not index:
            raise SpeechUnavailable(f"no clips in {folder}")
        text = unicodedata.normalize("NFC", text)
        return [index[name] for name in split_into_clips(text, index)]

    def synthesize(self, text: str, language: str, out: Path) -> None:
        try:
            join_wavs(self.plan(text, language), out, self.gap_s)
            return
        except MissingClip as exc:
            key, why = f"{language}:{exc.fragment}", f"{exc} in {self.folder(language)}"
        except SpeechError as exc:  # no clip folder, unreadable clip or mixed formats
            key, why = f"{language}:{type(exc).__name__}:{exc}", str(exc)
        if self.fallback is None:
            raise SpeechError(f"cannot speak {text!r} from clips: {why}")
        level = logging.DEBUG if key in self._warned else logging.WARNING
        self._warned.add(key)
        log.log(level, "clips: %s; speaking %r with the fallback engine", why, text)
        self.fallback.synthesize(text, language, out)
