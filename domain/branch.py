"""A branch as the teller's keys see it: the queue and every counter session, kept consistent.

:class:`Branch` turns a key press at a counter into the queue operation and the session transition
it means, in an order that leaves both untouched when either refuses. A refused press becomes an
``action.rejected`` event with the reason, so nothing a teller does goes unrecorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from config.business import WEEKDAYS
from config.model import Config
from domain import events as ev
from domain.clock import BootEnds, Instant
from domain.counter import ActionRejected, CounterSession, SessionReplay, State, Teller
from domain.counter import snapshot as session_snapshot
from domain.events import DomainEvent, event
from domain.queue import BranchQueue, QueueError, QueuePort, QueueReplay, QueueUnavailable
from domain.queue import snapshot as queue_snapshot

DEFAULT_IDLE_ALERT_S = 60.0


@dataclass(frozen=True)
class IdleSpell:
    """A counter idle while customers wait for it (闲置叫号): since when (restarted at a new
    boot), whether its alert went out, the idle time the alert reported on this boot (0 when it
    went out on an earlier one), the teller then, and the monotonic time it ends by: the
    branch's closing time (tickets still waiting after closing are the day's no-shows, not a
    teller's idleness); ``over`` once it ended there, until nobody waits."""

    since: Instant
    alerted: bool = False
    reported_s: float = 0.0
    teller: str | None = None
    ends_mono: float = float("inf")
    over: bool = False

    def to_state(self) -> list:
        ends = None if self.ends_mono == float("inf") else self.ends_mono
        return [self.since.to_dict(), self.alerted, self.reported_s, self.teller, ends, self.over]

    @classmethod
    def from_state(cls, state: list, idle_alert_s: float) -> IdleSpell:
        if len(state) == 2:  # an older release: [since, alerted]
            return cls(Instant.from_dict(state[0]), state[1], idle_alert_s if state[1] else 0.0)
        since, alerted, reported_s, teller, ends, over = state
        ends_mono = float("inf") if ends is None else float(ends)
        return cls(Instant.from_dict(since), alerted, reported_s, teller, ends_mono, over)


def closing_mono(config: Config, at: Instant) -> float:
    """The monotonic time of the branch's closing on ``at``'s local day (``at`` itself if the
    branch is closed that day or already closed)."""
    zone = ZoneInfo(config.device.timezone)
    local = at.wall.astimezone(zone)
    spans = config.hours.get(WEEKDAYS[local.weekday()], ())
    if not spans:
        return at.mono
    closing = datetime.combine(local.date(), max(s.end for s in spans), zone)
    return at.mono + max(0.0, (closing - local).total_seconds())


class Key(StrEnum):
    """Every teller key, plus the pad's rating keys (``RATE`` with the level as argument)."""

    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    CALL_NEXT = "call_next"
    CALL_TICKET = "call_ticket"
    RECALL = "recall"
    SKIP = "skip"
    TRANSFER = "transfer"
    START = "start"
    FINISH = "finish"
    INVITE_RATING = "invite_rating"
    TICKETLESS = "ticketless"
    PAUSE = "pause"
    RESUME = "resume"
    RATE = "rate"
    REASON = "reason"
    BAND = "band"  # the amount band of the service (its number, from 0)
    EXTEND = "extend"  # why the service takes longer (the extension reason's number, from 0)


class Branch:
    """The queue and the counters of one branch (or of one all-in-one Pi)."""

    def __init__(
        self, config: Config, counters: list[int] | None = None, queue: QueuePort | None = None
    ) -> None:
        self.config = config
        self.boot_ends = BootEnds()
        self.queue: QueuePort = queue if queue is not None else BranchQueue(config, self.boot_ends)
        numbers = counters if counters is not None else [c.number for c in config.counters]
        self.sessions = {
            n: CounterSession(config, config.counter(n), boot_ends=self.boot_ends) for n in numbers
        }
        self.idle_alert_s = DEFAULT_IDLE_ALERT_S
        self._idle: dict[int, IdleSpell] = {}
        self._idle_changes = 0

    @property
    def quiet_changes(self) -> int:
        """Counts changes of state that came without an event (readings of the clock by the
        idle watch and the day keeper): :meth:`to_state` is worth saving when it moves."""
        local = self.local_queue
        return self._idle_changes + (local.quiet_changes if local is not None else 0)

    @property
    def local_queue(self) -> BranchQueue | None:
        """The queue, if this branch keeps it itself (not a remote queue service)."""
        return self.queue if isinstance(self.queue, BranchQueue) else None

    @classmethod
    def restored(
        cls,
        config: Config,
        events: Iterable,
        counters: list[int] | None = None,
        queue: QueuePort | None = None,
    ) -> Branch:
        """A branch rebuilt from its stored events, oldest first (after a restart or power cut).

        ``events`` are :class:`~domain.events.DomainEvent` or stored events (anything with
        ``type``, ``at`` and ``payload``). A remote ``queue`` keeps its own state; a local one is
        rebuilt from the same events.
        """
        branch = cls(config, counters, queue)
        branch.replay(events)
        return branch

    def replay(self, events: Iterable) -> int:
        """Apply stored events to this branch, oldest first; returns how many were read."""
        local = self.local_queue
        replay_queue = QueueReplay(local) if local is not None else None
        sessions = {n: SessionReplay(s) for n, s in self.sessions.items()}
        count = 0
        for stored in events:
            count += 1
            if replay_queue is not None:
                replay_queue.apply(stored.at, stored.payload)
            counter: int | None = getattr(stored.payload, "counter", None)
            replay = None if counter is None else sessions.get(counter)
            if replay is not None:
                replay.apply(stored.at, stored.payload)
        return count

    def snapshot(self) -> dict:
        """What its events say of the branch, as plain data (for comparing a branch rebuilt
        from events with the original): :meth:`to_state` without the readings of the clock
        taken between events (the day keeper's, the idle watch's)."""
        local = self.local_queue
        return {
            "queue": queue_snapshot(local) if local is not None else None,
            "sessions": {n: session_snapshot(s) for n, s in self.sessions.items()},
        }

    def to_state(self) -> dict:
        """Everything that decides what happens next, as plain JSON data: stored with the
        events (:class:`~device.app.DeviceApp`) so a restart rebuilds exactly this state."""
        local = self.local_queue
        return self._state(local.to_state() if local is not None else None)

    def checkpoint(self) -> tuple[dict, dict[str, dict], tuple[str, ...]]:
        """:meth:`to_state` in the parts a checkpoint saves: the state without the queue's
        tickets, the tickets changed since the last call, the ids of those gone."""
        local = self.local_queue
        if local is None:
            return self._state(None), {}, ()
        rest, changed, removed = local.checkpoint_parts()
        return self._state(rest), changed, removed

    def _state(self, queue: dict | None) -> dict:
        return {
            "queue": queue,
            "sessions": {str(n): s.to_state() for n, s in self.sessions.items()},
            "idle": {str(n): spell.to_state() for n, spell in self._idle.items()},
            "boot_ends": self.boot_ends.to_state(),
        }

    @classmethod
    def from_state(
        cls,
        config: Config,
        state: dict,
        counters: list[int] | None = None,
        queue: QueuePort | None = None,
        tickets: dict[str, dict] | None = None,
    ) -> Branch:
        """The branch of :meth:`to_state` again (or of :meth:`checkpoint`, with its
        ``tickets``). Counters no longer configured are left out, new ones start signed out; a
        remote ``queue`` keeps its own state."""
        branch = cls(config, counters, queue)
        branch.boot_ends = BootEnds.from_state(state["boot_ends"])
        local = branch.local_queue
        if local is not None:
            local.boot_ends = branch.boot_ends
            if state["queue"] is not None:
                saved = state["queue"]
                if tickets is not None:  # a checkpoint keeps its tickets apart
                    saved = {**saved, "entries": list(tickets.values())}
                local.load_state(saved)
        for n, session in branch.sessions.items():
            session.boot_ends = branch.boot_ends
            if str(n) in state["sessions"]:
                session.load_state(state["sessions"][str(n)])
        branch._idle = {
            int(n): IdleSpell.from_state(spell, branch.idle_alert_s)
            for n, spell in state["idle"].items()
            if int(n) in branch.sessions
        }
        return branch

    def issue(self, business_type: str, at: Instant, priority: str | None = None):
        """Issue a ticket at the kiosk; returns the ticket and the events."""
        return self.queue.issue(business_type, at, priority)

    def press(self, counter: int, key: Key | str, at: Instant, arg=None) -> list[DomainEvent]:
        """Apply one key press at ``counter``; a refusal is returned as ``action.rejected``."""
        key = Key(key)
        try:
            session = self.sessions[counter]
        except KeyError:
            return [_rejected(counter, key, at, f"counter {counter} is not part of this branch")]
        day = self.queue.new_day(at)  # a new business day first: yesterday's tickets expire
        try:
            done = getattr(self, f"_{key.value}")(session, at, arg)
            return day + done + (self._watch_idle(session, at) if counter in self._idle else [])
        except (ActionRejected, QueueError) as exc:
            reason = exc.reason if isinstance(exc, ActionRejected) else str(exc)
            extra = {"queue_unavailable": True} if isinstance(exc, QueueUnavailable) else {}
            return [*day, _rejected(counter, key, at, reason, state=str(session.state), **extra)]

    def tick(self, at: Instant) -> list[DomainEvent]:
        """Time passes: rating windows close, over-limit alerts, idle counters with a queue."""
        events = self.queue.tick(at)
        for session in self.sessions.values():
            events += session.tick(at)
            events += self._watch_idle(session, at)
        return events

    def _watch_idle(self, s: CounterSession, at: Instant) -> list[DomainEvent]:
        """Flag a signed-in counter that stays idle while customers wait for it (闲置叫号)."""
        n = s.counter.number
        waiting = self.queue.has_work_for(n, at) if s.state is State.IDLE else 0
        spell = self._idle.get(n)
        if not waiting or (spell is not None and not spell.over and at.mono >= spell.ends_mono
                           and spell.since.boot == at.boot):  # fmt: skip
            if spell is None:
                return []
            self._idle_changes += 1
            if waiting:  # closing time: the spell ends there; watched again once nobody waits
                self._idle[n] = replace(spell, over=True)
            else:
                del self._idle[n]
            if spell.over or not spell.alerted or spell.since.boot != at.boot:
                return []  # a spell cut by a power cut is counted up to its alert only
            whole = round(min(at.mono, spell.ends_mono) - spell.since.mono, 3)
            after = round(max(0.0, whole - spell.reported_s), 3)
            done = ev.CounterIdleEnded(counter=n, idle_s=whole, after_alert_s=after,
                                       teller=spell.teller)  # fmt: skip
            return [event(at, done)]
        if spell is None or spell.since.boot != at.boot:  # (again) from now, after a power cut
            ends = closing_mono(self.config, at)
            spell = (
                IdleSpell(at, ends_mono=ends) if spell is None
                else replace(spell, since=at, reported_s=0.0, ends_mono=ends)
            )  # fmt: skip
            self._idle[n] = spell
            self._idle_changes += 1
        idle_s = at.mono - spell.since.mono
        if spell.over or spell.alerted or idle_s <= self.idle_alert_s or at.mono >= spell.ends_mono:
            return []
        teller = s.teller.staff_no if s.teller is not None else None
        self._idle[n] = replace(spell, alerted=True, reported_s=round(idle_s, 3), teller=teller)
        self._idle_changes += 1
        idle = ev.CounterIdleWithQueue(
            counter=n, idle_s=round(idle_s, 3), waiting=waiting, teller=teller
        )
        return [event(at, idle)]

    # -- key handlers: check, then change the queue, then the session ---------------------
    def _sign_in(self, s: CounterSession, at: Instant, teller: Teller | str):
        """Sign in a teller (or a staff number); with a roster, only its members, as it has them."""
        staff_no = teller.staff_no if isinstance(teller, Teller) else teller
        if not isinstance(staff_no, str) or not staff_no:
            raise ActionRejected("sign_in", s.state, "sign in needs a teller")
        if self.config.roster:
            member = self.config.staff(staff_no)
            if member is None:
                raise ActionRejected(
                    "sign_in", s.state, f"staff number {staff_no} is not on the roster"
                )
            teller = Teller(member.staff_no, member.name, member.stars)
        elif not isinstance(teller, Teller):
            teller = Teller(staff_no, staff_no)
        return s.sign_in(teller, at)

    def _sign_out(self, s: CounterSession, at: Instant, _):
        return s.sign_out(at)

    def _call_next(self, s: CounterSession, at: Instant, _):
        if not s.can_call():
            raise ActionRejected("call_next", s.state, "finish the current customer first")
        s.require_window_over("call_next", at)  # before the queue hands out a ticket
        entry, events = self.queue.call_next(s.counter.number, at)
        if entry is None:
            raise ActionRejected("call_next", s.state, "nobody is waiting")
        return self._take(s, entry, at, events)

    def _call_ticket(self, s: CounterSession, at: Instant, number: str):
        if not s.can_call():
            raise ActionRejected("call_ticket", s.state, "finish the current customer first")
        s.require_window_over("call_ticket", at)
        entry, events = self.queue.call_specific(s.counter.number, str(number), at)
        return self._take(s, entry, at, events)

    def _take(self, s: CounterSession, entry, at: Instant, events: list) -> list[DomainEvent]:
        """The session calls the ticket the queue has just assigned to it."""
        before = entry.waited_before(self.boot_ends)
        events = s.end_prompt(at) + events
        return events + s.call(entry.ticket, entry.business_type, entry.queued_at, at, before)

    def _recall(self, s: CounterSession, at: Instant, _):
        tx = s.check_recall()
        assert tx.ticket is not None
        queue_events = self.queue.recall(tx.ticket.id, s.counter.number, at)  # may be unreachable
        return s.recall(at) + queue_events

    def _skip(self, s: CounterSession, at: Instant, _):
        s.require("skip", State.CALLED)
        assert s.current is not None and s.current.ticket is not None
        queue_events = self.queue.no_show(s.current.ticket.id, s.counter.number, at)
        return s.skip(at) + queue_events

    def _transfer(self, s: CounterSession, at: Instant, target):
        """``target``: a business type code (str) or a counter number (int)."""
        ticket = s.current.ticket if s.current else None
        if s.state not in (State.CALLED, State.SERVING) or ticket is None:
            raise ActionRejected("transfer", s.state, "no ticket at this counter to transfer")
        to_type = target if isinstance(target, str) else None
        to_counter = target if isinstance(target, int) else None
        events = self.queue.transfer(
            ticket.id, s.counter.number, at, to_business_type=to_type, to_counter=to_counter
        )
        return events + s.transfer(at, to_type, to_counter)

    def _start(self, s: CounterSession, at: Instant, _):
        return s.start(at)

    def _finish(self, s: CounterSession, at: Instant, _):
        s.require("finish", State.CALLED, State.SERVING)
        ticket = s.current.ticket if s.current else None
        queue_events = [] if ticket is None else self.queue.served(ticket.id, s.counter.number, at)
        return s.finish(at) + queue_events

    _invite_rating = _finish

    def _ticketless(self, s: CounterSession, at: Instant, business_type: str | None):
        if business_type is not None and not isinstance(business_type, str):
            raise ActionRejected("ticketless", s.state, f"not a business type: {business_type!r}")
        return s.start_ticketless(at, business_type)

    def _pause(self, s: CounterSession, at: Instant, reason: str | int | None):
        return s.pause("" if reason is None else reason, at)

    def _band(self, s: CounterSession, at: Instant, index: int):
        return s.choose_band(_number("band", s, index), at)

    def _extend(self, s: CounterSession, at: Instant, index: int):
        return s.extend(_number("extend", s, index), at)

    def _resume(self, s: CounterSession, at: Instant, _):
        return s.resume(at)

    def _rate(self, s: CounterSession, at: Instant, value: int):
        return s.rate(_number("rate", s, value), at)

    def _reason(self, s: CounterSession, at: Instant, index: int):
        return s.give_reason(_number("reason", s, index), at)


def _number(key: str, s: CounterSession, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ActionRejected(key, s.state, f"needs a number, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ActionRejected(key, s.state, f"needs a number, got {value!r}") from None


def _rejected(counter: int, key: Key, at: Instant, reason: str, **extra) -> DomainEvent:
    return event(at, ev.ActionRejected(counter=counter, key=str(key), reason=reason, **extra))
