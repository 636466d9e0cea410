"""The voice announcer: configured texts spoken offline, one announcement at a time, in order.

``Announcer`` renders each announcement to a WAV file (espeak-ng, or joined clips) and plays it
with a player command on one worker thread, so announcements never overlap. ``announce`` only
enqueues. A missing speaker, player or espeak-ng is logged once and never stops the counter.
``RecordingAnnouncer`` is the simulated twin with the same interface. What they keep for
inspection (dropped announcements, recorded ones) is bounded to the last :data:`KEEP`, with a
running total, so a counter that runs for months does not grow. The settings type,
:class:`VoiceSettings`, is the ``[voice]`` table of :mod:`config.model` (``Config.voice``).

Ticket numbers are always read digit by digit (``spoken_ticket``): "A012" is "A 零 一 二",
never "A 十二", and 1208 can never be heard as 2108.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from config.model import VOICE_ENGINES, TextsConfig, VoiceSettings
from drivers.speech_base import LogOnce, Player, SpeechEngine, SpeechError
from drivers.speech_clips import ZH_DIGITS, ClipEngine
from drivers.speech_espeak import CommandPlayer, EspeakEngine

log = logging.getLogger(__name__)

Kind = Literal["call", "prompt"]
KEEP = 200
"""How many dropped (or, in the twin, recorded) announcements are kept for inspection."""
ENGINES = VOICE_ENGINES
Texts = TextsConfig | Mapping[str, Mapping[str, str]]


def spoken_ticket(number: str, language: str, digits: str = ZH_DIGITS) -> str:
    """How a ticket number is said: every digit on its own, letters spelled.

    ``spoken_ticket("A012", "zh-CN") == "A 零 一 二"``; in English ``"A0 1 2"`` (the letter is
    joined to the first digit so that espeak-ng says "ay", not the article "a").
    """
    zh = language != "en"
    parts: list[str] = []
    for i, char in enumerate(number):
        said = digits[int(char)] if zh and char in "0123456789" else char
        after_letter = i > 0 and number[i - 1].isascii() and number[i - 1].isalpha()
        if parts and not zh and after_letter:
            parts[-1] += said
        else:
            parts.append(said)
    return " ".join(parts)


def render(texts: Texts, template_key: str, language: str, *, digits: str = ZH_DIGITS, **fields):
    """The text of ``template_key`` in ``language`` with ``fields`` filled in.

    ``texts`` is the config's :class:`TextsConfig` or a plain ``{language: {key: template}}``
    dict; languages and keys fall back to ``zh-CN``. A ``ticket`` field is read digit by digit.
    """
    template = _template(texts, template_key, language)
    if "ticket" in fields:
        fields["ticket"] = spoken_ticket(str(fields["ticket"]), language, digits)
    try:
        return template.format(**fields)
    except (KeyError, IndexError) as exc:
        raise ValueError(
            f"texts.{language}.{template_key}: {template!r} needs the field {exc}"
        ) from exc


def _template(texts: Texts, key: str, language: str) -> str:
    if isinstance(texts, TextsConfig):
        texts = texts.by_language
    for lang in (language, "zh-CN"):
        found = texts.get(lang, {}).get(key)
        if found:
            return found
    raise KeyError(f"texts.{language}.{key}: no such voice text")


@dataclass(frozen=True)
class Announcement:
    """One queued announcement; ``seq`` is unique per announcer and names its WAV file."""

    seq: int
    text: str
    language: str
    kind: Kind
    repeat: int

    @property
    def wav_name(self) -> str:
        return f"{self.seq:05d}.wav"


class _Base:
    """What the real announcer and its twin share: settings, templates, numbering."""

    def __init__(self, settings: VoiceSettings | None, texts: Texts | None) -> None:
        self.settings = settings or VoiceSettings()
        self.texts = texts
        self._seq = 0
        self._lock = threading.Lock()

    def render(self, template_key: str, language: str | None = None, **fields) -> str:
        if self.texts is None:
            raise KeyError(f"texts.{template_key}: this announcer was given no texts")
        lang = language or self.settings.language
        return render(self.texts, template_key, lang, digits=self.settings.zh_digits, **fields)

    def _make(self, text: str, repeat: int | None, kind: Kind, language: str | None):
        if kind not in ("call", "prompt"):
            raise ValueError(f"announcement kind {kind!r} is not 'call' or 'prompt'")
        s = self.settings
        default = s.call_repeat if kind == "call" else s.prompt_repeat
        count = default if repeat is None else repeat
        if count < 1:
            raise ValueError(f"repeat must be at least 1, not {count}")
        with self._lock:
            self._seq += 1
            return Announcement(self._seq, text, language or s.language, kind, count)

    def announce(
        self,
        text: str,
        repeat: int | None = None,
        *,
        kind: Kind = "prompt",
        language: str | None = None,
    ) -> Announcement:
        raise NotImplementedError

    def say(
        self, template_key: str, language: str | None = None, *, repeat: int | None = None, **fields
    ) -> Announcement:
        """Render a configured text and announce it (templates in ``call_templates`` are calls)."""
        kind: Kind = "call" if template_key in self.settings.call_templates else "prompt"
        text = self.render(template_key, language, **fields)
        return self.announce(text, repeat, kind=kind, language=language)


class Announcer(_Base):
    """Speaks announcements in order on one worker thread; see the module docstring."""

    def __init__(
        self,
        engine: SpeechEngine,
        player: Player,
        settings: VoiceSettings | None = None,
        texts: Texts | None = None,
        work_dir: Path | None = None,
    ) -> None:
        super().__init__(settings, texts)
        self.engine = engine
        self.player = player
        self.dropped: deque[Announcement] = deque(maxlen=KEEP)
        self.dropped_total = 0
        self._own_dir = work_dir is None
        self._dir = work_dir or Path(tempfile.mkdtemp(prefix="counterside-voice-"))
        self._queue: deque[Announcement] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._abort = threading.Event()
        self._once = LogOnce(log)
        self._thread = threading.Thread(target=self._run, name="voice-announcer", daemon=True)
        self._thread.start()

    def announce(
        self,
        text: str,
        repeat: int | None = None,
        *,
        kind: Kind = "prompt",
        language: str | None = None,
    ) -> Announcement:
        """Queue ``text`` and return at once; calls repeat ``call_repeat`` times by default."""
        item = self._make(text, repeat, kind, language)
        with self._cond:
            if self._closed:
                raise RuntimeError("announcer is closed")
            victim = self._make_room(item)
            if victim is not item:
                self._queue.append(item)
                self._cond.notify_all()
        if victim is not None:
            self.dropped.append(victim)
            self.dropped_total += 1
            log.warning(
                "voice: queue full (%d), dropped %s #%d %r",
                self.settings.queue_limit,
                victim.kind,
                victim.seq,
                victim.text,
            )
        return item

    def _make_room(self, new: Announcement) -> Announcement | None:
        """The announcement to drop so ``new`` fits: the oldest prompt, else the oldest call."""
        if len(self._queue) < self.settings.queue_limit:
            return None
        victim = next((a for a in self._queue if a.kind == "prompt"), None)
        if victim is None:
            victim = new if new.kind == "prompt" else self._queue[0]
        if victim is not new:
            self._queue.remove(victim)
        return victim

    def pending(self) -> list[Announcement]:
        with self._cond:
            return list(self._queue)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been spoken; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, drain: bool = True, timeout: float | None = None) -> None:
        """Stop the worker: after speaking what is queued (``drain``), or now, cutting the sound."""
        with self._cond:
            already, self._closed = self._closed, True
            if not drain:
                self._queue.clear()
                self._abort.set()
            self._cond.notify_all()
        stop = getattr(self.player, "stop", None)
        if not drain and stop is not None:
            stop()
        self._thread.join(timeout)
        if not already and self._own_dir and not self._thread.is_alive():
            shutil.rmtree(self._dir, ignore_errors=True)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                self._speak(item)
            except Exception:  # the worker must survive anything an engine or player does
                log.exception("voice: announcement #%d failed", item.seq)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _speak(self, item: Announcement) -> None:
        wav = self._dir / item.wav_name
        try:
            self.engine.synthesize(item.text, item.language, wav)
        except SpeechError as exc:
            self._once.problem("engine", "voice: cannot speak %r: %s", item.text, exc)
            return
        self._once.resolved("engine", "voice: speech engine works again")
        try:
            for i in range(item.repeat):
                if self._abort.is_set() or (i and self._abort.wait(self.settings.repeat_pause_s)):
                    break
                try:
                    self.player(wav)
                except Exception as exc:
                    self._once.problem("player", "voice: player failed: %r", exc)
        finally:
            wav.unlink(missing_ok=True)


class RecordingAnnouncer(_Base):
    """Simulated twin: records announcements instead of playing them, synchronously.

    With an ``engine`` and a ``render_dir`` it also renders each one to ``render_dir`` (errors are
    logged, as on a real counter). ``announced`` and ``wavs`` hold the last ``keep``;
    ``announced_total`` counts them all.
    """

    def __init__(
        self,
        settings: VoiceSettings | None = None,
        texts: Texts | None = None,
        engine: SpeechEngine | None = None,
        render_dir: Path | None = None,
        keep: int = KEEP,
    ) -> None:
        super().__init__(settings, texts)
        self.engine = engine
        self.render_dir = render_dir
        self.announced: deque[Announcement] = deque(maxlen=keep)
        self.announced_total = 0
        self.wavs: deque[Path] = deque(maxlen=keep)
        self.closed = False

    @property
    def spoken(self) -> list[str]:
        return [a.text for a in self.announced]

    def announce(
        self,
        text: str,
        repeat: int | None = None,
        *,
        kind: Kind = "prompt",
        language: str | None = None,
    ) -> Announcement:
        if self.closed:
            raise RuntimeError("announcer is closed")
        item = self._make(text, repeat, kind, language)
        self.announced.append(item)
        self.announced_total += 1
        if self.engine is not None and self.render_dir is not None:
            wav = self.render_dir / item.wav_name
            try:
                self.render_dir.mkdir(parents=True, exist_ok=True)
                self.engine.synthesize(item.text, item.language, wav)
                self.wavs.append(wav)
            except SpeechError as exc:
                log.warning("voice (simulated): cannot render %r: %s", text, exc)
        return item

    def wait_idle(self, timeout: float | None = None) -> bool:
        return True

    def close(self, drain: bool = True, timeout: float | None = None) -> None:
        self.closed = True


def make_engine(settings: VoiceSettings) -> SpeechEngine:
    """The engine the settings name; clips always fall back to espeak-ng."""
    espeak = EspeakEngine(
        settings.espeak_binary,
        settings.voices,
        settings.rate_wpm,
        settings.pitch,
        settings.volume,
        settings.synth_timeout_s,
    )
    if settings.engine == "clips":
        return ClipEngine(settings.clips_dir, fallback=espeak, gap_s=settings.clip_gap_s)
    return espeak


def make_announcer(settings: VoiceSettings | None = None, texts: Texts | None = None) -> Announcer:
    """A real announcer built from settings: engine per ``engine``, player per ``player``."""
    settings = settings or VoiceSettings()
    player = CommandPlayer(settings.player, settings.play_timeout_s)
    return Announcer(make_engine(settings), player, settings, texts)
