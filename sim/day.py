"""A branch's business day acted out by simulated customers and tellers through a :class:`Port`.

:meth:`BranchDay.step` is called again and again with the simulated time; each teller is a small
state machine that acts when its next moment is due, answers to what the counter says back, and
writes what it caused to the :class:`~sim.truth.TruthLog`. Customers arrive until ``close``;
then the tellers serve everyone still waiting and sign out.

With the queue service unreachable (a counter offline) a teller serves walk-in customers without
a ticket, as the console tells it to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from config.model import Config
from sim.model import Behaviour, Customer
from sim.ports import Port
from sim.truth import TruthLog

NAMES = ("王芳", "李强", "张敏", "陈静", "刘洋", "赵磊", "孙丽", "周杰")
IDLE_LOOK_S = 5.0  # an idle teller looks at the queue this often
RECALL_S = 30.0  # a called customer who does not come is recalled, then skipped, after this

WINDOW_MARGIN_S = 3.0
"""A rating pressed at least this long before its window closes must be accepted (the
simulation's steps and the apps' ticks are shorter)."""


@dataclass
class Waiting:
    ticket: str
    business_type: str
    customer: Customer


@dataclass
class TellerAgent:
    counter: int
    staff_no: str
    name: str
    serves: tuple[str, ...]
    phase: str = "out"  # out, idle, called, serving, rating, paused, done
    due: datetime | None = None
    customer: Customer | None = None
    ticket: str | None = None
    business_type: str | None = None
    transaction: str | None = None
    recalls: int = 0
    idle_since: datetime | None = None
    leftovers: bool = False  # tickets of an earlier run may wait for this counter
    in_window: bool = False  # the customer's rating press is due well inside the window


class BranchDay:
    """Customers and tellers of branch ``branch`` from ``opening`` to ``close``."""

    def __init__(
        self,
        branch: str,
        config: Config,
        port: Port,
        behaviour: Behaviour,
        truth: TruthLog,
        *,
        opening: datetime,
        close: datetime,
        staff_prefix: str = "1",
        say: Callable[[str], None] | None = None,
        resumed: bool = False,
    ) -> None:
        """``resumed``: an earlier run of this branch may have left tickets waiting (the tellers
        then also call the tickets their consoles show, not only those this run issued)."""
        self.branch, self.config, self.port, self.people = branch, config, port, behaviour
        self.truth, self.opening, self.close = truth, opening, close
        self.say = say or (lambda _text: None)
        self.window_s = float(config.rating.window_s)
        self.limits = {bt.code: bt.service_limit_s for bt in config.business_types}
        self.tellers = [
            TellerAgent(
                c.number,
                f"{staff_prefix}{c.number:02d}",
                NAMES[(c.number - 1) % len(NAMES)],
                tuple(c.business_types),
                leftovers=resumed,
            )
            for c in config.counters
        ]
        self.waiting: list[Waiting] = []
        self.next_arrival = opening
        self.issued = self.served = self.rated = 0

    # -- the day ---------------------------------------------------------------------------
    def done(self) -> bool:
        return all(t.phase == "done" for t in self.tellers)

    def step(self, now: datetime) -> None:
        """Everything due by ``now``."""
        while now < self.close and self.next_arrival <= now:
            self._arrive(self.next_arrival)
        for teller in self.tellers:
            if teller.due is None or teller.due <= now:
                self._act(teller, now)

    def _arrive(self, at: datetime) -> None:
        customer = self.people.customer()
        ticket = self.port.issue(customer.business_type)
        if ticket is not None:
            self.issued += 1
            self.waiting.append(Waiting(ticket, customer.business_type, customer))
            self.truth.write("issued", self.branch, at, ticket=ticket,
                             business_type=customer.business_type)  # fmt: skip
        local = at.astimezone(self.opening.tzinfo)
        self.next_arrival = at + timedelta(seconds=self.people.next_arrival_in(local))

    # -- a teller --------------------------------------------------------------------------
    def _later(self, teller: TellerAgent, now: datetime, seconds: float) -> None:
        teller.due = now + timedelta(seconds=seconds)

    def _act(self, teller: TellerAgent, now: datetime) -> None:
        act = getattr(self, f"_{teller.phase}", None)
        if act is not None:
            act(teller, now)

    def _out(self, t: TellerAgent, now: datetime) -> None:
        """Sign in; a counter left mid-way by an earlier run is first brought back to idle."""
        session = self.port.state(t.counter).get("session") or {}
        state = session.get("state")
        if state in ("called", "serving", "awaiting_rating"):  # an earlier run's customer
            t.ticket, t.business_type = session.get("ticket"), session.get("business_type")
            t.transaction = session.get("transaction")
            t.customer = Customer(t.business_type or "", False, None, None)
            if state != "awaiting_rating" and not self.port.press(t.counter, "finish").get("ok"):
                self._later(t, now, IDLE_LOOK_S)
                return
            t.phase = "rating"
            self._later(t, now, self.window_s)
            return
        if state == "paused":
            self.port.press(t.counter, "resume")
        elif state == "signed_out":
            who = {"staff_no": t.staff_no, "name": t.name, "stars": None}
            if not self.port.press(t.counter, "sign_in", who).get("ok"):
                self._later(t, now, IDLE_LOOK_S)
                return
            self.say(f"counter {t.counter}: {t.name} signed in")
        elif state != "idle":  # the app is not answering yet
            self._later(t, now, IDLE_LOOK_S)
            return
        t.phase, t.idle_since = "idle", now
        self._later(t, now, 1.0)

    def _idle(self, t: TellerAgent, now: datetime) -> None:
        mine = [w for w in self.waiting if w.business_type in t.serves]
        if not mine and t.leftovers:
            counts = (self.port.state(t.counter).get("session") or {}).get("waiting") or {}
            t.leftovers = any(counts.get(code, 0) for code in t.serves)
        if not mine and not t.leftovers:
            if now >= self.close and not self.waiting and not self._transfers_possible():
                self.port.press(t.counter, "sign_out")
                t.phase, t.due = "done", None
                self.say(f"counter {t.counter}: {t.name} signed out")
                return
            idle_s = (now - (t.idle_since or now)).total_seconds()
            if now < self.close and self.people.pauses_now(min(idle_s, IDLE_LOOK_S)):
                reason, length = self.people.pause()
                if self.port.press(t.counter, "pause", reason).get("ok"):
                    t.phase = "paused"
                    self.truth.write("pause", self.branch, now, counter=t.counter,
                                     teller=t.staff_no, reason=reason, seconds=length)  # fmt: skip
                    self._later(t, now, length)
                    return
            self._later(t, now, IDLE_LOOK_S)
            return
        answer = self.port.press(t.counter, "call_next")
        session = answer.get("session") or {}
        if answer.get("ok") and session.get("ticket"):
            ticket = session["ticket"]
            found = next((w for w in self.waiting if w.ticket == ticket), None)
            if found is not None:
                self.waiting.remove(found)
                customer = found.customer
            else:  # a ticket of an earlier run: someone comes
                customer = Customer(session.get("business_type") or "", False, None, None)
            t.customer, t.ticket, t.recalls = customer, ticket, 0
            t.business_type, t.transaction = session.get("business_type"), session["transaction"]
            t.phase = "called"
            self._later(t, now, RECALL_S if customer.no_show else self.people.walk_s())
        elif answer.get("queue_unavailable"):
            self._walk_in(t, now)
        else:
            t.leftovers = False  # nobody after all
            self._later(t, now, IDLE_LOOK_S)

    def _transfers_possible(self) -> bool:
        """A customer being served may yet be sent on to another business type."""
        return any(o.phase in ("called", "serving") for o in self.tellers)

    def _walk_in(self, t: TellerAgent, now: datetime) -> None:
        """The queue service is out of reach: serve the next customer without a ticket."""
        customer = self.people.customer()
        answer = self.port.press(t.counter, "ticketless")
        session = answer.get("session") or {}
        if not answer.get("ok") or not session.get("transaction"):
            self._later(t, now, IDLE_LOOK_S)
            return
        t.customer, t.ticket = Customer(customer.business_type, False, customer.rating, None), None
        t.business_type, t.transaction = session.get("business_type"), session["transaction"]
        t.phase = "serving"
        self._later(t, now, self.people.service_s(self.limits.get(t.business_type or "", 300)))

    def _called(self, t: TellerAgent, now: datetime) -> None:
        assert t.customer is not None
        if t.customer.no_show:
            if t.recalls < 1:
                self.port.press(t.counter, "recall")
                t.recalls += 1
                self._later(t, now, RECALL_S)
                return
            if self.port.press(t.counter, "skip").get("ok"):
                self._record(t, now, "no_show")
            self._back_to_idle(t, now)
            return
        self.port.press(t.counter, "start")
        t.phase = "serving"
        limit = self.limits.get(t.business_type or "", 300.0)
        self._later(t, now, self.people.service_s(limit))

    def _serving(self, t: TellerAgent, now: datetime) -> None:
        assert t.customer is not None
        target = t.customer.transfer_to
        if target is not None and t.ticket is not None:
            answer = self.port.press(t.counter, "transfer", target)
            if answer.get("ok"):
                self._record(t, now, "transferred", to=target)
                again = Customer(target, False, t.customer.rating, None)
                self.waiting.append(Waiting(t.ticket, target, again))
                self._back_to_idle(t, now)
                return
        answer = self.port.press(t.counter, "finish")
        if not answer.get("ok"):
            self._back_to_idle(t, now)  # the counter says otherwise: look again
            return
        t.phase = "rating"
        wait = self.people.rating_delay_s() if t.customer.rating is not None else self.window_s
        t.in_window = t.customer.rating is not None and wait <= self.window_s - WINDOW_MARGIN_S
        self._later(t, now, wait)

    def _rating(self, t: TellerAgent, now: datetime) -> None:
        assert t.customer is not None
        value = t.customer.rating
        if value is not None:
            answer = self.port.press(t.counter, "rate", value)
            last = (answer.get("session") or {}).get("last") or {}
            accepted = last.get("id") == t.transaction and last.get("rating") == value
            # what the customer meant, pressed well inside the window: the truth the check
            # holds the centre to, whatever the device under test says it stored
            intended = value if t.in_window else None
            self._record(t, now, "served", rating=value if accepted else None, intended=intended)
            self.served += 1
            self.rated += accepted
            t.customer = None
            self._back_to_idle(t, now)
            return
        session = self.port.state(t.counter).get("session") or {}
        if session.get("state") == "awaiting_rating":  # the window closes at the next tick
            self._later(t, now, 1.0)
            return
        self._record(t, now, "served", rating=None)
        self.served += 1
        t.customer = None
        self._back_to_idle(t, now)

    def _paused(self, t: TellerAgent, now: datetime) -> None:
        self.port.press(t.counter, "resume")
        self._back_to_idle(t, now)

    def _back_to_idle(self, t: TellerAgent, now: datetime) -> None:
        t.phase, t.idle_since = "idle", now
        self._later(t, now, 2.0)

    def _record(self, t: TellerAgent, now: datetime, kind: str, **fields: Any) -> None:
        self.truth.write(kind, self.branch, now, counter=t.counter, teller=t.staff_no,
                         ticket=t.ticket, business_type=t.business_type,
                         transaction=t.transaction, **fields)  # fmt: skip
