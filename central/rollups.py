"""Transactions and rollups at the centre, kept up to date as events are stored.

Each event that makes a transaction row (``domain.report.transaction_row``: the same code as
the device's ``counterside export transactions``) is written to ``transactions`` once, keyed by
its transaction id, and only a row that was new adds to the rollups. Pauses
(``counter.resumed``), idle stretches (``counter.idle_with_queue`` up to the alert,
``counter.idle_ended`` for the rest) and heartbeat minutes in business hours add to them too,
once per event. Every addition depends on one event alone, so
the rollups come out the same whatever order events arrive in, and however often: a late,
shuffled or repeated stream gives what an in-order stream gives (``counterside centre
rebuild`` recomputes everything from the stored events, and a test compares).

Rollups are sums per business day x branch x counter x teller x business type (``rollups``),
with the count of each rating level (``rollup_levels``) and a histogram of the customers' waits
(``rollup_waits``), so any KPI over any period is a sum of rollups (``central/kpi.py``).
Uptime minutes are summed per business day x branch x device (``uptime_days``).

The same sums per calendar month x branch (``month_rollups``, ``month_levels``, ``month_waits``)
are added to in the same transaction (``Pending.flush``): a year at the bank, region or branch
level reads twelve rows per branch instead of every day's counter x teller x business type (a
histogram of waits alone holds some 50 million daily rows for a year of a 2,000-counter bank).
So are the sums per business day x branch (``branch_days``, ``branch_day_levels``,
``branch_day_waits``): a daily trend, and the days at the edges of a range of whole months.

SQL here is the dialect SQLite and PostgreSQL share (``ON CONFLICT``, no ``OR IGNORE``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, get_args, get_type_hints
from zoneinfo import ZoneInfo

from config.centre import Branch, CentreConfig
from domain.events import (
    CounterIdleEnded,
    CounterIdleWithQueue,
    CounterResumed,
    EventType,
    RatingPress,
    StoredEvent,
    typed_payload,
)
from domain.report import ROW_TYPES, TransactionRow, transaction_row

ROLLUP_TYPES = ROW_TYPES | {
    EventType.COUNTER_RESUMED,
    EventType.COUNTER_IDLE_WITH_QUEUE,
    EventType.COUNTER_IDLE_ENDED,
    EventType.RATING_PRESS,
}
QUICK_S = 1.0
"""A rating given sooner than this after the invitation counts as quick (a trust signal)."""
"""Event types that change the rollups (heartbeats too: see :func:`apply_heartbeat`)."""

TX_COLUMNS = (
    "branch",
    "store",
    *(f.name for f in fields(TransactionRow) if f.name != "transaction_id"),
)
"""The columns of ``transactions`` beside its key ``transaction_id``: the branch, the device's
event store, and every field of :class:`~domain.report.TransactionRow`."""
KEY = ("day", "branch", "counter", "teller", "business_type")
COUNTS = (
    "rows",
    "finished",  # served to the end (not a transfer's earlier leg, not a no-show)
    "transferred",
    "no_shows",
    "expired",
    "cancelled",
    "rated",
    "unrated",
    "not_invited",
    "window_cut",
    "wait_n",  # customers called (served or no-show): their wait in the branch
    "wait_sum_s",
    "wait_limited",  # ... of which had a waiting limit
    "wait_within",  # ... and were called within it
    "wait_over",
    "service_n",  # services measured (served, and transfers' earlier legs)
    "service_sum_s",
    "service_limited",
    "service_over",
    "over_any",  # finished transactions with the wait or the service over its limit
    "inexact",  # rows whose wait or service spans a power cut (an estimate)
    "pauses",
    "pause_s",
    "idle_alerts",
    "idle_s",
    "quick_ratings",  # rated within QUICK_S of the invitation
    "paused_presses",  # rating keys pressed while the pad showed 暂停服务
)
"""The summed columns of ``rollups``, in order."""


def _sql_type(hint: Any) -> str:
    """``int | None`` -> ``INTEGER``; ``str`` -> ``TEXT NOT NULL``; dates and times as ISO text."""
    args = [a for a in get_args(hint) if a is not type(None)] or [hint]
    base = {int: "INTEGER", bool: "INTEGER", float: "REAL"}.get(args[0], "TEXT")
    return base if type(None) in get_args(hint) else f"{base} NOT NULL"


_HINTS = get_type_hints(TransactionRow)
_TX_DEFINITION = ", ".join(
    f"{name} {_sql_type(_HINTS[name]) if name in _HINTS else 'TEXT NOT NULL'}"
    for name in TX_COLUMNS
)

SCHEMA = (
    f"CREATE TABLE transactions (transaction_id TEXT PRIMARY KEY, {_TX_DEFINITION})",
    "CREATE INDEX transactions_day ON transactions (business_day, branch)",
    "CREATE INDEX transactions_teller ON transactions (teller, business_day)",
    f"""CREATE TABLE rollups (
        day TEXT NOT NULL, branch TEXT NOT NULL, counter INTEGER NOT NULL, teller TEXT NOT NULL,
        business_type TEXT NOT NULL,
        {
        ", ".join(
            f"{c} {'REAL' if c.endswith('_s') else 'INTEGER'} NOT NULL DEFAULT 0" for c in COUNTS
        )
    },
        PRIMARY KEY (day, branch, counter, teller, business_type)
    )""",
    """CREATE TABLE rollup_levels (
        day TEXT NOT NULL, branch TEXT NOT NULL, counter INTEGER NOT NULL, teller TEXT NOT NULL,
        business_type TEXT NOT NULL, level INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (day, branch, counter, teller, business_type, level)
    )""",
    """CREATE TABLE rollup_waits (
        day TEXT NOT NULL, branch TEXT NOT NULL, counter INTEGER NOT NULL, teller TEXT NOT NULL,
        business_type TEXT NOT NULL, bin INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (day, branch, counter, teller, business_type, bin)
    )""",
    # ratings by the customer's wait (WAIT_BANDS) and by service within (0) or over (1) its
    # limit (-1: no limit): 满意率 against timing
    """CREATE TABLE rollup_timing (
        day TEXT NOT NULL, branch TEXT NOT NULL, business_type TEXT NOT NULL,
        wait_band INTEGER NOT NULL, service_over INTEGER NOT NULL, level INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (day, branch, business_type, wait_band, service_over, level)
    )""",
    """CREATE TABLE tellers (
        branch TEXT NOT NULL, teller TEXT NOT NULL, name TEXT NOT NULL, last_day TEXT NOT NULL,
        PRIMARY KEY (branch, teller)
    )""",
    # a pad's device, its counter (the lowest, should it have served at several) and the first
    # business day it served: its business minutes count from then
    """CREATE TABLE counter_devices (
        device_id TEXT PRIMARY KEY, branch TEXT NOT NULL, counter INTEGER NOT NULL,
        first_day TEXT NOT NULL
    )""",
    """CREATE TABLE uptime_days (
        day TEXT NOT NULL, branch TEXT NOT NULL, device_id TEXT NOT NULL,
        minutes INTEGER NOT NULL,
        PRIMARY KEY (day, branch, device_id)
    )""",
)

# -- coarse rollups: the same sums per calendar month x branch (schema version 7) ----------------

MONTH_KEY = ("month", "branch")
"""The key of the coarse rollups: the business day's month (``YYYY-MM``) and the branch. The
bank, region and branch levels read whole months from them (``central/kpi.py``)."""
MONTH_TABLES = (
    "month_rollups", "month_levels", "month_waits", "year_waits", "uptime_months", "uptime_peaks",
)  # fmt: skip
"""The monthly tables (schema version 7), of ``rollups``, ``rollup_levels``, ``rollup_waits``
(per month, and per year) and ``uptime_days`` (``uptime_peaks``: per day and branch, the most
minutes of one device)."""


def _sums_schema(tables: Sequence[str], key: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """A set of coarse rollups keyed by ``key`` (column, SQL type): the counts (``tables[0]``),
    the rating levels (``[1]``) and the waits' histogram (``[2]``)."""
    columns = ", ".join(f"{name} {kind} NOT NULL" for name, kind in key)
    names = ", ".join(name for name, _ in key)
    counts = ", ".join(
        f"{c} {'REAL' if c.endswith('_s') else 'INTEGER'} NOT NULL DEFAULT 0" for c in COUNTS
    )
    return (
        f"CREATE TABLE {tables[0]} ({columns}, {counts}, PRIMARY KEY ({names})) WITHOUT ROWID",
        *(
            f"CREATE TABLE {table} ({columns}, {x} INTEGER NOT NULL, n INTEGER NOT NULL, "
            f"PRIMARY KEY ({names}, {x})) WITHOUT ROWID"
            for table, x in ((tables[1], "level"), (tables[2], "bin"))
        ),
    )


def _sums_fill(tables: Sequence[str], keys: str, names: Sequence[str]) -> tuple[str, ...]:
    """The statements that fill a set of coarse rollups (:func:`_sums_schema`) from the daily
    ones: ``keys`` the SELECT's key expressions, ``names`` the key columns."""
    into = ", ".join(names)
    return (
        f"INSERT INTO {tables[0]} ({into}, {', '.join(COUNTS)}) "
        f"SELECT {keys}, {', '.join(f'sum({c})' for c in COUNTS)} FROM rollups GROUP BY {keys}",
        *(
            f"INSERT INTO {table} ({into}, {x}, n) SELECT {keys}, {x}, sum(n) "
            f"FROM {daily} GROUP BY {keys}, {x}"
            for table, x, daily in (
                (tables[1], "level", "rollup_levels"),
                (tables[2], "bin", "rollup_waits"),
            )
        ),
    )


MONTH_SCHEMA = (
    *_sums_schema(
        ("month_rollups", "month_levels", "month_waits"), (("month", "TEXT"), ("branch", "TEXT"))
    ),
    """CREATE TABLE year_waits (
        year TEXT NOT NULL, branch TEXT NOT NULL, bin INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (year, branch, bin)
    ) WITHOUT ROWID""",
    # a pad's powered minutes per month, and each day's most minutes of one of a branch's
    # devices (is a day's sum within the day's business minutes: central/kpi_uptime.py)
    """CREATE TABLE uptime_months (
        month TEXT NOT NULL, branch TEXT NOT NULL, device_id TEXT NOT NULL,
        minutes INTEGER NOT NULL,
        PRIMARY KEY (month, branch, device_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE uptime_peaks (
        day TEXT NOT NULL, branch TEXT NOT NULL, peak INTEGER NOT NULL,
        PRIMARY KEY (day, branch)
    ) WITHOUT ROWID""",
)

_MONTH = "substr(day, 1, 7)"
MONTH_FILL = (
    *_sums_fill(("month_rollups", "month_levels", "month_waits"), f"{_MONTH}, branch", MONTH_KEY),
    "INSERT INTO year_waits (year, branch, bin, n) SELECT substr(day, 1, 4), branch, bin, "
    "sum(n) FROM rollup_waits GROUP BY substr(day, 1, 4), branch, bin",
    f"INSERT INTO uptime_months (month, branch, device_id, minutes) SELECT {_MONTH}, branch, "
    f"device_id, sum(minutes) FROM uptime_days GROUP BY {_MONTH}, branch, device_id",
    "INSERT INTO uptime_peaks (day, branch, peak) SELECT day, branch, max(minutes) "
    "FROM uptime_days GROUP BY day, branch",
)
"""The monthly tables made from the daily ones (into empty tables): version 7's fill."""


# -- coarse rollups per business day x branch (schema version 9) ---------------------------------

BRANCH_DAY_TABLES = ("branch_days", "branch_day_levels", "branch_day_waits")
"""``rollups``, ``rollup_levels`` and ``rollup_waits`` summed per business day x branch (every
counter, teller and business type together): the daily trend and the days at a range's edges
of the bank, region and branch levels read a row per branch and day instead of one per
counter x teller x business type."""

BRANCH_DAY_SCHEMA = _sums_schema(BRANCH_DAY_TABLES, (("day", "TEXT"), ("branch", "TEXT")))

BRANCH_DAY_FILL = _sums_fill(BRANCH_DAY_TABLES, "day, branch", ("day", "branch"))
"""The branch-day tables made from the daily ones (into empty tables): version 9's fill."""

# -- coarse rollups per month x branch x counter x teller (schema version 10) --------------------

DESK_KEY = ("month", "branch", "counter", "teller")
DESK_MONTH_TABLES = ("desk_months", "desk_month_levels", "desk_month_waits")
"""``rollups``, ``rollup_levels`` and ``rollup_waits`` summed per calendar month x branch x
counter x teller (every business type together): the counter and teller levels read whole
months from them (a branch's year of waits is some 300,000 daily rows, 20,000 of these)."""

DESK_MONTH_SCHEMA = _sums_schema(
    DESK_MONTH_TABLES,
    (("month", "TEXT"), ("branch", "TEXT"), ("counter", "INTEGER"), ("teller", "TEXT")),
)

DESK_MONTH_FILL = _sums_fill(DESK_MONTH_TABLES, f"{_MONTH}, branch, counter, teller", DESK_KEY)
"""The desk-month tables made from the daily ones (into empty tables): version 10's fill."""

COARSE_TABLES = (*MONTH_TABLES, *BRANCH_DAY_TABLES, *DESK_MONTH_TABLES)
"""Every coarse table: kept up to date with the daily rollups in the same transaction."""
COARSE_FILL = (*MONTH_FILL, *BRANCH_DAY_FILL, *DESK_MONTH_FILL)
"""Every coarse table made from the daily rollups (into empty tables)."""


WAIT_BANDS = ((0, 300), (300, 600), (600, 900), (900, 1800), (1800, None))
"""The waiting-time bands (seconds, upper bound excluded) 满意率 is shown against."""


def wait_band(seconds: float) -> int:
    return next(i for i, (_, hi) in enumerate(WAIT_BANDS) if hi is None or seconds < hi)


# -- the waits' histogram: 15 s bins to an hour, 5 min bins to four hours, then one bin ------------
_FINE_S, _FINE_BINS = 15.0, 240  # 0 .. 3600 s
_COARSE_S, _COARSE_BINS = 300.0, 36  # 3600 .. 14400 s
LAST_BIN = _FINE_BINS + _COARSE_BINS


def wait_bin(seconds: float) -> int:
    """The histogram bin of a wait."""
    if seconds < _FINE_S * _FINE_BINS:
        return int(max(seconds, 0.0) // _FINE_S)
    coarse = int((seconds - _FINE_S * _FINE_BINS) // _COARSE_S)
    return _FINE_BINS + min(coarse, _COARSE_BINS)


def bin_bounds(b: int) -> tuple[float, float]:
    """The waits ``lo <= s < hi`` of bin ``b`` (the last bin's ``hi`` is infinite)."""
    if b < _FINE_BINS:
        return b * _FINE_S, (b + 1) * _FINE_S
    lo = _FINE_S * _FINE_BINS + (b - _FINE_BINS) * _COARSE_S
    return lo, (lo + _COARSE_S if b < LAST_BIN else float("inf"))


# -- what one event adds -------------------------------------------------------------------------


def row_counts(row: TransactionRow) -> dict[str, float]:
    """What one transaction row adds to its rollup."""
    finished = row.outcome == "served"
    called = row.outcome in ("served", "no_show")
    add: dict[str, float] = {
        "rows": 1,
        "finished": finished,
        "transferred": row.outcome == "transferred",
        "no_shows": row.outcome == "no_show",
        "expired": row.outcome == "expired",
        "cancelled": row.outcome == "cancelled",
        "rated": finished and row.rating is not None,
        "unrated": finished and row.rating is None and row.rating_status != "window_cut",
        "not_invited": row.rating_status == "not_invited",
        "window_cut": row.rating_status == "window_cut",
        "inexact": not (row.waiting_exact and row.service_exact),
        "quick_ratings": finished
        and row.rating is not None
        and row.rating_delay_s is not None
        and row.rating_delay_s < QUICK_S,
    }
    wait = row.total_waiting_s
    if called and wait is not None:
        limited = row.wait_limit_s is not None
        add |= {
            "wait_n": 1,
            "wait_sum_s": wait,
            "wait_limited": limited,
            "wait_within": limited and not row.wait_over_limit,
            "wait_over": row.wait_over_limit,
        }
    if row.outcome in ("served", "transferred") and row.service_s is not None:
        add |= {
            "service_n": 1,
            "service_sum_s": row.service_s,
            "service_limited": row.service_limit_s is not None,
            "service_over": row.service_over_limit,
        }
    add["over_any"] = finished and (row.wait_over_limit or row.service_over_limit)
    return {k: float(v) if k.endswith("_s") else int(v) for k, v in add.items() if v}


def _key(row: TransactionRow, branch: str) -> tuple[str, str, int, str, str]:
    return (
        row.business_day.isoformat(),
        branch,
        row.counter or 0,
        row.teller or "",
        row.business_type,
    )


Execute = Callable[[str, tuple[Any, ...]], int]
"""Runs one statement with its parameters, returns the rows it changed (``cursor.rowcount``)."""
ExecuteMany = Callable[[str, Sequence[Sequence[Any]]], None]
"""Runs one statement for each row of parameters."""


def _upsert_counts(table: str, key: Sequence[str], counted: str) -> str:
    """Add ``counted`` to a row of ``table`` by ``key``, made if it is not there."""
    names = (*key, counted)
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {counted} = {table}.{counted} + "
        f"excluded.{counted}"
    )


def _upsert_sums(table: str, key: Sequence[str]) -> str:
    """Add every count of :data:`COUNTS` to a row of ``table`` by ``key``, made if it is not
    there."""
    names = (*key, *COUNTS)
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in COUNTS)
    )


_ROLLUPS = _upsert_sums("rollups", KEY)
_LEVELS = _upsert_counts("rollup_levels", (*KEY, "level"), "n")
_WAITS = _upsert_counts("rollup_waits", (*KEY, "bin"), "n")
_TIMING = _upsert_counts(
    "rollup_timing", ("day", "branch", "business_type", "wait_band", "service_over", "level"), "n"
)
_MONTHS = _upsert_sums("month_rollups", MONTH_KEY)
_BRANCH_DAYS = _upsert_sums("branch_days", ("day", "branch"))
_BRANCH_DAY_LEVELS = _upsert_counts("branch_day_levels", ("day", "branch", "level"), "n")
_BRANCH_DAY_WAITS = _upsert_counts("branch_day_waits", ("day", "branch", "bin"), "n")
_DESK_MONTHS = _upsert_sums("desk_months", DESK_KEY)
_DESK_LEVELS = _upsert_counts("desk_month_levels", (*DESK_KEY, "level"), "n")
_DESK_WAITS = _upsert_counts("desk_month_waits", (*DESK_KEY, "bin"), "n")
_MONTH_LEVELS = _upsert_counts("month_levels", (*MONTH_KEY, "level"), "n")
_MONTH_WAITS = _upsert_counts("month_waits", (*MONTH_KEY, "bin"), "n")
_YEAR_WAITS = _upsert_counts("year_waits", ("year", "branch", "bin"), "n")
_UPTIME_MONTHS = _upsert_counts("uptime_months", ("month", "branch", "device_id"), "minutes")
# each (day, branch) touched: its devices' most minutes, as they stand (they only grow)
_UPTIME_PEAKS = (
    "INSERT INTO uptime_peaks (day, branch, peak) SELECT day, branch, max(minutes) "
    "FROM uptime_days WHERE day = ? AND branch = ? GROUP BY day, branch "
    "ON CONFLICT (day, branch) DO UPDATE SET peak = excluded.peak"
)
_UPTIME = _upsert_counts("uptime_days", ("day", "branch", "device_id"), "minutes")
_COUNTER_DEVICES = (
    "INSERT INTO counter_devices (device_id, branch, counter, first_day) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
    "counter = CASE WHEN excluded.counter < counter_devices.counter "
    "THEN excluded.counter ELSE counter_devices.counter END, "
    "first_day = CASE WHEN excluded.first_day < counter_devices.first_day "
    "THEN excluded.first_day ELSE counter_devices.first_day END"
)
_TELLERS = (
    "INSERT INTO tellers (branch, teller, name, last_day) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (branch, teller) DO UPDATE SET name = excluded.name, "
    "last_day = excluded.last_day WHERE excluded.last_day >= tellers.last_day"
)
_INDEX = {name: i for i, name in enumerate(COUNTS)}


class Pending:
    """The rollups' increments of one write transaction, summed in memory per key and added to
    the tables once per key by :meth:`flush` (before the commit): sums do not depend on the
    order they are added in, so this gives what adding each event at once gives."""

    def __init__(self) -> None:
        self.rollups: dict[tuple, list[float]] = {}
        self.levels: Counter[tuple] = Counter()
        self.waits: Counter[tuple] = Counter()
        self.timing: Counter[tuple] = Counter()
        self.uptime: Counter[tuple] = Counter()
        self.tellers: dict[tuple[str, str], tuple[str, str]] = {}  # -> (last_day, name)
        self.counter_devices: dict[str, tuple[str, int, str]] = {}  # -> (branch, counter, day)

    def add(self, key: tuple, add: dict[str, float]) -> None:
        sums = self.rollups.get(key)
        if sums is None:
            sums = self.rollups[key] = [0] * len(COUNTS)
        for name, value in add.items():
            sums[_INDEX[name]] += value

    def teller(self, branch: str, teller: str, name: str, day: str) -> None:
        """The teller's name as of the latest day (of equal days, the last added)."""
        seen = self.tellers.get((branch, teller))
        if seen is None or day >= seen[0]:
            self.tellers[(branch, teller)] = (day, name)

    def counter_device(self, device: str, branch: str, counter: int, day: str) -> None:
        """A pad's lowest counter and first day (its branch as first seen)."""
        seen = self.counter_devices.get(device)
        if seen is None:
            self.counter_devices[device] = (branch, counter, day)
        else:
            self.counter_devices[device] = (seen[0], min(seen[1], counter), min(seen[2], day))

    def __bool__(self) -> bool:
        return bool(
            self.rollups or self.levels or self.waits or self.timing or self.uptime
            or self.tellers or self.counter_devices
        )  # fmt: skip

    def flush(self, executemany: ExecuteMany) -> None:
        """Add everything summed so far to the tables, and start again from nothing."""
        if self.rollups:
            executemany(_ROLLUPS, [(*key, *sums) for key, sums in self.rollups.items()])
            days = _summed(self.rollups, 10)
            executemany(_BRANCH_DAYS, [(*key, *sums) for key, sums in days.items()])
            desks = _summed(self.rollups, 7, 4)
            executemany(_DESK_MONTHS, [(*key, *sums) for key, sums in desks.items()])
            months = _summed(days, 7)
            executemany(_MONTHS, [(*key, *sums) for key, sums in months.items()])
        for sql, counts in (
            (_LEVELS, self.levels), (_WAITS, self.waits), (_TIMING, self.timing),
            (_UPTIME, self.uptime), (_BRANCH_DAY_LEVELS, _by_month(self.levels, 10)),
            (_BRANCH_DAY_WAITS, _by_month(self.waits, 10)),
            (_MONTH_LEVELS, _by_month(self.levels)), (_MONTH_WAITS, _by_month(self.waits)),
            (_YEAR_WAITS, _by_month(self.waits, 4)),
            (_DESK_LEVELS, _by_desk(self.levels)), (_DESK_WAITS, _by_desk(self.waits)),
        ):  # fmt: skip
            if counts:
                executemany(sql, [(*key, n) for key, n in counts.items()])
        if self.uptime:
            minutes: Counter[tuple] = Counter()
            for (day, branch, device), n in self.uptime.items():
                minutes[(day[:7], branch, device)] += n
            executemany(_UPTIME_MONTHS, [(*key, n) for key, n in minutes.items()])
            executemany(_UPTIME_PEAKS, sorted({key[:2] for key in self.uptime}))
        if self.counter_devices:
            rows = [(d, *v) for d, v in self.counter_devices.items()]
            executemany(_COUNTER_DEVICES, rows)
        if self.tellers:
            named = [(b, t, name, day) for (b, t), (day, name) in self.tellers.items()]
            executemany(_TELLERS, named)
        self.__init__()  # type: ignore[misc]


def _summed(rows: dict[tuple, list[float]], width: int, keys: int = 2) -> dict[tuple, list[float]]:
    """Sums keyed (day, branch, ...) summed per (the day's first ``width`` characters, and the
    key's next ``keys - 1`` parts): 10, per day and branch; 7, per month and branch; 7 and 4,
    per month, branch, counter and teller."""
    out: dict[tuple, list[float]] = {}
    for key, sums in rows.items():
        group = (key[0][:width], *key[1:keys])
        summed = out.get(group)
        if summed is None:
            out[group] = list(sums)
        else:
            for i, value in enumerate(sums):
                summed[i] += value
    return out


def _by_desk(counts: Counter[tuple]) -> Counter[tuple]:
    """Daily counts keyed (day, branch, counter, teller, type, x) summed per (month, branch,
    counter, teller, x)."""
    out: Counter[tuple] = Counter()
    for key, n in counts.items():
        out[(key[0][:7], key[1], key[2], key[3], key[-1])] += n
    return out


def _by_month(counts: Counter[tuple], width: int = 7) -> Counter[tuple]:
    """Daily counts keyed (day, branch, counter, teller, type, x) summed per (month, branch, x)
    (``width`` 4: per year; 10: per day and branch)."""
    out: Counter[tuple] = Counter()
    for key, n in counts.items():
        out[(key[0][:width], key[1], key[-1])] += n
    return out


_INSERT_ROW = (
    f"INSERT INTO transactions (transaction_id, {', '.join(TX_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' * len(TX_COLUMNS))}) ON CONFLICT DO NOTHING"
)


def apply_event(
    execute: Execute, pending: Pending, branch: Branch, event: StoredEvent, store: str
) -> TransactionRow | None:
    """Add one newly stored event to the transactions (at once) and the rollups (to
    ``pending``; nothing if its type does not count); returns the transaction row it made, if
    it made one that was new."""
    if event.type not in ROLLUP_TYPES:
        return None
    zone = ZoneInfo(branch.time_zone)
    p = typed_payload(event.type, event.payload)  # a batch off the wire holds plain JSON
    if p is not event.payload:
        event = replace(event, payload=p)
    if isinstance(p, CounterResumed | CounterIdleWithQueue | CounterIdleEnded | RatingPress):
        day = event.wall.astimezone(zone).date().isoformat()
        key = (day, branch.id, p.counter, p.teller or "", "")
        if isinstance(p, CounterResumed):
            pending.add(key, {"pauses": 1, "pause_s": p.paused_s})
        elif isinstance(p, CounterIdleWithQueue):
            pending.add(key, {"idle_alerts": 1, "idle_s": p.idle_s})
        elif isinstance(p, CounterIdleEnded):  # the rest of the stretch, after its alert
            pending.add(key, {"idle_s": p.after_alert_s})
        elif p.outcome == "paused":
            pending.add(key, {"paused_presses": 1})
        return None
    row = transaction_row(event, zone)
    if row is None:
        return None
    if execute(_INSERT_ROW, (row.transaction_id, branch.id, store, *_tx_values(row))) != 1:
        return None
    key = _key(row, branch.id)
    pending.add(key, row_counts(row))
    if row.outcome == "served" and row.rating is not None:
        pending.levels[(*key, row.rating)] += 1
        if row.total_waiting_s is not None:
            over = -1 if row.service_limit_s is None else int(row.service_over_limit)
            band = wait_band(row.total_waiting_s)
            pending.timing[(key[0], branch.id, row.business_type, band, over, row.rating)] += 1
    if row.outcome in ("served", "no_show") and row.total_waiting_s is not None:
        pending.waits[(*key, wait_bin(row.total_waiting_s))] += 1
    if row.counter is not None:  # a pad's device: its minutes count towards 开机率
        pending.counter_device(row.device_id, branch.id, row.counter, key[0])
    if row.teller:
        pending.teller(branch.id, row.teller, row.teller_name, key[0])
    return row


def apply_heartbeat(pending: Pending, branch: Branch, device: str, minute: datetime) -> None:
    """A heartbeat minute newly stored: counts towards 开机率 if it is in business hours."""
    local = minute.astimezone(ZoneInfo(branch.time_zone))
    clock = local.time().replace(tzinfo=None)
    if not any(span.start <= clock < span.end for span in branch.spans(local.date())):
        return
    pending.uptime[(local.date().isoformat(), branch.id, device)] += 1


def business_minutes(branch: Branch, day: date, until: datetime | None = None) -> int:
    """Minutes the branch is open on ``day`` (a DST change counted in real minutes); ``until``:
    only those before that moment (today so far)."""
    zone = ZoneInfo(branch.time_zone)
    total = 0
    for span in branch.spans(day):
        start = datetime.combine(day, span.start, zone).astimezone(UTC)
        end = datetime.combine(day, span.end, zone).astimezone(UTC)
        if until is not None:
            end = max(start, min(end, until.astimezone(UTC)))
        total += int((end - start) / timedelta(minutes=1))
    return total


_TX_FIELDS = attrgetter(*TX_COLUMNS[2:])
_TX_CONVERTED = tuple(
    i
    for i, name in enumerate(TX_COLUMNS[2:])
    if {datetime, date, bool} & {_HINTS[name], *get_args(_HINTS[name])}
)
"""The row's fields that are not stored as they are (times and dates as ISO text, booleans as
integers): only these go through :func:`_db`."""


def _tx_values(row: TransactionRow) -> list[Any]:
    """The row's fields in the order of ``TX_COLUMNS[2:]``, as stored."""
    values = list(_TX_FIELDS(row))
    for i in _TX_CONVERTED:
        values[i] = _db(values[i])
    return values


def _db(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


DERIVED_TABLES = (
    "transactions", "rollups", "rollup_levels", "rollup_waits", "rollup_timing", "tellers",
    "uptime_days", "counter_devices", *COARSE_TABLES,
)  # fmt: skip
CLEAR = tuple(f"DELETE FROM {table}" for table in DERIVED_TABLES)
"""What :func:`central.store.CentralStore.rebuild` empties before it adds every event again."""


def branch_of(config: CentreConfig, branch_id: str) -> Branch:
    return config.branch_or_default(branch_id)
