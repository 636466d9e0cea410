"""The rules for each configuration section; turns a merged tree into a :class:`Config`."""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from dataclasses import fields
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from config.checker import Checker, Table, describe, show, suggest
from config.errors import ConfigError
from config.layers import KeyPath, Layers, format_key
from config.model import (
    BAUDRATES,
    DEFAULT_PAUSE_REASONS,
    GPIO_PIN_RANGE,
    GPIO_TELLER_KEYS,
    KEY_SOURCES,
    LANGUAGES,
    LED_CHARSETS,
    MQTT_MAX_PAYLOAD_BYTES,
    MQTT_RESERVED_DEVICE_IDS,
    PHOTO_EXTENSIONS,
    PRINTER_CONNECTIONS,
    PRINTER_CUTS,
    PRINTER_IMAGE_IMPLS,
    PRINTER_TEXT_MODES,
    ROLES,
    SCREEN_PANELS,
    SCREEN_SIDE_RANGE,
    STAFF_NAME_MAX,
    STARS_RANGE,
    VOICE_ENGINES,
    WEEKDAYS,
    BusinessType,
    Config,
    Counter,
    DeviceConfig,
    ExtensionReason,
    GpioConfig,
    HardwareConfig,
    LedDisplayConfig,
    MqttConfig,
    OpeningSpan,
    PrinterSettings,
    PriorityClass,
    QueueConfig,
    RatingConfig,
    RatingLevel,
    ScreenConfig,
    SerialKeypadConfig,
    ServiceBand,
    StaffMember,
    Text,
    TextsConfig,
    VoiceSettings,
)
from config.scales import PRESET_SCALES, SCALES

TOP_KEYS = (
    "device",
    "branch",
    "business_types",
    "counters",
    "priority",
    "queue",
    "rating",
    "hours",
    "texts",
    "hardware",
    "voice",
    "printer",
    "screen",
    "roster",
    "mqtt",
)
DEVICE_KEYS = ("branch_id", "device_id", "roles", "counter", "timezone", "language")
BUSINESS_KEYS = ("code", "prefix", "name", "wait_limit_min", "service_limit_min", "bands")
BAND_KEYS = ("name", "up_to", "service_limit_min")
QUEUE_KEYS = (
    "number_digits",
    "recall_limit",
    "escalate_overdue",
    "pause_reasons",
    "extension_reasons",
    "long_queue_alert",
)
EXTENSION_KEYS = ("zh", "en", "add_min")
COUNTER_KEYS = ("number", "name", "business_types")
RATING_KEYS = ("scale", "window_s", "satisfied", "levels", "bad_reasons")
LEVEL_KEYS = ("value", "zh", "en", "neutral")
TEXT_LANG_KEYS = ("zh", "en")

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

ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
ID_RULE = "1-32 characters from A-Z, a-z, 0-9, _ and -"
CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
CODE_RULE = "a lower-case letter followed by up to 31 of a-z, 0-9 and _"
PREFIX_RE = re.compile(r"[A-Z]{1,2}")
PREFIX_RULE = "1-2 upper-case ASCII letters (A-Z)"
SPAN_RE = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


def build_config(layers: Layers) -> Config:
    """Check the merged tree in ``layers``; raise :class:`ConfigError` listing every problem."""
    c = Checker(layers)
    root = c.table(layers.data, (), TOP_KEYS) or {}
    device = _device(c, root)
    branch = c.section(root, (), "branch", ("name",))
    branch_name = _text(c, branch, ("branch",), "name") if branch is not None else None
    business_types, known_codes = _business_types(c, root)
    counters, numbers = _counters(c, root, known_codes)
    _device_counter(c, device, numbers)
    ratio, priority_classes = _priority(c, root)
    queue = _queue(c, root, ratio)
    rating = _rating(c, root)
    hours = _hours(c, root)
    texts = _texts(c, root)
    hardware = _hardware(c, root, rating)
    voice = _voice(c, root)
    printer = _printer(c, root, hardware)
    screen = _screen(c, root)
    roster = _roster(c, root)
    mqtt = _mqtt(c, root, device["model"])
    if c.problems:
        raise ConfigError(c.problems)
    return Config(
        device=device["model"],
        branch_name=branch_name,  # type: ignore[arg-type]
        business_types=business_types,
        counters=counters,
        priority_classes=priority_classes,
        queue=queue,  # type: ignore[arg-type]
        rating=rating,  # type: ignore[arg-type]
        hours=hours,
        texts=texts,
        hardware=hardware,  # type: ignore[arg-type]
        voice=voice,  # type: ignore[arg-type]
        printer=printer,  # type: ignore[arg-type]
        screen=screen,  # type: ignore[arg-type]
        roster=roster,
        mqtt=mqtt,  # type: ignore[arg-type]
        sources=tuple(layers.files),
    )


def _text(c: Checker, parent: Table, path: KeyPath, key: str, required: bool = True) -> Text | None:
    """A ``{ zh = "...", en = "..." }`` table; ``en`` is optional and falls back to ``zh``."""
    if key not in parent:
        if required:
            c.missing((*path, key))
        return None
    here = (*path, key)
    table = c.table(parent[key], here, TEXT_LANG_KEYS, hint=' like { zh = "...", en = "..." }')
    if table is None:
        return None
    return _text_pair(c, table, here)


def _text_pair(c: Checker, table: Table, path: KeyPath) -> Text | None:
    zh = c.string(table, path, "zh")
    en = c.string(table, path, "en", required=False)
    if zh is None:
        return None
    return Text(zh, en if en is not None else zh)


# -- [device] -----------------------------------------------------------------------------------


def _device(c: Checker, root: Table) -> dict[str, Any]:
    path: KeyPath = ("device",)
    t = c.section(root, (), "device", DEVICE_KEYS)
    if t is None:
        return {"model": None, "roles": None, "counter": None}
    branch_id = c.string(t, path, "branch_id", pattern=ID_RE, rule=ID_RULE)
    device_id = c.string(t, path, "device_id", pattern=ID_RE, rule=ID_RULE)
    roles = _roles(c, t, path)
    timezone = c.string(t, path, "timezone")
    if timezone is not None and not _zone_exists(timezone):
        tip = suggest(timezone, available_timezones())
        c.bad(
            (*path, "timezone"),
            f'unknown time zone {show(timezone)}{tip}; expected an IANA name like "Asia/Shanghai"',
        )
    language = c.string(t, path, "language", choices=LANGUAGES)
    serves = roles is not None and "counter" in roles
    counter = c.integer(
        t, path, "counter", required=serves, why='required because roles include "counter"', low=1
    )
    model = DeviceConfig(
        branch_id=branch_id or "",
        device_id=device_id or "",
        roles=tuple(roles or ()),
        counter=counter if serves else None,
        timezone=timezone or "",
        language=language or "",
    )
    return {"model": model, "roles": roles, "counter": counter if serves else None}


def _roles(c: Checker, t: Table, path: KeyPath) -> list[str] | None:
    items = c.array(t, path, "roles", nonempty=True)
    if items is None:
        return None
    roles: list[str] = []
    for i, item in enumerate(items):
        role = c.check_string(item, (*path, "roles", i), choices=ROLES)
        if role is None:
            continue
        if role in roles:
            c.bad((*path, "roles", i), f'duplicate role "{role}"')
            continue
        roles.append(role)
    return roles


def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def _device_counter(c: Checker, device: dict[str, Any], numbers: set[int] | None) -> None:
    counter = device["counter"]
    if counter is None or numbers is None or counter in numbers:
        return
    listed = ", ".join(str(n) for n in sorted(numbers)) or "none"
    c.bad(
        ("device", "counter"),
        f"counter {counter} is not configured in [[counters]] (configured: {listed})",
    )


# -- [[business_types]] and [[counters]] --------------------------------------------------------


def _business_types(c: Checker, root: Table) -> tuple[tuple[BusinessType, ...], set[str]]:
    out: list[BusinessType] = []
    known: set[str] = set()
    codes: dict[str, KeyPath] = {}
    prefixes: dict[str, KeyPath] = {}
    for path, t in c.tables(root, (), "business_types", BUSINESS_KEYS, nonempty=True):
        if isinstance(t.get("code"), str):
            known.add(t["code"])
        code = c.string(t, path, "code", pattern=CODE_RE, rule=CODE_RULE)
        prefix = c.string(t, path, "prefix", pattern=PREFIX_RE, rule=PREFIX_RULE)
        name = _text(c, t, path, "name")
        wait = c.number(t, path, "wait_limit_min", above=0)
        service = c.number(t, path, "service_limit_min", above=0)
        if code is not None:
            if code in codes:
                c.bad(
                    (*path, "code"),
                    f'duplicate business type code "{code}" '
                    f"(already used by {format_key(codes[code])})",
                )
            codes.setdefault(code, path)
        if prefix is not None:
            if prefix in prefixes:
                c.bad(
                    (*path, "prefix"),
                    f'duplicate ticket prefix "{prefix}" '
                    f"(already used by {format_key(prefixes[prefix])})",
                )
            prefixes.setdefault(prefix, path)
        bands = _bands(c, t, path)
        if None not in (code, prefix, name, wait, service, bands):
            out.append(BusinessType(code, prefix, name, wait * 60, service * 60, bands))  # type: ignore[arg-type, operator]
    return tuple(out), known


def _bands(c: Checker, t: Table, path: KeyPath) -> tuple[ServiceBand, ...] | None:
    """Amount bands, each up to a higher amount, the last one open (no ``up_to``)."""
    items = c.tables(t, path, "bands", BAND_KEYS, nonempty=False) if "bands" in t else []
    out: list[ServiceBand] = []
    ok = True
    previous: float | None = None
    for i, (here, item) in enumerate(items):
        name = _text(c, item, here, "name")
        limit = c.number(item, here, "service_limit_min", above=0)
        last = i == len(items) - 1
        up_to = None
        if "up_to" in item:
            up_to = c.number(item, here, "up_to", above=0)
            if last and up_to is not None:
                c.bad((*here, "up_to"), "the last band is open: leave out up_to")
                up_to, ok = None, False
            elif up_to is not None and previous is not None and up_to <= previous:
                c.bad((*here, "up_to"), f"must be above the previous band's {previous:g}")
                ok = False
            previous = up_to if up_to is not None else previous
        elif not last:
            c.missing((*here, "up_to"), "every band but the last names its top amount")
            ok = False
        if name is None or limit is None:
            ok = False
        else:
            out.append(ServiceBand(name, up_to, limit * 60))
    return tuple(out) if ok else None


def _counters(
    c: Checker, root: Table, known: set[str]
) -> tuple[tuple[Counter, ...], set[int] | None]:
    out: list[Counter] = []
    numbers: dict[int, KeyPath] = {}
    pairs = c.tables(root, (), "counters", COUNTER_KEYS, nonempty=True)
    for path, t in pairs:
        number = c.integer(t, path, "number", low=1)
        if number is not None:
            if number in numbers:
                c.bad(
                    (*path, "number"),
                    f"duplicate counter number {number} "
                    f"(already used by {format_key(numbers[number])})",
                )
            numbers.setdefault(number, path)
        name = _text(c, t, path, "name", required=False)
        served = _served(c, t, path, known)
        if number is not None and served is not None:
            name = name or Text(f"{number}号窗口", f"Window {number}")
            out.append(Counter(number, name, served))
    # Only compare device.counter against the list when every counter number could be read.
    complete = "counters" in root and len(numbers) == len(pairs) and bool(pairs)
    return tuple(out), set(numbers) if complete else None


def _served(c: Checker, t: Table, path: KeyPath, known: set[str]) -> tuple[str, ...] | None:
    items = c.array(t, path, "business_types", nonempty=True)
    if items is None:
        return None
    served: list[str] = []
    for i, item in enumerate(items):
        here = (*path, "business_types", i)
        code = c.check_string(item, here)
        if code is None:
            continue
        if code not in known:
            listed = ", ".join(sorted(known)) or "none"
            c.bad(
                here,
                f'unknown business type "{code}"{suggest(code, known)} (known: {listed})'
                + _elsewhere(c, here),
            )
        elif code in served:
            c.bad(here, f'business type "{code}" is listed twice')
        else:
            served.append(code)
    return tuple(served)


def _elsewhere(c: Checker, counter_path: KeyPath) -> str:
    """A hint when [[business_types]] and [[counters]] come from different files."""
    types_file = c.layers.origin(("business_types",))
    if types_file == c.layers.origin(counter_path):
        return ""
    return f"; the business types in use come from {types_file}"


# -- [priority] and [queue] ---------------------------------------------------------------------


def _priority(c: Checker, root: Table) -> tuple[float | None, tuple[PriorityClass, ...]]:
    path: KeyPath = ("priority",)
    t = c.section(root, (), "priority", ("ratio", "classes"))
    if t is None:
        return None, ()
    ratio = c.number(t, path, "ratio", low=0, high=1)
    out: list[PriorityClass] = []
    codes: dict[str, KeyPath] = {}
    for here, item in c.tables(t, path, "classes", ("code", "name"), nonempty=False):
        code = c.string(item, here, "code", pattern=CODE_RE, rule=CODE_RULE)
        name = _text(c, item, here, "name")
        if code is not None and code in codes:
            c.bad(
                (*here, "code"),
                f'duplicate priority class "{code}" (already used by {format_key(codes[code])})',
            )
        elif code is not None:
            codes[code] = here
        if code is not None and name is not None:
            out.append(PriorityClass(code, name))
    return ratio, tuple(out)


def _queue(c: Checker, root: Table, ratio: float | None) -> QueueConfig | None:
    path: KeyPath = ("queue",)
    t = c.section(root, (), "queue", QUEUE_KEYS)
    if t is None:
        return None
    digits = c.integer(t, path, "number_digits", low=2, high=5)
    recalls = c.integer(t, path, "recall_limit", low=0, high=10)
    escalate = c.boolean(t, path, "escalate_overdue")
    long_queue = c.integer(t, path, "long_queue_alert", required=False, low=0, high=10_000)
    pauses = (
        [
            _text_pair(c, item, here)
            for here, item in c.tables(t, path, "pause_reasons", TEXT_LANG_KEYS, nonempty=True)
        ]
        if "pause_reasons" in t
        else list(DEFAULT_PAUSE_REASONS)
    )
    extensions: list[ExtensionReason | None] = []
    for here, item in c.tables(t, path, "extension_reasons", EXTENSION_KEYS, nonempty=False):
        label = _text_pair(c, item, here)
        add = c.number(item, here, "add_min", low=0, high=120)
        extensions.append(
            None if label is None or add is None else ExtensionReason(label, add * 60)
        )
    if None in (digits, recalls, escalate, ratio) or None in pauses or None in extensions:
        return None
    return QueueConfig(
        digits,  # type: ignore[arg-type]
        recalls,  # type: ignore[arg-type]
        ratio,  # type: ignore[arg-type]
        escalate,  # type: ignore[arg-type]
        tuple(pauses),  # type: ignore[arg-type]
        tuple(extensions),  # type: ignore[arg-type]
        25 if long_queue is None else long_queue,
    )


# -- [rating] -----------------------------------------------------------------------------------


def _rating(c: Checker, root: Table) -> RatingConfig | None:
    path: KeyPath = ("rating",)
    t = c.section(root, (), "rating", RATING_KEYS)
    if t is None:
        return None
    scale = c.string(t, path, "scale", choices=SCALES)
    window = c.number(t, path, "window_s", above=0, high=600)
    custom: list[tuple[int, Text, bool]] | None = None
    if scale == "custom":
        custom = _custom_levels(c, t, path)
    elif scale is not None and "levels" in t:
        c.bad(
            (*path, "levels"),
            f'only allowed with scale = "custom", got scale = "{scale}" '
            '(remove levels or set scale = "custom")',
        )
    if scale == "custom":
        values = [v for v, _, _ in custom] if custom is not None else None
        neutral = {v: label for v, label, n in custom or () if n}
    elif scale is not None:
        preset = PRESET_SCALES[scale]
        values = list(preset.values)
        neutral = {v: Text(zh, en) for v, zh, en, n in preset.levels if n}
    else:
        values, neutral = None, {}
    satisfied = _satisfied(c, t, path, scale, values, neutral)
    reasons: list[Text] = []
    for here, item in c.tables(t, path, "bad_reasons", TEXT_LANG_KEYS, nonempty=False):
        reason = _text_pair(c, item, here)
        if reason is not None:
            reasons.append(reason)
    if scale is None or window is None:
        return None
    if scale == "custom":
        if custom is None or satisfied is None:
            return None
        levels = tuple(RatingLevel(v, label, v in satisfied, n) for v, label, n in custom)
    else:
        levels = PRESET_SCALES[scale].build(satisfied)
    return RatingConfig(scale, levels, window, tuple(reasons))


def _custom_levels(c: Checker, t: Table, path: KeyPath) -> list[tuple[int, Text, bool]] | None:
    pairs = c.tables(
        t, path, "levels", LEVEL_KEYS, nonempty=True, why='required with scale = "custom"'
    )
    given = t.get("levels")
    if isinstance(given, list) and len(given) == 1:
        c.bad((*path, "levels"), f"a rating scale needs at least 2 levels, got {show(given)}")
    out: list[tuple[int, Text, bool]] = []
    seen: dict[int, KeyPath] = {}
    ok = isinstance(given, list) and len(given) >= 2 and len(pairs) == len(given)
    for here, item in pairs:
        value = c.integer(item, here, "value", low=0)
        label = _text_pair(c, item, here)
        neutral = c.boolean(item, here, "neutral", required=False)
        if value is not None and value in seen:
            c.bad(
                (*here, "value"),
                f"duplicate level value {value} (already used by {format_key(seen[value])})",
            )
            ok = False
            continue
        if value is None or label is None:
            ok = False
            continue
        seen[value] = here
        out.append((value, label, bool(neutral)))
    return out if ok else None


def _satisfied(
    c: Checker,
    t: Table,
    path: KeyPath,
    scale: str | None,
    values: list[int] | None,
    neutral: dict[int, Text],
) -> frozenset[int] | None:
    if "satisfied" not in t:
        if scale == "custom":
            c.missing((*path, "satisfied"), 'required with scale = "custom"')
        return None
    items = c.array(t, path, "satisfied", nonempty=True)
    if items is None:
        return None
    chosen: list[int] = []
    for i, item in enumerate(items):
        here = (*path, "satisfied", i)
        value = c.check_integer(item, here)
        if value is None:
            continue
        if values is not None and value not in values:
            levels = ", ".join(str(v) for v in values)
            c.bad(here, f'no level with value {value} in scale "{scale}" (levels: {levels})')
        elif value in neutral:
            c.bad(
                here,
                f'level {value} ("{neutral[value].zh}") is neutral and cannot count as satisfied',
            )
        elif value in chosen:
            c.bad(here, f"level {value} is listed twice")
        else:
            chosen.append(value)
    return frozenset(chosen)


# -- [hours] ------------------------------------------------------------------------------------


def _hours(c: Checker, root: Table) -> dict[str, tuple[OpeningSpan, ...]]:
    path: KeyPath = ("hours",)
    t = c.section(root, (), "hours", WEEKDAYS)
    out: dict[str, tuple[OpeningSpan, ...]] = {}
    if t is None:
        return out
    for day in WEEKDAYS:
        items = c.array(t, path, day, why="use [] for a closed day")
        spans: list[tuple[KeyPath, str, OpeningSpan]] = []
        for i, item in enumerate(items or []):
            here = (*path, day, i)
            text = c.check_string(item, here)
            span = _span(c, here, text) if text is not None else None
            if span is not None:
                spans.append((here, text, span))  # type: ignore[arg-type]
        spans.sort(key=lambda s: s[2].start)
        latest = None  # the span seen so far that ends last
        for here, text, span in spans:
            if latest is not None and span.start < latest[2].end:
                prev_path, prev_text, _ = latest
                c.bad(here, f"{show(text)} overlaps {show(prev_text)} ({format_key(prev_path)})")
            if latest is None or span.end > latest[2].end:
                latest = (here, text, span)
        out[day] = tuple(s for _, _, s in spans)
    return out


def _span(c: Checker, path: KeyPath, text: str) -> OpeningSpan | None:
    match = SPAN_RE.fullmatch(text)
    if match is None:
        c.bad(path, f'expected "HH:MM-HH:MM" like "08:30-17:00", got {show(text)}')
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if max(h1, h2) > 23 or max(m1, m2) > 59:
        c.bad(path, f"times must be between 00:00 and 23:59, got {show(text)}")
        return None
    start, end = time(h1, m1), time(h2, m2)
    if end <= start:
        c.bad(path, f"end must be after start, got {show(text)}")
        return None
    return OpeningSpan(start, end)


# -- [texts] ------------------------------------------------------------------------------------


def _texts(c: Checker, root: Table) -> TextsConfig:
    t = c.section(root, (), "texts", LANGUAGES)
    by_language: dict[str, dict[str, str]] = {}
    if t is None:
        return TextsConfig(by_language)
    for language in LANGUAGES:
        main = language == LANGUAGES[0]
        table = c.section(t, ("texts",), language, tuple(TEXT_PLACEHOLDERS), required=main)
        out: dict[str, str] = {}
        by_language[language] = out
        if table is None:
            continue
        for key, allowed in TEXT_PLACEHOLDERS.items():
            here: KeyPath = ("texts", language, key)
            if key not in table:
                if main:
                    c.missing(here, f'every text must be given in {LANGUAGES[0]}; "en" falls back')
                continue
            template = c.check_string(table[key], here)
            if template is not None and _template_ok(c, here, template, allowed):
                out[key] = template
    return TextsConfig(by_language)


def _template_ok(c: Checker, path: KeyPath, template: str, allowed: tuple[str, ...]) -> bool:
    try:
        names = _fields(template)
    except ValueError as err:
        c.bad(
            path,
            f"not a valid template ({err}), got {show(template)}; write {{{{ and }}}} for braces",
        )
        return False
    ok = True
    for name in names:
        if name not in allowed:
            if allowed:
                tip = "allowed: " + ", ".join("{" + a + "}" for a in allowed)
            else:
                tip = "this text takes no placeholders"
            c.bad(path, f"unknown placeholder {{{name}}} in {show(template)} ({tip})")
            ok = False
    return ok


def _fields(template: str) -> list[str]:
    """Every replacement field name in a ``str.format`` template (nested ones too)."""
    names: list[str] = []
    for _literal, field, spec, _conversion in string.Formatter().parse(template):
        if field is not None:
            names.append(field)
            if spec:
                names.extend(_fields(spec))
    return names


# -- [hardware] ---------------------------------------------------------------------------------

HARDWARE_KEYS = ("keys", "gpio", "serial_keypad", "led_display")
GPIO_KEYS = ("bounce_ms", "keys", "rating_keys", "rating_leds", "buzzer")
SERIAL_KEYPAD_KEYS = ("port", "baudrate", "address")
LED_DISPLAY_KEYS = ("enabled", "port", "baudrate", "address", "charset")
PORT_RE = re.compile(r"/\S+|[a-z][a-z0-9+.-]*://\S+")
PORT_RULE = 'a device path like "/dev/ttyUSB0" or a pyserial URL like "socket://10.0.0.9:4001"'
#: The Pi's own UART, on GPIO 14 (TXD) and 15 (RXD).
UART_PORTS = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")
UART_PINS = {14: "TXD", 15: "RXD"}


def _hardware(c: Checker, root: Table, rating: RatingConfig | None) -> HardwareConfig | None:
    path: KeyPath = ("hardware",)
    t = c.section(root, (), "hardware", HARDWARE_KEYS)
    if t is None:
        return None
    keys = c.string(t, path, "keys", choices=KEY_SOURCES)
    pins: dict[int, KeyPath] = {}
    gpio = _gpio(c, t, rating, pins)
    keypad = _serial_keypad(c, t)
    led = _led_display(c, t)
    if keys == "gpio" and gpio is not None and not gpio.keys and not gpio.rating_keys:
        c.bad(
            (*path, "keys"),
            '"gpio" needs at least one pin in hardware.gpio.keys or hardware.gpio.rating_keys',
        )
    ports: dict[str, KeyPath] = {}
    if keys == "serial" and keypad is not None:
        ports[keypad.port] = (*path, "serial_keypad", "port")
    if led is not None and led.enabled:
        if keypad is not None and keys == "serial" and led.port == keypad.port:
            _shared_port(c, keypad, led)
        ports.setdefault(led.port, (*path, "led_display", "port"))
    _uart_pins(c, pins, ports)
    if None in (keys, gpio, keypad, led):
        return None
    return HardwareConfig(keys, gpio, keypad, led)  # type: ignore[arg-type]


def _gpio(
    c: Checker, hw: Table, rating: RatingConfig | None, used: dict[int, KeyPath]
) -> GpioConfig | None:
    path: KeyPath = ("hardware", "gpio")
    t = c.section(hw, ("hardware",), "gpio", GPIO_KEYS)
    if t is None:
        return None
    bounce = c.integer(t, path, "bounce_ms", low=0, high=1000)
    keys: dict[str, int] = {}
    for here, name, value in _pin_table(c, t, path, "keys", "{ call_next = 5, recall = 6 }"):
        if name in GPIO_TELLER_KEYS:
            pin = _pin(c, value, here, used)
            if pin is not None:
                keys[name] = pin
        elif name == "rate":
            c.bad(here, "rating keys go in hardware.gpio.rating_keys, level = pin: { 5 = 17 }")
        elif name in ("sign_in", "call_ticket", "reason", "band", "extend"):
            c.bad(here, f'"{name}" needs an argument that a button cannot give')
        else:
            tip = suggest(name, GPIO_TELLER_KEYS) or f" (allowed: {', '.join(GPIO_TELLER_KEYS)})"
            c.bad(here, f'unknown key "{name}"{tip}')
    rating_keys = _level_pins(c, t, "rating_keys", rating, used)
    rating_leds = _level_pins(c, t, "rating_leds", rating, used)
    buzzer = _pin(c, t["buzzer"], (*path, "buzzer"), used) if "buzzer" in t else None
    if bounce is None:
        return None
    return GpioConfig(bounce / 1000, keys, rating_keys, rating_leds, buzzer)


def _pin_table(
    c: Checker, t: Table, path: KeyPath, key: str, example: str
) -> list[tuple[KeyPath, str, Any]]:
    """The ``(path, name, value)`` entries of a table of pins like ``{ call_next = 5 }``."""
    here = (*path, key)
    if key not in t:
        c.missing(here, "use {} for none")
        return []
    table = t[key]
    if not isinstance(table, dict):
        c.bad(here, f"expected a table like {example}, got {describe(table)}")
        return []
    return [((*here, name), name, value) for name, value in table.items()]


def _level_pins(
    c: Checker, t: Table, key: str, rating: RatingConfig | None, used: dict[int, KeyPath]
) -> dict[int, int]:
    out: dict[int, int] = {}
    levels = [lv.value for lv in rating.levels] if rating is not None else None
    path: KeyPath = ("hardware", "gpio")
    for here, name, value in _pin_table(c, t, path, key, "{ 5 = 17, 4 = 27 }"):
        if not (name.isascii() and name.isdigit()):
            c.bad(here, f'expected a rating level as key, like {{ 5 = 17 }}, got "{name}"')
            continue
        level = int(name)
        if levels is not None and level not in levels:
            listed = ", ".join(str(v) for v in levels)
            scale = rating.scale  # type: ignore[union-attr]
            c.bad(here, f'no level {level} in rating scale "{scale}" (levels: {listed})')
            continue
        pin = _pin(c, value, here, used)
        if pin is not None:
            out[level] = pin
    return out


def _pin(c: Checker, value: Any, here: KeyPath, used: dict[int, KeyPath]) -> int | None:
    pin = c.check_integer(value, here)
    if pin is None:
        return None
    low, high = GPIO_PIN_RANGE
    if not low <= pin <= high:
        c.bad(here, f"must be a BCM GPIO number from {low} to {high}, got {pin}")
        return None
    if pin in used:
        c.bad(here, f"duplicate pin {pin} (already used by {format_key(used[pin])})")
        return None
    used[pin] = here
    return pin


def _port(c: Checker, t: Table, path: KeyPath) -> tuple[str | None, int | None, int | None]:
    port = c.string(t, path, "port", pattern=PORT_RE, rule=PORT_RULE)
    baudrate = c.integer(t, path, "baudrate")
    if baudrate is not None and baudrate not in BAUDRATES:
        listed = ", ".join(str(b) for b in BAUDRATES)
        c.bad((*path, "baudrate"), f"must be one of {listed}, got {baudrate}")
        baudrate = None
    address = c.integer(t, path, "address", low=1, high=247)
    return port, baudrate, address


def _serial_keypad(c: Checker, hw: Table) -> SerialKeypadConfig | None:
    path: KeyPath = ("hardware", "serial_keypad")
    t = c.section(hw, ("hardware",), "serial_keypad", SERIAL_KEYPAD_KEYS)
    if t is None:
        return None
    port, baudrate, address = _port(c, t, path)
    if port is None or baudrate is None or address is None:
        return None
    return SerialKeypadConfig(port, baudrate, address)


def _led_display(c: Checker, hw: Table) -> LedDisplayConfig | None:
    path: KeyPath = ("hardware", "led_display")
    t = c.section(hw, ("hardware",), "led_display", LED_DISPLAY_KEYS)
    if t is None:
        return None
    enabled = c.boolean(t, path, "enabled")
    port, baudrate, address = _port(c, t, path)
    charset = c.string(t, path, "charset", choices=LED_CHARSETS)
    if enabled is None or port is None or baudrate is None or address is None or not charset:
        return None
    return LedDisplayConfig(enabled, port, baudrate, address, charset)


def _shared_port(c: Checker, keypad: SerialKeypadConfig, led: LedDisplayConfig) -> None:
    """The keypad and the display may share one RS-485 bus, with distinct addresses."""
    here: KeyPath = ("hardware", "led_display", "port")
    shared = "is hardware.serial_keypad.port too, so hardware.led_display"
    if led.address == keypad.address:
        c.bad(here, f"{shared}.address must differ from the keypad's {keypad.address}")
    if led.baudrate != keypad.baudrate:
        c.bad(
            here,
            f"{shared}.baudrate must be the keypad's {keypad.baudrate}, got {led.baudrate}",
        )


def _uart_pins(c: Checker, pins: dict[int, KeyPath], ports: dict[str, KeyPath]) -> None:
    """GPIO 14 and 15 cannot be buttons while the Pi's own UART carries a keypad or display."""
    uart = next((p for p in ports if p in UART_PORTS), None)
    if uart is None:
        return
    for pin, name in UART_PINS.items():
        if pin in pins:
            c.bad(
                pins[pin],
                f"GPIO {pin} is the UART's {name}, in use by "
                f"{format_key(ports[uart])} = {show(uart)}",
            )


# -- shared by [voice], [printer] and [screen] ---------------------------------------------------


def _blank_or_string(c: Checker, t: Table, path: KeyPath, key: str) -> str | None:
    """A required string where ``""`` is a value of its own (none, automatic)."""
    if key not in t:
        c.missing((*path, key), 'use "" for none')
        return None
    value = t[key]
    return "" if value == "" else c.check_string(value, (*path, key))


# -- [voice] ------------------------------------------------------------------------------------

VOICE_KEYS = (
    "engine",
    "language",
    "espeak_binary",
    "voices",
    "rate_wpm",
    "pitch",
    "volume",
    "player",
    "clips_dir",
    "clip_gap_s",
    "call_repeat",
    "prompt_repeat",
    "repeat_pause_s",
    "queue_limit",
    "call_templates",
    "zh_digits",
    "synth_timeout_s",
    "play_timeout_s",
)
ESPEAK_VOICE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*(\+[A-Za-z0-9_-]+)?")
ESPEAK_VOICE_RULE = 'an espeak-ng voice name like "cmn-latn-pinyin" or "en+f3"'
#: espeak-ng 1.51 names that pick the ``cmn`` voice, which reads Chinese as pinyin with English
#: tone numbers (请 is "qing three"): see docs/voice-and-printer.md.
PINYIN_AS_ENGLISH_VOICES = ("cmn", "zh", "zh-cn", "zh-cmn", "sit/cmn")
COMMAND_RE = re.compile(r"\S+")
COMMAND_RULE = 'a program name or path without spaces, like "espeak-ng"'
PLAYER_EXAMPLE = '["aplay", "-q", "{wav}"]'


def _voice(c: Checker, root: Table) -> VoiceSettings | None:
    path: KeyPath = ("voice",)
    t = c.section(root, (), "voice", VOICE_KEYS)
    if t is None:
        return None
    values: dict[str, Any] = {
        "engine": c.string(t, path, "engine", choices=VOICE_ENGINES),
        "language": c.string(t, path, "language", choices=LANGUAGES),
        "espeak_binary": c.string(t, path, "espeak_binary", pattern=COMMAND_RE, rule=COMMAND_RULE),
        "voices": _voices(c, t, path),
        "rate_wpm": c.integer(t, path, "rate_wpm", low=80, high=450),
        "pitch": c.integer(t, path, "pitch", low=0, high=99),
        "volume": c.integer(t, path, "volume", low=0, high=200),
        "player": _player(c, t, path),
        "clips_dir": c.string(t, path, "clips_dir"),
        "clip_gap_s": c.number(t, path, "clip_gap_s", low=0, high=2),
        "call_repeat": c.integer(t, path, "call_repeat", low=1, high=5),
        "prompt_repeat": c.integer(t, path, "prompt_repeat", low=1, high=5),
        "repeat_pause_s": c.number(t, path, "repeat_pause_s", low=0, high=10),
        "queue_limit": c.integer(t, path, "queue_limit", low=1, high=100),
        "call_templates": _call_templates(c, t, path),
        "zh_digits": _zh_digits(c, t, path),
        "synth_timeout_s": c.number(t, path, "synth_timeout_s", above=0, high=600),
        "play_timeout_s": c.number(t, path, "play_timeout_s", above=0, high=600),
    }
    if None in values.values():
        return None
    return VoiceSettings(**values)


def _voices(c: Checker, t: Table, path: KeyPath) -> dict[str, str] | None:
    here = (*path, "voices")
    table = c.section(t, path, "voices", LANGUAGES)
    if table is None:
        return None
    out: dict[str, str] = {}
    for language in LANGUAGES:
        name = c.string(table, here, language, pattern=ESPEAK_VOICE_RE, rule=ESPEAK_VOICE_RULE)
        if name is None:
            continue
        if language == "zh-CN" and name.split("+")[0].lower() in PINYIN_AS_ENGLISH_VOICES:
            c.bad(
                (*here, language),
                f"{show(name)} reads Chinese as pinyin with English tone numbers in espeak-ng "
                '1.51 (请 is "qing three"); use "cmn-latn-pinyin"',
            )
            continue
        out[language] = name
    return out if len(out) == len(LANGUAGES) else None


def _player(c: Checker, t: Table, path: KeyPath) -> tuple[str, ...] | None:
    here = (*path, "player")
    if "player" not in t:
        c.missing(here)
        return None
    value = t["player"]
    if not isinstance(value, list):
        c.bad(
            here,
            f"expected an array of strings, the command and its arguments, like "
            f"{PLAYER_EXAMPLE}, got {describe(value)}",
        )
        return None
    if not value:
        c.bad(here, f"must not be empty, got []; the default is {PLAYER_EXAMPLE}")
        return None
    argv = [c.check_string(arg, (*here, i)) for i, arg in enumerate(value)]
    if isinstance(argv[0], str) and "{wav}" in argv[0]:
        c.bad((*here, 0), f"must be the player program, not the file {show(argv[0])}")
        return None
    if None in argv:
        return None
    return tuple(argv)  # type: ignore[arg-type]


def _call_templates(c: Checker, t: Table, path: KeyPath) -> tuple[str, ...] | None:
    items = c.array(t, path, "call_templates")
    if items is None:
        return None
    out: list[str] = []
    ok = True
    for i, item in enumerate(items):
        here = (*path, "call_templates", i)
        name = c.check_string(item, here)
        if name is None:
            ok = False
        elif name not in TEXT_PLACEHOLDERS:
            tip = suggest(name, TEXT_PLACEHOLDERS)
            c.bad(here, f"unknown text {show(name)}{tip} (texts: {', '.join(TEXT_PLACEHOLDERS)})")
            ok = False
        elif name in out:
            c.bad(here, f"text {show(name)} is listed twice")
            ok = False
        else:
            out.append(name)
    return tuple(out) if ok else None


def _zh_digits(c: Checker, t: Table, path: KeyPath) -> str | None:
    digits = c.string(t, path, "zh_digits")
    if digits is None:
        return None
    if len(digits) != 10 or any(char.isspace() for char in digits):
        c.bad(
            (*path, "zh_digits"),
            f"must be exactly 10 characters, the spoken digits 0 to 9 like "
            f'"零一二三四五六七八九", got {show(digits)} ({len(digits)} characters)',
        )
        return None
    return digits


# -- [printer] ----------------------------------------------------------------------------------

PRINTER_KEYS = (
    "connection",
    "device",
    "baudrate",
    "host",
    "port",
    "usb_vendor",
    "usb_product",
    "timeout_s",
    "text_mode",
    "paper_width_px",
    "font_path",
    "image_impl",
    "cut",
    "profile",
    "check_paper",
    "simulated_dir",
)
DEVICE_PATH_RE = re.compile(r"/\S+")
DEVICE_PATH_RULE = 'a device path like "/dev/usb/lp0" or "/dev/ttyUSB0"'
HOST_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+")
HOST_RULE = (
    'an IP address or host name like "192.168.1.50", without scheme or port (that is printer.port)'
)
USB_ID_RE = re.compile(r"(0[xX])?[0-9A-Fa-f]{1,4}")
PROFILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PROFILE_RULE = 'a python-escpos profile name like "TM-T88V", or "" for none'
PAPER_WIDTH_RANGE = (200, 832)  # pixels at 203 dpi: 58 mm paper is 384, 80 mm is 576


def _printer(c: Checker, root: Table, hardware: HardwareConfig | None) -> PrinterSettings | None:
    path: KeyPath = ("printer",)
    t = c.section(root, (), "printer", PRINTER_KEYS)
    if t is None:
        return None
    connection = c.string(t, path, "connection", choices=PRINTER_CONNECTIONS)
    device = c.string(t, path, "device", pattern=DEVICE_PATH_RE, rule=DEVICE_PATH_RULE)
    baudrate = c.integer(t, path, "baudrate")
    if baudrate is not None and baudrate not in BAUDRATES:
        listed = ", ".join(str(b) for b in BAUDRATES)
        c.bad((*path, "baudrate"), f"must be one of {listed}, got {baudrate}")
        baudrate = None
    host = _blank_or_string(c, t, path, "host")
    if host and not HOST_RE.fullmatch(host):
        c.bad((*path, "host"), f"must be {HOST_RULE}, got {show(host)}")
        host = None
    low, high = PAPER_WIDTH_RANGE
    values: dict[str, Any] = {
        "connection": connection,
        "device": device,
        "baudrate": baudrate,
        "host": host,
        "port": c.integer(t, path, "port", low=1, high=65535),
        "usb_vendor": _usb_id(c, t, path, "usb_vendor"),
        "usb_product": _usb_id(c, t, path, "usb_product"),
        "timeout_s": c.number(t, path, "timeout_s", above=0, high=120),
        "text_mode": c.string(t, path, "text_mode", choices=PRINTER_TEXT_MODES),
        "paper_width_px": c.integer(t, path, "paper_width_px", low=low, high=high),
        "font_path": c.string(t, path, "font_path"),
        "image_impl": c.string(t, path, "image_impl", choices=PRINTER_IMAGE_IMPLS),
        "cut": c.string(t, path, "cut", choices=PRINTER_CUTS),
        "profile": _profile(c, t, path),
        "check_paper": c.boolean(t, path, "check_paper"),
        "simulated_dir": c.string(t, path, "simulated_dir"),
    }
    here: KeyPath = (*path, "connection")
    if connection == "network" and host == "":
        c.bad(here, '"network" needs printer.host, the printer\'s IP address or host name')
        return None
    if connection == "usb" and 0 in (values["usb_vendor"], values["usb_product"]):
        c.bad(
            here,
            '"usb" needs printer.usb_vendor and printer.usb_product (see lsusb), '
            'or use "file" with device = "/dev/usb/lp0"',
        )
        return None
    if connection == "serial" and device is not None and hardware is not None:
        _printer_port(c, device, hardware)
    profile = values.pop("profile")
    if None in values.values() or profile is None:
        return None
    return PrinterSettings(**values, profile=profile or None)


def _usb_id(c: Checker, t: Table, path: KeyPath, key: str) -> int | None:
    """A USB vendor or product id: an integer (``0x0416``) or hex string (``"0416"``); 0 = none."""
    here = (*path, key)
    if key not in t:
        c.missing(here, "use 0 for none")
        return None
    value = t[key]
    if isinstance(value, str) and USB_ID_RE.fullmatch(value):
        return int(value, 16)
    if isinstance(value, str | bool) or not isinstance(value, int):
        c.bad(
            here,
            f'expected a USB id like 0x0416 or "0416" (hex, as lsusb shows it), got '
            f"{describe(value)}",
        )
        return None
    return c.check_integer(value, here, low=0, high=0xFFFF)


def _profile(c: Checker, t: Table, path: KeyPath) -> str | None:
    """``""`` (no profile; also when the key is absent) or a profile name."""
    if "profile" not in t or t["profile"] == "":
        return ""
    return c.string(t, path, "profile", pattern=PROFILE_RE, rule=PROFILE_RULE)


def _printer_port(c: Checker, device: str, hardware: HardwareConfig) -> None:
    """A serial printer cannot share its port with the keypad or the LED display."""
    used: dict[str, str] = {}
    if hardware.led_display.enabled:
        used[hardware.led_display.port] = "hardware.led_display.port"
    if hardware.keys == "serial":
        used[hardware.serial_keypad.port] = "hardware.serial_keypad.port"
    if device in used:
        c.bad(
            ("printer", "device"),
            f"{show(device)} is {used[device]} too; a printer needs a port of its own",
        )


# -- [screen] -----------------------------------------------------------------------------------

SCREEN_KEYS = (
    "size",
    "fullscreen",
    "panels",
    "font",
    "near_ratio",
    "notice",
    "photos_dir",
    "language",
)


def _screen(c: Checker, root: Table) -> ScreenConfig | None:
    path: KeyPath = ("screen",)
    t = c.section(root, (), "screen", SCREEN_KEYS)
    if t is None:
        return None
    values: dict[str, Any] = {
        "size": _size(c, t, path),
        "fullscreen": c.boolean(t, path, "fullscreen"),
        "panels": _panels(c, t, path),
        "font": _blank_or_string(c, t, path, "font"),
        "near_ratio": c.number(t, path, "near_ratio", low=0.5, high=0.99),
        "notice": _notice(c, t, path),
        "photos_dir": _blank_or_string(c, t, path, "photos_dir"),
        "language": c.string(t, path, "language", choices=LANGUAGES),
    }
    if None in values.values():
        return None
    return ScreenConfig(**values)


def _notice(c: Checker, t: Table, path: KeyPath) -> str | None:
    notice = _blank_or_string(c, t, path, "notice")
    if notice and ("\n" in notice or "\r" in notice):
        c.bad((*path, "notice"), f"must be one line (no line breaks), got {show(notice)}")
        return None
    return notice


def _size(c: Checker, t: Table, path: KeyPath) -> tuple[int, int] | None:
    here = (*path, "size")
    items = c.array(t, path, "size")
    if items is None:
        return None
    if len(items) != 2:
        c.bad(here, f"expected [width, height] like [800, 480], got {show(items)}")
        return None
    low, high = SCREEN_SIDE_RANGE
    width, height = (
        c.check_integer(v, (*here, i), low=low, high=high) for i, v in enumerate(items)
    )
    if width is None or height is None:
        return None
    return width, height


def _panels(c: Checker, t: Table, path: KeyPath) -> tuple[str, ...] | None:
    items = c.array(t, path, "panels", nonempty=True)
    if items is None:
        return None
    out: list[str] = []
    ok = True
    for i, item in enumerate(items):
        here = (*path, "panels", i)
        panel = c.check_string(item, here, choices=SCREEN_PANELS)
        if panel is None:
            ok = False
        elif panel in out:
            c.bad(here, f"duplicate panel {show(panel)}")
            ok = False
        else:
            out.append(panel)
    return tuple(out) if ok else None


# -- [[roster]] ---------------------------------------------------------------------------------

ROSTER_KEYS = ("staff_no", "name", "stars", "photo")
STAFF_NO_RE = re.compile(r"[A-Za-z0-9_-]{1,16}")
STAFF_NO_RULE = "1-16 characters from A-Z, a-z, 0-9, _ and -"


def _roster(c: Checker, root: Table) -> tuple[StaffMember, ...]:
    """``[[roster]]`` (may be absent or empty); bad members are reported and left out."""
    if "roster" not in root:
        return ()
    out: list[StaffMember] = []
    numbers: dict[str, KeyPath] = {}
    for path, t in c.tables(root, (), "roster", ROSTER_KEYS, nonempty=False):
        staff_no = _staff_no(c, t, path)
        name = _staff_name(c, t, path)
        low, high = STARS_RANGE
        stars = c.integer(t, path, "stars", required=False, low=low, high=high)
        photo = _photo(c, t, path)
        if staff_no is not None:
            if staff_no in numbers:
                c.bad(
                    (*path, "staff_no"),
                    f"duplicate staff number {show(staff_no)} "
                    f"(already used by {format_key(numbers[staff_no])})",
                )
                continue
            numbers[staff_no] = path
        bad = staff_no is None or name is None or photo is False
        bad = bad or ("stars" in t and stars is None)
        if not bad:
            out.append(StaffMember(staff_no, name, stars, photo or None))  # type: ignore[arg-type]
    return tuple(out)


def _staff_no(c: Checker, t: Table, path: KeyPath) -> str | None:
    value = t.get("staff_no")
    if isinstance(value, int) and not isinstance(value, bool):
        c.bad(
            (*path, "staff_no"),
            f'expected a string, in quotes like "{value}" (leading zeros count), '
            f"got integer {value}",
        )
        return None
    return c.string(t, path, "staff_no", pattern=STAFF_NO_RE, rule=STAFF_NO_RULE)


def _staff_name(c: Checker, t: Table, path: KeyPath) -> str | None:
    name = c.string(t, path, "name")
    if name is None:
        return None
    here = (*path, "name")
    if _has_control(name):
        c.bad(here, f"must be one line without control characters, got {show(name)}")
        return None
    if len(name) > STAFF_NAME_MAX:
        c.bad(
            here,
            f"must be at most {STAFF_NAME_MAX} characters (the pad's name line), "
            f"got {show(name)} ({len(name)} characters)",
        )
        return None
    return name


def _photo(c: Checker, t: Table, path: KeyPath) -> str | bool | None:
    """The file name, ``None`` when absent or ``""``, ``False`` when bad."""
    if "photo" not in t or t["photo"] == "":
        return None
    here = (*path, "photo")
    photo = c.check_string(t["photo"], here)
    if photo is None:
        return False
    if "/" in photo or "\\" in photo:
        c.bad(
            here,
            f"must be a file name in screen.photos_dir, without a path, like "
            f'"1001.jpg", got {show(photo)}',
        )
        return False
    stem, dot, ext = photo.rpartition(".")
    if not (stem and dot) or f".{ext.lower()}" not in PHOTO_EXTENSIONS:
        c.bad(here, f"must end in {_or_list(PHOTO_EXTENSIONS)}, got {show(photo)}")
        return False
    if _has_control(photo):
        c.bad(here, f"must be a file name without control characters, got {show(photo)}")
        return False
    return photo


def _has_control(text: str) -> bool:
    """Control characters and line breaks (ideographic spaces, as in 欧阳　娜娜, are fine)."""
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def _or_list(items: tuple[str, ...]) -> str:
    return ", ".join(items[:-1]) + f" or {items[-1]}"


# -- [mqtt] -------------------------------------------------------------------------------------

MQTT_KEYS = tuple(f.name for f in fields(MqttConfig))
#: The values of an absent key (optional string keys have none: absent = not given).
MQTT_DEFAULTS: dict[str, Any] = {
    f.name: getattr(MqttConfig(), f.name)
    for f in fields(MqttConfig)
    if getattr(MqttConfig(), f.name) is not None
}
MQTT_HOST_RULE = (
    'an IP address or host name like "10.20.0.5" or "mqtt.bank.example", without scheme or '
    "port (that is mqtt.port)"
)
ABSOLUTE_PATH_RE = re.compile(r"/.*[^/]")
ABSOLUTE_PATH_RULE = 'an absolute file path starting with "/", like "/etc/counterside/tls/ca.crt"'
LOOPBACK_NAMES = ("localhost",)
#: 开机率 (uptime) counts the minutes with a heartbeat (``central.uptime``): at least one a minute.
HEARTBEAT_MAX_S = 60


def _mqtt(c: Checker, root: Table, device: DeviceConfig | None) -> MqttConfig | None:
    """``[mqtt]``: every key optional (the defaults of :class:`MqttConfig`); absent = disabled."""
    path: KeyPath = ("mqtt",)
    given = c.section(root, (), "mqtt", MQTT_KEYS, required=False)
    if given is None:
        return MqttConfig() if "mqtt" not in root else None
    t = {**MQTT_DEFAULTS, **given}
    host = _optional_string(c, t, path, "host")
    if host and not HOST_RE.fullmatch(host):
        c.bad((*path, "host"), f"must be {MQTT_HOST_RULE}, got {show(host)}")
        host = False
    values: dict[str, Any] = {
        "enabled": c.boolean(t, path, "enabled"),
        "host": host,
        "port": c.integer(t, path, "port", low=1, high=65535),
        "tls": c.boolean(t, path, "tls"),
        "ca": _absolute_path(c, t, path, "ca"),
        "cert": _absolute_path(c, t, path, "cert"),
        "key": _absolute_path(c, t, path, "key"),
        "username": _optional_string(c, t, path, "username"),
        "password": _password(c, t, path),
        "keepalive_s": c.integer(t, path, "keepalive_s", low=5, high=600),
        "batch_max_events": c.integer(t, path, "batch_max_events", low=1, high=5000),
        "batch_max_bytes": _batch_max_bytes(c, t, path),
        "max_inflight": c.integer(t, path, "max_inflight", low=1, high=100),
        "queue_timeout_s": c.number(t, path, "queue_timeout_s", low=0.2, high=30),
        "heartbeat_s": _heartbeat(c, t, path),
    }
    ok = all(
        value is not None if key in MQTT_DEFAULTS else value is not False
        for key, value in values.items()
    )
    complete = _mqtt_needs(c, t, path, values, device) if values["enabled"] else True
    if not (ok and complete):
        return None
    optional = {key: value or None for key, value in values.items() if key not in MQTT_DEFAULTS}
    return MqttConfig(**{**values, **optional})


def _optional_string(c: Checker, t: Table, path: KeyPath, key: str) -> str | bool | None:
    """A string key that may be absent or ``""`` (both: not given, ``None``); ``False`` = bad."""
    if key not in t or t[key] == "":
        return None
    value = c.check_string(t[key], (*path, key))
    return False if value is None else value


def _absolute_path(c: Checker, t: Table, path: KeyPath, key: str) -> str | bool | None:
    value = _optional_string(c, t, path, key)
    if isinstance(value, str) and not ABSOLUTE_PATH_RE.fullmatch(value):
        c.bad((*path, key), f"must be {ABSOLUTE_PATH_RULE}, got {show(value)}")
        return False
    return value


def _password(c: Checker, t: Table, path: KeyPath) -> str | bool | None:
    """Like :func:`_optional_string`, but no message ever shows the value: problems are logged
    and reported to the centre (``config/result``)."""
    if "password" not in t or t["password"] == "":
        return None
    value = t["password"]
    if not isinstance(value, str):
        kind = describe(value).split(" ", 1)[0]
        c.bad((*path, "password"), f"expected a string, got {kind} (value not shown)")
        return False
    return value


def _batch_max_bytes(c: Checker, t: Table, path: KeyPath) -> int | None:
    size = c.integer(t, path, "batch_max_bytes", low=1024)
    if size is not None and size > MQTT_MAX_PAYLOAD_BYTES:
        c.bad(
            (*path, "batch_max_bytes"),
            f"must be at most {MQTT_MAX_PAYLOAD_BYTES} (256 KiB, the broker's "
            f"message_size_limit: a larger batch is refused), got {size}",
        )
        return None
    return size


def _heartbeat(c: Checker, t: Table, path: KeyPath) -> float | None:
    seconds = c.number(t, path, "heartbeat_s", low=10)
    if seconds is not None and seconds > HEARTBEAT_MAX_S:
        c.bad(
            (*path, "heartbeat_s"),
            f"must be at most {HEARTBEAT_MAX_S}, got {show(t['heartbeat_s'])}: 开机率 (uptime) "
            "counts the minutes with a heartbeat, so a device must beat at least once a minute",
        )
        return None
    return seconds


def _mqtt_needs(
    c: Checker, t: Table, path: KeyPath, values: dict[str, Any], device: DeviceConfig | None
) -> bool:
    """Whether the settings are complete and consistent for ``enabled = true``."""
    bad: set[str] = set()

    def need(key: str, why: str) -> None:
        if key in t:  # given as "" (a given bad value is reported already)
            if t[key] == "":
                c.bad((*path, key), f'required {why}, got ""')
        else:
            c.missing((*path, key), f"required {why}")
        bad.add(key)

    if values["host"] is None:
        need("host", "when mqtt.enabled = true: the broker's host name or IP address")
    if values["tls"]:
        for key in ("ca", "cert", "key"):
            if values[key] is None:
                need(key, "when mqtt.enabled = true and mqtt.tls = true")
        for key in ("username", "password"):
            if values[key]:
                c.bad(
                    (*path, key),
                    "only used with mqtt.tls = false (the password listener); over TLS the "
                    "broker takes the certificate's CN, device.device_id, as the username",
                )
                bad.add(key)
    elif values["tls"] is False:
        host = values["host"]
        if host and not _loopback(host):
            c.bad(
                (*path, "tls"),
                f"false is only allowed for a broker on this device (host "
                f'"localhost", 127.x.x.x or ::1), got host {show(host)}: the password would '
                "cross the network unencrypted, and the broker's network listener needs TLS "
                "client certificates (docs/security.md)",
            )
            bad.add("tls")
        for key in ("username", "password"):
            if values[key] is None:
                need(
                    key, "when mqtt.tls = false: the password listener admits no anonymous clients"
                )
    if device is not None and device.device_id in MQTT_RESERVED_DEVICE_IDS:
        c.bad(
            ("device", "device_id"),
            f"{show(device.device_id)} is an MQTT topic name and cannot be the device's MQTT "
            f"identity while mqtt.enabled = true (reserved: "
            f"{', '.join(MQTT_RESERVED_DEVICE_IDS)})",
        )
        bad.add("device_id")
    return not bad


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
