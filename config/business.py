"""What the branch does and how it serves: the device's identity, business types, counters,
priority, queue, rating, opening hours, texts and staff.

Each field that a TOML key sets declares that setting once (:func:`config.declare.setting`, or
:func:`~config.declare.option` for a key that may be left out): its kind (type, range or
choices), default and help. Import these names from :mod:`config.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any, ClassVar, NamedTuple

from config.declare import (
    Key,
    Rule,
    Scope,
    Table,
    Tables,
    option,
    setting,
)
from config.kinds import INVALID, Boolean, Integer, ListOf, Number, String, TextPair
from config.layers import KeyPath
from config.values import (
    CODE,
    IDENTIFIER,
    PREFIX,
    STAFF_NO,
    TIME_ZONE,
    file_name,
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
    counter: int | None = option(
        Integer(low=1),
        shipped=1,
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
    up_to: float | None = option(
        Number(above=0),
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
    bands: tuple[ServiceBand, ...] = option(
        Tables(ServiceBand, rules=(_bands_rise,)),
        [],
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
    name: Text = option(TEXT, help="shown on screens; absent: `{n}号窗口` / `Window {n}`")
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
    # [priority] ratio, declared in config.layout. mypy takes every setting() for a default, so
    # it sees a field without one after fields with one; setting() without a default gives none.
    priority_ratio: float  # type: ignore[misc]
    escalate_overdue: bool = setting(
        Boolean(),
        shipped=True,
        help="flag tickets waiting beyond their `wait_limit_min` to the lobby manager",
    )
    pause_reasons: tuple[Text, ...] = option(
        ListOf(TEXT, nonempty=True),
        [TEXT.to_file(reason) for reason in DEFAULT_PAUSE_REASONS],
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
    long_queue_alert: int = option(
        Integer(0, 10_000),
        25,
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


class TextDeclaration(NamedTuple):
    """One text of ``[texts]``: the placeholders its template may use, and its shipped wording."""

    placeholders: tuple[str, ...]
    zh: str
    en: str


#: Every text, declared once: what the voice says and the screens show.
TEXT_DECLARATIONS: dict[str, TextDeclaration] = {
    "welcome": TextDeclaration((), "您好，欢迎光临", "Hello, welcome"),
    "call": TextDeclaration(
        ("ticket", "counter"),
        "请{ticket}号到{counter}号窗口办理",
        "Ticket {ticket}, please go to window {counter}",
    ),
    "rate_prompt": TextDeclaration((), "请您对我的服务做出评价", "Please rate my service"),
    "thanks": TextDeclaration((), "谢谢您的评价", "Thank you for your rating"),
    "goodbye": TextDeclaration(
        (), "请您多提宝贵意见，欢迎下次再来", "Your suggestions are welcome. See you next time"
    ),
    "paused": TextDeclaration((), "暂停服务", "Service paused"),
    "wait_please": TextDeclaration((), "请稍候", "Please wait a moment"),
    "redirect": TextDeclaration(
        ("counter",), "对不起，请您到{counter}号窗口办理", "Sorry, please go to window {counter}"
    ),
    "expected_wait": TextDeclaration(
        ("ahead", "minutes"),
        "您前面还有{ahead}人，预计等候{minutes}分钟",
        "{ahead} people ahead of you, expected wait about {minutes} minutes",
    ),
}
#: Text keys and the placeholders each template may use.
TEXT_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    name: text.placeholders for name, text in TEXT_DECLARATIONS.items()
}


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
    stars: int | None = option(Integer(*STARS_RANGE), None, help="the quarterly star grade")
    photo: str | None = option(
        file_name(PHOTO_EXTENSIONS, "screen.photos_dir", "1001.jpg"),
        None,
        help="absent: the pad looks for `<staff_no>.png` / `.jpg`; ignored while "
        '`photos_dir` is `""`',
    )
