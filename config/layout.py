"""The configuration file's layout: its tables in order, and how they make a :class:`Config`.

Most tables are read by the settings their model declares (:mod:`config.model`); the tables whose
shape differs from the model are declared here (``[branch]``, ``[priority]``, ``[rating]``,
``[hours]``, ``[texts]``), with the demo branch that ``defaults.toml`` ships. Cross-field rules
(:mod:`config.rules`) are attached to the table after which they run.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from config.business import TEXT, TEXT_DECLARATIONS, text_keys, text_of
from config.declare import Key, Section, Table, Tables
from config.kinds import Boolean, Integer, ListOf, Number, String
from config.model import (
    LANGUAGES,
    WEEKDAYS,
    BusinessType,
    Config,
    Counter,
    DeviceConfig,
    HardwareConfig,
    MqttConfig,
    OpeningSpan,
    PrinterSettings,
    PriorityClass,
    QueueConfig,
    RatingConfig,
    RatingLevel,
    ScreenConfig,
    StaffMember,
    TextsConfig,
    VoiceSettings,
)
from config.rules import (
    business_types_known,
    custom_scale,
    device_counter_configured,
    gpio_has_pins,
    mqtt_complete,
    printer_port,
    rating_keys_in_scale,
    satisfied_levels,
    serial_ports,
)
from config.scales import PRESET_SCALES, SCALES
from config.values import Spans, Template


def _text(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


# -- the demo branch's business -------------------------------------------------------------------

BRANCH = Table(
    (Key("name", TEXT, shipped=_text("演示支行", "Demo Branch"), help="the branch's name"),),
)

BUSINESS_TYPES = [
    {
        "code": "cash",
        "prefix": "A",
        "name": _text("现金业务", "Cash"),
        "wait_limit_min": 15,
        "service_limit_min": 5,
        "bands": [
            {"name": _text("5万元以下", "up to ¥50,000"), "up_to": 50000, "service_limit_min": 5},
            {
                "name": _text("5万至10万元", "¥50,000-100,000"),
                "up_to": 100000,
                "service_limit_min": 10,
            },
            {"name": _text("10万元以上", "over ¥100,000"), "service_limit_min": 20},
        ],
    },
    {
        "code": "general",
        "prefix": "B",
        "name": _text("综合业务", "General services"),
        "wait_limit_min": 15,
        "service_limit_min": 7,
    },
    {
        "code": "corporate",
        "prefix": "C",
        "name": _text("对公及转账业务", "Corporate & transfers"),
        "wait_limit_min": 20,
        "service_limit_min": 10,
    },
    {
        "code": "inquiry",
        "prefix": "D",
        "name": _text("查询咨询", "Inquiries"),
        "wait_limit_min": 10,
        "service_limit_min": 1,
    },
]

COUNTERS = [
    {"number": 1, "name": _text("1号窗口", "Window 1"), "business_types": ["cash", "general"]},
    {
        "number": 2,
        "name": _text("2号窗口", "Window 2"),
        "business_types": ["general", "inquiry", "cash"],
    },
    {
        "number": 3,
        "name": _text("3号窗口（对公）", "Window 3 (corporate)"),
        "business_types": ["corporate", "general"],
    },
]

PRIORITY = Table(
    (
        Key(
            "ratio",
            Number(0, 1),
            shipped=0.5,
            help="while ordinary tickets wait, at most `floor(ratio × 10)` of any 10 consecutive "
            "calls of a counter go to priority tickets, spread out (so below 0.1 none jumps a "
            "waiting ordinary ticket); with no ordinary ticket waiting, priority tickets are "
            "called whatever the share (model: `queue.priority_ratio`)",
        ),
        Key(
            "classes",
            Tables(PriorityClass),
            shipped=[
                {"code": "elderly", "name": _text("老年人", "Elderly")},
                {"code": "disabled", "name": _text("残障人士", "Disabled")},
                {"code": "vip", "name": _text("贵宾", "VIP")},
            ],
            help="priority classes (`[priority.classes]`), may be empty "
            "(model: `Config.priority_classes`)",
        ),
    ),
)

# -- [rating] -------------------------------------------------------------------------------------

LEVEL = Table(
    (
        Key("value", Integer(low=0), unique="level value", help="the key's value"),
        *text_keys("the label"),
        Key("neutral", Boolean(), False, optional=True, help="left out of 满意率's denominator"),
    ),
    build=lambda v: RatingLevel(v["value"], text_of(v), False, v["neutral"]),
)


def _rating(v: dict[str, Any]) -> RatingConfig:
    scale, satisfied = v["scale"], v["satisfied"]
    if scale == "custom":  # which levels satisfy comes with it (config.rules.custom_scale)
        chosen = frozenset(satisfied)
        levels = tuple(dataclasses.replace(lv, satisfied=lv.value in chosen) for lv in v["levels"])
    else:
        levels = PRESET_SCALES[scale].build(None if satisfied is None else frozenset(satisfied))
    return RatingConfig(scale, levels, v["window_s"], v["bad_reasons"])


RATING = Table(
    (
        Key(
            "scale",
            String(choices=SCALES),
            shipped="five",
            help="a preset scale (see below) or `custom` with `levels`",
        ),
        Key(
            "window_s",
            Number(above=0, high=600),
            shipped=10,
            help="seconds the pad waits for a rating",
        ),
        Key(
            "levels",
            Tables(LEVEL, nonempty=True),
            optional=True,
            help='only, and required, with `scale = "custom"`: at least 2 levels '
            "(`[rating.levels]`), in display order",
        ),
        Key(
            "satisfied",
            ListOf(Integer(), nonempty=True, unique="level"),
            optional=True,
            help="which level values count towards 满意率 (default: the scale's own); each an "
            'existing, non-neutral level; required with `scale = "custom"`',
        ),
        Key(
            "bad_reasons",
            ListOf(TEXT),
            shipped=[
                _text("等候时间长", "Long wait"),
                _text("服务态度", "Attitude"),
                _text("业务不熟练", "Skill"),
                _text("其他", "Other"),
            ],
            help="follow-up reasons offered after a bad rating; may be empty",
        ),
    ),
    build=_rating,
    rules=(custom_scale, satisfied_levels),
)

# -- [hours] and [texts] --------------------------------------------------------------------------

_WORKDAY, _SATURDAY = ["08:30-17:00"], ["09:00-16:00"]

HOURS = Table(
    tuple(
        Key(
            day,
            Spans(OpeningSpan),
            shipped={"sat": _SATURDAY, "sun": []}.get(day, _WORKDAY),
        )
        for day in WEEKDAYS
    ),
)


def _language_table(language: str) -> Table:
    main = language == LANGUAGES[0]
    keys = tuple(
        Key(
            name,
            Template(text.placeholders),
            shipped=text.zh if main else text.en,
            optional=not main,
            why=f'every text must be given in {LANGUAGES[0]}; "en" falls back',
        )
        for name, text in TEXT_DECLARATIONS.items()
    )
    return Table(keys, build=lambda v: {k: text for k, text in v.items() if text is not None})


TEXTS = Table(
    (
        Key("zh-CN", Section(_language_table("zh-CN")), help="every text, in Chinese"),
        Key("en", Section(_language_table("en")), optional=True, help="falls back to zh-CN"),
    ),
    build=lambda v: TextsConfig(dict(v)),
)

# -- the whole file -------------------------------------------------------------------------------


def _config(v: dict[str, Any]) -> Config:
    priority = v["priority"]
    return Config(
        device=v["device"],
        branch_name=v["branch"]["name"],
        business_types=v["business_types"],
        counters=v["counters"],
        priority_classes=priority["classes"],
        queue=QueueConfig(priority_ratio=priority["ratio"], **v["queue"]),
        rating=v["rating"],
        hours=v["hours"],
        texts=v["texts"],
        hardware=v["hardware"],
        voice=v["voice"],
        printer=v["printer"],
        screen=v["screen"],
        roster=v["roster"],
        mqtt=v["mqtt"],
    )


ROOT = Table(
    (
        Key("device", Section(DeviceConfig), help="This device: its branch, name and roles."),
        Key("branch", Section(BRANCH)),
        Key(
            "business_types",
            Tables(BusinessType, nonempty=True),
            shipped=BUSINESS_TYPES,
            help="Order = display order on the ticket machine. Limits in minutes; the service "
            "limit (限时服务) is for internal assessment only and never shown to customers.",
        ),
        Key(
            "counters",
            Tables(
                Table.of(Counter, rules=(business_types_known,)),
                nonempty=True,
                rules=(device_counter_configured,),
            ),
            shipped=COUNTERS,
            help="Each counter serves its business types in the order listed.",
        ),
        Key("priority", Section(PRIORITY), help="Priority tickets (绿色通道)."),
        Key("queue", Section(dataclasses.replace(Table.of(QueueConfig), build=dict))),
        Key(
            "rating",
            Section(RATING),
            help="five = 非常满意/满意/基本满意/不满意/非常不满意 (5..1), satisfied = 5 and 4.",
        ),
        Key(
            "hours",
            Section(HOURS),
            help='Opening hours per weekday: "HH:MM-HH:MM" spans in any order, touching but not '
            "overlapping; [] for a closed day.",
        ),
        Key(
            "texts",
            Section(TEXTS),
            help="Voice prompts and screen words (str.format templates, {{ and }} for braces).",
        ),
        Key(
            "hardware",
            Section(
                Table.of(HardwareConfig, rules=(rating_keys_in_scale, gpio_has_pins, serial_ports))
            ),
            help="The keys and displays this device drives (docs/serial-protocol.md).",
        ),
        Key(
            "voice",
            Section(VoiceSettings),
            help="Spoken calls and prompts (the [texts] above), rendered offline and played one "
            "at a time (docs/voice-and-printer.md).",
        ),
        Key(
            "printer",
            Section(Table.of(PrinterSettings, rules=(printer_port,))),
            help="The ticket printer (ESC/POS) of the kiosk (docs/voice-and-printer.md).",
        ),
        Key("screen", Section(ScreenConfig), help="What this device shows and how."),
        Key(
            "roster",
            Tables(StaffMember),
            [],
            optional=True,
            example=[{"staff_no": "1001", "name": "王芳", "stars": 5, "photo": "1001.jpg"}],
            help="The branch's staff, shown on the evaluation pad. Empty here: a branch lists its "
            "tellers in its own file, and an array replaces the defaults' whole. A teller who "
            "leaves is removed from the roster (and the photo from photos_dir). For example:",
        ),
        Key(
            "mqtt",
            Section(Table.of(MqttConfig, rules=(mqtt_complete,))),
            optional=True,
            help="Sync with the branch broker (docs/security.md). Disabled: the device runs "
            "stand-alone. Its MQTT identity (client id, certificate CN) is device.device_id.",
        ),
    ),
    build=_config,
)
