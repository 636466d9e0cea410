"""Typed, validated configuration: what counterside reads, and where each setting is declared.

Each field that a TOML key sets declares that setting once, with :func:`config.declare.setting`:
its kind (type, range or choices), default and help. ``config/defaults.toml`` and the key tables
of ``docs/configuration.md`` are generated from these declarations, and files are read by them.
Tables whose file shape differs from the model (``[branch]``, ``[priority]``, ``[rating]``,
``[hours]``, ``[texts]``) and the order of the file are declared in :mod:`config.layout`;
rules that tie several settings together are in :mod:`config.rules` (and, for one class alone,
its ``RULES``).

Instances are built by :mod:`config.loader`, which checks every value first, so code that
receives a :class:`Config` may trust it. All classes are frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any, ClassVar

from config.checker import Unique, suggest
from config.declare import Key, Rule, Scope, Section, Table, Tables, check_instance, setting
from config.kinds import INVALID, Boolean, Integer, ListOf, Number, String, TextPair
from config.layers import KeyPath
from config.values import (
    ABSOLUTE_PATH,
    CODE,
    COMMAND,
    DEVICE_PATH,
    ESPEAK_VOICE,
    IDENTIFIER,
    MANDARIN_VOICE,
    ONE_LINE,
    PREFIX,
    PROFILE_NAME,
    SERIAL_PORT,
    STAFF_NO,
    TIME_ZONE,
    ZH_DIGITS,
    Command,
    Pin,
    PinMap,
    UsbId,
    file_name,
    host,
    level_name_problem,
    name_line,
)

ROLES = ("counter", "controller", "central")
LANGUAGES = ("zh-CN", "en")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Text:
    """A text in every configured language; ``get`` falls back to Chinese."""

    zh: str
    en: str

    def get(self, language: str) -> str:
        return self.en if language == "en" else self.zh


#: A ``{ zh = "...", en = "..." }`` table.
TEXT = TextPair(Text)


def text_keys(what: str) -> tuple[Key, Key]:
    """``zh`` and ``en`` as keys of a table of their own (``{ zh, en, add_min }``)."""
    return (
        Key("zh", String(), help=f"{what}, in Chinese"),
        Key("en", String(), optional=True, help="in English; falls back to `zh`"),
    )


def text_of(values: dict[str, Any]) -> Text:
    return Text(values["zh"], values["zh"] if values["en"] is None else values["en"])


# -- [device] -------------------------------------------------------------------------------------


def _counter_when_serving(s: Scope) -> None:
    """``counter`` is required with the role "counter" and ignored (``None``) without it."""
    roles = s.values["roles"]
    if roles is INVALID:
        return
    if "counter" not in roles:
        s.values["counter"] = None
    elif "counter" not in s.raw:
        s.c.missing((*s.path, "counter"), 'required because roles include "counter"')
        s.values["counter"] = INVALID


@dataclass(frozen=True)
class DeviceConfig:
    RULES: ClassVar[tuple[Rule, ...]] = (_counter_when_serving,)

    branch_id: str = setting(
        IDENTIFIER, shipped="demo-branch", help="identifies the branch at the central office"
    )
    device_id: str = setting(
        IDENTIFIER,
        shipped="demo-counter-1",
        help="unique per device; also its MQTT identity (client id, certificate CN)",
    )
    roles: tuple[str, ...] = setting(
        ListOf(String(choices=ROLES), nonempty=True, unique="role"),
        shipped=["counter", "controller"],
        help="`counter`: pad and caller at a window; `controller`: the branch's queue "
        "controller; `central`: the central office",
    )
    counter: int | None = setting(
        Integer(low=1),
        shipped=1,
        optional=True,
        help="the window this device sits at, a `[[counters]]` `number`; required when `roles` "
        'include "counter", ignored (model: `None`) otherwise',
    )
    timezone: str = setting(TIME_ZONE, shipped="Asia/Shanghai", help="the branch's time zone")
    language: str = setting(
        String(choices=LANGUAGES),
        shipped="zh-CN",
        help="default language of screens and voice",
    )


# -- [[business_types]], [[counters]], [priority] -------------------------------------------------


def _bands_rise(s: Scope) -> None:
    """Every band but the last names its top amount, each above the one before."""
    previous: float | None = None
    for i, read in enumerate(s.values):
        here: KeyPath = (*s.path, i)
        given = s.raw[i]
        if not isinstance(given, dict):
            continue
        up_to = read.values.get("up_to", INVALID)
        last = i == len(s.values) - 1
        if "up_to" not in given:
            if not last:
                s.c.missing((*here, "up_to"), "every band but the last names its top amount")
                read.model = INVALID
            continue
        if up_to is INVALID:
            continue
        if last:
            s.c.bad((*here, "up_to"), "the last band is open: leave out up_to")
            read.model = INVALID
        elif previous is not None and up_to <= previous:
            s.c.bad((*here, "up_to"), f"must be above the previous band's {previous:g}")
            read.model = INVALID
        previous = up_to


@dataclass(frozen=True)
class ServiceBand:
    """An amount band of a business type with a service limit of its own (限时服务 by amount,
    e.g. cash paid out up to ¥50,000 / ¥100,000 / above); the teller chooses it."""

    name: Text = setting(TEXT, help="the band's name, shown to the teller")
    up_to: float | None = setting(
        Number(above=0),
        optional=True,
        help="the band's top amount in yuan, rising from band to band; left out on the last, "
        "open band (model: `None`)",
    )
    service_limit_s: float = setting(
        Number(above=0, unit="min"),
        key="service_limit_min",
        help="the band's service limit in minutes, replacing the business type's",
    )


@dataclass(frozen=True)
class BusinessType:
    """A kind of business with its own ticket prefix and limits (seconds).

    ``service_limit_s`` holds until the teller chooses one of the ``bands`` (if any)."""

    code: str = setting(CODE, unique="business type code", help="referred to by counters")
    prefix: str = setting(PREFIX, unique="ticket prefix", help="the ticket prefix (`A012`)")
    name: Text = setting(TEXT, help="shown on the ticket machine and screens")
    wait_limit_s: float = setting(
        Number(above=0, unit="min"),
        key="wait_limit_min",
        help="in minutes; waiting longer is overdue. Held from the ticket's issue, across "
        "transfers (the customer's whole wait in the branch); each leg's own wait is recorded too",
    )
    service_limit_s: float = setting(
        Number(above=0, unit="min"),
        key="service_limit_min",
        help="in minutes; the 限时服务 limit, for internal assessment only, never shown to "
        "customers",
    )
    bands: tuple[ServiceBand, ...] = setting(
        Tables(ServiceBand, rules=(_bands_rise,)),
        [],
        optional=True,
        help="amount bands (`[business_types.bands]`): the teller chooses one (key `band`, B on "
        "the keyboard, code `32` on the serial keypad) and its limit replaces "
        "`service_limit_min` for that service",
    )


@dataclass(frozen=True)
class PriorityClass:
    """A priority class (elderly, disabled, VIP: 绿色通道); its tickets are called first."""

    code: str = setting(CODE, unique="priority class", help="like a business type code")
    name: Text = setting(TEXT, help="shown on the ticket machine")


def _default_name(s: Scope) -> None:
    """A window without a name is called by its number."""
    number = s.values["number"]
    if s.values["name"] is None and number is not INVALID:
        s.values["name"] = Text(f"{number}号窗口", f"Window {number}")


@dataclass(frozen=True)
class Counter:
    """A service window and the business types it serves, in the order it serves them."""

    RULES: ClassVar[tuple[Rule, ...]] = (_default_name,)

    number: int = setting(
        Integer(low=1),
        unique="counter number",
        help="the window number called out (`请A012号到3号窗口办理`)",
    )
    name: Text = setting(
        TEXT, optional=True, help="shown on screens; absent: `{n}号窗口` / `Window {n}`"
    )
    business_types: tuple[str, ...] = setting(
        ListOf(String(), nonempty=True, unique="business type"),
        help="business type `code`s, in the order in which this window serves them",
    )


# -- [rating] -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingLevel:
    """One key on the evaluation pad.

    ``satisfied`` levels count towards 满意率; ``neutral`` levels (e.g. 不了解) are a rating given
    but left out of the satisfaction rate's denominator.
    """

    value: int
    label: Text
    satisfied: bool
    neutral: bool = False


@dataclass(frozen=True)
class RatingConfig:
    scale: str
    levels: tuple[RatingLevel, ...]
    window_s: float
    bad_reasons: tuple[Text, ...]

    def level(self, value: int) -> RatingLevel | None:
        return next((lv for lv in self.levels if lv.value == value), None)


# -- [queue] --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionReason:
    """Why a service may take longer (small or damaged notes, a system fault ...): recorded for
    the centre, and ``add_s`` seconds are added to the service limit."""

    label: Text
    add_s: float


EXTENSION_REASON = Table(
    (
        *text_keys("the reason"),
        Key("add_min", Number(0, 120, unit="min"), help="minutes added to the service limit"),
    ),
    build=lambda v: ExtensionReason(text_of(v), v["add_min"]),
)

DEFAULT_PAUSE_REASONS = (
    Text("暂时离开", "Away briefly"),
    Text("业务培训", "Training"),
    Text("交接班", "Shift handover"),
    Text("现金清点", "Counting cash"),
)


@dataclass(frozen=True)
class QueueConfig:
    number_digits: int = setting(Integer(2, 5), shipped=3, help="digits after the prefix (`A012`)")
    recall_limit: int = setting(
        Integer(0, 10), shipped=2, help="how often a ticket may be called again"
    )
    priority_ratio: float  # [priority] ratio, declared in config.layout
    escalate_overdue: bool = setting(
        Boolean(),
        shipped=True,
        help="flag tickets waiting beyond their `wait_limit_min` to the lobby manager",
    )
    pause_reasons: tuple[Text, ...] = setting(
        ListOf(TEXT, nonempty=True),
        [TEXT.to_file(reason) for reason in DEFAULT_PAUSE_REASONS],
        optional=True,
        help="the teller picks one when pausing (暂停服务; the console asks, a keypad may send its "
        "number from 0); recorded with the pause",
    )
    extension_reasons: tuple[ExtensionReason, ...] = setting(
        Tables(EXTENSION_REASON),
        [],
        shipped=[
            {"zh": "小面额或残损券较多", "en": "Many small or damaged notes", "add_min": 5},
            {"zh": "系统故障", "en": "System fault", "add_min": 10},
            {"zh": "客户资料不全", "en": "Customer documents incomplete", "add_min": 0},
        ],
        help="why a service takes longer (`[queue.extension_reasons]`): the teller records one "
        "per service (key `extend`, E on the keyboard, code `33`), its `add_min` is added to the "
        "service limit, and the centre counts it",
    )
    long_queue_alert: int = setting(
        Integer(0, 10_000),
        25,
        optional=True,
        help="more tickets than this waiting for one business type raise `queue.too_long` once "
        "(open a flexible window, 弹性窗口); `queue.back_to_normal` when down to 80 %; 0 turns "
        "it off",
    )


@dataclass(frozen=True)
class OpeningSpan:
    start: time
    end: time


@dataclass(frozen=True)
class TextsConfig:
    """Voice prompts and screen words per language (``str.format`` templates)."""

    by_language: dict[str, dict[str, str]]

    def get(self, key: str, language: str) -> str:
        table = self.by_language.get(language) or self.by_language["zh-CN"]
        return table.get(key) or self.by_language["zh-CN"][key]


#: Text keys and the placeholders each template may use.
TEXT_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "welcome": (),
    "call": ("ticket", "counter"),
    "rate_prompt": (),
    "thanks": (),
    "goodbye": (),
    "paused": (),
    "wait_please": (),
    "redirect": ("counter",),
    "expected_wait": ("ahead", "minutes"),
}


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
    buzzer: int | None = setting(
        PIN, None, optional=True, example=18, help="pin of an active buzzer"
    )

    def key_pins(self) -> dict[str | tuple[str, int], int]:
        """Every key and its pin, as :class:`drivers.gpio.GpioKeys` takes them."""
        rating = {("rate", level): pin for level, pin in self.rating_keys.items()}
        return {**self.keys, **rating}

    def led_pins(self) -> dict[tuple[str, int], int]:
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
    profile: str | None = setting(
        PROFILE_NAME,
        "",
        optional=True,
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


# -- [[roster]] -----------------------------------------------------------------------------------

STARS_RANGE = (1, 5)  # the quarterly star grade
STAFF_NAME_MAX = 16  # characters
PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg")  # compared in lower case


@dataclass(frozen=True)
class StaffMember:
    """One teller of ``[[roster]]``, shown on the evaluation pad.

    ``photo`` is a file name in ``[screen] photos_dir`` (``None``: the pad looks for
    ``<staff_no>.png`` / ``.jpg`` there). Staff who leave are removed from the roster.
    """

    staff_no: str = setting(
        STAFF_NO,
        unique="staff number",
        help='the 工号 shown on the pad; in quotes (`"0123"`): an integer would lose leading zeros',
    )
    name: str = setting(name_line(STAFF_NAME_MAX), help="the teller's name")
    stars: int | None = setting(
        Integer(*STARS_RANGE), None, optional=True, help="the quarterly star grade"
    )
    photo: str | None = setting(
        file_name(PHOTO_EXTENSIONS, "screen.photos_dir", "1001.jpg"),
        None,
        optional=True,
        help="absent: the pad looks for `<staff_no>.png` / `.jpg`; ignored while "
        '`photos_dir` is `""`',
    )


# -- [mqtt] ---------------------------------------------------------------------------------------

#: The broker's ``message_size_limit`` (= ``sync.topics.MAX_PAYLOAD_BYTES``; config does not
#: import sync, a test keeps the two equal): no batch may be larger.
MQTT_MAX_PAYLOAD_BYTES = 256 * 1024
#: Device ids that are MQTT topic names (= ``sync.topics.RESERVED_DEVICE_IDS``).
MQTT_RESERVED_DEVICE_IDS = ("bridge", "config", "queue")
#: 开机率 (uptime) counts the minutes with a heartbeat (``central.uptime``): at least one a minute.
HEARTBEAT_MAX_S = 60


@dataclass(frozen=True)
class MqttConfig:
    """``[mqtt]``; every key may be left out (its default applies): disabled, the device runs
    stand-alone without sync.

    The device's MQTT identity (client id, certificate CN, ACL name) is ``device.device_id``.
    Plain values only: :meth:`connection_kwargs`, :meth:`tls_files` and :meth:`uplink_kwargs`
    spell them as ``sync.settings`` takes them. ``None`` = not given.
    """

    enabled: bool = setting(Boolean(), False, optional=True, help="connect to the broker and sync")
    host: str | None = setting(
        host('"10.20.0.5" or "mqtt.bank.example"', "mqtt.port", "none"),
        None,
        optional=True,
        example="mqtt.branch.example",
        help="required when enabled: the broker; with TLS it must match the broker "
        "certificate's subjectAltName",
    )
    port: int = setting(
        Integer(1, 65535),
        8883,
        optional=True,
        help="the TLS listener; the password listener is 1883",
    )
    tls: bool = setting(
        Boolean(),
        True,
        optional=True,
        help="client certificate authentication. `false` (the password listener, needs "
        "`username` and `password`) is only allowed with `host` on this device (`localhost`, "
        "`127.x.x.x`, `::1`): the broker's network listener accepts certificates only, and a "
        "password must not cross the network unencrypted",
    )
    ca: str | None = setting(
        ABSOLUTE_PATH,
        None,
        optional=True,
        example="/etc/counterside/tls/ca.crt",
        help="required when enabled with `tls = true`: the CA certificate",
    )
    cert: str | None = setting(
        ABSOLUTE_PATH,
        None,
        optional=True,
        example="/etc/counterside/tls/device.crt",
        help="likewise: this device's certificate (CN = `device.device_id`)",
    )
    key: str | None = setting(
        ABSOLUTE_PATH,
        None,
        optional=True,
        example="/etc/counterside/tls/device.key",
        help="likewise: this device's private key (mode 600, made on the device)",
    )
    username: str | None = setting(
        String(empty="none"),
        None,
        optional=True,
        example="",
        help="`tls = false` only (an error with `tls = true`: over TLS the CN is the username)",
    )
    password: str | None = setting(
        String(empty="none", secret=True),
        None,
        optional=True,
        example="",
        repr=False,
        help="`tls = false` only. Never shown in error messages or the model's `repr`; keep "
        "the file readable by the service user only",
    )
    keepalive_s: int = setting(
        Integer(5, 600), 30, optional=True, help="the MQTT keepalive interval"
    )
    batch_max_events: int = setting(
        Integer(1, 5000), 200, optional=True, help="events per uplink message at most"
    )
    batch_max_bytes: int = setting(
        Integer(
            1024,
            MQTT_MAX_PAYLOAD_BYTES,
            high_note="256 KiB is the broker's message_size_limit, a larger batch is refused",
        ),
        64 * 1024,
        optional=True,
        help="bytes per uplink message at most (the whole payload)",
    )
    max_inflight: int = setting(
        Integer(1, 100),
        8,
        optional=True,
        help="uplink batches sent but not yet acknowledged by the broker (the broker grants 20, "
        "see `docs/security.md`)",
    )
    queue_timeout_s: float = setting(
        Number(0.2, 30),
        2.0,
        optional=True,
        help="how long a counter waits for the branch queue service before falling back to "
        "ticketless service",
    )
    heartbeat_s: float = setting(
        Number(
            10,
            HEARTBEAT_MAX_S,
            high_note="开机率 (uptime) counts the minutes with a heartbeat, so a device must "
            "beat at least once a minute",
        ),
        60,
        optional=True,
        help="the device checks for its heartbeat at these multiples of seconds within each "
        "wall-clock minute (60: once, just after each minute begins); one `device.heartbeat` "
        "event is stored per minute the device is on (`docs/protocol.md`)",
    )

    def connection_kwargs(self, client_id: str) -> dict[str, Any]:
        """Keyword arguments of ``sync.settings.ConnectionSettings``, except ``tls``;
        ``client_id`` is ``device.device_id``."""
        return {
            "host": self.host or "",
            "port": self.port,
            "client_id": client_id,
            "username": self.username,
            "password": self.password,
            "keepalive_s": self.keepalive_s,
        }

    def tls_files(self) -> tuple[str, str, str] | None:
        """``(ca, cert, key)`` for ``sync.settings.TlsSettings``, or ``None`` without TLS."""
        if not self.tls or not (self.ca and self.cert and self.key):
            return None
        return self.ca, self.cert, self.key

    def uplink_kwargs(self) -> dict[str, int]:
        """Keyword arguments of ``sync.settings.UplinkSettings`` (the others keep defaults)."""
        return {
            "batch_max_events": self.batch_max_events,
            "batch_max_bytes": self.batch_max_bytes,
            "max_inflight": self.max_inflight,
        }


@dataclass(frozen=True)
class Config:
    """The whole configuration; its file layout is declared in :mod:`config.layout`."""

    device: DeviceConfig
    branch_name: Text
    business_types: tuple[BusinessType, ...]
    counters: tuple[Counter, ...]
    priority_classes: tuple[PriorityClass, ...]
    queue: QueueConfig
    rating: RatingConfig
    hours: dict[str, tuple[OpeningSpan, ...]]
    texts: TextsConfig
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    printer: PrinterSettings = field(default_factory=PrinterSettings)
    screen: ScreenConfig = field(default_factory=ScreenConfig)
    roster: tuple[StaffMember, ...] = ()
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    sources: tuple[str, ...] = field(default=())

    def business_type(self, code: str) -> BusinessType:
        for bt in self.business_types:
            if bt.code == code:
                return bt
        raise KeyError(code)

    def counter(self, number: int) -> Counter:
        for c in self.counters:
            if c.number == number:
                return c
        raise KeyError(number)

    def staff(self, staff_no: str) -> StaffMember | None:
        """The roster's member with this staff number; ``None`` if not (or no longer) on it."""
        return next((m for m in self.roster if m.staff_no == staff_no), None)
