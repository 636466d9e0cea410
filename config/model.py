"""Typed, validated configuration: what the rest of counterside reads.

The settings are declared once, on the fields of these classes (:mod:`config.business`,
:mod:`config.peripherals`, :mod:`config.broker`): kind (type, range or choices), default and
help. ``config/defaults.toml`` and the key tables of ``docs/configuration.md`` are generated
from the declarations (``python -m config.generate``), and files are read by them. The file's
layout, and the tables whose shape differs from the model (``[branch]``, ``[priority]``,
``[rating]``, ``[hours]``, ``[texts]``), are declared in :mod:`config.layout`; rules that tie
tables together are in :mod:`config.rules` (a class's own are its ``RULES``).

Instances are built by :mod:`config.loader`, which checks every value first, so code that
receives a :class:`Config` may trust it. All classes are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.broker import (
    MQTT_MAX_PAYLOAD_BYTES,
    MQTT_RESERVED_DEVICE_IDS,
    MqttConfig,
)
from config.business import (
    DEFAULT_PAUSE_REASONS,
    LANGUAGES,
    PHOTO_EXTENSIONS,
    ROLES,
    STAFF_NAME_MAX,
    STARS_RANGE,
    TEXT_PLACEHOLDERS,
    WEEKDAYS,
    BusinessType,
    Counter,
    DeviceConfig,
    ExtensionReason,
    OpeningSpan,
    PriorityClass,
    QueueConfig,
    RatingConfig,
    RatingLevel,
    ServiceBand,
    StaffMember,
    Text,
    TextsConfig,
)
from config.peripherals import (
    BAUDRATES,
    DEFAULT_VOICES,
    DEFAULT_ZH_DIGITS,
    GPIO_PIN_RANGE,
    GPIO_TELLER_KEYS,
    KEY_SOURCES,
    LED_CHARSETS,
    PRINTER_CONNECTIONS,
    PRINTER_CUTS,
    PRINTER_IMAGE_IMPLS,
    PRINTER_TEXT_MODES,
    SCREEN_PANELS,
    SCREEN_SIDE_RANGE,
    VOICE_ENGINES,
    GpioConfig,
    HardwareConfig,
    LedDisplayConfig,
    PrinterSettings,
    ScreenConfig,
    SerialKeypadConfig,
    VoiceSettings,
)

__all__ = [
    "BAUDRATES",
    "DEFAULT_PAUSE_REASONS",
    "DEFAULT_VOICES",
    "DEFAULT_ZH_DIGITS",
    "GPIO_PIN_RANGE",
    "GPIO_TELLER_KEYS",
    "KEY_SOURCES",
    "LANGUAGES",
    "LED_CHARSETS",
    "MQTT_MAX_PAYLOAD_BYTES",
    "MQTT_RESERVED_DEVICE_IDS",
    "PHOTO_EXTENSIONS",
    "PRINTER_CONNECTIONS",
    "PRINTER_CUTS",
    "PRINTER_IMAGE_IMPLS",
    "PRINTER_TEXT_MODES",
    "ROLES",
    "SCREEN_PANELS",
    "SCREEN_SIDE_RANGE",
    "STAFF_NAME_MAX",
    "STARS_RANGE",
    "TEXT_PLACEHOLDERS",
    "VOICE_ENGINES",
    "WEEKDAYS",
    "BusinessType",
    "Config",
    "Counter",
    "DeviceConfig",
    "ExtensionReason",
    "GpioConfig",
    "HardwareConfig",
    "LedDisplayConfig",
    "MqttConfig",
    "OpeningSpan",
    "PrinterSettings",
    "PriorityClass",
    "QueueConfig",
    "RatingConfig",
    "RatingLevel",
    "ScreenConfig",
    "SerialKeypadConfig",
    "ServiceBand",
    "StaffMember",
    "Text",
    "TextsConfig",
    "VoiceSettings",
]


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
