"""Typed, validated configuration: what the rest of counterside reads.

Instances are built only by :mod:`config.loader`, which checks every value first, so code that
receives a :class:`Config` may trust it. All classes are frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

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


@dataclass(frozen=True)
class ServiceBand:
    """An amount band of a business type with a service limit of its own (限时服务 by amount,
    e.g. cash paid out up to ¥50,000 / ¥100,000 / above); the teller chooses it."""

    name: Text
    up_to: float | None  # the band's top amount in yuan; None for the last, open band
    service_limit_s: float


@dataclass(frozen=True)
class BusinessType:
    """A kind of business with its own ticket prefix and limits (seconds).

    ``service_limit_s`` holds until the teller chooses one of the ``bands`` (if any)."""

    code: str
    prefix: str
    name: Text
    wait_limit_s: float
    service_limit_s: float
    bands: tuple[ServiceBand, ...] = ()


@dataclass(frozen=True)
class PriorityClass:
    """A priority class (elderly, disabled, VIP: 绿色通道); its tickets are called first."""

    code: str
    name: Text


@dataclass(frozen=True)
class Counter:
    """A service window and the business types it serves, in the order it serves them."""

    number: int
    name: Text
    business_types: tuple[str, ...]


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


@dataclass(frozen=True)
class ExtensionReason:
    """Why a service may take longer (small or damaged notes, a system fault ...): recorded for
    the centre, and ``add_s`` seconds are added to the service limit."""

    label: Text
    add_s: float


DEFAULT_PAUSE_REASONS = (
    Text("暂时离开", "Away briefly"),
    Text("业务培训", "Training"),
    Text("交接班", "Shift handover"),
    Text("现金清点", "Counting cash"),
)


@dataclass(frozen=True)
class QueueConfig:
    number_digits: int
    recall_limit: int
    priority_ratio: float
    escalate_overdue: bool
    pause_reasons: tuple[Text, ...] = DEFAULT_PAUSE_REASONS
    extension_reasons: tuple[ExtensionReason, ...] = ()
    long_queue_alert: int = 25  # more waiting than this for one business type: alert (0: off)


@dataclass(frozen=True)
class OpeningSpan:
    start: time
    end: time


@dataclass(frozen=True)
class DeviceConfig:
    branch_id: str
    device_id: str
    roles: tuple[str, ...]
    counter: int | None
    timezone: str
    language: str


@dataclass(frozen=True)
class TextsConfig:
    """Voice prompts and screen words per language (``str.format`` templates)."""

    by_language: dict[str, dict[str, str]]

    def get(self, key: str, language: str) -> str:
        table = self.by_language.get(language) or self.by_language["zh-CN"]
        return table.get(key) or self.by_language["zh-CN"][key]


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
GPIO_PIN_RANGE = (2, 27)  # BCM; 0 and 1 are the HAT EEPROM's
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
LED_CHARSETS = ("gb2312", "ascii")


@dataclass(frozen=True)
class GpioConfig:
    """Buttons, rating-key lights and a buzzer on the Pi's header (BCM pin numbers)."""

    bounce_s: float = 0.05
    keys: dict[str, int] = field(default_factory=dict)
    rating_keys: dict[int, int] = field(default_factory=dict)  # level -> pin
    rating_leds: dict[int, int] = field(default_factory=dict)  # level -> pin
    buzzer: int | None = None

    def key_pins(self) -> dict[str | tuple[str, int], int]:
        """Every key and its pin, as :class:`drivers.gpio.GpioKeys` takes them."""
        rating = {("rate", level): pin for level, pin in self.rating_keys.items()}
        return {**self.keys, **rating}

    def led_pins(self) -> dict[tuple[str, int], int]:
        """The rating-key lights, as :class:`drivers.gpio.KeyLeds` takes them."""
        return {("rate", level): pin for level, pin in self.rating_leds.items()}


@dataclass(frozen=True)
class SerialKeypadConfig:
    port: str = "/dev/ttyUSB0"
    baudrate: int = 9600
    address: int = 1


@dataclass(frozen=True)
class LedDisplayConfig:
    enabled: bool = False
    port: str = "/dev/ttyUSB1"
    baudrate: int = 9600
    address: int = 1
    charset: str = "gb2312"


@dataclass(frozen=True)
class HardwareConfig:
    """``[hardware]``; the defaults equal those of ``defaults.toml`` (simulated keys, no LED)."""

    keys: str = "simulated"
    gpio: GpioConfig = field(default_factory=GpioConfig)
    serial_keypad: SerialKeypadConfig = field(default_factory=SerialKeypadConfig)
    led_display: LedDisplayConfig = field(default_factory=LedDisplayConfig)


# -- [voice] ------------------------------------------------------------------------------------

VOICE_ENGINES = ("espeak", "clips")
#: espeak-ng voice per language. Mandarin is ``cmn-latn-pinyin``: in espeak-ng 1.51 (bookworm)
#: ``cmn`` (and ``zh``, ``zh-cn``, ...) read most characters as pinyin with English tone numbers.
DEFAULT_VOICES: Mapping[str, str] = {"zh-CN": "cmn-latn-pinyin", "en": "en"}
#: Chinese digits 0-9 as spoken in ticket numbers.
DEFAULT_ZH_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class VoiceSettings:
    """``[voice]``, same names: everything the announcer (:mod:`drivers.voice`) can be told.

    The defaults equal those of ``defaults.toml``. :mod:`config.validate` checks every value with
    file and key; the checks here only guard settings built by hand.
    """

    engine: str = "espeak"  # "espeak" or "clips" (clips fall back to espeak-ng per announcement)
    language: str = "zh-CN"  # language of announcements that do not name one
    espeak_binary: str = "espeak-ng"
    voices: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_VOICES))
    rate_wpm: int = 150  # espeak-ng -s
    pitch: int = 50  # espeak-ng -p, 0..99
    volume: int = 100  # espeak-ng -a, 0..200
    player: tuple[str, ...] = ("aplay", "-q", "{wav}")
    clips_dir: str = "clips"  # <clips_dir>/<language>/<name>.wav
    clip_gap_s: float = 0.0  # silence between joined clips
    call_repeat: int = 2
    prompt_repeat: int = 1
    repeat_pause_s: float = 0.8
    queue_limit: int = 8
    call_templates: tuple[str, ...] = ("call",)  # templates announced as calls by ``say``
    zh_digits: str = DEFAULT_ZH_DIGITS  # e.g. "零幺二三四五六七八九" to say 幺 for 1
    synth_timeout_s: float = 20.0
    play_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        problems = []
        if self.engine not in VOICE_ENGINES:
            problems.append(
                f"voice.engine: {self.engine!r} is not one of {', '.join(VOICE_ENGINES)}"
            )
        if len(self.zh_digits) != 10:
            problems.append("voice.zh_digits: needs exactly 10 characters, for 0 to 9")
        for key in ("call_repeat", "prompt_repeat", "queue_limit"):
            if getattr(self, key) < 1:
                problems.append(f"voice.{key}: must be at least 1")
        if not self.player:
            problems.append("voice.player: the player command is empty")
        if problems:
            raise ValueError("; ".join(problems))


# -- [printer] ----------------------------------------------------------------------------------

PRINTER_CONNECTIONS = ("simulated", "dummy", "file", "serial", "network", "usb")
PRINTER_TEXT_MODES = ("gb18030", "image")
PRINTER_CUTS = ("FULL", "PART")
PRINTER_IMAGE_IMPLS = ("bitImageRaster", "graphics", "bitImageColumn")


@dataclass(frozen=True)
class PrinterSettings:
    """``[printer]``, same names: the ticket printer (:mod:`drivers.printer`).

    The defaults equal those of ``defaults.toml`` (the simulated printer). :mod:`config.validate`
    checks every value with file and key; the checks here only guard settings built by hand.
    """

    connection: str = "simulated"  # simulated | dummy | file | serial | network | usb
    device: str = "/dev/usb/lp0"  # file and serial connections
    baudrate: int = 9600  # serial
    host: str = ""  # network
    port: int = 9100  # network
    usb_vendor: int = 0  # usb (needs pyusb); a USB printer also appears as /dev/usb/lp0
    usb_product: int = 0
    timeout_s: float = 10.0  # network connect/read, serial read
    text_mode: str = "gb18030"  # gb18030 | image
    paper_width_px: int = 576  # 80 mm paper at 203 dpi; 384 for 58 mm
    font_path: str = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"  # image mode and simulated
    image_impl: str = "bitImageRaster"  # escpos image(): bitImageRaster | graphics | bitImageColumn
    cut: str = "PART"  # FULL | PART
    profile: str | None = None  # python-escpos printer profile name ("" in the file)
    check_paper: bool = False  # ask the printer for paper status first (serial, network, usb)
    simulated_dir: str = "var/tickets"  # where the simulated printer writes PNGs

    def __post_init__(self) -> None:
        problems = []
        for key, allowed in (
            ("connection", PRINTER_CONNECTIONS),
            ("text_mode", PRINTER_TEXT_MODES),
            ("cut", PRINTER_CUTS),
            ("image_impl", PRINTER_IMAGE_IMPLS),
        ):
            if getattr(self, key) not in allowed:
                problems.append(
                    f"printer.{key}: {getattr(self, key)!r} is not one of {', '.join(allowed)}"
                )
        if self.connection == "network" and not self.host:
            problems.append("printer.host: needed for a network printer")
        if self.connection == "usb" and not (self.usb_vendor and self.usb_product):
            problems.append("printer.usb_vendor, printer.usb_product: needed for a usb printer")
        if self.paper_width_px < 200:
            problems.append("printer.paper_width_px: too narrow for a ticket (384 or 576)")
        if problems:
            raise ValueError("; ".join(problems))


# -- [screen] -----------------------------------------------------------------------------------

#: What a device can show: the customer's evaluation pad, the teller console, the ticket kiosk
#: and the hall board.
SCREEN_PANELS = ("pad", "console", "kiosk", "board")
SCREEN_SIDE_RANGE = (240, 7680)  # pixels, each of width and height


@dataclass(frozen=True)
class ScreenConfig:
    """``[screen]``; the defaults equal those of ``defaults.toml`` (pad and console, 800x480)."""

    size: tuple[int, int] = (800, 480)  # width, height in pixels
    fullscreen: bool = False
    panels: tuple[str, ...] = ("pad", "console")
    font: str = ""  # CJK font file ("path" or "path:index"); "" = found automatically
    near_ratio: float = 0.8  # the console timer turns amber from this share of the service limit
    notice: str = "保管好您的号票，过号请重新取号。"  # hall board notice line; "" = none
    photos_dir: str = ""  # teller photos <staff_no>.png / .jpg; "" = none
    language: str = "zh-CN"


# -- [[roster]] ---------------------------------------------------------------------------------

STARS_RANGE = (1, 5)  # the quarterly star grade
STAFF_NAME_MAX = 16  # characters
PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg")  # compared in lower case


@dataclass(frozen=True)
class StaffMember:
    """One teller of ``[[roster]]``, shown on the evaluation pad.

    ``photo`` is a file name in ``[screen] photos_dir`` (``None``: the pad looks for
    ``<staff_no>.png`` / ``.jpg`` there). Staff who leave are removed from the roster.
    """

    staff_no: str
    name: str
    stars: int | None = None
    photo: str | None = None


# -- [mqtt] -------------------------------------------------------------------------------------

#: The broker's ``message_size_limit`` (= ``sync.topics.MAX_PAYLOAD_BYTES``; config does not
#: import sync, a test keeps the two equal): no batch may be larger.
MQTT_MAX_PAYLOAD_BYTES = 256 * 1024
#: Device ids that are MQTT topic names (= ``sync.topics.RESERVED_DEVICE_IDS``).
MQTT_RESERVED_DEVICE_IDS = ("bridge", "config", "queue")


@dataclass(frozen=True)
class MqttConfig:
    """``[mqtt]``; the defaults equal those of ``defaults.toml``: disabled, the device runs
    stand-alone without sync.

    The device's MQTT identity (client id, certificate CN, ACL name) is ``device.device_id``.
    Plain values only: :meth:`connection_kwargs`, :meth:`tls_files` and :meth:`uplink_kwargs`
    spell them as ``sync.settings`` takes them. ``None`` = not given.
    """

    enabled: bool = False
    host: str | None = None
    port: int = 8883
    tls: bool = True
    ca: str | None = None  # absolute paths
    cert: str | None = None
    key: str | None = None
    username: str | None = None  # the password listener (tls = false) only
    password: str | None = field(default=None, repr=False)
    keepalive_s: int = 30
    batch_max_events: int = 200
    batch_max_bytes: int = 64 * 1024
    max_inflight: int = 8
    queue_timeout_s: float = 2.0
    heartbeat_s: float = 60.0

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
