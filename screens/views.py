"""View models: exactly what each screen shows, as plain frozen (hashable) dataclasses.

The app builds them from the domain (see :mod:`screens.build` for the parts that come from the
configuration). To be easy to fill, sequence fields accept lists or tuples, and their items
accept plain tuples in the documented order; everything is normalised to tuples of dataclasses.
Words are ``(zh, en)`` pairs; English is drawn smaller beneath Chinese when ``bilingual``.

The pad's view deliberately has no service-time field: limits and timers are internal
assessment (限时服务) and never shown to customers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal, Protocol, Self, TypeVar

Bilingual = tuple[str, str]  # (zh, en); en may be ""

PadMode = Literal["idle", "welcome", "rate", "thanks", "reason", "paused", "signed_out"]
PAD_MODES: tuple[str, ...] = ("idle", "welcome", "rate", "thanks", "reason", "paused", "signed_out")
CounterState = Literal["signed_out", "idle", "called", "serving", "awaiting_rating", "paused"]
COUNTER_STATES: tuple[str, ...] = (
    "signed_out",
    "idle",
    "called",
    "serving",
    "awaiting_rating",
    "paused",
)
MessageLevel = Literal["info", "warn", "error"]


def bi(value: Any) -> Bilingual:
    """``(zh, en)`` from a str, a pair, or an object with ``zh``/``en`` (``config.model.Text``)."""
    if isinstance(value, str):
        return (value, "")
    if hasattr(value, "zh"):
        return (value.zh, getattr(value, "en", ""))
    zh, en = (*tuple(value), "")[:2]
    return (str(zh), str(en or ""))


def _opt_bi(value: Any) -> Bilingual | None:
    return None if value is None else bi(value)


class _Coercible(Protocol):
    @classmethod
    def coerce(cls, item: Any) -> Self: ...


_C = TypeVar("_C", bound=_Coercible)


def _items(value: Any, cls: type[_C]) -> tuple[_C, ...]:
    return tuple(v if isinstance(v, cls) else cls.coerce(v) for v in (value or ()))


def _set(obj: object, **values: Any) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class RatingKey:
    """One rating level on the pad; ``neutral`` levels (不了解) are drawn grey, off the scale."""

    value: int
    zh: str
    en: str = ""
    neutral: bool = False

    @classmethod
    def coerce(cls, item: Any) -> RatingKey:
        """From ``(value, zh[, en[, neutral]])`` or a ``config.model.RatingLevel``."""
        if hasattr(item, "label"):
            return cls(item.value, item.label.zh, item.label.en, bool(item.neutral))
        return cls(*item)


@dataclass(frozen=True)
class QueueLine:
    """A business type's queue: waiting count and, if known, the expected wait."""

    code: str
    name_zh: str
    name_en: str = ""
    waiting: int = 0
    expected_wait_min: int | None = None

    @classmethod
    def coerce(cls, item: Any) -> QueueLine:
        """From ``(code, name_zh, name_en, waiting[, expected_wait_min])`` or ``(name, count)``."""
        item = tuple(item)
        if len(item) == 2:
            name, count = item
            zh, en = bi(name)
            return cls(zh, zh, en, int(count))
        return cls(*item)


@dataclass(frozen=True)
class Call:
    """A ticket called to a counter, e.g. ``Call("A012", "3号窗口", "Window 3")``."""

    ticket: str
    counter_zh: str
    counter_en: str = ""

    @classmethod
    def coerce(cls, item: Any) -> Call:
        """From ``(ticket, counter)`` where counter is a str, a (zh, en) pair or a number."""
        ticket, counter = tuple(item)[:2]
        if isinstance(counter, int):
            return cls(ticket, f"{counter}号窗口", f"Window {counter}")
        return cls(ticket, *bi(counter))


@dataclass(frozen=True)
class PriorityChoice:
    """A priority class offered on the kiosk (绿色通道)."""

    code: str
    zh: str
    en: str = ""

    @classmethod
    def coerce(cls, item: Any) -> PriorityChoice:
        """From ``(code, zh[, en])`` or a ``config.model.PriorityClass``."""
        if hasattr(item, "name"):
            return cls(item.code, item.name.zh, item.name.en)
        return cls(*item)


@dataclass(frozen=True)
class IssuedTicket:
    """The ticket just printed at the kiosk; ``note`` overrides the expected-wait sentence."""

    number: str
    ahead: int = 0
    business_zh: str = ""
    business_en: str = ""
    expected_wait_min: int | None = None
    note: Bilingual | None = None

    @classmethod
    def coerce(cls, item: Any) -> IssuedTicket:
        """From ``(number, ahead[, business_zh, business_en, expected_wait_min])``."""
        return cls(*item)

    def __post_init__(self) -> None:
        _set(self, note=_opt_bi(self.note))


@dataclass(frozen=True)
class PadView:
    """The evaluation pad (评价器), customer-facing.

    ``prompt``/``note`` replace the mode's default main line and second line (the configured
    texts); ``seconds_left``/``window_s`` drive the rating count-down; ``reasons`` are offered
    after a bad rating (``mode="reason"``).
    """

    mode: PadMode
    counter_name: str = ""
    branch_name: str = ""
    teller_name: str = ""
    staff_no: str = ""
    stars: int | None = None
    photo_path: str | None = None
    ticket: str | None = None
    levels: tuple[RatingKey, ...] = ()
    reasons: tuple[Bilingual, ...] = ()
    prompt: Bilingual | None = None
    note: Bilingual | None = None
    seconds_left: float | None = None
    window_s: float | None = None
    bilingual: bool = True

    def __post_init__(self) -> None:
        if self.mode not in PAD_MODES:
            raise ValueError(f"PadView.mode: {self.mode!r} is not one of {', '.join(PAD_MODES)}")
        _set(
            self,
            levels=_items(self.levels, RatingKey),
            reasons=tuple(bi(r) for r in self.reasons or ()),
            prompt=_opt_bi(self.prompt),
            note=_opt_bi(self.note),
        )


@dataclass(frozen=True)
class ConsoleView:
    """The teller console: the counter's state, the running service timer and the queue.

    ``service_elapsed_s``/``service_limit_s`` are the current service's running time and its
    limit; the timer turns amber from ``near_ratio`` of the limit and red past it. While paused
    the timer shows ``paused_elapsed_s`` against ``paused_limit_s`` (absence over 30 min).
    ``queue_available=False`` turns the call key into 无号业务 (serve without a ticket).
    ``choices`` (with ``choice_title``): the console asks the teller to pick one (a pause reason,
    an amount band, an extension reason); they replace the keys, numbered from 1.
    """

    counter_name: str
    state: CounterState
    teller_name: str = ""
    staff_no: str = ""
    ticket: str | None = None
    priority_name: str | None = None
    business_type_name: str = ""
    ticketless: bool = False
    calls: int = 0
    service_elapsed_s: float | None = None
    service_limit_s: float | None = None
    timer_exact: bool = True  # False: the service spans a power cut, its time is an estimate
    near_ratio: float = 0.8
    queues: tuple[QueueLine, ...] = ()
    next_tickets: tuple[str, ...] = ()
    paused_reason: str | None = None
    paused_elapsed_s: float | None = None
    paused_limit_s: float | None = 30 * 60
    message: str | None = None
    message_level: MessageLevel = "info"
    queue_available: bool = True
    clock_text: str = ""
    choice_title: str | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.state not in COUNTER_STATES:
            states = ", ".join(COUNTER_STATES)
            raise ValueError(f"ConsoleView.state: {self.state!r} is not one of {states}")
        _set(
            self,
            queues=_items(self.queues, QueueLine),
            next_tickets=tuple(self.next_tickets),
            choices=tuple(self.choices),
        )


@dataclass(frozen=True)
class BoardView:
    """The hall board: the current call very large, recent calls, waiting counts, a notice.

    The notice scrolls by ``notice_time_s`` (any steadily increasing seconds, e.g. monotonic).
    """

    branch_name: str = ""
    clock_text: str = ""
    current_call: Call | None = None
    recent_calls: tuple[Call, ...] = ()
    waiting: tuple[QueueLine, ...] = ()
    notice: str = ""
    notice_time_s: float = 0.0
    bilingual: bool = True

    def __post_init__(self) -> None:
        call = self.current_call
        _set(
            self,
            current_call=call if call is None or isinstance(call, Call) else Call.coerce(call),
            recent_calls=_items(self.recent_calls, Call),
            waiting=_items(self.waiting, QueueLine),
        )


@dataclass(frozen=True)
class KioskView:
    """The ticket kiosk: one key per business type, priority choice, the issued ticket."""

    branch_name: str = ""
    business_types: tuple[QueueLine, ...] = ()
    priority_classes: tuple[PriorityChoice, ...] = ()
    selected_priority: str | None = None
    last_ticket: IssuedTicket | None = None
    message: str | None = None
    clock_text: str = ""
    bilingual: bool = True

    def __post_init__(self) -> None:
        last = self.last_ticket
        _set(
            self,
            business_types=_items(self.business_types, QueueLine),
            priority_classes=_items(self.priority_classes, PriorityChoice),
            last_ticket=last
            if last is None or isinstance(last, IssuedTicket)
            else IssuedTicket.coerce(last),
        )


def field_names(cls: type) -> tuple[str, ...]:
    """Names of a view's fields (used to check that the pad carries no service timing)."""
    return tuple(f.name for f in fields(cls))
