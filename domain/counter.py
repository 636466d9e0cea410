"""The counter session: one window's state machine, driven by the teller's keys and the pad.

::

    signed_out -sign_in-> idle -call-> called -start-> serving -finish-> awaiting_rating
    idle <-skip (过号) / transfer- called, serving
    idle <-rating accepted, or window over- awaiting_rating
    idle -pause(reason)-> paused -resume-> idle;  idle, paused -sign_out-> signed_out

``start_ticketless`` opens a transaction without a ticket (queue unavailable). Without the start
key, the service starts implicitly at the (last) call: ``finish`` or ``transfer`` from ``called``
measure it from there, and the live over-limit warning counts from there too. The rating prompt
opens on finish (or the teller's 请评价 key, which is the same action); one rating is accepted per
transaction, only within the rating window, and the teller cannot cut the window short: a call,
a ticketless service or a sign-out waits until the customer has rated or the window is over
(:meth:`CounterSession.rating_window_left`). Every rating press is answered with an outcome,
never silently dropped.

The session knows nothing of the queue; :mod:`domain.branch` couples the two.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from config.model import Config, Counter
from domain import events as ev
from domain.clock import BootEnds, Duration, Instant
from domain.events import DomainEvent, event
from domain.rating import REASON_WINDOW_S, bad_levels
from domain.tickets import Ticket
from domain.timing import Limits, Timeline, measure

DEFAULT_PAUSE_ALERT_S = 30 * 60


class State(StrEnum):
    SIGNED_OUT = "signed_out"
    IDLE = "idle"
    CALLED = "called"
    SERVING = "serving"
    AWAITING_RATING = "awaiting_rating"
    PAUSED = "paused"


class RatingOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    OUT_OF_WINDOW = "out_of_window"
    PAUSED = "paused"
    NO_TRANSACTION = "no_transaction"
    NOT_INVITED = "not_invited"
    INVALID_LEVEL = "invalid_level"


class ActionRejected(Exception):
    """A teller action that the counter's state does not allow."""

    def __init__(self, action: str, state: State, reason: str) -> None:
        super().__init__(f"{action} refused in state {state}: {reason}")
        self.action, self.state, self.reason = action, state, reason


@dataclass(frozen=True)
class Teller:
    staff_no: str
    name: str
    stars: int | None = None

    def to_dict(self) -> dict:
        return {"staff_no": self.staff_no, "name": self.name, "stars": self.stars}

    def info(self) -> ev.TellerInfo:
        return ev.TellerInfo(staff_no=self.staff_no, name=self.name, stars=self.stars)


@dataclass
class Transaction:
    """One service of one customer (or ticket) at this counter by one teller."""

    id: str
    counter: int
    teller: Teller
    business_type: str
    ticket: Ticket | None
    queued_at: Instant | None
    calls: list[Instant] = field(default_factory=list)
    started: Instant | None = None
    start_implicit: bool = False
    finished: Instant | None = None
    rated: Instant | None = None
    rating: int | None = None
    outcome: str | None = None  # served, no_show, transferred
    reason: int | None = None  # index of the reason given after a bad rating
    transferred: Instant | None = None
    waited_before: Duration | None = None  # the ticket's wait in earlier legs (transfers)
    band: int | None = None  # the amount band the teller chose (index into the type's bands)
    extension: int | None = None  # the extension reason recorded (index into the config's)
    raised_after_alert: bool = False  # the limit was raised after the over-limit warning

    def timeline(self) -> Timeline:
        return Timeline(
            queued=self.queued_at,
            called=self.calls[0] if self.calls else None,
            started=self.started,
            ended=self.finished or self.transferred,
            rated=self.rated,
            waited_before=self.waited_before,
        )

    def implicit_start(self) -> None:
        """No start key was pressed: the service started at the last call."""
        if self.started is None and self.calls:
            self.started, self.start_implicit = self.calls[-1], True

    def to_state(self) -> dict:
        def at(i: Instant | None) -> dict | None:
            return None if i is None else i.to_dict()

        before = self.waited_before
        return {
            "id": self.id,
            "counter": self.counter,
            "teller": self.teller.to_dict(),
            "business_type": self.business_type,
            "ticket": self.ticket.to_dict() if self.ticket else None,
            "queued_at": at(self.queued_at),
            "calls": [c.to_dict() for c in self.calls],
            "started": at(self.started),
            "start_implicit": self.start_implicit,
            "finished": at(self.finished),
            "rated": at(self.rated),
            "rating": self.rating,
            "outcome": self.outcome,
            "reason": self.reason,
            "transferred": at(self.transferred),
            "waited_before": None if before is None else [before.seconds, before.exact],
            "band": self.band,
            "extension": self.extension,
            "raised_after_alert": self.raised_after_alert,
        }

    @classmethod
    def from_state(cls, d: dict) -> Transaction:
        def at(v: dict | None) -> Instant | None:
            return None if v is None else Instant.from_dict(v)

        before = d["waited_before"]
        return cls(
            id=d["id"],
            counter=d["counter"],
            teller=Teller(**d["teller"]),
            business_type=d["business_type"],
            ticket=Ticket.from_dict(d["ticket"]) if d["ticket"] else None,
            queued_at=at(d["queued_at"]),
            calls=[Instant.from_dict(c) for c in d["calls"]],
            started=at(d["started"]),
            start_implicit=d["start_implicit"],
            finished=at(d["finished"]),
            rated=at(d["rated"]),
            rating=d["rating"],
            outcome=d["outcome"],
            reason=d["reason"],
            transferred=at(d["transferred"]),
            waited_before=None if before is None else Duration(float(before[0]), bool(before[1])),
            band=d["band"],
            extension=d["extension"],
            raised_after_alert=d["raised_after_alert"],
        )

    def ref(self) -> dict:
        return {
            "transaction_id": self.id,
            "counter": self.counter,
            "teller": self.teller.staff_no,
            "ticket": self.ticket.number if self.ticket else None,
            "ticket_id": self.ticket.id if self.ticket else None,
            "business_type": self.business_type,
        }


class CounterSession:
    """State of one counter. Each action takes the instant and returns the events it caused."""

    def __init__(
        self,
        config: Config,
        counter: Counter,
        pause_alert_s: float = DEFAULT_PAUSE_ALERT_S,
        boot_ends: BootEnds | None = None,
    ) -> None:
        self.config = config
        self.counter = counter
        self.pause_alert_s = pause_alert_s
        self.boot_ends = boot_ends if boot_ends is not None else BootEnds()
        self.state = State.SIGNED_OUT
        self.teller: Teller | None = None
        self.current: Transaction | None = None
        self.last_closed: Transaction | None = None
        self._prompt_opened: Instant | None = None
        self._service_alerted = False
        self._paused_at: Instant | None = None
        self._pause_reason: str | None = None
        self._pause_alerted = False

    # -- read-only state for screens ---------------------------------------------------------
    @property
    def prompt_opened(self) -> Instant | None:
        """When the open rating prompt opened (``None`` unless awaiting a rating)."""
        return self._prompt_opened

    @property
    def paused_at(self) -> Instant | None:
        return self._paused_at

    @property
    def pause_reason(self) -> str | None:
        return self._pause_reason if self.state is State.PAUSED else None

    # -- helpers ---------------------------------------------------------------------------
    def require(self, action: str, *states: State) -> None:
        """Raise :class:`ActionRejected` unless the counter is in one of ``states``."""
        self._require(action, *states)

    def _require(self, action: str, *states: State) -> None:
        if self.state not in states:
            allowed = ", ".join(states)
            raise ActionRejected(action, self.state, f"allowed only when {allowed}")

    def _limits(self, tx: Transaction) -> Limits:
        """The transaction's limits: its type's, the service limit of the amount band chosen,
        plus the extension recorded; none for a type the configuration no longer has."""
        try:
            bt = self.config.business_type(tx.business_type)
        except KeyError:
            return Limits(math.inf, math.inf)
        service = bt.service_limit_s
        if tx.band is not None and tx.band < len(bt.bands):
            service = bt.bands[tx.band].service_limit_s
        reasons = self.config.queue.extension_reasons
        if tx.extension is not None and tx.extension < len(reasons):
            service += reasons[tx.extension].add_s
        return Limits(bt.wait_limit_s, service)

    def service_limit_s(self) -> float | None:
        """The current transaction's service limit (internal: teller console only)."""
        if self.current is None:
            return None
        limit = self._limits(self.current).service_s
        return None if math.isinf(limit) else limit

    def service_elapsed(self, at: Instant) -> tuple[Duration, bool] | None:
        """How long the current service has run, and whether it counts from the call (no start
        key yet); ``None`` unless called or serving. The live warning and the record use it."""
        tx = self.current
        if self.state not in (State.CALLED, State.SERVING) or tx is None:
            return None
        implicit = tx.started is None
        start = tx.calls[-1] if implicit else tx.started
        assert start is not None
        return self.boot_ends.between(start, at), implicit

    def _event(self, kind: type[ev.CounterEvent], at: Instant, **fields) -> DomainEvent:
        """The event ``kind`` at this counter."""
        fields.setdefault("counter", self.counter.number)
        return event(at, kind(**fields))

    def _open(self, ticket: Ticket | None, business_type: str, queued_at: Instant | None):
        assert self.teller is not None
        self.current = Transaction(
            id=str(uuid.uuid4()),
            counter=self.counter.number,
            teller=self.teller,
            business_type=business_type,
            ticket=ticket,
            queued_at=queued_at,
        )
        self._service_alerted = False
        return self.current

    def _close(self, at: Instant, outcome: str) -> list[DomainEvent]:
        tx = self.current
        assert tx is not None
        tx.outcome = outcome
        limits = self._limits(tx)
        report = measure(tx.timeline(), limits, self.boot_ends)
        level = self.config.rating.level(tx.rating) if tx.rating is not None else None
        line = tx.timeline()
        closed = self._event(
            ev.TransactionClosed,
            at,
            **tx.ref(),
            teller_name=tx.teller.name,
            ticket_info=tx.ticket.info() if tx.ticket else None,
            outcome=outcome,
            calls=len(tx.calls),
            start_implicit=tx.start_implicit,
            rating=tx.rating,
            rating_label=level.label.zh if level else None,
            satisfied=level.satisfied if level else None,
            rating_status=self._rating_status(tx, outcome),
            timeline=ev.Timeline(
                queued=line.queued,
                called=line.called,
                started=line.started,
                ended=line.ended,
                rated=line.rated,
            ),
            **self._band_and_extension(tx),
            limits=ev.Limits(wait_s=_finite(limits.wait_s), service_s=_finite(limits.service_s)),
            **report.to_dict(),
        )
        self.last_closed, self.current = tx, None
        self._prompt_opened = None
        self.state = State.IDLE
        return [closed]

    def _band_and_extension(self, tx: Transaction) -> dict:
        band = name = reason = None
        with_bands = [bt for bt in self.config.business_types if bt.code == tx.business_type]
        if tx.band is not None and with_bands and tx.band < len(with_bands[0].bands):
            band, name = tx.band, with_bands[0].bands[tx.band].name.zh
        reasons = self.config.queue.extension_reasons
        if tx.extension is not None and tx.extension < len(reasons):
            reason = reasons[tx.extension].label.zh
        return {
            "band": band,
            "band_name": name,
            "extension": tx.extension,
            "extension_reason": reason,
            "limit_raised_after_alert": tx.raised_after_alert,  # for the centre to weigh
        }

    @staticmethod
    def _rating_status(tx: Transaction, outcome: str) -> str:
        if outcome != "served":
            return "not_invited"
        return "rated" if tx.rating is not None else "unrated"

    def end_prompt(self, at: Instant) -> list[DomainEvent]:
        """Leaving awaiting_rating by another action (only once the window is over, see
        :meth:`rating_window_left`) records the transaction as unrated."""
        if self.state is State.AWAITING_RATING:
            return self._close(at, "served")
        return []

    def rating_window_left(self, at: Instant) -> float:
        """Seconds the customer may still rate the finished transaction (0 if none open)."""
        if self.state is not State.AWAITING_RATING or not self._window_open(at):
            return 0.0
        assert self._prompt_opened is not None
        elapsed = self.boot_ends.between(self._prompt_opened, at).seconds
        return max(0.0, self.config.rating.window_s - elapsed)

    def require_window_over(self, action: str, at: Instant) -> None:
        """Refuse an action that would cut the customer's rating window short."""
        left = self.rating_window_left(at)
        if left > 0:
            raise ActionRejected(
                action,
                self.state,
                f"the customer may still rate for {math.ceil(left)} s: wait for the rating",
            )

    # -- signing in and out ----------------------------------------------------------------
    def sign_in(self, teller: Teller, at: Instant) -> list[DomainEvent]:
        self._require("sign_in", State.SIGNED_OUT)
        self.teller, self.state = teller, State.IDLE
        return [self._event(ev.CounterSignedIn, at, teller=teller.info())]

    def sign_out(self, at: Instant) -> list[DomainEvent]:
        self._require("sign_out", State.IDLE, State.PAUSED, State.AWAITING_RATING)
        self.require_window_over("sign_out", at)
        events = self.end_prompt(at)
        if self.state is State.PAUSED:
            events += self.resume(at)
        assert self.teller is not None
        events.append(self._event(ev.CounterSignedOut, at, teller=self.teller.info()))
        self.teller, self.state = None, State.SIGNED_OUT
        return events

    # -- calling -----------------------------------------------------------------------------
    def can_call(self) -> bool:
        return self.state in (State.IDLE, State.AWAITING_RATING)

    def call(
        self,
        ticket: Ticket,
        business_type: str,
        queued_at: Instant,
        at: Instant,
        waited_before: Duration | None = None,
    ):
        """Take ``ticket`` (already assigned to this counter by the queue) and call it.

        ``waited_before``: the ticket's wait in earlier legs (it was transferred here)."""
        self._require("call", State.IDLE, State.AWAITING_RATING)
        self.require_window_over("call", at)
        events = self.end_prompt(at)
        tx = self._open(ticket, business_type, queued_at)
        tx.calls.append(at)
        tx.waited_before = waited_before or Duration(0.0)
        self.state = State.CALLED
        called = self._event(
            ev.CounterCalled,
            at,
            **tx.ref(),
            ticket_info=ticket.info(),
            queued_at=queued_at,
            call=1,
            waited_before_s=tx.waited_before.seconds,
            waited_before_exact=tx.waited_before.exact,
        )
        return [*events, called]

    def check_recall(self) -> Transaction:
        """The called transaction, if it may be called again (else :class:`ActionRejected`)."""
        self._require("recall", State.CALLED)
        tx = self.current
        assert tx is not None
        limit = self.config.queue.recall_limit
        if len(tx.calls) > limit:
            raise ActionRejected("recall", self.state, f"recall limit of {limit} reached")
        return tx

    def recall(self, at: Instant) -> list[DomainEvent]:
        tx = self.check_recall()
        tx.calls.append(at)
        return [self._event(ev.CounterRecalled, at, **tx.ref(), call=len(tx.calls))]

    def skip(self, at: Instant) -> list[DomainEvent]:
        """The called customer did not come (过号)."""
        self._require("skip", State.CALLED)
        return self._close(at, "no_show")

    def transfer(self, at: Instant, to_business_type: str | None = None, to_counter=None):
        self._require("transfer", State.CALLED, State.SERVING)
        assert self.current is not None
        if self.current.ticket is None:
            raise ActionRejected("transfer", self.state, "a ticketless transaction has no ticket")
        self.current.implicit_start()
        self.current.transferred = at
        target = {"to_business_type": to_business_type, "to_counter": to_counter}
        events = [self._event(ev.CounterTransferred, at, **self.current.ref(), **target)]
        return events + self._close(at, "transferred")

    # -- serving -----------------------------------------------------------------------------
    def start(self, at: Instant) -> list[DomainEvent]:
        self._require("start", State.CALLED)
        assert self.current is not None
        self.current.started, self.state = at, State.SERVING
        self._service_alerted = False  # counted from here now, not from the call
        return [self._event(ev.ServiceStarted, at, **self.current.ref())]

    def start_ticketless(self, at: Instant, business_type: str | None = None):
        """Serve a customer without a ticket (no queue available, or a walk-in)."""
        self._require("start_ticketless", State.IDLE, State.AWAITING_RATING)
        self.require_window_over("start_ticketless", at)
        code = business_type or self.counter.business_types[0]
        if code not in {bt.code for bt in self.config.business_types}:
            raise ActionRejected("start_ticketless", self.state, f"unknown business type {code}")
        events = self.end_prompt(at)
        tx = self._open(None, code, None)
        tx.started, self.state = at, State.SERVING
        return [*events, self._event(ev.ServiceStarted, at, **tx.ref(), ticketless=True)]

    def finish(self, at: Instant) -> list[DomainEvent]:
        """End the service and open the rating prompt (also the 请评价 key)."""
        self._require("finish", State.CALLED, State.SERVING)
        tx = self.current
        assert tx is not None
        events = []
        tx.implicit_start()
        tx.finished, self._prompt_opened = at, at
        self.state = State.AWAITING_RATING
        window = self.config.rating.window_s
        events.append(self._event(ev.ServiceFinished, at, **tx.ref()))
        events.append(self._event(ev.RatingInvited, at, **tx.ref(), window_s=window))
        return events

    invite_rating = finish

    # -- rating --------------------------------------------------------------------------------
    def _window_open(self, at: Instant) -> bool:
        """Within the rating window; a prompt from before a reboot has expired (the wall clock
        of an RTC-less Pi cannot tell how long the power was off)."""
        assert self._prompt_opened is not None
        if self._prompt_opened.boot != at.boot:
            return False
        return at.mono - self._prompt_opened.mono <= self.config.rating.window_s

    def rate(self, value: int, at: Instant) -> list[DomainEvent]:
        """A customer pressed a rating key. Always answered with a ``rating.press`` event."""
        closed: list[DomainEvent] = []
        if self.state is State.AWAITING_RATING and not self._window_open(at):
            closed = self._close(at, "served")  # the window ran out before anyone ticked
        outcome, tx = self._judge(value, at)
        teller = self.teller.staff_no if self.teller is not None else None
        ref = tx.ref() if tx is not None else {"transaction_id": None, "teller": teller}
        press = self._event(ev.RatingPress, at, value=value, outcome=str(outcome), **ref)
        if outcome is not RatingOutcome.ACCEPTED:
            return [*closed, press]
        assert self.current is not None
        self.current.rating, self.current.rated = value, at
        return [press, *self._close(at, "served")]

    def _judge(self, value: int, at: Instant) -> tuple[RatingOutcome, Transaction | None]:
        last = self.last_closed
        if self.config.rating.level(value) is None:
            return RatingOutcome.INVALID_LEVEL, self.current
        if self.state is State.PAUSED:
            return RatingOutcome.PAUSED, None
        if self.state is State.AWAITING_RATING:
            return RatingOutcome.ACCEPTED, self.current
        if self.state in (State.CALLED, State.SERVING):
            return RatingOutcome.NOT_INVITED, self.current
        if last is not None and last.rating is not None:
            return RatingOutcome.DUPLICATE, last
        if last is not None and last.outcome == "served":
            return RatingOutcome.OUT_OF_WINDOW, last
        return RatingOutcome.NO_TRANSACTION, None

    def give_reason(self, index: int, at: Instant) -> list[DomainEvent]:
        """The customer taps a reason after a bad rating (once, shortly after rating)."""
        tx, reasons = self.last_closed, self.config.rating.bad_reasons
        if tx is None or tx.rating is None or tx.rating not in bad_levels(self.config.rating):
            raise ActionRejected("reason", self.state, "no bad rating to explain")
        if tx.reason is not None:
            raise ActionRejected("reason", self.state, "a reason was already given")
        assert tx.rated is not None
        if self.boot_ends.between(tx.rated, at).seconds > REASON_WINDOW_S:
            raise ActionRejected("reason", self.state, "too late for a reason")
        if not 0 <= index < len(reasons):
            raise ActionRejected("reason", self.state, f"no reason number {index}")
        tx.reason = index
        reason = reasons[index]
        return [
            self._event(
                ev.RatingReason,
                at,
                **tx.ref(),
                rating=tx.rating,
                reason=index,
                reason_zh=reason.zh,
                reason_en=reason.en,
            )
        ]

    # -- the service limit: amount band, extension ----------------------------------------------
    def choose_band(self, index: int, at: Instant) -> list[DomainEvent]:
        """The teller chooses the amount band of the service (e.g. cash over ¥100,000): its
        service limit applies from now on (the warning re-arms if the new limit is not reached)."""
        self._require("band", State.CALLED, State.SERVING)
        tx = self.current
        assert tx is not None
        bands = next(
            (bt.bands for bt in self.config.business_types if bt.code == tx.business_type), ()
        )
        if not bands:
            raise ActionRejected("band", self.state, f"{tx.business_type} has no amount bands")
        if not 0 <= index < len(bands):
            raise ActionRejected("band", self.state, f"no amount band number {index}")
        tx.band = index
        return [
            self._limit_changed(
                ev.ServiceBandChosen, at, band=index, band_name=bands[index].name.zh
            )
        ]

    def extend(self, index: int, at: Instant) -> list[DomainEvent]:
        """The teller records why this service takes longer; its extra time is added."""
        self._require("extend", State.CALLED, State.SERVING)
        tx = self.current
        assert tx is not None
        reasons = self.config.queue.extension_reasons
        if tx.extension is not None:
            raise ActionRejected("extend", self.state, "an extension reason was already recorded")
        if not 0 <= index < len(reasons):
            raise ActionRejected("extend", self.state, f"no extension reason number {index}")
        tx.extension = index
        reason = reasons[index]
        return [
            self._limit_changed(
                ev.ServiceExtended, at, reason=index, reason_zh=reason.label.zh, add_s=reason.add_s
            )
        ]

    def _limit_changed(self, kind: type[ev.TransactionEvent], at: Instant, **what) -> DomainEvent:
        """The band or the extension changed the limit; the record says if a warning came first
        (the band can be corrected, but not quietly: the centre sees it)."""
        tx = self.current
        assert tx is not None
        tx.raised_after_alert = tx.raised_after_alert or self._service_alerted
        limit = self._limits(tx).service_s
        running = self.service_elapsed(at)
        if running is not None and running[0].seconds <= limit:
            self._service_alerted = False  # within the new limit: warn again if it is passed
        return self._event(kind, at, **tx.ref(), **what, limit_s=_finite(limit))

    # -- pausing -------------------------------------------------------------------------------
    def pause(self, reason: str | int, at: Instant) -> list[DomainEvent]:
        """暂停服务: the teller leaves the window; a reason is required: the number of one of
        the configured pause reasons (from 0), or the teller's own words."""
        self._require("pause", State.IDLE)
        reasons = self.config.queue.pause_reasons
        index = None
        if isinstance(reason, int) and not isinstance(reason, bool):
            if not 0 <= reason < len(reasons):
                raise ActionRejected("pause", self.state, f"no pause reason number {reason}")
            index, reason = reason, reasons[reason].zh
        if not isinstance(reason, str) or not reason.strip():
            raise ActionRejected("pause", self.state, "a pause needs a reason")
        if index is None:
            index = next((i for i, r in enumerate(reasons) if reason in (r.zh, r.en)), None)
        self.state, self._paused_at, self._pause_reason = State.PAUSED, at, reason
        self._pause_alerted = False
        return [self._event(ev.CounterPaused, at, reason=reason, reason_index=index)]

    def resume(self, at: Instant) -> list[DomainEvent]:
        self._require("resume", State.PAUSED)
        assert self._paused_at is not None
        paused_s = self.boot_ends.between(self._paused_at, at).seconds
        over = paused_s > self.pause_alert_s
        self.state, self._paused_at = State.IDLE, None
        return [
            self._event(
                ev.CounterResumed,
                at,
                reason=self._pause_reason,
                paused_s=round(paused_s, 3),
                over_limit=over,
                teller=self.teller.staff_no if self.teller is not None else None,
            )
        ]

    # -- saving and restoring ------------------------------------------------------------------
    def to_state(self) -> dict:
        """Everything that decides what the session does next, as plain JSON data."""

        def at(i: Instant | None) -> dict | None:
            return None if i is None else i.to_dict()

        return {
            "state": str(self.state),
            "teller": self.teller.to_dict() if self.teller else None,
            "current": self.current.to_state() if self.current else None,
            "last_closed": self.last_closed.to_state() if self.last_closed else None,
            "prompt": at(self._prompt_opened),
            "service_alerted": self._service_alerted,
            "paused_at": at(self._paused_at),
            "pause_reason": self._pause_reason,
            "pause_alerted": self._pause_alerted,
        }

    def load_state(self, d: dict) -> None:
        """Take back a state from :meth:`to_state` (after a restart)."""

        def at(v: dict | None) -> Instant | None:
            return None if v is None else Instant.from_dict(v)

        self.state = State(d["state"])
        self.teller = Teller(**d["teller"]) if d["teller"] else None
        self.current = Transaction.from_state(d["current"]) if d["current"] else None
        self.last_closed = Transaction.from_state(d["last_closed"]) if d["last_closed"] else None
        self._prompt_opened = at(d["prompt"])
        self._service_alerted = d["service_alerted"]
        self._paused_at = at(d["paused_at"])
        self._pause_reason = d["pause_reason"]
        self._pause_alerted = d["pause_alerted"]

    # -- time passing --------------------------------------------------------------------------
    def tick(self, at: Instant) -> list[DomainEvent]:
        """Close an expired rating window; warn once when a service or a pause runs too long."""
        if self.state is State.AWAITING_RATING and not self._window_open(at):
            return self._close(at, "served")
        tx = self.current
        running = self.service_elapsed(at)
        if running is not None and tx is not None and not self._service_alerted:
            elapsed, implicit = running
            limit = self._limits(tx).service_s
            if elapsed.seconds > limit:
                self._service_alerted = True
                return [
                    self._event(
                        ev.ServiceOverLimit,
                        at,
                        **tx.ref(),
                        elapsed_s=round(elapsed.seconds, 3),
                        limit_s=limit,
                        implicit_start=implicit,
                        exact=elapsed.exact,
                    )
                ]
        if self.state is State.PAUSED and not self._pause_alerted:
            assert self._paused_at is not None
            if self.boot_ends.between(self._paused_at, at).seconds > self.pause_alert_s:
                self._pause_alerted = True
                return [self._event(ev.PauseOverLimit, at, reason=self._pause_reason)]
        return []


def _finite(limit: float) -> float | None:
    """A limit as stored: ``None`` for none (a business type the configuration dropped)."""
    return None if math.isinf(limit) else limit


class SessionReplay:
    """Rebuilds a :class:`CounterSession` from its own stored events (after a restart, from a
    store written before checkpoints)."""

    def __init__(self, session: CounterSession) -> None:
        self.s = session

    def _tx(self, p: ev.TransactionEvent, ticket: Ticket | None, queued: Instant | None):
        s = self.s
        if s.teller is None:  # signed in before the replayed stretch: known by staff number
            name = p.teller_name if isinstance(p, ev.TransactionClosed) else ""
            s.teller = Teller(p.teller, name or p.teller)
        s.current = Transaction(
            p.transaction_id, s.counter.number, s.teller, p.business_type, ticket, queued
        )
        s._service_alerted = False
        return s.current

    def apply(self, at: Instant, p: ev.Payload | dict) -> None:
        s, tx = self.s, self.s.current
        match p:
            case ev.CounterSignedIn():
                s.teller, s.state = (
                    Teller(p.teller.staff_no, p.teller.name, p.teller.stars),
                    State.IDLE,
                )
            case ev.CounterSignedOut():
                s.teller, s.state, s.current = None, State.SIGNED_OUT, None
            case ev.CounterCalled():
                tx = self._tx(p, Ticket.from_info(p.ticket_info), p.queued_at)
                tx.calls.append(at)
                tx.waited_before = Duration(p.waited_before_s, p.waited_before_exact)
                s.state = State.CALLED
            case ev.CounterRecalled() if tx is not None:
                tx.calls.append(at)
            case ev.ServiceStarted():
                tx = self._tx(p, None, None) if p.ticketless else tx
                if tx is not None:
                    tx.started, s.state = at, State.SERVING
                    s._service_alerted = False
            case ev.ServiceFinished() if tx is not None:
                tx.implicit_start()
                tx.finished, s._prompt_opened = at, at
                s.state = State.AWAITING_RATING
            case ev.ServiceBandChosen() if tx is not None:
                tx.band = p.band
                self._limit_changed(at)
            case ev.ServiceExtended() if tx is not None:
                tx.extension = p.reason
                self._limit_changed(at)
            case ev.CounterTransferred() if tx is not None:
                tx.implicit_start()
                tx.transferred = at
            case ev.RatingPress() if p.outcome == RatingOutcome.ACCEPTED and tx is not None:
                tx.rating, tx.rated = p.value, at
            case ev.TransactionClosed():
                if tx is not None and tx.id == p.transaction_id:
                    tx.outcome = p.outcome
                    s.last_closed = tx
                s.current, s._prompt_opened, s.state = None, None, State.IDLE
            case ev.RatingReason():
                if s.last_closed is not None and s.last_closed.id == p.transaction_id:
                    s.last_closed.reason = p.reason
            case ev.ServiceOverLimit():
                s._service_alerted = True
            case ev.CounterPaused():
                s.state, s._paused_at, s._pause_reason = State.PAUSED, at, p.reason
                s._pause_alerted = False
            case ev.PauseOverLimit():
                s._pause_alerted = True
            case ev.CounterResumed():
                s.state, s._paused_at = State.IDLE, None

    def _limit_changed(self, at: Instant) -> None:
        s, tx = self.s, self.s.current
        if tx is None:
            return
        tx.raised_after_alert = tx.raised_after_alert or s._service_alerted
        running = s.service_elapsed(at)
        if running is not None:
            s._service_alerted = s._service_alerted and running[0].seconds > s._limits(tx).service_s


def snapshot(session: CounterSession) -> dict:
    """The session as plain data, for comparing a restored session with the original."""
    return session.to_state()
