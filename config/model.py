"""Typed, validated configuration: what the rest of counterside reads.

Instances are built only by :mod:`config.loader`, which checks every value first, so code that
receives a :class:`Config` may trust it. All classes are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

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
class BusinessType:
    """A kind of business with its own ticket prefix and limits (seconds)."""

    code: str
    prefix: str
    name: Text
    wait_limit_s: float
    service_limit_s: float


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
class QueueConfig:
    number_digits: int
    recall_limit: int
    priority_ratio: float
    escalate_overdue: bool


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
