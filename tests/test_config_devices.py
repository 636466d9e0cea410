"""The [voice], [printer] and [screen] configuration: defaults, overrides and precise errors."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from config.errors import ConfigError
from config.loader import default_config_path, example_config_path, load_config
from config.model import (
    DEFAULT_VOICES,
    DEFAULT_ZH_DIGITS,
    PrinterSettings,
    ScreenConfig,
    VoiceSettings,
)
from drivers.printer import EscposTicketPrinter, TicketInfo, make_printer
from drivers.speech_clips import ZH_DIGITS
from drivers.speech_espeak import DEFAULT_VOICES as ESPEAK_DEFAULT_VOICES
from drivers.voice import RecordingAnnouncer
from screens import theme
from screens.console import timer_colour
from tests.config_support import assert_one_problem, problems_of, write

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


@pytest.fixture
def ticket() -> TicketInfo:
    return TicketInfo(
        ticket_id="20261125-A012",
        number="A012",
        business_name="现金业务",
        branch_name="测试支行",
        issued_at=datetime(2026, 11, 25, 16, 31),
        ahead=3,
    )


# -- defaults -------------------------------------------------------------------------------------


def test_defaults_are_the_dataclass_defaults() -> None:
    cfg = load_config()
    assert cfg.voice == VoiceSettings()
    assert cfg.printer == PrinterSettings()
    assert cfg.screen == ScreenConfig()
    assert cfg.printer.connection == "simulated" and cfg.printer.profile is None
    assert cfg.voice.engine == "espeak"
    assert cfg.voice.voices == {"zh-CN": "cmn-latn-pinyin", "en": "en"}
    assert cfg.screen.size == (800, 480) and cfg.screen.panels == ("pad", "console")


def test_every_settings_field_is_a_key_of_the_shipped_defaults() -> None:
    shipped = tomllib.loads(default_config_path().read_text(encoding="utf-8"))
    for table, model in (("voice", VoiceSettings), ("printer", PrinterSettings)):
        assert set(shipped[table]) == {f.name for f in fields(model)}, table
    assert set(shipped["screen"]) == {f.name for f in fields(ScreenConfig)}


def test_every_key_is_documented() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    for table, model in (
        ("voice", VoiceSettings),
        ("printer", PrinterSettings),
        ("screen", ScreenConfig),
    ):
        section = doc.split(f"### `[{table}]`", 1)[1].split("\n### ", 1)[0]
        for f in fields(model):
            assert f"| `{f.name}` |" in section, f"{table}.{f.name}"


def test_config_and_drivers_agree_on_voice_constants() -> None:
    assert dict(DEFAULT_VOICES) == dict(ESPEAK_DEFAULT_VOICES)
    assert DEFAULT_ZH_DIGITS == ZH_DIGITS


# -- overrides ------------------------------------------------------------------------------------


def test_voice_override_drives_the_announcer(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[voice]\nzh_digits = "零幺二三四五六七八九"\ncall_repeat = 3\nrate_wpm = 130\n'
        'player = ["paplay", "{wav}"]\ncall_templates = ["call", "redirect"]\n'
        '[voice.voices]\nen = "en-us+f3"\n',
    )
    cfg = load_config(path)
    voice = cfg.voice
    assert (voice.call_repeat, voice.rate_wpm, voice.player) == (3, 130, ("paplay", "{wav}"))
    assert voice.voices == {"zh-CN": "cmn-latn-pinyin", "en": "en-us+f3"}  # merged key by key
    announcer = RecordingAnnouncer(voice, cfg.texts)
    call = announcer.say("call", ticket="A017", counter=3)
    assert (call.text, call.kind, call.repeat) == ("请A 零 幺 七号到3号窗口办理", "call", 3)
    assert announcer.say("redirect", counter=2).kind == "call"
    assert announcer.say("thanks").repeat == 1


def test_printer_usb_ids_as_integers_or_hex_strings(tmp_path: Path) -> None:
    as_ints = write(
        tmp_path, '[printer]\nconnection = "usb"\nusb_vendor = 0x0416\nusb_product = 0x5011\n'
    )
    as_text = write(
        tmp_path,
        '[printer]\nconnection = "usb"\nusb_vendor = "0416"\nusb_product = "0x5011"\n',
        "text.toml",
    )
    for path in (as_ints, as_text):
        printer = load_config(path).printer
        assert (printer.usb_vendor, printer.usb_product) == (0x0416, 0x5011)


def test_network_printer_with_profile(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[printer]\nconnection = "network"\nhost = "192.168.1.50"\nport = 9101\n'
        'timeout_s = 2.5\nprofile = "TM-T88V"\ntext_mode = "image"\ncut = "FULL"\n'
        "check_paper = true\n",
    )
    printer = load_config(path).printer
    assert (printer.host, printer.port, printer.timeout_s) == ("192.168.1.50", 9101, 2.5)
    assert (printer.profile, printer.text_mode, printer.cut) == ("TM-T88V", "image", "FULL")
    assert printer.check_paper
    site = write(tmp_path, '[printer]\nprofile = "TM-T88V"\n', "site.toml")
    device = write(tmp_path, '[printer]\nprofile = ""\n', "device.toml")
    assert load_config(site, device).printer.profile is None  # "" takes a profile away again


def test_configured_printer_prints(tmp_path: Path, ticket: TicketInfo) -> None:
    simulated = write(
        tmp_path, f'[printer]\nsimulated_dir = "{tmp_path / "out"}"\npaper_width_px = 384\n'
    )
    result = make_printer(load_config(simulated).printer).print_ticket(ticket)
    assert result.ok and result.output == str(tmp_path / "out" / "20261125-A012.png")
    with Image.open(result.output) as image:
        assert image.width == 384
    dummy = write(tmp_path, '[printer]\nconnection = "dummy"\n', "dummy.toml")
    printer = make_printer(load_config(dummy).printer)
    assert isinstance(printer, EscposTicketPrinter)
    assert printer.print_ticket(ticket).ok
    assert "A012".encode("gb18030") in printer.output


def test_screen_override(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[screen]\nsize = [1920, 1080]\nfullscreen = true\npanels = ["board"]\n'
        'near_ratio = 0.9\nnotice = ""\nphotos_dir = "/var/lib/counterside/photos"\n'
        'font = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:2"\nlanguage = "en"\n',
    )
    screen = load_config(path).screen
    assert screen == ScreenConfig(
        size=(1920, 1080),
        fullscreen=True,
        panels=("board",),
        font="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:2",
        near_ratio=0.9,
        notice="",
        photos_dir="/var/lib/counterside/photos",
        language="en",
    )
    # The console timer turns amber from near_ratio of the service limit.
    assert timer_colour(85, 100, screen.near_ratio) == theme.OK_GREEN
    assert timer_colour(90, 100, screen.near_ratio) == theme.AMBER


def test_the_shipped_example_sets_all_three_sections() -> None:
    cfg = load_config(example_config_path())
    assert cfg.voice.zh_digits == "零幺二三四五六七八九"
    assert cfg.voice.player[-1] == "{wav}" and cfg.voice.call_repeat == 2  # default kept
    assert (cfg.printer.connection, cfg.printer.paper_width_px) == ("file", 384)
    assert cfg.screen.fullscreen and cfg.screen.photos_dir == "/var/lib/counterside/photos"


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = DOCS.read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    example = next(b for b in blocks if "[printer]" in b)
    cfg = load_config(write(tmp_path, example))
    assert cfg.printer.connection == "serial" and cfg.printer.baudrate == 19200
    assert cfg.screen.panels == ("kiosk",) and cfg.voice.engine == "clips"


# -- bad values -----------------------------------------------------------------------------------

BAD = [
    pytest.param(
        '[voice]\nengine = "festival"\n',
        "voice.engine",
        'must be one of "espeak", "clips", got "festival"',
        id="voice-engine",
    ),
    pytest.param(
        '[voice]\nlanguage = "zh"\n',
        "voice.language",
        'must be one of "zh-CN", "en", got "zh"',
        id="voice-language",
    ),
    pytest.param(
        '[voice.voices]\nzh-CN = "cmn"\n',
        "voice.voices.zh-CN",
        '"cmn" reads Chinese as pinyin with English tone numbers in espeak-ng 1.51 '
        '(请 is "qing three"); use "cmn-latn-pinyin"',
        id="mandarin-voice-cmn",
    ),
    pytest.param(
        '[voice.voices]\nzh-CN = "zh+f2"\n',
        "voice.voices.zh-CN",
        '"zh+f2" reads Chinese as pinyin with English tone numbers',
        id="mandarin-voice-zh-variant",
    ),
    pytest.param(
        '[voice.voices]\nfr = "fr"\n',
        "voice.voices.fr",
        'unknown key "fr" (allowed: zh-CN, en)',
        id="voice-for-unknown-language",
    ),
    pytest.param(
        '[voice.voices]\nen = "en us"\n',
        "voice.voices.en",
        'must be an espeak-ng voice name like "cmn-latn-pinyin" or "en+f3", got "en us"',
        id="voice-name-with-space",
    ),
    pytest.param(
        "[voice]\nrate_wpm = 150.5\n",
        "voice.rate_wpm",
        "expected an integer, got float 150.5",
        id="rate-float",
    ),
    pytest.param(
        "[voice]\npitch = 120\n",
        "voice.pitch",
        "must be between 0 and 99, got 120",
        id="pitch-range",
    ),
    pytest.param(
        "[voice]\nvolume = -1\n",
        "voice.volume",
        "must be between 0 and 200, got -1",
        id="volume-range",
    ),
    pytest.param(
        "[voice]\ncall_repeat = 0\n",
        "voice.call_repeat",
        "must be between 1 and 5, got 0",
        id="call-repeat-zero",
    ),
    pytest.param(
        "[voice]\nprompt_repeat = 6\n",
        "voice.prompt_repeat",
        "must be between 1 and 5, got 6",
        id="prompt-repeat-six",
    ),
    pytest.param(
        "[voice]\nqueue_limit = 0\n",
        "voice.queue_limit",
        "must be between 1 and 100, got 0",
        id="queue-limit",
    ),
    pytest.param(
        '[voice]\nplayer = "aplay -q"\n',
        "voice.player",
        "expected an array of strings, the command and its arguments, like "
        '["aplay", "-q", "{wav}"], got string "aplay -q"',
        id="player-as-one-string",
    ),
    pytest.param(
        "[voice]\nplayer = []\n",
        "voice.player",
        'must not be empty, got []; the default is ["aplay", "-q", "{wav}"]',
        id="player-empty",
    ),
    pytest.param(
        '[voice]\nplayer = ["aplay", 3]\n',
        "voice.player[1]",
        "expected a string, got integer 3",
        id="player-argument-not-a-string",
    ),
    pytest.param(
        '[voice]\nplayer = ["{wav}"]\n',
        "voice.player[0]",
        'must be the player program, not the file "{wav}"',
        id="player-without-program",
    ),
    pytest.param(
        '[voice]\nespeak_binary = "espeak ng"\n',
        "voice.espeak_binary",
        'must be a program name or path without spaces, like "espeak-ng", got "espeak ng"',
        id="espeak-binary-with-space",
    ),
    pytest.param(
        '[voice]\ncall_templates = ["cal"]\n',
        "voice.call_templates[0]",
        'unknown text "cal" (did you mean "call"?)',
        id="unknown-call-template",
    ),
    pytest.param(
        '[voice]\ncall_templates = ["call", "call"]\n',
        "voice.call_templates[1]",
        'duplicate text "call" (already used by voice.call_templates[0])',
        id="call-template-twice",
    ),
    pytest.param(
        '[voice]\nzh_digits = "零一二三"\n',
        "voice.zh_digits",
        'must be exactly 10 characters, the spoken digits 0 to 9 like "零一二三四五六七八九", '
        'got "零一二三" (4 characters)',
        id="zh-digits-short",
    ),
    pytest.param(
        "[voice]\nplay_timeout_s = 0\n",
        "voice.play_timeout_s",
        "must be greater than 0 and at most 600, got 0",
        id="play-timeout-zero",
    ),
    pytest.param(
        "[voice]\nclip_gap_s = true\n",
        "voice.clip_gap_s",
        "expected a number, got boolean true (TOML true/false are not numbers)",
        id="clip-gap-bool",
    ),
    pytest.param(
        "[voice]\nspeed = 150\n",
        "voice.speed",
        'unknown key "speed"',
        id="unknown-voice-key",
    ),
    pytest.param(
        '[printer]\nconnection = "lpt"\n',
        "printer.connection",
        'must be one of "simulated", "dummy", "file", "serial", "network", "usb", got "lpt"',
        id="printer-connection",
    ),
    pytest.param(
        '[printer]\nconection = "file"\n',
        "printer.conection",
        'unknown key "conection" (did you mean "connection"?)',
        id="printer-key-typo",
    ),
    pytest.param(
        '[printer]\nconnection = "network"\n',
        "printer.connection",
        '"network" needs printer.host, the printer\'s IP address or host name',
        id="network-without-host",
    ),
    pytest.param(
        '[printer]\nhost = "10.0.0.9:9100"\n',
        "printer.host",
        'must be an IP address or host name like "192.168.1.50", without scheme or port '
        '(that is printer.port), got "10.0.0.9:9100"',
        id="host-with-port",
    ),
    pytest.param(
        "[printer]\nport = 70000\n",
        "printer.port",
        "must be between 1 and 65535, got 70000",
        id="port-range",
    ),
    pytest.param(
        "[printer]\nbaudrate = 9601\n",
        "printer.baudrate",
        "must be one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, got 9601",
        id="printer-baudrate",
    ),
    pytest.param(
        '[printer]\ndevice = "lp0"\n',
        "printer.device",
        'must be a device path like "/dev/usb/lp0" or "/dev/ttyUSB0", got "lp0"',
        id="printer-device-not-a-path",
    ),
    pytest.param(
        '[printer]\nconnection = "usb"\nusb_vendor = 0x0416\n',
        "printer.connection",
        '"usb" needs printer.usb_vendor and printer.usb_product (see lsusb)',
        id="usb-without-product",
    ),
    pytest.param(
        '[printer]\nusb_vendor = "04x6"\n',
        "printer.usb_vendor",
        'expected a USB id like 0x0416 or "0416" (hex, as lsusb shows it), got string "04x6"',
        id="usb-id-not-hex",
    ),
    pytest.param(
        "[printer]\nusb_product = 0x10000\n",
        "printer.usb_product",
        "must be between 0 and 65535, got 65536",
        id="usb-id-too-large",
    ),
    pytest.param(
        '[printer]\ntext_mode = "utf8"\n',
        "printer.text_mode",
        'must be one of "gb18030", "image", got "utf8"',
        id="text-mode",
    ),
    pytest.param(
        "[printer]\npaper_width_px = 58\n",
        "printer.paper_width_px",
        "must be between 200 and 832, got 58",
        id="paper-width-in-mm",
    ),
    pytest.param(
        '[printer]\ncut = "partial"\n',
        "printer.cut",
        'must be one of "FULL", "PART", got "partial"',
        id="cut",
    ),
    pytest.param(
        '[printer]\nprofile = "TM T88V"\n',
        "printer.profile",
        'must be a python-escpos profile name like "TM-T88V", or "" for none, got "TM T88V"',
        id="profile-with-space",
    ),
    pytest.param(
        "[printer]\ntimeout_s = 0\n",
        "printer.timeout_s",
        "must be greater than 0 and at most 120, got 0",
        id="printer-timeout",
    ),
    pytest.param(
        '[printer]\ncheck_paper = "yes"\n',
        "printer.check_paper",
        'expected true or false, got string "yes"',
        id="check-paper-string",
    ),
    pytest.param(
        '[hardware]\nkeys = "serial"\n[printer]\nconnection = "serial"\ndevice = "/dev/ttyUSB0"\n',
        "printer.device",
        '"/dev/ttyUSB0" is hardware.serial_keypad.port too; a printer needs a port of its own',
        id="printer-on-the-keypad-port",
    ),
    pytest.param(
        "[screen]\nsize = [800]\n",
        "screen.size",
        "expected [width, height] like [800, 480], got [800]",
        id="size-one-number",
    ),
    pytest.param(
        "[screen]\nsize = [800, 100]\n",
        "screen.size[1]",
        "must be between 240 and 7680, got 100",
        id="size-too-small",
    ),
    pytest.param(
        "[screen]\nsize = [800.0, 480]\n",
        "screen.size[0]",
        "expected an integer, got float 800.0",
        id="size-float",
    ),
    pytest.param(
        '[screen]\nsize = "800x480"\n',
        "screen.size",
        'expected an array, got string "800x480"',
        id="size-string",
    ),
    pytest.param(
        "[screen]\nfullscreen = 1\n",
        "screen.fullscreen",
        "expected true or false, got integer 1",
        id="fullscreen-int",
    ),
    pytest.param(
        "[screen]\npanels = []\n",
        "screen.panels",
        "must not be empty, got []",
        id="panels-empty",
    ),
    pytest.param(
        '[screen]\npanels = ["pad", "boards"]\n',
        "screen.panels[1]",
        'must be one of "pad", "console", "kiosk", "board", got "boards" (did you mean "board"?)',
        id="panel-unknown",
    ),
    pytest.param(
        '[screen]\npanels = ["pad", "console", "pad"]\n',
        "screen.panels[2]",
        'duplicate panel "pad"',
        id="panel-twice",
    ),
    pytest.param(
        "[screen]\nnear_ratio = 1.0\n",
        "screen.near_ratio",
        "must be between 0.5 and 0.99, got 1.0",
        id="near-ratio-one",
    ),
    pytest.param(
        "[screen]\nnear_ratio = 80\n",
        "screen.near_ratio",
        "must be between 0.5 and 0.99, got 80",
        id="near-ratio-percent",
    ),
    pytest.param(
        '[screen]\nnotice = """\n保管好您的号票\n过号请重新取号"""\n',
        "screen.notice",
        'must be one line (no line breaks), got "保管好您的号票\\n过号请重新取号"',
        id="notice-two-lines",
    ),
    pytest.param(
        "[screen]\nphotos_dir = false\n",
        "screen.photos_dir",
        "expected a string, got boolean false",
        id="photos-dir-bool",
    ),
    pytest.param(
        '[screen]\nfont = "   "\n',
        "screen.font",
        'must not be empty, got "   "',
        id="font-blank",
    ),
    pytest.param(
        '[screen]\nlanguage = "cn"\n',
        "screen.language",
        'must be one of "zh-CN", "en", got "cn"',
        id="screen-language",
    ),
    pytest.param(
        "[screen]\nresolution = [800, 480]\n",
        "screen.resolution",
        'unknown key "resolution"',
        id="unknown-screen-key",
    ),
    pytest.param(
        "screen = []\n",
        "screen",
        "expected a table, got array []",
        id="screen-not-a-table",
    ),
]


@pytest.mark.parametrize(("override", "key", "fragment"), BAD)
def test_bad_value_is_reported_with_file_key_and_message(
    tmp_path: Path, override: str, key: str, fragment: str
) -> None:
    assert_one_problem(tmp_path, override, key, fragment)


def test_the_bad_value_is_blamed_on_the_file_that_set_it(tmp_path: Path) -> None:
    site = write(tmp_path, '[voice]\ncall_repeat = 9\n[screen]\npanels = ["pad"]\n', "site.toml")
    device = write(tmp_path, "[screen]\nnear_ratio = 0.3\n", "device.toml")
    problems = problems_of(site, device)
    assert [(p.file, p.key) for p in problems] == [
        (str(site), "voice.call_repeat"),
        (str(device), "screen.near_ratio"),
    ]


def test_all_problems_of_the_three_sections_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[voice]\nengine = "tts"\npitch = 100\n[voice.voices]\nzh-CN = "cmn"\n'
        '[printer]\nconnection = "usb"\ncut = "half"\n'
        '[screen]\nsize = [100, 100]\npanels = ["kiosk", "kiosk"]\n',
    )
    assert [p.key for p in problems_of(path)] == [
        "voice.engine",
        "voice.voices.zh-CN",
        "voice.pitch",
        "printer.cut",
        "printer.connection",
        "screen.size[0]",
        "screen.size[1]",
        "screen.panels[1]",
    ]


def test_a_complete_file_must_give_every_key(tmp_path: Path) -> None:
    text = default_config_path().read_text(encoding="utf-8").replace("clips_dir = ", "# ")
    path = write(tmp_path, text, "complete.toml")
    with pytest.raises(ConfigError) as caught:
        load_config(path, use_defaults=False)
    assert [(p.file, p.key, p.message) for p in caught.value.problems] == [
        (str(path), "voice.clips_dir", "required key is missing")
    ]
