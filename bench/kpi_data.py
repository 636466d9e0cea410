"""A year of a bank's rollups, made directly (for ``bench/centre_kpi.py``).

The KPIs read the rollups, never the events or the transactions (``central/kpi.py``): so a year
of a 2,000-counter bank (about 60 million transactions) is written straight into the tables the
KPIs read, in bulk, instead of being sent as events through MQTT and the ingest (hours of
work): ``rollups``, ``rollup_levels``, ``rollup_waits``, ``tellers``, ``counter_devices``,
``uptime_days`` and ``followups`` (the disputed ratings' view reads it). The transactions and
``rollup_timing`` are left empty (the KPIs do not read them); the coarse rollups are then made
from the daily ones by the same statements a migration runs (``central.rollups.COARSE_FILL``).

The bank: ``branches`` of 10 counters in ``regions`` (two levels: province/city), open Monday
to Friday on China's working days of 2026 (248 days, 08:30-17:00); one pad per counter (1% are
replaced during the year), each counter's own teller on most days, a relief teller on one day in
ten, two tellers on one day in twenty; about 120 customers a counter a day (branches differ by
±30%) over 5 business types; 92% of the finished transactions rated, 93% of the ratings 5 stars;
waits of about 9 minutes on average with a long tail; no-shows, transfers, pauses, idle alerts,
expired tickets. Samples come from pools drawn once per count (seeded), so a year is made in
minutes in pure Python.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import chinese_calendar

from central.rollups import COUNTS, KEY, LAST_BIN, bin_bounds

YEAR = 2026
COUNTERS = 10  # per branch
PER_COUNTER_DAY = 120
TYPES = (("account", 0.15), ("cash", 0.45), ("loan", 0.12), ("transfer", 0.20), ("wealth", 0.08))
LEVELS = ((5, 0.93), (4, 0.045), (3, 0.013), (2, 0.007), (1, 0.005))
WAIT_LIMIT_S = 900.0
SERVICE_LIMIT_S = 600.0
BUSINESS_MINUTES = 510  # 08:30-17:00
POOL = 32  # samples drawn per count


@dataclass(frozen=True)
class Bank:
    branches: int
    regions: int

    @classmethod
    def scaled(cls, scale: float) -> Bank:
        """The 2,000-counter bank (200 branches, 20 regions) at ``scale``."""
        return cls(max(2, round(200 * scale)), max(1, round(20 * scale)))

    @property
    def counters(self) -> int:
        return self.branches * COUNTERS

    def branch(self, b: int) -> str:
        return f"b{b:03d}"

    def region(self, b: int) -> str:
        r = b % self.regions
        return f"P{r % 5}/C{r:02d}"


def business_days(year: int = YEAR) -> list[date]:
    day, out = date(year, 1, 1), []
    while day.year == year:
        if chinese_calendar.is_workday(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def centre_toml(bank: Bank, year: int = YEAR) -> tuple[str, str]:
    """The centre's configuration and the branches' own file (Monday to Friday, 08:30-17:00);
    China's holidays on weekdays and its worked weekends (调休) of ``year`` per branch."""
    day, holidays, workdays = date(year, 1, 1), [], []
    while day.year == year:
        worked = chinese_calendar.is_workday(day)
        if not worked and day.weekday() < 5:
            holidays.append(day.isoformat())
        elif worked and day.weekday() >= 5:
            workdays.append(day.isoformat())
        day += timedelta(days=1)
    parts = ["[kpi]\nmin_sample = 30\n"]
    for b in range(bank.branches):
        parts.append(
            f'[[branches]]\nid = "{bank.branch(b)}"\nname = "支行{b:03d}"\n'
            f'region = "{bank.region(b)}"\nconfig = "branch.toml"\n'
            f"holidays = [{', '.join(holidays)}]\nworkdays = [{', '.join(workdays)}]\n"
        )
    branch = "[hours]\nsat = []\nsun = []\n"
    return "\n".join(parts), branch


class Pools:
    """Samples drawn once per count: type splits, rating levels, wait histograms."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._types: dict[int, list[Counter[str]]] = {}
        self._levels: dict[int, list[list[tuple[int, int]]]] = {}
        self._waits: dict[int, list[list[tuple[int, int]]]] = {}
        # waits: a gamma of mean ~9 minutes, so a tail past the limit and past an hour
        self._wait_bins = [min(LAST_BIN, _bin(rng.gammavariate(1.6, 340.0))) for _ in range(50_000)]

    def _pool(self, cache: dict, n: int, draw) -> Any:
        found = cache.get(n)
        if found is None:
            found = cache[n] = [draw(n) for _ in range(POOL)]
        return found[self.rng.randrange(POOL)]

    def types(self, n: int) -> Counter[str]:
        names, weights = [t for t, _ in TYPES], [w for _, w in TYPES]
        return self._pool(self._types, n, lambda k: Counter(self.rng.choices(names, weights, k=k)))

    def levels(self, n: int) -> list[tuple[int, int]]:
        names, weights = [v for v, _ in LEVELS], [w for _, w in LEVELS]
        return self._pool(
            self._levels, n,
            lambda k: sorted(Counter(self.rng.choices(names, weights, k=k)).items()),
        )  # fmt: skip

    def waits(self, n: int) -> list[tuple[int, int]]:
        return self._pool(
            self._waits, n, lambda k: sorted(Counter(self.rng.sample(self._wait_bins, k)).items())
        )


def _bin(seconds: float) -> int:
    from central.rollups import wait_bin

    return wait_bin(seconds)


_MIDDLE = [
    sum(bin_bounds(b)) / 2 if b < LAST_BIN else bin_bounds(b)[0] for b in range(LAST_BIN + 1)
]
_OVER = next(b for b in range(LAST_BIN + 1) if bin_bounds(b)[0] >= WAIT_LIMIT_S)


@dataclass
class Rows:
    """The rows of one business day, per table (in each table's key order)."""

    rollups: list[tuple]
    levels: list[tuple]
    waits: list[tuple]
    uptime: list[tuple]
    followups: list[tuple]


def _index(name: str) -> int:
    return COUNTS.index(name)


def _counts(rng: random.Random, finished: int, waits: list[tuple[int, int]], rated: int) -> list:
    c: list[float] = [0] * len(COUNTS)
    no_shows, transferred = _small(rng, finished * 0.04), _small(rng, finished * 0.03)
    cut = _small(rng, finished * 0.005)
    called = sum(n for _, n in waits)
    over = sum(n for b, n in waits if b >= _OVER)
    service_n = finished + transferred
    service_over = _small(rng, service_n * 0.05)
    values = {
        "rows": finished + no_shows + transferred, "finished": finished,
        "transferred": transferred, "no_shows": no_shows, "rated": rated,
        "unrated": max(0, finished - rated - cut), "not_invited": no_shows + transferred,
        "window_cut": cut, "wait_n": called,
        "wait_sum_s": float(sum(_MIDDLE[b] * n for b, n in waits)),
        "wait_limited": called, "wait_within": called - over, "wait_over": over,
        "service_n": service_n, "service_sum_s": float(service_n * rng.gauss(240.0, 20.0)),
        "service_limited": service_n, "service_over": service_over,
        "over_any": min(finished, over + service_over), "quick_ratings": _small(rng, rated * 0.01),
    }  # fmt: skip
    for name, value in values.items():
        c[_index(name)] = value
    return c


def _small(rng: random.Random, mean: float) -> int:
    """A count of rare things around ``mean`` (Poisson, by inversion)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Generator:
    """The bank's rows, one business day at a time (seeded)."""

    def __init__(self, bank: Bank, seed: int = 9) -> None:
        self.bank = bank
        self.rng = random.Random(seed)
        self.pools = Pools(self.rng)
        self.days = business_days()
        self.factor = [0.7 + 0.6 * self.rng.random() for _ in range(bank.branches)]
        # 1% of the pads are replaced on some day of the year: (branch, counter) -> day index
        self.replaced = {
            (b, c): self.rng.randrange(1, len(self.days))
            for b in range(bank.branches)
            for c in range(1, COUNTERS + 1)
            if self.rng.random() < 0.01
        }
        self.followup_id = 0

    def teller(self, b: int, c: int) -> str:
        return f"{b:03d}{c:02d}"

    def counter_devices(self) -> list[tuple]:
        first = self.days[0].isoformat()
        rows = []
        for b in range(self.bank.branches):
            for c in range(1, COUNTERS + 1):
                rows.append((f"pad-{b:03d}-{c:02d}", self.bank.branch(b), c, first))
                if (b, c) in self.replaced:
                    day = self.days[self.replaced[(b, c)]].isoformat()
                    rows.append((f"pad-{b:03d}-{c:02d}-2", self.bank.branch(b), c, day))
        return rows

    def tellers(self) -> list[tuple]:
        last = self.days[-1].isoformat()
        rows = []
        for b in range(self.bank.branches):
            for c in range(1, COUNTERS + 1):
                rows.append((self.bank.branch(b), self.teller(b, c), f"柜员{b:03d}{c:02d}", last))
            for k in range(2):
                rows.append((self.bank.branch(b), f"{b:03d}9{k}", f"柜员{b:03d}9{k}", last))
        return rows

    def day(self, i: int) -> Rows:
        rng, day = self.rng, self.days[i].isoformat()
        out = Rows([], [], [], [], [])
        for b in range(self.bank.branches):
            branch = self.bank.branch(b)
            keyed: dict[tuple, list] = {}
            for c in range(1, COUNTERS + 1):
                total = max(0, round(rng.gauss(PER_COUNTER_DAY * self.factor[b], 15.0)))
                own, relief = self.teller(b, c), f"{b:03d}9{rng.randrange(2)}"
                draw = rng.random()
                if draw < 0.05:
                    half = total // 2
                    shares = [(own, half), (relief, total - half)]
                else:
                    shares = [(relief if draw < 0.15 else own, total)]
                for teller, n in shares:
                    self._counter_teller(keyed, out, day, branch, c, teller, n)
                self._uptime(out, day, b, c, i)
            for name, _ in TYPES:  # tickets that never reached a counter
                expired, cancelled = _small(rng, 1.0), _small(rng, 0.5)
                if expired or cancelled:
                    counts: list[float] = [0] * len(COUNTS)
                    counts[_index("rows")] = expired + cancelled
                    counts[_index("expired")], counts[_index("cancelled")] = expired, cancelled
                    counts[_index("not_invited")] = expired + cancelled
                    keyed[(day, branch, 0, "", name)] = counts
            out.rollups.extend((*k, *keyed[k]) for k in sorted(keyed))
        out.levels.sort()
        out.waits.sort()
        return out

    def _counter_teller(
        self, keyed: dict, out: Rows, day: str, branch: str, c: int, teller: str, n: int
    ) -> None:
        rng, pools = self.rng, self.pools
        for name, finished in sorted(pools.types(n).items()):
            rated = min(finished, round(finished * 0.92 + rng.gauss(0, 1)))
            levels = pools.levels(rated) if rated > 0 else []
            waits = pools.waits(finished + _small(rng, finished * 0.04)) if finished else []
            key = (day, branch, c, teller, name)
            keyed[key] = _counts(rng, finished, waits, sum(n for _, n in levels))
            out.levels.extend((*key, level, k) for level, k in levels)
            out.waits.extend((*key, b, k) for b, k in waits)
            for level, k in levels:
                if level <= 2:
                    for _ in range(k):
                        out.followups.append(self._followup(key, level, rng.random() < 0.05))
        if n:  # pauses, idle alerts and presses while paused: keyed without a business type
            counts: list[float] = [0] * len(COUNTS)
            pauses = _small(rng, 2.0)
            counts[_index("pauses")], counts[_index("pause_s")] = pauses, pauses * 420.0
            idle = _small(rng, 0.2)
            counts[_index("idle_alerts")], counts[_index("idle_s")] = idle, idle * 300.0
            counts[_index("paused_presses")] = _small(rng, 0.05)
            if any(counts):
                keyed[(day, branch, c, teller, "")] = counts

    def _uptime(self, out: Rows, day: str, b: int, c: int, i: int) -> None:
        minutes = BUSINESS_MINUTES if self.rng.random() > 0.02 else self.rng.randrange(400)
        device = f"pad-{b:03d}-{c:02d}"
        at = self.replaced.get((b, c))
        if at is not None and i >= at:
            device += "-2"
        out.uptime.append((day, self.bank.branch(b), device, minutes))

    def _followup(self, key: tuple, level: int, disputed: bool) -> tuple:
        self.followup_id += 1
        day, branch, counter, teller, business_type = key
        i = self.followup_id
        return (
            i, f"tx-{i}", day, branch, counter, teller, business_type, f"柜员{teller}", None,
            level, None, f"{day}T03:00:00+00:00", day, 0, None, "open", None, None, None,
            int(disputed), "customer at fault" if disputed else None,
        )  # fmt: skip


FOLLOWUP_COLUMNS = (
    "id", "transaction_id", "day", "branch", "counter", "teller", "business_type", "teller_name",
    "ticket", "rating", "rating_label", "rated_at", "deadline", "provisional", "owner", "status",
    "verdict", "closed_at", "closed_by", "disputed", "dispute_reason",
)  # fmt: skip
TABLES = {
    "rollups": (*KEY, *COUNTS),
    "rollup_levels": (*KEY, "level", "n"),
    "rollup_waits": (*KEY, "bin", "n"),
    "uptime_days": ("day", "branch", "device_id", "minutes"),
    "followups": FOLLOWUP_COLUMNS,
}
"""The tables a day's rows go to, with their columns, in the order of :class:`Rows`."""


def days_rows(gen: Generator) -> Iterator[tuple[str, Sequence[str], list[tuple]]]:
    """(table, columns, rows) of every business day in turn."""
    for i in range(len(gen.days)):
        rows = gen.day(i)
        for (table, columns), part in zip(
            TABLES.items(),
            (rows.rollups, rows.levels, rows.waits, rows.uptime, rows.followups),
            strict=True,
        ):
            yield table, columns, part
