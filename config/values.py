"""The value kinds of counterside's settings: identifiers, paths, hosts, opening hours, voice
templates, GPIO pin maps, USB ids. Each names its rule in the words of its error message."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from config.checker import Checker, describe, show, suggest
from config.kinds import INVALID, Empty, Integer, Kind, ListOf, String, or_list
from config.layers import KeyPath, format_key

# -- strings --------------------------------------------------------------------------------------

IDENTIFIER = String(
    pattern=re.compile(r"[A-Za-z0-9_-]{1,32}"), rule="1-32 characters from A-Z, a-z, 0-9, _ and -"
)
CODE = String(
    pattern=re.compile(r"[a-z][a-z0-9_]{0,31}"),
    rule="a lower-case letter followed by up to 31 of a-z, 0-9 and _",
)
PREFIX = String(pattern=re.compile(r"[A-Z]{1,2}"), rule="1-2 upper-case ASCII letters (A-Z)")
SERIAL_PORT = String(
    pattern=re.compile(r"/\S+|[a-z][a-z0-9+.-]*://\S+"),
    rule='a device path like "/dev/ttyUSB0" or a pyserial URL like "socket://10.0.0.9:4001"',
)
DEVICE_PATH = String(
    pattern=re.compile(r"/\S+"), rule='a device path like "/dev/usb/lp0" or "/dev/ttyUSB0"'
)
COMMAND = String(
    pattern=re.compile(r"\S+"), rule='a program name or path without spaces, like "espeak-ng"'
)
ABSOLUTE_PATH = String(
    pattern=re.compile(r"/.*[^/]"),
    rule='an absolute file path starting with "/", like "/etc/counterside/tls/ca.crt"',
    empty="none",
)
PROFILE_NAME = String(
    pattern=re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*"),
    rule='a python-escpos profile name like "TM-T88V", or "" for none',
    empty="none",
)
HOST_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+")


def host(example: str, port_key: str, empty: Empty) -> String:
    """An IP address or host name, without scheme or port (that is ``port_key``)."""
    rule = f"an IP address or host name like {example}, without scheme or port (that is {port_key})"
    return String(pattern=HOST_RE, rule=rule, empty=empty)


def _zone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        tip = suggest(name, available_timezones())
        return f'unknown time zone {show(name)}{tip}; expected an IANA name like "Asia/Shanghai"'
    return None


TIME_ZONE = String(check=_zone_problem, rule="an IANA time zone name (checked with `zoneinfo`)")

#: espeak-ng 1.51 names that pick the ``cmn`` voice, which reads Chinese as pinyin with English
#: tone numbers (请 is "qing three"): see docs/voice-and-printer.md.
PINYIN_AS_ENGLISH_VOICES = ("cmn", "zh", "zh-cn", "zh-cmn", "sit/cmn")
_ESPEAK_VOICE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*(\+[A-Za-z0-9_-]+)?")
_ESPEAK_VOICE_RULE = 'an espeak-ng voice name like "cmn-latn-pinyin" or "en+f3"'


def _pinyin_problem(name: str) -> str | None:
    if name.split("+")[0].lower() not in PINYIN_AS_ENGLISH_VOICES:
        return None
    return (
        f"{show(name)} reads Chinese as pinyin with English tone numbers in espeak-ng 1.51 "
        '(请 is "qing three"); use "cmn-latn-pinyin"'
    )


ESPEAK_VOICE = String(pattern=_ESPEAK_VOICE_RE, rule=_ESPEAK_VOICE_RULE)
MANDARIN_VOICE = String(pattern=_ESPEAK_VOICE_RE, rule=_ESPEAK_VOICE_RULE, check=_pinyin_problem)


def _ten_digits_problem(digits: str) -> str | None:
    if len(digits) == 10 and not any(char.isspace() for char in digits):
        return None
    return (
        "must be exactly 10 characters, the spoken digits 0 to 9 like "
        f'"零一二三四五六七八九", got {show(digits)} ({len(digits)} characters)'
    )


ZH_DIGITS = String(check=_ten_digits_problem, rule="exactly 10 characters, no spaces")


def has_control(text: str) -> bool:
    """Control characters and line breaks (ideographic spaces, as in 欧阳　娜娜, are fine)."""
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def _one_line_problem(text: str) -> str | None:
    if "\n" in text or "\r" in text:
        return f"must be one line (no line breaks), got {show(text)}"
    return None


ONE_LINE = String(check=_one_line_problem, empty="keep", rule="one line")


def name_line(most: int) -> String:
    """A person's name on one line of at most ``most`` characters."""

    def problem(name: str) -> str | None:
        if has_control(name):
            return f"must be one line without control characters, got {show(name)}"
        if len(name) > most:
            return (
                f"must be at most {most} characters (the pad's name line), "
                f"got {show(name)} ({len(name)} characters)"
            )
        return None

    return String(check=problem, rule=f"non-empty, one line, at most {most} characters")


def file_name(extensions: Sequence[str], folder: str, example: str) -> String:
    """A file name in ``folder`` (no path) ending in one of ``extensions`` (any case)."""

    def problem(name: str) -> str | None:
        if "/" in name or "\\" in name:
            return (
                f"must be a file name in {folder}, without a path, like {show(example)}, "
                f"got {show(name)}"
            )
        stem, dot, ext = name.rpartition(".")
        if not (stem and dot) or f".{ext.lower()}" not in extensions:
            return f"must end in {or_list(list(extensions))}, got {show(name)}"
        if has_control(name):
            return f"must be a file name without control characters, got {show(name)}"
        return None

    rule = f"a file name in `{folder}`, without a path, ending in {or_list(list(extensions))}"
    return String(check=problem, empty="none", rule=rule)


class QuotedId(String):
    """An identifier that must be written in quotes, since an integer would lose leading zeros."""

    def problem(self, value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return (
                f'expected a string, in quotes like "{value}" (leading zeros count), '
                f"got integer {value}"
            )
        return super().problem(value)


STAFF_NO = QuotedId(
    pattern=re.compile(r"[A-Za-z0-9_-]{1,16}"), rule="1-16 characters from A-Z, a-z, 0-9, _ and -"
)


class Command(ListOf):
    """A program and its arguments, like ``["aplay", "-q", "{wav}"]`` (not one string)."""

    def __init__(self, example: str, placeholder: str) -> None:
        super().__init__(String())
        self.example, self.placeholder = example, placeholder
        self.type_name = "array of strings"

    def shape_problem(self, value: Any) -> str | None:
        if not isinstance(value, list):
            return (
                "expected an array of strings, the command and its arguments, like "
                f"{self.example}, got {describe(value)}"
            )
        return None if value else f"must not be empty, got []; the default is {self.example}"

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        argv = super().read(c, value, path)
        first = value[0] if isinstance(value, list) and value else None
        if isinstance(first, str) and self.placeholder in first:
            c.bad((*path, 0), f"must be the player program, not the file {show(first)}")
            return INVALID
        return argv

    def limits(self) -> str:
        return "the command and its arguments (not one string)"


# -- numbers --------------------------------------------------------------------------------------


class UsbId(Kind):
    """A USB vendor or product id: an integer (``0x0416``) or hex string (``"0416"``); 0 = none."""

    type_name = "integer or string"
    hint = "use 0 for none"
    _HEX = re.compile(r"(0[xX])?[0-9A-Fa-f]{1,4}")

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        if isinstance(value, str) and self._HEX.fullmatch(value):
            return int(value, 16)
        if isinstance(value, str | bool) or not isinstance(value, int):
            c.bad(
                path,
                f'expected a USB id like 0x0416 or "0416" (hex, as lsusb shows it), got '
                f"{describe(value)}",
            )
            return INVALID
        return Integer(0, 0xFFFF).read(c, value, path)

    def limits(self) -> str:
        return (
            '0–0xFFFF as `lsusb` shows it, an integer (`0x0416`) or hex string (`"0416"`); 0 = none'
        )


class Pin(Kind):
    """A BCM GPIO number from ``low`` to ``high``."""

    type_name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        pin = Integer().read(c, value, path)
        if pin is not INVALID and not self.low <= pin <= self.high:
            c.bad(path, f"must be a BCM GPIO number from {self.low} to {self.high}, got {pin}")
            return INVALID
        return pin

    def limits(self) -> str:
        return f"a BCM number, {self.low}–{self.high}"


class PinMap(Kind):
    """A table of ``name = pin``; ``name_problem`` says what is wrong with a name, ``to_key``
    turns a name into the model's key (a rating level is an integer).

    A map with a bad entry keeps its good ones (the entry's problem is reported), so that every
    good pin is still compared with the pins of the other maps.
    """

    type_name = "table"
    hint = "use {} for none"

    def __init__(
        self,
        pin: Pin,
        example: str,
        name_problem: Callable[[str], str | None],
        to_key: Callable[[str], Any] = str,
    ) -> None:
        self.pin, self.example, self.name_problem, self.to_key = pin, example, name_problem, to_key

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        if not isinstance(value, dict):
            c.bad(path, f"expected a table like {self.example}, got {describe(value)}")
            return INVALID
        out: dict[Any, int] = {}
        for name, given in value.items():
            here = (*path, name)
            problem = self.name_problem(name)
            if problem:
                c.bad(here, problem)
                continue
            pin = self.pin.read(c, given, here)
            if pin is not INVALID:
                out[self.to_key(name)] = pin
        return out

    def to_file(self, value: Any) -> Any:
        return {str(name): pin for name, pin in value.items()}

    def limits(self) -> str:
        return f"each pin {self.pin.limits()}"


def level_name_problem(name: str) -> str | None:
    """A rating level as a key, like ``{ 5 = 17 }``."""
    if name.isascii() and name.isdigit():
        return None
    return f'expected a rating level as key, like {{ 5 = 17 }}, got "{name}"'


# -- opening hours and templates ------------------------------------------------------------------

_SPAN_RE = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


class Spans(ListOf):
    """A day's opening hours: ``"HH:MM-HH:MM"`` spans, end after start, not overlapping; read as
    ``build(start, end)`` values sorted by start."""

    hint = "use [] for a closed day"

    def __init__(self, build: Callable[[time, time], Any]) -> None:
        super().__init__(String())
        self.build = build
        self.type_name = "array of strings"

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        problem = self.shape_problem(value)
        if problem:
            c.bad(path, problem)
            return INVALID
        spans: list[tuple[KeyPath, str, time, time]] = []
        for i, item in enumerate(value):
            here = (*path, i)
            text = self.item.read(c, item, here)
            bounds = self._bounds(c, here, text) if text is not INVALID else None
            if bounds is not None:
                spans.append((here, text, *bounds))
        spans.sort(key=lambda span: span[2])
        latest = None  # the span seen so far that ends last
        for span in spans:
            if latest is not None and span[2] < latest[3]:
                c.bad(
                    span[0], f"{show(span[1])} overlaps {show(latest[1])} ({format_key(latest[0])})"
                )
            if latest is None or span[3] > latest[3]:
                latest = span
        if len(spans) != len(value):
            return INVALID
        return tuple(self.build(start, end) for _, _, start, end in spans)

    @staticmethod
    def _bounds(c: Checker, path: KeyPath, text: str) -> tuple[time, time] | None:
        match = _SPAN_RE.fullmatch(text)
        if match is None:
            c.bad(path, f'expected "HH:MM-HH:MM" like "08:30-17:00", got {show(text)}')
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if max(h1, h2) > 23 or max(m1, m2) > 59:
            c.bad(path, f"times must be between 00:00 and 23:59, got {show(text)}")
            return None
        if (h2, m2) <= (h1, m1):
            c.bad(path, f"end must be after start, got {show(text)}")
            return None
        return time(h1, m1), time(h2, m2)

    def to_file(self, value: Any) -> Any:
        return [f"{span.start:%H:%M}-{span.end:%H:%M}" for span in value]

    def limits(self) -> str:
        return '`"HH:MM-HH:MM"` spans, end after start, not overlapping'


class Template(String):
    """A ``str.format`` template that may use only ``placeholders``."""

    def __init__(self, placeholders: Sequence[str]) -> None:
        super().__init__()
        self.placeholders = tuple(placeholders)

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        text = super().read(c, value, path)
        if text is INVALID:
            return INVALID
        try:
            names = _fields(text)
        except ValueError as err:
            c.bad(
                path,
                f"not a valid template ({err}), got {show(text)}; write {{{{ and }}}} for braces",
            )
            return INVALID
        unknown = [name for name in names if name not in self.placeholders]
        for name in unknown:
            if self.placeholders:
                tip = "allowed: " + ", ".join("{" + a + "}" for a in self.placeholders)
            else:
                tip = "this text takes no placeholders"
            c.bad(path, f"unknown placeholder {{{name}}} in {show(text)} ({tip})")
        return INVALID if unknown else text

    def limits(self) -> str:
        if not self.placeholders:
            return "no placeholders"
        return "placeholders " + ", ".join(f"`{{{name}}}`" for name in self.placeholders)


def _fields(template: str) -> list[str]:
    """Every replacement field name in a ``str.format`` template (nested ones too)."""
    names: list[str] = []
    for _literal, field, spec, _conversion in string.Formatter().parse(template):
        if field is not None:
            names.append(field)
            if spec:
                names.extend(_fields(spec))
    return names
