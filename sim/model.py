"""How simulated customers and tellers behave: a daily profile of arrivals, service times per
business type, ratings, no-shows, transfers and pauses. Seeded and pure: the same seed gives the
same day.

Arrivals are a Poisson process whose rate follows ``PROFILE`` (relative load per hour of the
day: a morning peak at 9-11 and a lunch peak at 12), scaled so a branch's counters are busy but
not swamped. A customer's business type follows the configured types' weights; the service takes
a log-normal time around ``SERVICE_SHARE`` of its type's limit (so some run over it).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

PROFILE = {8: 0.7, 9: 1.3, 10: 1.5, 11: 1.2, 12: 1.4, 13: 1.1, 14: 0.8, 15: 0.9, 16: 0.7}
"""Relative arrival rate by hour of the branch's local day (1.0 = the base rate)."""
TYPE_WEIGHTS = (6, 4, 2, 3, 1, 1, 1, 1)
"""Weight of the configured business types, in their order."""
SERVICE_SHARE = 0.55
"""A service's median length as a share of its type's limit."""
RATINGS = {5: 70, 4: 17, 3: 6, 2: 4, 1: 3}
NOT_RATING = 0.12  # customers who leave without rating
NO_SHOW = 0.05  # customers who have left when their number is called
TRANSFER = 0.05  # services sent on to another business type
PAUSES_PER_HOUR = 1.0  # a teller's chance of pausing, per hour spent idle
CUSTOMERS_PER_COUNTER_HOUR = 8.0  # base arrivals per counter and hour


@dataclass(frozen=True)
class Customer:
    business_type: str
    no_show: bool
    rating: int | None  # None: leaves without rating
    transfer_to: str | None


class Behaviour:
    """Draws of one branch's people from its own seeded random generator."""

    def __init__(self, seed: int, types: list[str], counters: int) -> None:
        self.rng = random.Random(seed)
        self.types = types
        self.weights = [TYPE_WEIGHTS[i % len(TYPE_WEIGHTS)] for i in range(len(types))]
        self.base_per_s = CUSTOMERS_PER_COUNTER_HOUR * counters / 3600

    def next_arrival_in(self, local: datetime) -> float:
        """Seconds until the next customer arrives, at the rate of ``local``'s hour."""
        rate = self.base_per_s * PROFILE.get(local.hour, 0.3)
        return self.rng.expovariate(rate)

    def customer(self) -> Customer:
        code = self.rng.choices(self.types, weights=self.weights)[0]
        rating = None
        if self.rng.random() >= NOT_RATING:
            rating = self.rng.choices(list(RATINGS), weights=list(RATINGS.values()))[0]
        others = [t for t in self.types if t != code]
        transfer = self.rng.choice(others) if others and self.rng.random() < TRANSFER else None
        return Customer(code, self.rng.random() < NO_SHOW, rating, transfer)

    def service_s(self, limit_s: float) -> float:
        """How long a service takes: log-normal around ``SERVICE_SHARE`` of the limit."""
        return max(20.0, limit_s * SERVICE_SHARE * math.exp(self.rng.gauss(0.0, 0.45)))

    def walk_s(self) -> float:
        """From the call to the counter."""
        return self.rng.uniform(10, 40)

    def rating_delay_s(self) -> float:
        """From the invitation to the touch on the pad (within the rating window)."""
        return self.rng.uniform(1.0, 5.0)

    def pauses_now(self, idle_s: float) -> bool:
        return self.rng.random() < PAUSES_PER_HOUR * idle_s / 3600

    def pause(self) -> tuple[int, float]:
        """(reason number, seconds) of a pause."""
        return self.rng.randrange(3), self.rng.uniform(4, 15) * 60
