"""Random key sequences through the queue and the counters: the promises hold whatever is pressed.

- no ticket is lost or served twice, and no ticket is ever with two counters;
- no rating without a finished transaction, never a second rating for one transaction;
- every rating press is answered with an outcome;
- durations are never negative, whatever the wall clock does (steps back, forward, reboots).
"""

from collections import Counter as Tally

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from domain.branch import Branch, Key
from domain.clock import ManualClock
from domain.counter import RatingOutcome, State, Teller
from domain.events import DomainEvent
from tests.factories import make_config
from tests.fresh import run_fresh

TYPES = ("cash", "general", "corporate")
COUNTERS = (1, 2, 3)
OUTCOMES: Tally = Tally()  # what the random runs reached: printed by the coverage test below
TERMINAL = {"ticket.served", "ticket.no_show", "ticket.expired", "ticket.cancelled"}


class BranchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.branch = Branch(make_config(recall_limit=1, priority_ratio=0.5, bands=True))
        self.events: list[DomainEvent] = []
        self.issued: list[str] = []  # ticket numbers, for call_ticket
        self.rate_presses = 0
        self.boots = 1

    def _record(self, events) -> None:
        self.events.extend(events)

    # -- what people and time do ---------------------------------------------------------
    @initialize()
    def tellers_sign_in(self):
        for n in COUNTERS:
            self._record(
                self.branch.press(n, Key.SIGN_IN, self.clock.now(), Teller(f"10{n}", "柜员"))
            )

    @rule(counter=st.sampled_from(COUNTERS))
    def teller_serves_next(self, counter):  # the everyday path, so that it is explored deeply
        for key in (Key.CALL_NEXT, Key.START, Key.FINISH):
            self._record(self.branch.press(counter, key, self.clock.now()))

    @rule(code=st.sampled_from(TYPES), priority=st.sampled_from([None, None, "elderly", "vip"]))
    def issue(self, code, priority):
        ticket, events = self.branch.issue(code, self.clock.now(), priority)
        self.issued.append(ticket.number)
        self._record(events)

    @rule(counter=st.sampled_from(COUNTERS), key=st.sampled_from(list(Key)), data=st.data())
    def press(self, counter, key, data):
        arg = None
        if key is Key.SIGN_IN:
            arg = Teller(f"10{counter:02d}", f"柜员{counter}")
        elif key is Key.CALL_TICKET:
            arg = data.draw(st.sampled_from([*self.issued[-5:], "Z999"]))
        elif key is Key.TRANSFER:
            arg = data.draw(st.sampled_from([*TYPES, *COUNTERS, "loans", 9]))
        elif key is Key.PAUSE:
            arg = data.draw(st.sampled_from(["", "午餐", "离柜", 0, 3, 7]))
        elif key in (Key.BAND, Key.EXTEND):
            arg = data.draw(st.sampled_from([0, 1, 2, 5]))
        elif key is Key.TICKETLESS:
            arg = data.draw(st.sampled_from([None, *TYPES]))
        elif key is Key.RATE:
            arg = data.draw(st.integers(0, 6))
            self.rate_presses += 1
        elif key is Key.REASON:
            arg = data.draw(st.sampled_from([None, -1, 0, 1, 3, 9, "x"]))
        self._record(self.branch.press(counter, key, self.clock.now(), arg))

    @rule(
        counter=st.sampled_from(COUNTERS),
        then=st.sampled_from(
            [
                (Key.SKIP, None),
                (Key.RECALL, None),
                *((Key.TRANSFER, t) for t in (*TYPES, *COUNTERS)),
            ]
        ),
    )
    def teller_calls_then(self, counter, then):
        for key, arg in ((Key.CALL_NEXT, None), then):
            self._record(self.branch.press(counter, key, self.clock.now(), arg))

    @rule(counter=st.sampled_from(COUNTERS), away=st.sampled_from([60, 2000]))
    def teller_pauses_then_resumes(self, counter, away):
        self._record(self.branch.press(counter, Key.PAUSE, self.clock.now(), "离柜"))
        self.rate_presses += 1  # someone presses the pad of a paused counter
        self._record(self.branch.press(counter, Key.RATE, self.clock.now(), 4))
        self.clock.advance(away)
        self._record(self.branch.tick(self.clock.now()))
        self._record(self.branch.press(counter, Key.RESUME, self.clock.now()))

    @rule(tick=st.booleans())
    def the_night_passes_with_tickets_still_waiting(self, tick):
        self.issue("general", None)
        self.clock.advance(16 * 3600)
        if tick:  # the first reading of the clock in the new day expires yesterday's tickets
            self._record(self.branch.tick(self.clock.now()))
        self.issue("cash", None)  # ... or the first ticket of the day does

    @rule(data=st.data())
    def a_print_fails_for_good(self, data):
        waiting = self.branch.queue.waiting()
        if waiting and data.draw(st.integers(0, 3)) == 0:  # printers rarely fail for good
            entry = data.draw(st.sampled_from(waiting))
            queue = self.branch.local_queue
            assert queue is not None
            self._record(queue.cancel(entry.ticket.id, self.clock.now(), "no paper"))

    @rule(counter=st.sampled_from(COUNTERS), value=st.integers(1, 5))
    def customer_rates(self, counter, value):  # presses concentrated where ratings matter
        self.rate_presses += 1
        self._record(self.branch.press(counter, Key.RATE, self.clock.now(), value))

    @rule(seconds=st.floats(0, 15, allow_nan=False) | st.floats(0, 1500, allow_nan=False))
    def time_passes(self, seconds):
        self.clock.advance(seconds)
        self._record(self.branch.tick(self.clock.now()))

    @rule(seconds=st.sampled_from([-86400 * 3, -3600, -5, 7, 3600, 86400 * 2]))
    def wall_clock_steps(self, seconds):
        self.clock.jump_wall(seconds)

    @rule(downtime=st.floats(0, 600, allow_nan=False))
    def power_cut(self, downtime):
        self.boots += 1
        self.clock.reboot(f"boot-{self.boots}", downtime)

    # -- what must always hold -----------------------------------------------------------
    def teardown(self):
        for e in self.events:
            if e.type == "rating.press":
                OUTCOMES[e.payload["outcome"]] += 1
            OUTCOMES[e.type] += 1

    @invariant()
    def every_ticket_is_in_exactly_one_place(self):
        where: dict[str, str] = {}
        terminal: Tally[str] = Tally()
        for e in self.events:
            if e.type == "ticket.issued":
                where[e.payload["ticket"]["id"]] = "waiting"
            elif e.type == "ticket.called":
                where[e.payload["ticket"]["id"]] = f"counter {e.payload['counter']}"
            elif e.type == "ticket.transferred":
                where[e.payload["ticket"]["id"]] = "waiting"
            elif e.type in TERMINAL:
                where[e.payload["ticket"]["id"]] = "done"
                terminal[e.payload["ticket"]["id"]] += 1
        assert all(n == 1 for n in terminal.values()), "a ticket ended twice"
        waiting = {e.ticket.id for e in self.branch.queue.waiting()}
        held: dict[str, int] = {}
        for n, session in self.branch.sessions.items():
            serving = session.state in (State.CALLED, State.SERVING)
            if serving and session.current is not None and session.current.ticket is not None:
                tid = session.current.ticket.id
                assert tid not in held, f"{tid} is with counters {held[tid]} and {n}"
                held[tid] = n
        for tid, place in where.items():
            if place == "waiting":
                assert tid in waiting and tid not in held
            elif place == "done":
                assert tid not in waiting and tid not in held
            else:
                assert held.get(tid) == int(place.split()[1]) and tid not in waiting
        assert len(where) == len(self.issued)

    @invariant()
    def ratings_only_once_and_only_after_a_finish(self):
        invited: set[str] = set()
        accepted: Tally[str] = Tally()
        closed: Tally[str] = Tally()
        presses = 0
        for e in self.events:
            p = e.payload
            if e.type == "rating.invited":
                invited.add(p["transaction_id"])
            elif e.type == "rating.press":
                presses += 1
                assert p["outcome"] in set(RatingOutcome)
                if p["outcome"] == RatingOutcome.ACCEPTED:
                    assert p["transaction_id"] in invited
                    accepted[p["transaction_id"]] += 1
            elif e.type == "transaction.closed":
                closed[p["transaction_id"]] += 1
                assert (p["rating"] is not None) == (accepted[p["transaction_id"]] == 1)
        assert presses == self.rate_presses, "a rating press went unanswered"
        assert all(n == 1 for n in accepted.values()), "a transaction was rated twice"
        assert all(n == 1 for n in closed.values()), "a transaction was closed twice"

    @invariant()
    def a_restart_rebuilds_the_same_state_from_the_events(self):
        restored = Branch.restored(self.branch.config, self.events)
        assert restored.snapshot() == self.branch.snapshot()

    @invariant()
    def durations_are_never_negative(self):
        for e in self.events:
            for key, value in e.payload.items():
                if key.endswith("_s") and isinstance(value, float | int) and key != "window_s":
                    assert value >= 0, (e.type, key, value)


TestBranchProperties = pytest.mark.travel_free(BranchMachine.TestCase)  # a ManualClock
TestBranchProperties.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def derandomized_outcomes() -> dict[str, int]:
    """What one derandomized run of the machine reaches (the same examples every run)."""
    OUTCOMES.clear()
    derandomized = settings(TestBranchProperties.settings, derandomize=True, database=None)
    run_state_machine_as_test(BranchMachine, settings=derandomized)
    return {str(key): n for key, n in OUTCOMES.items()}


@pytest.mark.travel_free  # in a fresh interpreter, which --travel does not move
def test_the_random_runs_reach_every_rating_outcome_and_ticket_end():
    """Guards the guards: the machine above must actually explore what it claims to check."""
    outcomes = Tally(run_fresh("tests.test_properties", "derandomized_outcomes"))
    print(dict(outcomes))
    for outcome in RatingOutcome:
        assert outcomes[str(outcome)] > 0, outcome
    kinds = ("ticket.transferred", "ticket.escalated", "counter.resumed", "pause.over_limit")
    for kind in (*TERMINAL, *kinds):
        assert outcomes[kind] > 0, kind
