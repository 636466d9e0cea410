"""From domain state to what the screens show: the view models of :mod:`screens.views`.

Pure functions of the configuration, the domain objects and the instant; the apps call them
every frame. The pad's view never carries service timing (internal assessment only).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from config.model import Config
from domain import events as ev
from domain.clock import Instant, between
from domain.counter import CounterSession, State
from domain.estimate import WaitEstimator
from domain.queue import BranchQueue
from domain.rating import REASON_WINDOW_S, bad_levels
from domain.tickets import Ticket
from screens import build
from screens.views import (
    BoardView,
    Call,
    ConsoleView,
    CounterState,
    IssuedTicket,
    KioskView,
    MessageLevel,
    PadMode,
    PadView,
)

if TYPE_CHECKING:
    from drivers.printer import TicketInfo

THANKS_S = 4.0  # how long the pad thanks the customer after a rating
RECENT_CALLS = 5


def clock_text(config: Config, now: Instant) -> str:
    return f"{now.wall.astimezone(ZoneInfo(config.device.timezone)):%H:%M}"


# -- evaluation pad -----------------------------------------------------------------------------
def pad_mode(config: Config, session: CounterSession, now: Instant) -> PadMode:
    state = session.state
    if state is State.SIGNED_OUT:
        return "signed_out"
    if state is State.PAUSED:
        return "paused"
    if state is State.AWAITING_RATING:
        return "rate"
    if state in (State.CALLED, State.SERVING):
        return "welcome"
    last = session.last_closed
    if last is None or last.rated is None:
        return "idle"
    since = between(last.rated, now).seconds
    wants_reason = last.rating in bad_levels(config.rating) and config.rating.bad_reasons
    if wants_reason and last.reason is None and since <= REASON_WINDOW_S:
        return "reason"
    window = REASON_WINDOW_S if last.reason is not None else THANKS_S
    return "thanks" if since <= window else "idle"


def pad_view(
    config: Config,
    session: CounterSession,
    now: Instant,
    *,
    photo_for: Callable[[str], str | None] | None = None,
) -> PadView:
    mode = pad_mode(config, session, now)
    teller = session.teller
    tx = session.current
    prompt, note = build.pad_words(config, mode)
    seconds_left = None
    if mode == "rate" and session.prompt_opened is not None:
        elapsed = between(session.prompt_opened, now).seconds
        seconds_left = max(0.0, config.rating.window_s - elapsed)
    return PadView(
        mode=mode,
        counter_name=session.counter.name.zh,
        branch_name=config.branch_name.zh,
        teller_name=teller.name if teller else "",
        staff_no=teller.staff_no if teller else "",
        stars=teller.stars if teller else None,
        photo_path=photo_for(teller.staff_no) if teller and photo_for else None,
        ticket=tx.ticket.number if tx is not None and tx.ticket is not None else None,
        levels=build.rating_keys(config),
        reasons=build.bad_reasons(config),
        prompt=prompt,
        note=note,
        seconds_left=seconds_left,
        window_s=config.rating.window_s,
    )


# -- teller console -----------------------------------------------------------------------------
def upcoming(queue, counter: int, now: Instant, n: int = 4) -> list[str]:
    """The tickets this counter would call next, best guess in policy order.

    A remote queue answers from the queue service's published state.
    """
    if not isinstance(queue, BranchQueue):
        return list(queue.upcoming(counter))[:n] if hasattr(queue, "upcoming") else []
    first = [e.ticket.number for e in queue.candidates(counter, now)]
    serves = queue.serves(counter)
    rest = [
        e.ticket.number
        for code in serves
        for e in queue.waiting(code)
        if e.target_counter in (None, counter)
    ]
    return list(dict.fromkeys(first + rest))[:n]


def console_view(
    config: Config,
    session: CounterSession,
    now: Instant,
    *,
    waiting: Mapping[str, int],
    next_tickets: Sequence[str] = (),
    message: str | None = None,
    message_level: MessageLevel = "info",
    queue_available: bool = True,
    choice_title: str | None = None,
    choices: Sequence[str] = (),
) -> ConsoleView:
    """The teller console; the service timer and its limit are the ones the over-limit warning
    and the record use (from the call without a start key; the amount band, the extension)."""
    teller, tx = session.teller, session.current
    elapsed = limit = None
    exact = True
    bt_name = ""
    if tx is not None and any(bt.code == tx.business_type for bt in config.business_types):
        bt = config.business_type(tx.business_type)
        bt_name, limit = bt.name.zh, session.service_limit_s()
        running = session.service_elapsed(now)
        if running is not None and (session.state is State.SERVING or running[1]):
            elapsed, exact = running[0].seconds, running[0].exact
        if tx.band is not None and tx.band < len(bt.bands):
            bt_name += f" · {bt.bands[tx.band].name.zh}"
    priority = None
    if tx is not None and tx.ticket is not None and tx.ticket.priority:
        priority = next(
            (p.name.zh for p in config.priority_classes if p.code == tx.ticket.priority), None
        )
    paused_s = between(session.paused_at, now).seconds if session.paused_at else None
    if message is None and (long := _long_queue(config, waiting)):
        message, message_level = long, "warn"
    return ConsoleView(
        counter_name=session.counter.name.zh,
        state=cast(CounterState, str(session.state)),  # State's values are CounterState's
        teller_name=teller.name if teller else "",
        staff_no=teller.staff_no if teller else "",
        ticket=tx.ticket.number if tx is not None and tx.ticket is not None else None,
        priority_name=priority,
        business_type_name=bt_name,
        ticketless=tx is not None and tx.ticket is None,
        calls=len(tx.calls) if tx is not None else 0,
        service_elapsed_s=elapsed,
        service_limit_s=limit,
        timer_exact=exact,
        queues=build.queue_lines(config, waiting, codes=session.counter.business_types),
        next_tickets=tuple(next_tickets),
        paused_reason=session.pause_reason,
        paused_elapsed_s=paused_s,
        message=message,
        message_level=message_level,
        queue_available=queue_available,
        clock_text=clock_text(config, now),
        choice_title=choice_title,
        choices=tuple(choices),
    )


def _long_queue(config: Config, waiting: Mapping[str, int]) -> str | None:
    """The teller's (and lobby manager's) word that a line is too long: open a flexible window
    (弹性窗口). The same rule as the queue's ``queue.too_long`` alert, from the counts shown."""
    limit = config.queue.long_queue_alert
    long = [
        f"{bt.name.zh}排队{waiting[bt.code]}人"
        for bt in config.business_types
        if limit > 0 and waiting.get(bt.code, 0) > limit
    ]
    return "、".join(long) + "，请开弹性窗口" if long else None


# -- hall board and kiosk -----------------------------------------------------------------------
class CallLog:
    """The latest calls for the hall board, fed with ``ticket.called``/``ticket.recalled``."""

    def __init__(self, size: int = RECENT_CALLS + 1) -> None:
        self._calls: deque[tuple[str, int]] = deque(maxlen=size)

    def observe(self, payload: ev.Payload | dict) -> None:
        if isinstance(payload, ev.TicketCalled | ev.TicketRecalled):
            self.add(payload.ticket.number, payload.counter)

    def add(self, ticket: str, counter: int) -> None:
        """A call of ``ticket`` to ``counter`` (here, or heard from elsewhere in the branch)."""
        call = (ticket, counter)
        if call in self._calls:
            self._calls.remove(call)
        self._calls.appendleft(call)

    def calls(self) -> list[tuple[str, int]]:
        return list(self._calls)


def _call(config: Config, ticket: str, counter: int) -> Call:
    """A call as the board shows it: the counter's configured name, else ``N号窗口``/``Window N``
    (a call heard over MQTT may name a counter this device's configuration does not list)."""
    try:
        name = config.counter(counter).name
    except KeyError:
        return Call.coerce((ticket, counter))
    return Call(ticket, name.zh, name.en)


def board_view(
    config: Config,
    now: Instant,
    calls: Sequence[tuple[str, int]],
    waiting: Mapping[str, int],
    estimator: WaitEstimator,
    notice: str = "",
) -> BoardView:
    expected = {code: estimator.expected_wait_min(code, n) for code, n in waiting.items()}
    return BoardView(
        branch_name=config.branch_name.zh,
        clock_text=clock_text(config, now),
        current_call=_call(config, *calls[0]) if calls else None,
        recent_calls=tuple(_call(config, *c) for c in calls[1 : RECENT_CALLS + 1]),
        waiting=build.queue_lines(config, waiting, expected),
        notice=notice,
        notice_time_s=now.mono,
    )


def kiosk_view(
    config: Config,
    now: Instant,
    waiting: Mapping[str, int],
    estimator: WaitEstimator,
    *,
    selected_priority: str | None = None,
    last_ticket: IssuedTicket | None = None,
    message: str | None = None,
) -> KioskView:
    expected = {code: estimator.expected_wait_min(code, n) for code, n in waiting.items()}
    return KioskView(
        branch_name=config.branch_name.zh,
        business_types=build.queue_lines(config, waiting, expected),
        priority_classes=build.priority_choices(config),
        selected_priority=selected_priority,
        last_ticket=last_ticket,
        message=message,
        clock_text=clock_text(config, now),
    )


def ticket_info(
    ticket: Ticket,
    config: Config,
    ahead: int,
    expected_wait_min: int | None = None,
    language: str | None = None,
) -> TicketInfo:
    """What the kiosk prints on ``ticket``, in the customer's language and local time."""
    from drivers.printer import TicketInfo  # escpos and Pillow: loaded by a kiosk only

    lang = language or config.device.language
    priority = next((p for p in config.priority_classes if p.code == ticket.priority), None)
    return TicketInfo(
        ticket_id=ticket.id,
        number=ticket.number,
        business_name=config.business_type(ticket.business_type).name.get(lang),
        branch_name=config.branch_name.get(lang),
        issued_at=ticket.issued_at.wall.astimezone(ZoneInfo(config.device.timezone)),
        ahead=ahead,
        priority_name=priority.name.get(lang) if priority else None,
        expected_wait_min=expected_wait_min,
        language=lang,
    )
