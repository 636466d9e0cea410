"""Offline speech with espeak-ng, and playing WAV files through a player command such as aplay.

Mandarin uses the voice ``cmn-latn-pinyin``: in espeak-ng 1.51 (Debian bookworm) the plain
``cmn`` voice reads most characters as pinyin with English tone numbers ("qing three" for 请,
espeak-ng issue #1236). :meth:`EspeakEngine.phonemes` lets a test catch such a voice.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from drivers.speech_base import LogOnce, SpeechError, SpeechUnavailable

log = logging.getLogger(__name__)

DEFAULT_VOICES: Mapping[str, str] = {"zh-CN": "cmn-latn-pinyin", "en": "en"}


class EspeakEngine:
    """Renders text to WAV with ``espeak-ng -w``; text goes in on stdin as UTF-8."""

    def __init__(
        self,
        binary: str = "espeak-ng",
        voices: Mapping[str, str] = DEFAULT_VOICES,
        rate_wpm: int = 150,
        pitch: int = 50,
        volume: int = 100,
        timeout_s: float = 20.0,
    ) -> None:
        self.binary = binary
        self.voices = dict(voices)
        self.rate_wpm = rate_wpm
        self.pitch = pitch
        self.volume = volume
        self.timeout_s = timeout_s

    def voice(self, language: str) -> str:
        """The espeak-ng voice for a language; unknown languages use the Chinese voice."""
        return self.voices.get(language) or self.voices.get("zh-CN") or "cmn-latn-pinyin"

    def _run(
        self, language: str, args: Sequence[str], text: str
    ) -> subprocess.CompletedProcess[bytes]:
        cmd = [self.binary, "-v", self.voice(language), *args, "-b", "1", "--stdin"]
        try:
            done = subprocess.run(
                cmd, input=text.encode("utf-8"), capture_output=True, timeout=self.timeout_s
            )
        except FileNotFoundError as exc:
            raise SpeechUnavailable(
                f"{self.binary} not found: install the Debian package espeak-ng"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise SpeechError(f"{self.binary} took longer than {self.timeout_s:g} s") from exc
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip()
            raise SpeechError(f"{self.binary} exited with {done.returncode}: {err}")
        return done

    def synthesize(self, text: str, language: str, out: Path) -> None:
        args = ["-s", str(self.rate_wpm), "-p", str(self.pitch), "-a", str(self.volume)]
        self._run(language, [*args, "-w", str(out)], text)
        if not out.is_file() or out.stat().st_size <= 44:
            raise SpeechError(f"{self.binary} wrote no audio to {out}")

    def phonemes(self, text: str, language: str) -> str:
        """espeak-ng's phoneme mnemonics (``-x``); ``(en)`` in them marks a switch to English."""
        return self._run(language, ["-q", "-x"], text).stdout.decode("utf-8", "replace").strip()


class CommandPlayer:
    """Plays a WAV by running a command, e.g. ``("aplay", "-q", "{wav}")``.

    ``{wav}`` in any argument is replaced by the file's path (appended when absent). A missing
    command or audio device is logged once; playing then simply does nothing until it works again.
    """

    def __init__(self, command: Sequence[str] = ("aplay", "-q", "{wav}"), timeout_s: float = 60):
        if not command:
            raise ValueError("voice.player: the player command is empty")
        self.command = tuple(command)
        self.timeout_s = timeout_s
        self._once = LogOnce(log)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def argv(self, wav: Path) -> list[str]:
        if not any("{wav}" in arg for arg in self.command):
            return [*self.command, str(wav)]
        return [arg.replace("{wav}", str(wav)) for arg in self.command]

    def __call__(self, wav: Path) -> bool:
        """Play ``wav`` to the end; True if the player reported success."""
        name = self.command[0]
        try:
            with self._lock:
                self._proc = subprocess.Popen(
                    self.argv(wav), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
            proc = self._proc
            try:
                _, err = proc.communicate(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
                self._once.problem("timeout", "player %s ran over %g s", name, self.timeout_s)
                return False
        except OSError as exc:  # FileNotFoundError, PermissionError
            self._once.problem(
                "missing",
                "player %s cannot run (%s); announcements are silent until it can "
                "(on the Pi: Debian package alsa-utils for aplay)",
                name,
                exc,
            )
            return False
        finally:
            with self._lock:
                self._proc = None
        if proc.returncode != 0:
            detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            self._once.problem(
                "failed",
                "player %s exited with %s (%s); is there an audio device? Announcements go on "
                "silently",
                name,
                proc.returncode,
                detail[0],
            )
            return False
        self._once.resolved("missing", f"player {name} works again")
        self._once.resolved("failed", f"player {name} works again")
        self._once.resolved("timeout")
        return True

    def stop(self) -> None:
        """Cut the sound that is playing now, if any."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()
