"""A simulated branch morning: customers take tickets, tellers call, serve and invite ratings.

Used by ``counterside demo`` and by tests. Deterministic for a given seed; simulated time runs
on a :class:`~domain.clock.ManualClock`, so an hour passes in a fraction of a second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from device.app import DeviceApp
from domain.branch import Key
from domain.clock import ManualClock
from domain.counter import State, Teller

TELLERS = (
    Teller("1001", "王芳", 5),
    Teller("1002", "李强", 4),
    Teller("1003", "张敏", 3),
    Teller("1004", "陈静", 4),
    Teller("1005", "刘洋", 5),
)
RATING_WEIGHTS = {5: 60, 4: 25, 3: 8, 2: 5, 1: 2}


@dataclass
class _Teller:
    counter: int
    busy_until: float = 0.0
    plan: str = ""


class Simulation:
    """Drives a :class:`DeviceApp` second by second until ``customers`` are issued and served."""

    def __init__(self, app: DeviceApp, clock: ManualClock, customers: int = 12, seed: int = 1):
        self.app, self.clock, self.customers = app, clock, customers
        self.rng = random.Random(seed)
        self.t = 0.0
        self.issued = 0
        self.next_arrival = 5.0
        self.tellers = [_Teller(n) for n in sorted(app.branch.sessions)]
        self.pending_ratings: list[tuple[float, int, int]] = []

    def sign_in(self) -> None:
        for i, t in enumerate(self.tellers):
            self.app.press(t.counter, Key.SIGN_IN, TELLERS[i % len(TELLERS)])

    def run(self, max_seconds: float = 4 * 3600) -> None:
        """Sign in, serve every customer, sign out."""
        self.sign_in()
        while self.t < max_seconds and not self._done():
            self.step()
        for t in self.tellers:
            self._tick_until_idle(t)
            self.app.press(t.counter, Key.SIGN_OUT)

    def _done(self) -> bool:
        idle = all(s.state in (State.IDLE, State.PAUSED) for s in self.app.branch.sessions.values())
        return self.issued >= self.customers and idle and not self.app.branch.queue.waiting()

    def _tick_until_idle(self, teller: _Teller) -> None:
        session = self.app.branch.sessions[teller.counter]
        for _ in range(60):
            if session.state in (State.IDLE, State.PAUSED):
                return
            self._advance(1.0)

    def _advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.t += seconds
        self.app.tick()

    def step(self) -> None:
        """One simulated second."""
        self._advance(1.0)
        if self.issued < self.customers and self.t >= self.next_arrival:
            self._arrive()
        for when, counter, value in list(self.pending_ratings):
            if self.t >= when:
                self.pending_ratings.remove((when, counter, value))
                self.app.press(counter, Key.RATE, value)
        for teller in self.tellers:
            if self.t >= teller.busy_until:
                self._act(teller)

    def _arrive(self) -> None:
        types = [bt.code for bt in self.app.config.business_types]
        code = self.rng.choices(types, weights=[5, 3, 2, 1, 1, 1][: len(types)])[0]
        classes = [p.code for p in self.app.config.priority_classes]
        priority = self.rng.choice(classes) if classes and self.rng.random() < 0.15 else None
        self.app.issue(code, priority)
        self.issued += 1
        self.next_arrival = self.t + self.rng.expovariate(1 / 45)

    def _act(self, teller: _Teller) -> None:
        session = self.app.branch.sessions[teller.counter]
        rng, n = self.rng, teller.counter
        if session.state is State.IDLE:
            if not self._someone_waits_for(n):
                return
            self.app.press(n, Key.CALL_NEXT)
            teller.plan = "no_show" if rng.random() < 0.08 else "serve"
            teller.busy_until = self.t + rng.uniform(10, 40)
        elif session.state is State.CALLED:
            if teller.plan == "no_show":
                if session.current and len(session.current.calls) < 2:
                    self.app.press(n, Key.RECALL)
                    teller.busy_until = self.t + 30
                else:
                    self.app.press(n, Key.SKIP)
                return
            self.app.press(n, Key.START)
            assert session.current is not None  # a called or served customer's transaction
            bt = self.app.config.business_type(session.current.business_type)
            teller.busy_until = self.t + max(20.0, rng.gauss(0.6, 0.35) * bt.service_limit_s)
            teller.plan = "transfer" if rng.random() < 0.07 else "finish"
        elif session.state is State.SERVING:
            if teller.plan == "transfer":
                assert session.current is not None
                others = [bt.code for bt in self.app.config.business_types]
                others.remove(session.current.business_type)
                self.app.press(n, Key.TRANSFER, rng.choice(others))
                return
            self.app.press(n, Key.FINISH)
            if rng.random() < 0.88:
                value = rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]
                self.pending_ratings.append((self.t + rng.uniform(1.5, 8), n, value))
            teller.busy_until = self.t + 12

    def _someone_waits_for(self, counter: int) -> bool:
        serves = set(self.app.config.counter(counter).business_types)
        return any(
            e.business_type in serves or e.target_counter == counter
            for e in self.app.branch.queue.waiting()
            if e.target_counter in (None, counter)
        )
