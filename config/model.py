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
