"""The voice announcer: digit reading, templates, espeak-ng audio, clips, order and failures."""

from __future__ import annotations

import logging
import math
import shutil
import sys
import threading
import wave
from array import array
from itertools import pairwise
from pathlib import Path
from string import Formatter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.loader import load_config
from config.model import TextsConfig
from drivers import voice
from drivers.speech_base import SpeechError
from drivers.speech_clips import (
    ClipEngine,
    ClipFormatError,
    MissingClip,
    join_wavs,
    split_into_clips,
)
from drivers.speech_espeak import CommandPlayer, EspeakEngine
from drivers.voice import (
    Announcer,
    RecordingAnnouncer,
    VoiceSettings,
    make_announcer,
    render,
    spoken_ticket,
)

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(
    ESPEAK is None, reason="espeak-ng is not installed (Debian package espeak-ng)"
)
ZH = "零一二三四五六七八九"
TEXTS = {
    "zh-CN": {"call": "请{ticket}号到{counter}号窗口办理", "welcome": "您好，欢迎光临"},
    "en": {"call": "Ticket {ticket}, please go to window {counter}"},
}


# -- helpers -------------------------------------------------------------------------------------


def write_tone(path: Path, hz: float, seconds: float, rate: int = 16000) -> bytes:
    """A 16-bit mono sine tone; returns its frames."""
    n = round(seconds * rate)
    frames = array("h", (round(8000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(n)))
    data = frames.tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)
    return data


def wav_frames(path: Path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path), "rb") as w:
        return (w.getnchannels(), w.getsampwidth(), w.getframerate()), w.readframes(w.getnframes())


def speech_stats(path: Path, threshold: float = 500.0) -> tuple[float, float]:
    """Duration in seconds and the share of 20 ms windows whose RMS exceeds ``threshold``."""
    (channels, width, rate), data = wav_frames(path)
    assert (channels, width) == (1, 2), "expected 16-bit mono"
    samples = array("h", data)
    step = rate // 50
    windows = [samples[i : i + step] for i in range(0, len(samples) - step + 1, step)]
    loud = sum(1 for w in windows if math.sqrt(sum(s * s for s in w) / step) > threshold)
    return len(samples) / rate, loud / max(1, len(windows))


class ToneEngine:
    """A fast stand-in engine for queue tests: a short tone per announcement, texts recorded."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def synthesize(self, text: str, language: str, out: Path) -> None:
        self.texts.append(text)
        write_tone(out, 440, 0.05)


class GatedPlayer:
    """Records what it plays; blocks until ``release`` is set (``stop`` sets it, like a cut)."""

    def __init__(self) -> None:
        self.played: list[str] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.stopped = False

    def __call__(self, wav: Path) -> None:
        self.started.set()
        assert self.release.wait(10), "test never released the player"
        self.played.append(wav.name)

    def stop(self) -> None:
        self.stopped = True
        self.release.set()


PLAYER_SCRIPT = """
import sys, time
start = time.monotonic()
time.sleep(0.15)
with open(sys.argv[2], "a") as log:
    log.write(f"{sys.argv[1].rsplit('/', 1)[-1]} {start} {time.monotonic()}\\n")
"""


# -- digit reading and templates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "language", "spoken"),
    [
        ("A012", "zh-CN", "A 零 一 二"),
        ("1208", "zh-CN", "一 二 零 八"),
        ("AB100", "zh-CN", "A B 一 零 零"),
        ("A012", "en", "A0 1 2"),
        ("AB100", "en", "AB1 0 0"),
    ],
)
def test_ticket_numbers_are_read_digit_by_digit(number, language, spoken):
    assert spoken_ticket(number, language) == spoken


def test_digits_can_use_yao_for_one():
    assert spoken_ticket("C117", "zh-CN", digits="零幺二三四五六七八九") == "C 幺 幺 七"


@given(st.from_regex(r"[A-Z]{1,2}[0-9]{1,5}", fullmatch=True), st.sampled_from(["zh-CN", "en"]))
def test_spoken_numbers_give_back_exactly_the_number(number, language):
    spoken = spoken_ticket(number, language)
    back = "".join(str(ZH.index(c)) if c in ZH else c for c in spoken.replace(" ", ""))
    assert back == number  # 1208 can never come out as 2108
    digits = [c for c in spoken if c in ZH or c.isdigit()]
    assert len(digits) == sum(c.isdigit() for c in number)  # no 十, 百: one word per digit


@pytest.mark.parametrize("texts", [TEXTS, TextsConfig(TEXTS)])
def test_render_fills_templates_and_reads_the_ticket_digit_by_digit(texts):
    assert render(texts, "call", "zh-CN", ticket="A012", counter=3) == "请A 零 一 二号到3号窗口办理"
    assert render(texts, "call", "en", ticket="B107", counter=12) == (
        "Ticket B1 0 7, please go to window 12"
    )
    assert render(texts, "welcome", "en") == "您好，欢迎光临"  # falls back to Chinese


def test_render_names_the_template_and_the_missing_field():
    with pytest.raises(ValueError, match=r"texts\.zh-CN\.call: .* needs the field 'counter'"):
        render(TEXTS, "call", "zh-CN", ticket="A012")
    with pytest.raises(KeyError, match=r"texts\.en\.nope"):
        render(TEXTS, "nope", "en")


def test_settings_name_the_wrong_key():
    with pytest.raises(ValueError, match=r'voice\.engine: must be one of .*, got "festival"'):
        VoiceSettings(engine="festival")
    with pytest.raises(ValueError, match=r"voice\.call_repeat"):
        VoiceSettings(call_repeat=0)


# -- espeak-ng -----------------------------------------------------------------------------------


@needs_espeak
def test_espeak_renders_a_call_as_speech_of_plausible_length(tmp_path):
    text = render(TEXTS, "call", "zh-CN", ticket="A012", counter=3)
    out = tmp_path / "call.wav"
    EspeakEngine().synthesize(text, "zh-CN", out)
    seconds, voiced = speech_stats(out)
    assert 1.5 <= seconds <= 10
    assert voiced >= 0.4, f"only {voiced:.0%} of the audio is louder than silence"


@needs_espeak
def test_the_mandarin_voice_reads_every_configured_text_in_mandarin():
    # espeak-ng 1.51's plain "cmn" voice says "qing three" for 请: its phonemes switch to (en).
    engine, config = EspeakEngine(), load_config()
    for key, template in config.texts.by_language["zh-CN"].items():
        fields: dict[str, Any] = {n: 12 for _, n, _, _ in Formatter().parse(template) if n}
        text = render(config.texts, key, "zh-CN", **{**fields, "ticket": "B107"})
        assert "(en)" not in engine.phonemes(text, "zh-CN"), (key, template)


@needs_espeak
def test_recording_announcer_keeps_texts_and_can_render_them(tmp_path):
    rec = RecordingAnnouncer(texts=TEXTS, engine=EspeakEngine(), render_dir=tmp_path / "wavs")
    call = rec.say("call", ticket="A012", counter=3)
    rec.announce("Thank you", language="en")
    assert rec.spoken == ["请A 零 一 二号到3号窗口办理", "Thank you"]
    assert (call.kind, call.repeat) == ("call", 2)
    assert [a.repeat for a in rec.announced] == [2, 1]
    assert rec.wait_idle(1) and len(rec.wavs) == 2
    assert all(speech_stats(w)[0] > 0.5 for w in rec.wavs)


# -- order, repeats, queue limits --------------------------------------------------------------


@needs_espeak
def test_announcements_never_overlap_keep_their_order_and_repeat(tmp_path):
    script, log_file = tmp_path / "player.py", tmp_path / "plays.txt"
    script.write_text(PLAYER_SCRIPT)
    settings = VoiceSettings(
        player=(sys.executable, str(script), "{wav}", str(log_file)), repeat_pause_s=0.3
    )
    announcer = make_announcer(settings, TEXTS)
    try:
        first = announcer.say("call", ticket="A012", counter=3)
        second = announcer.announce("您好，欢迎光临")
        third = announcer.say("call", "en", ticket="B001", counter=2, repeat=3)
        assert announcer.wait_idle(60)
    finally:
        announcer.close()
    plays = [line.split() for line in log_file.read_text().splitlines()]
    names = [name for name, _, _ in plays]
    assert names == [first.wav_name] * 2 + [second.wav_name] + [third.wav_name] * 3
    spans = [(float(start), float(end)) for _, start, end in plays]
    for (_, end), (start, _) in pairwise(spans):
        assert start >= end, "two announcements played at the same time"
    assert spans[1][0] - spans[0][1] >= 0.3  # the pause between repeats


def test_a_full_queue_drops_the_oldest_prompt_never_a_call_first(tmp_path):
    player = GatedPlayer()
    settings = VoiceSettings(queue_limit=3, call_repeat=1)
    announcer = Announcer(ToneEngine(), player, settings, work_dir=tmp_path)
    try:
        c0 = announcer.announce("c0", kind="call")
        assert player.started.wait(10)  # c0 is being played, the queue is empty
        p1, c2, p3 = (
            announcer.announce("p1"),
            announcer.announce("c2", kind="call"),
            announcer.announce("p3"),
        )
        c4 = announcer.announce("c4", kind="call")  # drops p1
        p5 = announcer.announce("p5")  # drops p3
        c6 = announcer.announce("c6", kind="call")  # drops p5
        p7 = announcer.announce("p7")  # only calls queued: the new prompt goes
        c8 = announcer.announce("c8", kind="call")  # only calls: the oldest call goes
        assert list(announcer.dropped) == [p1, p3, p5, p7, c2]
        player.release.set()
        assert announcer.wait_idle(10)
    finally:
        player.release.set()
        announcer.close()
    assert player.played == [a.wav_name for a in (c0, c4, c6, c8)]


def test_dropped_announcements_are_counted_but_only_the_last_ones_kept(tmp_path):
    # a counter whose speaker is stuck for months drops prompts all day: memory must not grow
    player = GatedPlayer()
    settings = VoiceSettings(queue_limit=1, call_repeat=1)
    announcer = Announcer(ToneEngine(), player, settings, work_dir=tmp_path)
    many = 3 * voice.KEEP
    try:
        announcer.announce("c0", kind="call")
        assert player.started.wait(10)  # c0 holds the player; each new prompt drops the last
        prompts = [announcer.announce(f"p{i}") for i in range(many)]
        assert announcer.dropped_total == many - 1
        assert list(announcer.dropped) == prompts[-1 - voice.KEEP : -1]
    finally:
        player.release.set()
        announcer.close()


def test_the_recording_twin_keeps_only_the_last_announcements():
    rec = RecordingAnnouncer(texts=TEXTS)
    many = 3 * voice.KEEP
    for i in range(many):
        rec.announce(f"t{i}")
    assert rec.announced_total == many
    assert rec.spoken == [f"t{i}" for i in range(many - voice.KEEP, many)]


def test_close_drains_the_queue_or_stops_at_once(tmp_path):
    engine, player = ToneEngine(), GatedPlayer()
    announcer = Announcer(engine, player, VoiceSettings(), work_dir=tmp_path)
    announcer.announce("one")
    assert player.started.wait(10)
    announcer.announce("two")
    announcer.announce("three")
    player.release.set()
    announcer.close(drain=True, timeout=10)
    assert len(player.played) == 3

    engine, player = ToneEngine(), GatedPlayer()
    announcer = Announcer(engine, player, VoiceSettings(), work_dir=tmp_path)
    announcer.announce("one", repeat=5)
    assert player.started.wait(10)
    announcer.announce("two")
    announcer.close(drain=False, timeout=10)
    assert player.stopped
    assert player.played == ["00001.wav"]  # no further repeat, "two" never spoken
    assert engine.texts == ["one"]
    with pytest.raises(RuntimeError):
        announcer.announce("after close")


# -- missing parts never stop the counter ---------------------------------------------------


def test_missing_espeak_is_logged_once_and_nothing_raises(tmp_path, caplog):
    player = GatedPlayer()
    player.release.set()
    engine = EspeakEngine(binary="no-such-espeak-ng-here")
    announcer = Announcer(engine, player, VoiceSettings(), work_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        announcer.announce("请A 零 一 二号到3号窗口办理", kind="call")
        announcer.announce("谢谢您的评价")
        assert announcer.wait_idle(10)
        announcer.announce("欢迎光临")  # still accepted and processed
        assert announcer.wait_idle(10)
    announcer.close()
    warnings = [r for r in caplog.records if "no-such-espeak-ng-here" in r.getMessage()]
    assert len(warnings) == 1
    assert player.played == []


@needs_espeak
@pytest.mark.parametrize(
    "command",
    [("no-such-player-here", "{wav}"), (sys.executable, "-c", "import sys; sys.exit(1)")],
    ids=["missing", "no-audio-device"],
)
def test_a_missing_player_or_audio_device_is_logged_once(tmp_path, caplog, command):
    settings = VoiceSettings(player=command, repeat_pause_s=0)
    announcer = make_announcer(settings, TEXTS)
    with caplog.at_level(logging.WARNING):
        announcer.say("call", ticket="A012", counter=3)
        announcer.say("welcome")
        assert announcer.wait_idle(60)
    announcer.close()
    assert len([r for r in caplog.records if "player" in r.getMessage()]) == 1


def test_command_player_puts_the_file_where_asked():
    assert CommandPlayer(("aplay", "-q", "{wav}")).argv(Path("a.wav")) == ["aplay", "-q", "a.wav"]
    assert CommandPlayer(("paplay",)).argv(Path("a.wav")) == ["paplay", "a.wav"]


# -- pre-recorded clips --------------------------------------------------------------------------


@pytest.fixture
def clips(tmp_path) -> dict[str, bytes]:
    """Tone clips in tmp_path/clips/zh-CN: a different pitch and length per clip."""
    folder = tmp_path / "clips" / "zh-CN"
    folder.mkdir(parents=True)
    names = ["请", "号", "到", "窗口", "办理", "欢迎光临", "您好", "A", *map(str, range(10))]
    return {
        name: write_tone(folder / f"{name}.wav", 200 + 40 * i, 0.05 + 0.01 * i)
        for i, name in enumerate(names)
    }


def test_text_is_split_greedily_into_the_longest_clips():
    names = {"欢迎", "欢迎光临", "光", "临", "您好", "请", "A", "0", "1", "2"}
    assert split_into_clips("您好，欢迎光临", names) == ["您好", "欢迎光临"]
    assert split_into_clips("请a 零 一 二", names) == ["请", "A", "0", "1", "2"]
    with pytest.raises(MissingClip, match="'号'"):
        split_into_clips("请A零号", names)


def test_clips_are_joined_frame_exact_in_text_order(tmp_path, clips):
    out = tmp_path / "out.wav"
    engine = ClipEngine(tmp_path / "clips")
    engine.synthesize("请A 零 一 二号到3号窗口办理", "zh-CN", out)
    order = ["请", "A", "0", "1", "2", "号", "到", "3", "号", "窗口", "办理"]
    assert wav_frames(out) == ((1, 2, 16000), b"".join(clips[n] for n in order))


@needs_espeak
def test_a_missing_clip_hands_the_whole_announcement_to_espeak(tmp_path, clips, caplog):
    (tmp_path / "clips" / "zh-CN" / "办理.wav").unlink()
    out = tmp_path / "out.wav"
    engine = ClipEngine(tmp_path / "clips", fallback=EspeakEngine())
    with caplog.at_level(logging.WARNING):
        engine.synthesize("请A 零 一 二号到3号窗口办理", "zh-CN", out)
    assert wav_frames(out)[0] == (1, 2, 22050)  # espeak-ng's format, not the clips'
    assert speech_stats(out)[0] > 1.5
    assert any("no clip for '办'" in r.getMessage() for r in caplog.records)


@needs_espeak
def test_clips_of_different_formats_are_reported_and_espeak_speaks(tmp_path, clips, caplog):
    odd = tmp_path / "clips" / "zh-CN" / "到.wav"
    write_tone(odd, 300, 0.1, rate=8000)
    with pytest.raises(ClipFormatError, match=r"到\.wav: 1 channel\(s\), 16 bit, 8000 Hz"):
        join_wavs([tmp_path / "clips" / "zh-CN" / "请.wav", odd], tmp_path / "x.wav")
    out = tmp_path / "out.wav"
    with caplog.at_level(logging.WARNING):
        ClipEngine(tmp_path / "clips", EspeakEngine()).synthesize("请A 零号到", "zh-CN", out)
    assert wav_frames(out)[0][2] == 22050
    assert any("8000 Hz" in r.getMessage() for r in caplog.records)


def test_clips_without_a_fallback_raise_a_speech_error(tmp_path, clips):
    with pytest.raises(SpeechError, match="no clip for '星'"):
        ClipEngine(tmp_path / "clips").synthesize("请星", "zh-CN", tmp_path / "o.wav")
