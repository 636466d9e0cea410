"""The device's peripherals: ``[hardware]`` (keys, GPIO, serial keypad, LED display),
``[voice]``, ``[printer]`` and ``[screen]``.

Each field declares its setting once (see :mod:`config.business`). Import these names from
:mod:`config.model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from config.business import LANGUAGES, TEXT_PLACEHOLDERS
from config.checker import Unique, suggest
from config.declare import (
    Key,
    Rule,
    Scope,
    Section,
    Table,
    check_instance,
    option,
    setting,
)
from config.kinds import INVALID, Boolean, Integer, ListOf, Number, String
from config.layers import KeyPath
from config.values import (
    COMMAND,
    DEVICE_PATH,
    ESPEAK_VOICE,
    MANDARIN_VOICE,
    ONE_LINE,
    PROFILE_NAME,
    SERIAL_PORT,
    ZH_DIGITS,
    Command,
    Pin,
    PinMap,
    UsbId,
    host,
    level_name_problem,
)

# -- [hardware] -----------------------------------------------------------------------------------

#: Where the keys come from (``[hardware] keys``).
KEY_SOURCES = ("simulated", "gpio", "serial")
#: Teller keys a plain GPIO button can carry; sign_in, call_ticket, rate and reason need an
#: argument (rating keys have their own table, ``rating_keys``).
GPIO_TELLER_KEYS = (
    "call_next",
    "recall",
    "skip",
    "transfer",
    "start",
    "finish",
    "invite_rating",
    "ticketless",
    "pause",
    "resume",
    "sign_out",
)
#: Teller keys whose argument a button cannot give.
ARGUMENT_KEYS = ("sign_in", "call_ticket", "reason", "band", "extend")
GPIO_PIN_RANGE = (2, 27)  # BCM; 0 and 1 are the HAT EEPROM's
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
LED_CHARSETS = ("gb2312", "ascii")

PIN = Pin(*GPIO_PIN_RANGE)
BAUDRATE = Integer(choices=BAUDRATES)
BUS_ADDRESS = Integer(1, 247)


def _teller_key_problem(name: str) -> str | None:
    if name in GPIO_TELLER_KEYS:
        return None
    if name == "rate":
        return "rating keys go in hardware.gpio.rating_keys, level = pin: { 5 = 17 }"
    if name in ARGUMENT_KEYS:
        return f'"{name}" needs an argument that a button cannot give'
    tip = suggest(name, GPIO_TELLER_KEYS) or f" (allowed: {', '.join(GPIO_TELLER_KEYS)})"
    return f'unknown key "{name}"{tip}'


def gpio_pins(path: KeyPath, values: Mapping[str, Any]) -> list[tuple[int, KeyPath]]:
    """Every pin read in ``[hardware.gpio]`` (at ``path``) with its key, in file order."""
    pins: list[tuple[int, KeyPath]] = []
    for table in ("keys", "rating_keys", "rating_leds"):
        given = values.get(table)
        if isinstance(given, dict):
            pins += [(pin, (*path, table, str(name))) for name, pin in given.items()]
    if isinstance(values.get("buzzer"), int):
        pins.append((values["buzzer"], (*path, "buzzer")))
    return pins


def _pins_once(s: Scope) -> None:
    """Each pin is used once across keys, rating keys, their lights and the buzzer."""
    seen = Unique(s.c, "pin")
    for pin, path in gpio_pins(s.path, s.values):
        seen.add(pin, path)


@dataclass(frozen=True)
class GpioConfig:
    """Buttons, rating-key lights and a buzzer on the Pi's header (BCM pin numbers)."""

    RULES: ClassVar[tuple[Rule, ...]] = (_pins_once,)

    bounce_s: float = setting(
        Integer(0, 1000, unit="ms"),
        50,
        key="bounce_ms",
        help="edges closer than this are contact bounce",
    )
    keys: dict[str, int] = setting(
        PinMap(PIN, "{ call_next = 5, recall = 6 }", _teller_key_problem),
        {},
        help="teller key = pin, e.g. `{ call_next = 5, recall = 6, skip = 13, finish = 19 }`; "
        "keys: " + ", ".join(f"`{key}`" for key in GPIO_TELLER_KEYS) + " (the others need an "
        "argument a button cannot give; rating keys go in `rating_keys`)",
    )
    rating_keys: dict[int, int] = setting(
        PinMap(PIN, "{ 5 = 17, 4 = 27 }", level_name_problem, int),
        {},
        help="rating level = pin, e.g. `{ 5 = 17, 4 = 27, 3 = 22, 2 = 23, 1 = 24 }`; each "
        "level must exist in the `[rating]` scale",
    )
    rating_leds: dict[int, int] = setting(
        PinMap(PIN, "{ 5 = 17, 4 = 27 }", level_name_problem, int),
        {},
        help="rating level = pin of the light in that key (lit while a rating is invited)",
    )
    buzzer: int | None = option(PIN, None, example=18, help="pin of an active buzzer")

    def key_pins(self) -> dict[str | tuple[str, object], int]:
        """Every key and its pin, as :class:`drivers.gpio.GpioKeys` takes them."""
        pins: dict[str | tuple[str, object], int] = {key: pin for key, pin in self.keys.items()}
        pins.update({("rate", level): pin for level, pin in self.rating_keys.items()})
        return pins

    def led_pins(self) -> dict[str | tuple[str, object], int]:
        """The rating-key lights, as :class:`drivers.gpio.KeyLeds` takes them."""
        return {("rate", level): pin for level, pin in self.rating_leds.items()}


@dataclass(frozen=True)
class SerialKeypadConfig:
    port: str = setting(
        SERIAL_PORT,
        "/dev/ttyUSB0",
        help="prefer `/dev/serial/by-id/...`, stable across re-plugging",
    )
    baudrate: int = setting(BAUDRATE, 9600, help="the keypad's line speed")
    address: int = setting(
        BUS_ADDRESS, 1, help="the keypad's bus address; frames from other addresses are ignored"
    )


@dataclass(frozen=True)
class LedDisplayConfig:
    enabled: bool = setting(Boolean(), False, help="whether this counter has an LED display")
    port: str = setting(
        SERIAL_PORT,
        "/dev/ttyUSB1",
        help="may be the keypad's port (one RS-485 bus), then with another `address` and the "
        "same `baudrate`",
    )
    baudrate: int = setting(BAUDRATE, 9600, help="the display's line speed")
    address: int = setting(BUS_ADDRESS, 1, help="the display's bus address")
    charset: str = setting(
        String(choices=LED_CHARSETS),
        "gb2312",
        help="`gb2312` for Chinese text; `ascii` for a module without a Chinese font (calls show "
        "as `A012-3`, paused as `PAUSED`)",
    )


@dataclass(frozen=True)
class HardwareConfig:
    """``[hardware]``: which keys and displays this device drives."""

    keys: str = setting(
        String(choices=KEY_SOURCES),
        "simulated",
        help="where key presses come from: `simulated` (the screens' keyboard, mouse and touch), "
        "`gpio` (buttons on the Pi's header, `[hardware.gpio]`) or `serial` (an RS-485/RS-232 "
        "keypad, `[hardware.serial_keypad]`)",
    )
    gpio: GpioConfig = setting(
        Section(GpioConfig), help="buttons, key lights and buzzer on the Pi's header"
    )
    serial_keypad: SerialKeypadConfig = setting(
        Section(SerialKeypadConfig), help='the serial keypad, used with `keys = "serial"`'
    )
    led_display: LedDisplayConfig = setting(
        Section(LedDisplayConfig), help="the counter's LED display on a serial bus"
    )


# -- [voice] --------------------------------------------------------------------------------------

VOICE_ENGINES = ("espeak", "clips")
#: espeak-ng voice per language. Mandarin is ``cmn-latn-pinyin``: in espeak-ng 1.51 (bookworm)
#: ``cmn`` (and ``zh``, ``zh-cn``, ...) read most characters as pinyin with English tone numbers.
DEFAULT_VOICES: Mapping[str, str] = {"zh-CN": "cmn-latn-pinyin", "en": "en"}
#: Chinese digits 0-9 as spoken in ticket numbers.
DEFAULT_ZH_DIGITS = "零一二三四五六七八九"

VOICES = Table(
    (
        Key(
            "zh-CN",
            MANDARIN_VOICE,
            DEFAULT_VOICES["zh-CN"],
            help="`cmn`, `zh`, `zh-cn`, `zh-cmn` and `sit/cmn` are errors: in espeak-ng 1.51 "
            '(Debian bookworm) they read Chinese as pinyin with English tone numbers (请 is "qing '
            'three")',
        ),
        Key("en", ESPEAK_VOICE, DEFAULT_VOICES["en"], help="e.g. `en-us`, or `en+f3` (variant)"),
    ),
)


@dataclass(frozen=True)
class VoiceSettings:
    """``[voice]``, same names: everything the announcer (:mod:`drivers.voice`) can be told.

    Built by hand, it is checked by the same declarations as a file (``ValueError`` otherwise).
    """

    engine: str = setting(
        String(choices=VOICE_ENGINES),
        "espeak",
        help="`espeak` (espeak-ng, Debian package `espeak-ng`) or `clips` (recorded clips; any "
        "announcement with a part that has no clip is spoken by espeak-ng)",
    )
    language: str = setting(
        String(choices=LANGUAGES),
        "zh-CN",
        help="language of announcements that do not name one",
    )
    espeak_binary: str = setting(COMMAND, "espeak-ng", help="the espeak-ng program")
    voices: Mapping[str, str] = setting(
        Section(VOICES),
        help="espeak-ng voice per language, both required (merged key by key, so a file can "
        "change one)",
    )
    rate_wpm: int = setting(Integer(80, 450), 150, help="words per minute (espeak-ng `-s`)")
    pitch: int = setting(Integer(0, 99), 50, help="espeak-ng `-p`")
    volume: int = setting(Integer(0, 200), 100, help="espeak-ng `-a`")
    player: tuple[str, ...] = setting(
        Command('["aplay", "-q", "{wav}"]', "{wav}"),
        ["aplay", "-q", "{wav}"],
        help="`{wav}` is replaced by the WAV file (appended when no argument has it); the first "
        'element is the program. A card: `["aplay", "-q", "-D", "plughw:CARD=Headphones", '
        '"{wav}"]`',
    )
    clips_dir: str = setting(
        String(),
        "clips",
        help='folder of `<language>/<clip>.wav` files (`engine = "clips"`), relative to the '
        "working directory",
    )
    clip_gap_s: float = setting(Number(0, 2), 0.0, help="silence between joined clips")
    call_repeat: int = setting(Integer(1, 5), 2, help="times a call is said")
    prompt_repeat: int = setting(Integer(1, 5), 1, help="times any other announcement is said")
    repeat_pause_s: float = setting(Number(0, 10), 0.8, help="silence between repeats")
    queue_limit: int = setting(
        Integer(1, 100),
        8,
        help="announcements waiting at most; when full the oldest prompt is dropped, then the "
        "oldest call",
    )
    call_templates: tuple[str, ...] = setting(
        ListOf(String(choices=tuple(TEXT_PLACEHOLDERS), noun="text"), unique="text"),
        ["call"],
        help="`[texts]` keys announced as calls (repeated `call_repeat` times); may be empty",
    )
    zh_digits: str = setting(
        ZH_DIGITS,
        DEFAULT_ZH_DIGITS,
        help='how the digits 0–9 of a ticket number are said in Chinese; "零幺二三四五六七八九" '
        "says 幺 for 1, as on the telephone",
    )
    synth_timeout_s: float = setting(
        Number(above=0, high=600), 20, help="espeak-ng may take this long"
    )
    play_timeout_s: float = setting(
        Number(above=0, high=600), 60, help="a player run that takes longer is killed"
    )

    def __post_init__(self) -> None:
        check_instance(self, "voice")


# -- [printer] ------------------------------------------------------------------------------------

PRINTER_CONNECTIONS = ("simulated", "dummy", "file", "serial", "network", "usb")
PRINTER_TEXT_MODES = ("gb18030", "image")
PRINTER_CUTS = ("FULL", "PART")
PRINTER_IMAGE_IMPLS = ("bitImageRaster", "graphics", "bitImageColumn")


def _printer_needs(s: Scope) -> None:
    """A network printer needs a host, a usb printer its ids."""
    connection = s.values["connection"]
    if connection == "network" and s.values["host"] == "":
        s.bad("connection", '"network" needs printer.host, the printer\'s IP address or host name')
        s.values["connection"] = INVALID
    if connection == "usb" and 0 in (s.values["usb_vendor"], s.values["usb_product"]):
        s.bad(
            "connection",
            '"usb" needs printer.usb_vendor and printer.usb_product (see lsusb), '
            'or use "file" with device = "/dev/usb/lp0"',
        )
        s.values["connection"] = INVALID


@dataclass(frozen=True)
class PrinterSettings:
    """``[printer]``, same names: the ticket printer (:mod:`drivers.printer`).

    Built by hand, it is checked by the same declarations as a file (``ValueError`` otherwise).
    """

    RULES: ClassVar[tuple[Rule, ...]] = (_printer_needs,)

    connection: str = setting(
        String(choices=PRINTER_CONNECTIONS),
        "simulated",
        help="`simulated` (a PNG per ticket in `simulated_dir`), `dummy` (bytes kept in memory, "
        "for tests), `file` (a device file: a USB printer is `/dev/usb/lp0`), `serial`, "
        "`network` (raw TCP) or `usb` (libusb, needs `pyusb`). `network` needs `host`; `usb` "
        "needs `usb_vendor` and `usb_product`",
    )
    device: str = setting(
        DEVICE_PATH,
        "/dev/usb/lp0",
        help="`file` and `serial`: the device (prefer `/dev/serial/by-id/...` for serial). A "
        "`serial` printer cannot use the port of the serial keypad (with "
        '`hardware.keys = "serial"`) or of an enabled LED display',
    )
    baudrate: int = setting(BAUDRATE, 9600, help="`serial`: the line speed")
    host: str = setting(
        host('"192.168.1.50"', "printer.port", "keep"),
        "",
        help="`network`: the printer's IP address or host name",
    )
    port: int = setting(Integer(1, 65535), 9100, help="`network`: the raw TCP port")
    usb_vendor: int = setting(UsbId(), 0, help="`usb`: the vendor id, e.g. `0x0416`")
    usb_product: int = setting(UsbId(), 0, help="`usb`: the product id, e.g. `0x5011`")
    timeout_s: float = setting(
        Number(above=0, high=120), 10, help="`network` connect and read, `serial` read"
    )
    text_mode: str = setting(
        String(choices=PRINTER_TEXT_MODES),
        "gb18030",
        help="`gb18030`: the printer's own Chinese font; `image`: drawn with `font_path`, for "
        "printers without a Chinese font",
    )
    paper_width_px: int = setting(
        Integer(200, 832), 576, help="dots; 576 for 80 mm paper, 384 for 58 mm (203 dpi)"
    )
    font_path: str = setting(
        String(),
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        help="CJK font for `image` mode and simulated tickets (Debian package "
        "`fonts-wqy-zenhei`); a missing file is logged and a fallback font used",
    )
    image_impl: str = setting(
        String(choices=PRINTER_IMAGE_IMPLS),
        "bitImageRaster",
        help="how `image` mode sends the picture (`bitImageRaster` is `GS v 0`)",
    )
    cut: str = setting(String(choices=PRINTER_CUTS), "PART", help="upper case")
    profile: str | None = option(
        PROFILE_NAME,
        "",
        help='a python-escpos printer profile (model: `None` for none); `""` in a later file '
        "removes one set by an earlier file",
    )
    check_paper: bool = setting(
        Boolean(),
        False,
        help='ask the paper sensor before printing and fail with "paper out"; works with '
        "`serial`, `network` and `usb`, ignored by `file` (write-only)",
    )
    simulated_dir: str = setting(
        String(),
        "var/tickets",
        help="`simulated`: the folder for the PNGs, relative to the working directory",
    )

    def __post_init__(self) -> None:
        check_instance(self, "printer")


# -- [screen] -------------------------------------------------------------------------------------

#: What a device can show: the customer's evaluation pad, the teller console, the ticket kiosk
#: and the hall board.
SCREEN_PANELS = ("pad", "console", "kiosk", "board")
SCREEN_SIDE_RANGE = (240, 7680)  # pixels, each of width and height


@dataclass(frozen=True)
class ScreenConfig:
    """``[screen]``: what this device shows and how."""

    size: tuple[int, int] = setting(
        ListOf(Integer(*SCREEN_SIDE_RANGE), length=2, shape="[width, height] like [800, 480]"),
        [800, 480],
        help="`[width, height]` in pixels (the official 7-inch display is 800×480; a hall board "
        "TV 1920×1080); layouts follow the size",
    )
    fullscreen: bool = setting(
        Boolean(),
        False,
        help="take the whole display (on a device); `false` opens a window, e.g. on a PC",
    )
    panels: tuple[str, ...] = setting(
        ListOf(String(choices=SCREEN_PANELS), nonempty=True, unique="panel"),
        ["pad", "console"],
        help="`pad`: the customer's evaluation pad; `console`: the teller's console; `kiosk`: "
        "the ticket machine; `board`: the hall board",
    )
    font: str = setting(
        String(empty="keep"),
        "",
        help='a CJK font file, `"path"` or `"path:index"` for a face of a `.ttc`; start-up fails, '
        "naming the file, if it is missing or has no Chinese glyphs",
    )
    near_ratio: float = setting(
        Number(0.5, 0.99),
        0.8,
        help="the console's service timer turns amber from this share of the service limit "
        "(red once past it)",
    )
    notice: str = setting(
        ONE_LINE,
        "保管好您的号票，过号请重新取号。",
        help="the hall board's notice line (scrolls when it is too long)",
    )
    photos_dir: str = setting(
        String(empty="keep"),
        "",
        help="folder with teller photos named `<staff_no>.png` or `<staff_no>.jpg`, shown on "
        "the pad",
    )
    language: str = setting(
        String(choices=LANGUAGES), "zh-CN", help="the language the screens start in"
    )
