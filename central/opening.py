"""满点服务: a counter opened late or closed early against its branch's business hours.

Each counter's day is kept as its sign-ins and sign-outs arrive (``counter_days``: the earliest
sign-in and the latest move of each counter on each business day of its branch, whatever the
order they arrive in), so the checks cost a row, not a scan of the day's events, and a day is
judged again whenever a move of it arrives late (a branch offline for days):

- ``opened_late``: the day's first sign-in is later than ``GRACE`` after opening. Raised as
  soon as that sign-in arrives; moved to an earlier sign-in that arrives later, and withdrawn if
  that one was in time;
- ``closed_early``: once the day's closing time has passed, its last move is a sign-out earlier
  than ``GRACE`` before closing. Withdrawn if a later sign-in arrives, moved if a later sign-out
  does.

Only the branches the centre's configuration names are judged (their hours are known). A
withdrawn alert is closed by ``counterside`` with the reason in ``acked_by``, never deleted; an
alert a person acknowledged is left as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from central.alerts import GRACE, Execute, raise_alert
from config.centre import Branch, CentreConfig
from domain.events import (
    CounterSignedIn,
    CounterSignedOut,
    EventType,
    StoredEvent,
    decode_payload,
    typed_payload,
)

SCHEMA = (
    """CREATE TABLE counter_days (
        branch TEXT NOT NULL,
        day TEXT NOT NULL,
        counter INTEGER NOT NULL,
        first_in TEXT,
        first_in_id TEXT,
        last_at TEXT NOT NULL,
        last_id TEXT NOT NULL,
        last_in INTEGER NOT NULL,
        PRIMARY KEY (branch, day, counter)
    )""",
)
MOVE_TYPES = frozenset({EventType.COUNTER_SIGNED_IN, EventType.COUNTER_SIGNED_OUT})
LOOKBACK = timedelta(days=3)
"""How long after a day's closing :func:`evaluate` still looks at it (a centre that was down
at closing time catches up; a move arriving later re-judges its day by itself)."""
WITHDRAWN = "counterside: withdrawn"


@dataclass(frozen=True)
class CounterDay:
    branch: str
    day: date
    counter: int
    first_in: datetime | None
    first_in_id: str | None
    last_at: datetime
    last_id: str
    last_in: bool


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()  # one form, so the text orders as the time does


def _decoded(branch: str, day: date, counter: int, row: Sequence[Any]) -> CounterDay:
    """A ``counter_days`` row's ``first_in, first_in_id, last_at, last_id, last_in``."""
    first_in, first_id, last_at, last_id, last_in = row
    first = datetime.fromisoformat(first_in) if first_in else None
    at = datetime.fromisoformat(last_at)
    return CounterDay(branch, day, counter, first, first_id, at, last_id, bool(last_in))


def _read(execute: Execute, branch: str, day: date, counter: int) -> CounterDay | None:
    row = execute(
        "SELECT first_in, first_in_id, last_at, last_id, last_in FROM counter_days "
        "WHERE branch = ? AND day = ? AND counter = ?",
        (branch, day.isoformat(), counter),
    ).fetchone()
    return None if row is None else _decoded(branch, day, counter, row)


def _move(branch: Branch, event: StoredEvent) -> tuple[date, int, datetime, bool] | None:
    """(business day, counter, time, signed in) of a sign-in or sign-out; None for others."""
    p = typed_payload(event.type, event.payload)
    if not isinstance(p, CounterSignedIn | CounterSignedOut):
        return None
    day = event.wall.astimezone(ZoneInfo(branch.time_zone)).date()
    return day, p.counter, event.wall.astimezone(UTC), isinstance(p, CounterSignedIn)


def _fold(
    old: CounterDay | None, branch: str, day: date, counter: int, at: datetime, eid: str,
    signed_in: bool,
) -> CounterDay:  # fmt: skip
    """The counter's day with one more move: the earliest sign-in, the latest move (ties by id),
    so any order of the same moves folds to the same day."""
    first_in, first_id = (old.first_in, old.first_in_id) if old else (None, None)
    if signed_in and (first_in is None or (at, eid) < (first_in, first_id or "")):
        first_in, first_id = at, eid
    last = (at, eid, signed_in)
    if old is not None and (old.last_at, old.last_id) > (at, eid):
        last = (old.last_at, old.last_id, old.last_in)
    return CounterDay(branch, day, counter, first_in, first_id, *last)


_UPSERT = (
    "INSERT INTO counter_days (branch, day, counter, first_in, first_in_id, last_at, last_id, "
    "last_in) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (branch, day, counter) DO UPDATE "
    "SET first_in = excluded.first_in, first_in_id = excluded.first_in_id, "
    "last_at = excluded.last_at, last_id = excluded.last_id, last_in = excluded.last_in"
)


def _values(d: CounterDay) -> tuple:
    return (d.branch, d.day.isoformat(), d.counter, _stamp(d.first_in) if d.first_in else None,
            d.first_in_id, _stamp(d.last_at), d.last_id, int(d.last_in))  # fmt: skip


def record(execute: Execute, branch: Branch, event: StoredEvent) -> CounterDay | None:
    """Fold one sign-in or sign-out into its counter's day; the day as it now stands."""
    move = _move(branch, event)
    if move is None:
        return None
    day, counter, at, signed_in = move
    old = _read(execute, branch.id, day, counter)
    new = _fold(old, branch.id, day, counter, at, event.id, signed_in)
    execute(_UPSERT, _values(new))
    return new


def on_move(
    execute: Execute, centre: CentreConfig, branch: Branch, event: StoredEvent, now: datetime
) -> set[str]:
    """A sign-in or sign-out just stored: its counter's day judged again; the branches touched."""
    day = record(execute, branch, event)
    if day is None or centre.branch(branch.id) is None:
        return set()
    return judge(execute, branch, day, now)


def judge(
    execute: Execute, branch: Branch, day: CounterDay, now: datetime, *, opening_too: bool = True
) -> set[str]:
    """Raise, move or withdraw the day's two alerts as its moves now stand (``opening_too``
    False: only closing, which is all that time passing can change)."""
    spans = branch.spans(day.day)
    if not spans:
        return set()
    zone = ZoneInfo(branch.time_zone)
    opening = datetime.combine(day.day, spans[0].start, zone)
    closing = datetime.combine(day.day, spans[-1].end, zone)
    touched = False
    if opening_too and day.first_in is not None:
        late = day.first_in > opening + GRACE
        touched |= _settle(execute, branch, day, "opened_late", late, day.first_in,
                           day.first_in_id or "", now)  # fmt: skip
    if now >= closing + GRACE:
        early = not day.last_in and day.last_at < closing - GRACE
        touched |= _settle(execute, branch, day, "closed_early", early, day.last_at, day.last_id,
                           now)  # fmt: skip
    return {branch.id} if touched else set()


def _settle(
    execute: Execute,
    branch: Branch,
    day: CounterDay,
    kind: str,
    holds: bool,
    at: datetime,
    evidence: str,
    now: datetime,
) -> bool:
    """The alert ``kind`` of this counter-day open as it should be; True if that changed."""
    key = f"{kind}:{branch.id}:{day.counter}:{day.day}"
    row = execute("SELECT evidence, acked_at, acked_by FROM alerts WHERE key = ?", (key,))
    found = row.fetchone()
    local = at.astimezone(ZoneInfo(branch.time_zone))
    words = "开窗迟" if kind == "opened_late" else "提前关窗"
    message = f"{words}：{branch.info.name} {day.counter}号窗口 {day.day} {local:%H:%M}"
    if found is None:
        if not holds:
            return False
        return raise_alert(
            execute, key=key, branch=branch.id, kind=kind, subject=str(day.counter), at=local,
            message=message, evidence=[evidence], now=now,
        )  # fmt: skip
    old_evidence, acked_at, acked_by = found
    if acked_at is not None and not (acked_by or "").startswith(WITHDRAWN):
        return False  # a person has seen it: their acknowledgement stands
    stamp = now.astimezone(UTC).isoformat(timespec="seconds")
    if not holds:
        if acked_at is not None:
            return False
        why = f"{WITHDRAWN} ({_why(kind, local)})"
        execute("UPDATE alerts SET acked_at = ?, acked_by = ? WHERE key = ?", (stamp, why, key))
        return True
    if acked_at is None and json.loads(old_evidence) == [evidence]:
        return False
    execute(
        "UPDATE alerts SET at = ?, message = ?, evidence = ?, acked_at = NULL, acked_by = NULL "
        "WHERE key = ?",
        (local.isoformat(), message, json.dumps([evidence]), key),
    )
    return True


def _why(kind: str, at: datetime) -> str:
    if kind == "opened_late":
        return f"an earlier sign-in arrived: {at:%H:%M}"
    return f"a later move arrived: {at:%H:%M}"


def evaluate(
    execute: Execute, centre: CentreConfig, now: datetime, since: datetime | None = None
) -> set[str]:
    """Closing time passing: each configured branch's counter-days whose closing (+ ``GRACE``)
    came after ``since`` (the last evaluation; None: within :data:`LOOKBACK`, e.g. a centre
    that was down at closing time) and by ``now``. Openings are judged as moves arrive."""
    since = now - LOOKBACK if since is None else max(since, now - LOOKBACK)
    touched: set[str] = set()
    for branch in centre.resolved:
        zone = ZoneInfo(branch.time_zone)
        today = now.astimezone(zone).date()
        for back in range(LOOKBACK.days + 1):
            day = today - timedelta(days=back)
            spans = branch.spans(day)
            if not spans:
                continue
            due = datetime.combine(day, spans[-1].end, zone) + GRACE
            if not since < due <= now:
                continue
            for found in _days(execute, branch.id, day):
                touched |= judge(execute, branch, found, now, opening_too=False)
    return touched


def _days(execute: Execute, branch: str, day: date) -> list[CounterDay]:
    rows = execute(
        "SELECT counter, first_in, first_in_id, last_at, last_id, last_in FROM counter_days "
        "WHERE branch = ? AND day = ?",
        (branch, day.isoformat()),
    ).fetchall()
    return [_decoded(branch, day, int(row[0]), row[1:]) for row in rows]


def refill(
    executemany: Callable[[str, Sequence[Sequence[Any]]], Any],
    rows: Iterable[tuple],
    branch_of: Callable[[str], Branch],
) -> int:
    """``counter_days`` (emptied by the caller) again from stored moves ``(branch, id, device,
    seq, boot, mono, wall, type, payload)`` (rebuild, migration), folded in memory (one entry per
    counter-day, however many moves) and written at once; no alert is raised or withdrawn. The
    moves counted."""
    days: dict[tuple[str, date, int], CounterDay] = {}
    n = 0
    for branch_id, eid, device, seq, boot, mono, wall, kind, payload in rows:
        event = StoredEvent(
            seq, eid, device, boot, mono, datetime.fromisoformat(wall), kind,
            decode_payload(kind, payload),
        )  # fmt: skip
        move = _move(branch_of(branch_id), event)
        if move is None:
            continue
        day, counter, at, signed_in = move
        key = (branch_id, day, counter)
        days[key] = _fold(days.get(key), branch_id, day, counter, at, eid, signed_in)
        n += 1
    executemany(_UPSERT, [_values(d) for d in days.values()])
    return n
