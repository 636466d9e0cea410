"""The branch queue: who waits, who is called next, and by which counter.

Policy, in order, for a counter that calls the next ticket:

1. tickets transferred to this very counter, oldest first;
2. escalated tickets: waiting longer than their business type's limit (if ``escalate_overdue``),
   oldest first, whatever their type among those the counter serves;
3. priority tickets (elderly, disabled, VIP). Calling one ahead of an ordinary ticket issued
   earlier is a *jump*: counting the call about to be made, at most ``floor(priority_ratio * 10)``
   of this counter's last 10 calls are jumps (so a ratio below 0.1 allows none), spread out (a
   jump only while the share of jumps so far is below the ratio). A priority ticket older than
   every ordinary one, or with no ordinary ticket waiting, is no jump. Escalated tickets (2.)
   are held to the same rule;
4. ordinary tickets: the first business type in the counter's order that has anyone waiting,
   first come first served.

A called ticket belongs to one counter until it is served, skipped or transferred: the queue never
hands a ticket to two counters.

More than ``long_queue_alert`` tickets waiting for one business type raise ``queue.too_long``
once (the lobby manager opens a flexible window, 弹性窗口); ``queue.back_to_normal`` follows when
the line is down to 80% of that.

Waiting is held against the business type's limit from the ticket's issue (a transferred customer
has been waiting in the branch all along), once per ticket. When a new business day begins (see
:mod:`domain.business_day`), tickets of earlier days still waiting expire, on record, at the first
reading of the clock in the new day, not only when the next ticket is issued.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol

from config.model import Config
from domain import events as ev
from domain.clock import BootEnds, Duration, Instant
from domain.events import DomainEvent, event
from domain.tickets import Ticket, TicketIssuer

RECENT_CALLS = 10


class QueueError(Exception):
    """A queue operation that does not fit the ticket's state (the message says why)."""


class QueueUnavailable(QueueError):
    """The branch queue service cannot be reached: serve without a ticket (无号业务)."""


class QueuePort(Protocol):
    """What a counter needs of the branch queue: the local :class:`BranchQueue`, or a client of
    the controller's queue service over MQTT. A remote implementation raises
    :class:`QueueUnavailable` from ``issue``, the calls, ``recall`` and ``transfer`` when the
    service does not answer in time, but never from ``served`` or ``no_show``: a service that
    happened must be recordable, so those are delivered later. It returns no events: the queue
    service records its own."""

    remote: bool
    """Whether issue, the calls, recall and transfer wait for an answer from elsewhere."""

    def issue(
        self, business_type: str, at: Instant, priority: str | None = None
    ) -> tuple[Ticket, list[DomainEvent]]: ...
    def call_next(self, counter: int, at: Instant) -> tuple[Entry | None, list[DomainEvent]]: ...
    def call_specific(self, counter: int, number: str, at: Instant) -> tuple[Entry, list]: ...
    def recall(self, ticket_id: str, counter: int, at: Instant) -> list[DomainEvent]: ...
    def no_show(self, ticket_id: str, counter: int, at: Instant) -> list[DomainEvent]: ...
    def served(self, ticket_id: str, counter: int, at: Instant) -> list[DomainEvent]: ...
    def transfer(
        self,
        ticket_id: str,
        counter: int,
        at: Instant,
        *,
        to_business_type: str | None = None,
        to_counter: int | None = None,
    ) -> list[DomainEvent]: ...
    def tick(self, at: Instant) -> list[DomainEvent]: ...
    def new_day(self, at: Instant) -> list[DomainEvent]: ...
    def serves(self, counter: int) -> tuple[str, ...]: ...
    def candidates(self, counter: int, at: Instant) -> list[Entry]: ...
    def has_work_for(self, counter: int, at: Instant) -> int: ...
    def waiting(self, business_type: str | None = None) -> list[Entry]: ...
    def waiting_counts(self) -> dict[str, int]: ...


class Status(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    DONE = "done"
    NO_SHOW = "no_show"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass
class Entry:
    """A ticket's place in the queue. Transfers keep the number and the original issue time."""

    ticket: Ticket
    business_type: str
    queued_at: Instant
    status: Status = Status.WAITING
    counter: int | None = None
    target_counter: int | None = None
    escalated: bool = False
    wait_alerted: bool = False
    calls: int = 0
    leg_started: Instant | None = None  # ``queued_at`` on the queue's clock, if translated
    pos: int = 0  # the order the queue took it in (FIFO tie-break), kept across restarts

    @property
    def priority(self) -> bool:
        return self.ticket.priority is not None

    def waited_before(self, boot_ends: BootEnds | None = None) -> Duration:
        """The wait of this ticket's earlier legs: from its issue to this leg's queueing, both
        on the clock of the queue that issued it (exact unless that queue restarted between)."""
        queued = self.leg_started or self.queued_at
        return (boot_ends or BootEnds()).between(self.ticket.issued_at, queued)

    def info(self) -> ev.QueuedTicket:
        """The ticket as queue events carry it: its business type and queueing of this leg."""
        t = self.ticket
        return ev.QueuedTicket(
            id=t.id,
            number=t.number,
            business_type=self.business_type,
            priority=t.priority,
            business_day=t.business_day,
            serial=t.serial,
            issued_at=t.issued_at,
            queued_at=self.queued_at,
        )


@dataclass
class _CounterHistory:
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=RECENT_CALLS))


class BranchQueue:
    """Tickets of one branch. Pure: every method takes the instant and returns domain events."""

    remote = False

    def __init__(self, config: Config, boot_ends: BootEnds | None = None) -> None:
        self._config = config
        self.boot_ends = boot_ends if boot_ends is not None else BootEnds()
        self._limits = {bt.code: bt.wait_limit_s for bt in config.business_types}
        self._serves = {c.number: c.business_types for c in config.counters}
        self._issuer = TicketIssuer(
            {bt.code: bt.prefix for bt in config.business_types},
            config.queue.number_digits,
            config.device.timezone,
        )
        self._entries: dict[str, Entry] = {}
        self._order: list[str] = []  # ticket ids in issue order: FIFO tie-break
        self._history: dict[int, _CounterHistory] = {}
        self._too_long: set[str] = set()  # business types whose long-queue alert is raised
        self._next_pos = 0
        self._saved: dict[str, tuple] = {}  # entries as last saved (checkpoint_parts)

    # -- issuing -------------------------------------------------------------------------
    def issue(
        self, business_type: str, at: Instant, priority: str | None = None
    ) -> tuple[Ticket, list[DomainEvent]]:
        if business_type not in self._limits:
            raise QueueError(f"unknown business type {business_type!r}")
        if priority is not None and priority not in {p.code for p in self._config.priority_classes}:
            raise QueueError(f"unknown priority class {priority!r}")
        events = self.new_day(at)
        ticket = self._issuer.issue(business_type, priority, at)
        self._add(Entry(ticket, business_type, at))
        ahead = self.ahead_of(ticket.id)
        events.append(event(at, ev.TicketIssued(ticket=ticket.info(), ahead=ahead)))
        return ticket, events + self._watch_length(at)

    def _add(self, entry: Entry, pos: int | None = None) -> None:
        entry.pos = self._next_pos if pos is None else pos
        self._next_pos = max(self._next_pos, entry.pos + 1)
        self._entries[entry.ticket.id] = entry
        self._order.append(entry.ticket.id)

    @property
    def business_day(self) -> date | None:
        return self._issuer.business_day

    @property
    def quiet_changes(self) -> int:
        """Counts changes of state that came without an event (the day keeper's readings)."""
        return self._issuer.keeper.changes

    def new_day(self, at: Instant) -> list[DomainEvent]:
        """If a new business day has begun: tickets of earlier days still waiting leave the
        queue, on record (``ticket.expired`` with their wait), and ``queue.day_started``.

        Issuing and :meth:`tick` do this themselves; whoever calls a ticket asks first (the
        branch before every key press, the queue service before every request), so yesterday's
        ticket is never called, even before the first tick of the day."""
        before = self._issuer.business_day
        day = self._issuer.advance(at)
        if day is None or before is None:  # a new day, or the first reading ever: quietly
            return []
        events = []
        for entry in self.waiting():
            if entry.ticket.business_day < day:
                entry.status = Status.EXPIRED
                waited = round(self._waited(entry, at).seconds, 3)
                expired = ev.TicketExpired(ticket=entry.info(), reason="day_ended", waited_s=waited)
                events.append(event(at, expired))
        self._forget_finished()
        events.append(event(at, ev.QueueDayStarted(day=day)))
        return events

    def _forget_finished(self) -> None:
        live = [tid for tid in self._order if self._entries[tid].status in _LIVE]
        self._entries = {tid: self._entries[tid] for tid in live}
        self._order = live

    # -- reading -------------------------------------------------------------------------
    def entry(self, ticket_id: str) -> Entry:
        try:
            return self._entries[ticket_id]
        except KeyError:
            raise QueueError(f"no ticket {ticket_id!r} in the queue") from None

    def find(self, number: str) -> Entry | None:
        """The live entry with this ticket number (today's), if any."""
        for tid in reversed(self._order):
            entry = self._entries[tid]
            if entry.ticket.number == number and entry.status in _LIVE:
                return entry
        return None

    def waiting(self, business_type: str | None = None) -> list[Entry]:
        return [
            e
            for tid in self._order
            if (e := self._entries[tid]).status is Status.WAITING
            and (business_type is None or e.business_type == business_type)
        ]

    def waiting_counts(self) -> dict[str, int]:
        counts = {code: 0 for code in self._limits}
        for entry in self.waiting():
            counts[entry.business_type] = counts.get(entry.business_type, 0) + 1
        return counts

    def ahead_of(self, ticket_id: str) -> int:
        """How many tickets of the same business type wait ahead of this one."""
        entry = self.entry(ticket_id)
        same = self.waiting(entry.business_type)
        return next((i for i, e in enumerate(same) if e is entry), len(same))

    # -- calling -------------------------------------------------------------------------
    def _candidates(self, counter: int, at: Instant) -> list[Entry]:
        serves = self._serves[counter]
        waiting = [e for e in self.waiting() if e.business_type in serves or e.target_counter]
        directed = [e for e in waiting if e.target_counter == counter]
        if directed:
            return directed
        waiting = [e for e in waiting if e.target_counter is None]
        allowed = self._priority_allowed(counter)

        def fair(entry: Entry) -> bool:
            return allowed or not _jumps(entry, waiting)

        if self._config.queue.escalate_overdue:
            overdue = [e for e in waiting if self._overdue(e, at) and fair(e)]
            if overdue:
                return overdue
        ordinary = [e for e in waiting if not e.priority]
        priority = sorted(
            (e for e in waiting if e.priority), key=lambda e: serves.index(e.business_type)
        )
        if priority and (not ordinary or fair(priority[0])):
            return priority
        for code in serves:
            same = [e for e in ordinary if e.business_type == code]
            if same:
                return same
        return []

    def serves(self, counter: int) -> tuple[str, ...]:
        """The business types ``counter`` serves, in its order."""
        return self._serves[counter]

    def candidates(self, counter: int, at: Instant) -> list[Entry]:
        """The tickets the policy would choose ``call_next``'s ticket from, best first."""
        return self._candidates(counter, at) if counter in self._serves else []

    def has_work_for(self, counter: int, at: Instant) -> int:
        """How many tickets this counter could call now."""
        return len(self._candidates(counter, at)) if counter in self._serves else 0

    def _waited(self, entry: Entry, at: Instant):
        """How long the customer has been waiting in the branch (since the ticket's issue)."""
        return self.boot_ends.between(entry.ticket.issued_at, at)

    def _overdue(self, entry: Entry, at: Instant) -> bool:
        limit = self._limits.get(entry.business_type, math.inf)  # a type since removed: none
        return self._waited(entry, at).seconds > limit

    def _waiting_for(self, counter: int) -> list[Entry]:
        """The tickets waiting for any counter that serves what ``counter`` serves."""
        serves = self._serves[counter]
        return [e for e in self.waiting() if e.business_type in serves and e.target_counter is None]

    def _priority_allowed(self, counter: int) -> bool:
        """Whether a jump now keeps within ``priority_ratio`` (see the module doc)."""
        ratio = self._config.queue.priority_ratio
        before = list(self._history.get(counter, _CounterHistory()).recent)[1 - RECENT_CALLS :]
        cap = math.floor(ratio * RECENT_CALLS + 1e-9)
        return sum(before) < ratio * (len(before) + 1) and sum(before) + 1 <= cap

    def call_next(self, counter: int, at: Instant) -> tuple[Entry | None, list[DomainEvent]]:
        """Assign the next ticket to ``counter`` by the policy above; ``None`` if nobody waits."""
        self._check_counter(counter)
        candidates = self._candidates(counter, at)
        if not candidates:
            return None, []
        entry = candidates[0]
        events = []
        if self._overdue(entry, at) and not entry.escalated and self._config.queue.escalate_overdue:
            entry.escalated = True
            events.append(event(at, ev.TicketEscalated(ticket=entry.info())))
        return entry, events + self._assign(entry, counter, at, out_of_order=False)

    def call_specific(self, counter: int, number: str, at: Instant) -> tuple[Entry, list]:
        """A teller calls a chosen waiting ticket: allowed, but logged as out of order."""
        self._check_counter(counter)
        entry = self.find(number)
        if entry is None or entry.status is not Status.WAITING:
            raise QueueError(f"ticket {number} is not waiting")
        expected = self._candidates(counter, at)
        out_of_order = not expected or expected[0] is not entry
        return entry, self._assign(entry, counter, at, out_of_order=out_of_order)

    def _assign(self, entry: Entry, counter: int, at: Instant, out_of_order: bool) -> list:
        jumped = entry.target_counter is None and _jumps(entry, self._waiting_for(counter))
        entry.status, entry.counter, entry.target_counter = Status.CALLED, counter, None
        entry.calls = 1
        self._history.setdefault(counter, _CounterHistory()).recent.append(jumped)
        called = ev.TicketCalled(
            ticket=entry.info(), counter=counter, out_of_order=out_of_order, jumped=jumped
        )
        return [event(at, called)]

    def _check_counter(self, counter: int) -> None:
        if counter not in self._serves:
            raise QueueError(f"unknown counter {counter}")

    def _called_by(self, ticket_id: str, counter: int) -> Entry:
        entry = self.entry(ticket_id)
        if entry.status is not Status.CALLED or entry.counter != counter:
            raise QueueError(f"ticket {entry.ticket.number} is not with counter {counter}")
        return entry

    def recall(self, ticket_id: str, counter: int, at: Instant) -> list[DomainEvent]:
        entry = self._called_by(ticket_id, counter)
        entry.calls += 1
        recalled = ev.TicketRecalled(ticket=entry.info(), counter=counter, call=entry.calls)
        return [event(at, recalled)]

    # -- leaving the queue ---------------------------------------------------------------
    def no_show(self, ticket_id: str, counter: int, at: Instant) -> list[DomainEvent]:
        entry = self._called_by(ticket_id, counter)
        entry.status = Status.NO_SHOW
        self._forget_finished()
        return [event(at, ev.TicketNoShow(ticket=entry.info(), counter=counter))]

    def served(self, ticket_id: str, counter: int, at: Instant) -> list[DomainEvent]:
        entry = self._called_by(ticket_id, counter)
        entry.status = Status.DONE
        self._forget_finished()
        return [event(at, ev.TicketServed(ticket=entry.info(), counter=counter))]

    def transfer(
        self,
        ticket_id: str,
        counter: int,
        at: Instant,
        *,
        to_business_type: str | None = None,
        to_counter: int | None = None,
    ) -> list[DomainEvent]:
        """Send a called ticket back to the queue under another business type or counter.

        The ticket keeps its number; it queues from now on, ahead of tickets issued later.
        """
        if (to_business_type is None) == (to_counter is None):
            raise QueueError("transfer needs exactly one of a business type or a counter")
        if to_business_type is not None and to_business_type not in self._limits:
            raise QueueError(f"unknown business type {to_business_type!r}")
        if to_counter is not None:
            self._check_counter(to_counter)
            if to_counter == counter:
                raise QueueError("cannot transfer a ticket to its own counter")
        entry = self._called_by(ticket_id, counter)
        entry.status, entry.counter, entry.calls = Status.WAITING, None, 0
        entry.business_type = to_business_type or entry.business_type
        entry.target_counter = to_counter
        entry.queued_at, entry.escalated = at, False
        moved = ev.TicketTransferred(
            ticket=entry.info(),
            from_counter=counter,
            to_business_type=to_business_type,
            to_counter=to_counter,
        )
        return [event(at, moved)]

    def cancel(self, ticket_id: str, at: Instant, reason: str) -> list[DomainEvent]:
        """A waiting ticket that never reached its customer (e.g. the printer failed for good)."""
        entry = self.entry(ticket_id)
        if entry.status is not Status.WAITING:
            raise QueueError(f"ticket {entry.ticket.number} is not waiting")
        entry.status = Status.CANCELLED
        self._forget_finished()
        return [event(at, ev.TicketCancelled(ticket=entry.info(), reason=reason))]

    def _watch_length(self, at: Instant) -> list[DomainEvent]:
        """Raise the long-queue alert once per business type, re-armed at 80% of the limit."""
        limit = self._config.queue.long_queue_alert
        if limit <= 0:
            return []
        events = []
        for code, waiting in self.waiting_counts().items():
            if waiting > limit and code not in self._too_long:
                self._too_long.add(code)
                long = ev.QueueTooLong(business_type=code, waiting=waiting, limit=limit)
                events.append(event(at, long))
            elif waiting <= 0.8 * limit and code in self._too_long:
                self._too_long.discard(code)
                normal = ev.QueueBackToNormal(business_type=code, waiting=waiting, limit=limit)
                events.append(event(at, normal))
        return events

    # -- saving and restoring ---------------------------------------------------------------
    def to_state(self) -> dict:
        """Everything that decides what the queue does next, as plain JSON data."""
        return {"entries": [_entry_state(self._entries[t]) for t in self._order], **self._rest()}

    def _rest(self) -> dict:
        return {
            "issuer": self._issuer.to_state(),
            "recent_calls": {str(n): list(h.recent) for n, h in sorted(self._history.items())},
            "too_long": sorted(self._too_long),
            "next_pos": self._next_pos,
        }

    def checkpoint_parts(self) -> tuple[dict, dict[str, dict], tuple[str, ...]]:
        """What to save since the last call: the state without its tickets, the tickets that
        changed (by id, as in :meth:`to_state`) and the ids of those gone. Saving costs what
        changed, not what the queue holds."""
        now = {tid: _fingerprint(self._entries[tid]) for tid in self._order}
        changed = {
            tid: _entry_state(self._entries[tid])
            for tid, fp in now.items()
            if self._saved.get(tid) != fp
        }
        removed = tuple(tid for tid in self._saved if tid not in now)
        self._saved = now
        return self._rest(), changed, removed

    def load_state(self, state: dict) -> None:
        """Take back a state from :meth:`to_state` (after a restart)."""
        self._entries, self._order = {}, []
        for item in sorted(state["entries"], key=lambda item: item["pos"]):
            self._add(_entry_from_state(item), item["pos"])
        self._next_pos = state["next_pos"]
        self._issuer.load_state(state["issuer"])
        self._history = {
            int(n): _CounterHistory(deque(calls, maxlen=RECENT_CALLS))
            for n, calls in state["recent_calls"].items()
        }
        self._too_long = set(state["too_long"])
        self._saved = {tid: _fingerprint(self._entries[tid]) for tid in self._order}

    # -- time passing --------------------------------------------------------------------
    def tick(self, at: Instant) -> list[DomainEvent]:
        """A new business day; a wait-over-limit alert once for each ticket waiting past its
        limit (its wait in the branch, since issue)."""
        events = self.new_day(at)
        for entry in self.waiting():
            if not entry.wait_alerted and self._overdue(entry, at):
                entry.wait_alerted = True
                alert = ev.TicketWaitOverLimit(
                    ticket=entry.info(),
                    waited_s=round(self._waited(entry, at).seconds, 3),
                    leg_waited_s=round(self.boot_ends.between(entry.queued_at, at).seconds, 3),
                    limit_s=self._limits.get(entry.business_type),
                )
                events.append(event(at, alert))
        return events + self._watch_length(at)


_LIVE = (Status.WAITING, Status.CALLED)


def _entry_state(e: Entry) -> dict:
    return {
        "ticket": e.ticket.to_dict(),
        "business_type": e.business_type,
        "status": str(e.status),
        "counter": e.counter,
        "target": e.target_counter,
        "queued_at": e.queued_at.to_dict(),
        "escalated": e.escalated,
        "alerted": e.wait_alerted,
        "calls": e.calls,
        "pos": e.pos,
    }


def _jumps(entry: Entry, waiting: list[Entry]) -> bool:
    """Whether calling ``entry`` would put a priority ticket ahead of an earlier ordinary one."""
    return entry.priority and any(not e.priority and e.pos < entry.pos for e in waiting)


def _fingerprint(e: Entry) -> tuple:
    """Everything of an entry that can change (see :func:`_entry_state`)."""
    return (e.business_type, e.status, e.counter, e.target_counter, e.queued_at, e.escalated,
            e.wait_alerted, e.calls)  # fmt: skip


def _entry_from_state(item: dict) -> Entry:
    return Entry(
        Ticket.from_dict(item["ticket"]),
        item["business_type"],
        Instant.from_dict(item["queued_at"]),
        Status(item["status"]),
        item["counter"],
        item["target"],
        item["escalated"],
        item["alerted"],
        item["calls"],
    )


class QueueReplay:
    """Rebuilds a :class:`BranchQueue` from its own stored events (after a restart, from a store
    written before checkpoints)."""

    def __init__(self, queue: BranchQueue) -> None:
        self.q = queue

    def apply(self, at: Instant, p: ev.Payload | dict) -> None:
        q = self.q
        entry = q._entries.get(p.ticket.id) if isinstance(p, ev.QueueEvent) else None
        match p:
            case ev.TicketIssued():
                ticket = Ticket.from_info(p.ticket)
                q._issuer.restore(ticket)
                q._add(Entry(ticket, ticket.business_type, ticket.issued_at))
            case ev.QueueDayStarted():
                issuer = q._issuer
                if issuer.business_day is None or p.day > issuer.business_day:
                    day = p.day.isoformat()
                    issuer.load_state({**issuer.to_state(), "day": day, "serials": {}})
                    issuer.keeper.day = max(issuer.keeper.day or p.day, p.day)
            case ev.QueueTooLong():
                q._too_long.add(p.business_type)
            case ev.QueueBackToNormal():
                q._too_long.discard(p.business_type)
        if entry is None:
            return
        match p:
            case ev.TicketCalled():
                entry.status, entry.counter, entry.target_counter = Status.CALLED, p.counter, None
                entry.calls = 1
                q._history.setdefault(p.counter, _CounterHistory()).recent.append(p.jumped)
            case ev.TicketRecalled():
                entry.calls = p.call
            case ev.TicketTransferred():
                entry.status, entry.counter, entry.calls = Status.WAITING, None, 0
                entry.business_type = p.to_business_type or entry.business_type
                entry.target_counter = p.to_counter
                entry.queued_at, entry.escalated = at, False
            case ev.TicketEscalated():
                entry.escalated = True
            case ev.TicketWaitOverLimit():
                entry.wait_alerted = True
            case ev.TicketServed() | ev.TicketNoShow() | ev.TicketExpired() | ev.TicketCancelled():
                entry.status = _ENDS[type(p)]
                q._forget_finished()


_ENDS: dict[type, Status] = {
    ev.TicketServed: Status.DONE,
    ev.TicketNoShow: Status.NO_SHOW,
    ev.TicketExpired: Status.EXPIRED,
    ev.TicketCancelled: Status.CANCELLED,
}


def snapshot(queue: BranchQueue) -> dict:
    """The queue's state as plain data, for comparing a queue rebuilt from its events with the
    original: its :meth:`~BranchQueue.to_state` without the day keeper's clock readings (a replay
    of events cannot know the readings taken between them)."""
    state = queue.to_state()
    issuer = state["issuer"]
    numbered = bool(issuer["serials"])  # the first day begins without an event, until a ticket
    state["issuer"] = {"serials": issuer["serials"], "day": issuer["day"] if numbered else None}
    return state
