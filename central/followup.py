"""Follow-up of bad ratings (差评回访): every rating in ``[kpi] unsatisfied_levels`` opens an
item, due within ``[followup] working_days`` working days (好差评: 15) after the day of the
rating; a person is assigned, adds notes and closes it with a verdict. A supervisor may mark the
rating disputed (the customer was at fault, the teller kept the rules: 委屈奖) with a reason: the
rating stays where it is, annotated, and the KPIs show the 满意率 both raw and adjusted (without
the disputed ratings). Workflow and commands: docs/followup.md.

Tables (central schema version 5):

- ``followups``: one item per bad rating, keyed by its transaction id, with its own copy of
  what it is about (day, branch, counter, teller, business type: the rollups' key; the rating,
  when it was given) and its state (deadline, owner, open or closed, verdict, disputed).
- ``followup_log``: the audit trail, appended to and never changed: every change of an item
  (opened, assigned, note, closed, disputed, lifted, redated) with who, when (UTC) and what
  (the value before and after).
- ``rollup_disputed``: a view keyed like ``rollup_levels``: the disputed ratings, which
  :mod:`central.kpi` takes out of the adjusted 满意率.

Nothing here is ever deleted or cleared. Items are opened as transaction rows are made
(:meth:`central.store.CentralStore.ingest`), so a rating delivered twice opens one item, and a
rebuild (which clears only what it derives: ``rollups.CLEAR``) opens items only for bad ratings
that have none: owners, notes, verdicts and disputes stay, nothing is reopened. An item is
opened at the time of its rating, by ``centre``.

Every change is one conditional statement (``... WHERE id = ? AND status = 'open'``) inside
one write transaction (:meth:`central.store.CentralStore.write`): safe with several workers on
one database. SQL is the dialect SQLite and PostgreSQL share; the ``id`` columns (an identity
column on PostgreSQL: :func:`central.database.postgres_ddl`) are read back by ``RETURNING``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from central.kpi import Query
from central.rollups import Execute
from central.workdays import WorkCalendar
from config.centre import Branch, CentreConfig
from domain.report import TransactionRow

SYSTEM = "centre"
"""Who opens items (and writes nothing else)."""
ACTIONS = ("opened", "assigned", "note", "closed", "disputed", "lifted", "redated")

SCHEMA = (
    """CREATE TABLE followups (
        id INTEGER PRIMARY KEY,
        transaction_id TEXT NOT NULL UNIQUE,
        day TEXT NOT NULL,
        branch TEXT NOT NULL,
        counter INTEGER NOT NULL,
        teller TEXT NOT NULL,
        business_type TEXT NOT NULL,
        teller_name TEXT NOT NULL,
        ticket TEXT,
        rating INTEGER NOT NULL,
        rating_label TEXT,
        rated_at TEXT NOT NULL,
        deadline TEXT NOT NULL,
        provisional INTEGER NOT NULL,
        owner TEXT,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        verdict TEXT,
        closed_at TEXT,
        closed_by TEXT,
        disputed INTEGER NOT NULL DEFAULT 0,
        dispute_reason TEXT
    )""",
    "CREATE INDEX followups_status ON followups (status, deadline)",
    "CREATE INDEX followups_day ON followups (day, branch)",
    f"""CREATE TABLE followup_log (
        id INTEGER PRIMARY KEY,
        item INTEGER NOT NULL REFERENCES followups (id),
        logged_at TEXT NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ({", ".join(f"'{a}'" for a in ACTIONS)})),
        old_value TEXT,
        new_value TEXT
    )""",
    "CREATE INDEX followup_log_item ON followup_log (item, id)",
    """CREATE VIEW rollup_disputed AS
        SELECT day, branch, counter, teller, business_type, rating AS level, 1 AS n
        FROM followups WHERE disputed = 1""",
)

_ITEM = (
    "id", "transaction_id", "day", "branch", "counter", "teller", "business_type",
    "teller_name", "ticket", "rating", "rating_label", "rated_at", "deadline", "provisional",
    "owner", "status", "verdict", "closed_at", "closed_by", "disputed", "dispute_reason",
)  # fmt: skip
_LOG = ("id", "item", "logged_at", "who", "action", "old_value", "new_value")


class FollowupError(Exception):
    """A change that cannot be made (an unknown item, a closed one ...): the message says why."""


# -- opening ---------------------------------------------------------------------------------------


def opens_item(row: TransactionRow, centre: CentreConfig) -> bool:
    """Whether ``row`` is a bad rating: a served transaction rated in the unsatisfied levels."""
    return (
        row.outcome == "served"
        and row.rating is not None
        and row.rating in centre.kpi.unsatisfied_levels
    )


def open_item(
    execute: Execute, query: Query, centre: CentreConfig, branch: Branch, row: TransactionRow
) -> int | None:
    """Open the item of a new transaction row that is a bad rating; returns its id, or None
    (not a bad rating, or its item exists already: nothing changes)."""
    if not opens_item(row, centre):
        return None
    rated = row.rated_at or row.closed_at  # the branch's local time
    due = WorkCalendar.of(centre, branch).after(rated.date(), centre.followup.working_days)
    names = _ITEM[1:16]  # transaction_id .. status: what opening sets
    values = (
        row.transaction_id, row.business_day.isoformat(), branch.id, row.counter or 0,
        row.teller or "", row.business_type, row.teller_name, row.ticket, row.rating,
        row.rating_label, rated.isoformat(), due.day.isoformat(), int(due.provisional), None,
        "open",
    )  # fmt: skip
    made = list(
        query(
            f"INSERT INTO followups ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            "ON CONFLICT (transaction_id) DO NOTHING RETURNING id",
            values,
        )
    )
    if not made:
        return None
    item = int(made[0][0])
    label = f" {row.rating_label}" if row.rating_label else ""
    what = f"rating {row.rating}{label}, due {_due_text(due.day, due.provisional)}"
    _log(execute, item, rated, SYSTEM, "opened", None, what)
    return item


# -- changes by people -----------------------------------------------------------------------------


def assign(execute: Execute, query: Query, item: int, owner: str, *, by: str, at: datetime) -> None:
    """Make ``owner`` responsible for the open item ``item``."""
    owner, by = _text(owner, "the owner"), _text(by, "who assigns")
    found = _open(query, item, "reassigned")
    if found["owner"] == owner:
        raise FollowupError(f"follow-up item {item} is already assigned to {owner}")
    _change(
        execute,
        item,
        "owner = ?",
        (owner,),
        "status = 'open' AND coalesce(owner, '') = ?",
        (found["owner"] or "",),
    )
    _log(execute, item, at, by, "assigned", found["owner"], owner)


def note(execute: Execute, query: Query, item: int, text: str, *, by: str, at: datetime) -> None:
    """Add a note to ``item`` (open or closed: a note after the close is kept too)."""
    text, by = _text(text, "the note"), _text(by, "who writes the note")
    _item(query, item)
    _log(execute, item, at, by, "note", None, text)


def close(
    execute: Execute, query: Query, item: int, verdict: str, *, by: str, at: datetime
) -> None:
    """Close the open item ``item`` with its verdict (what was found, what was done)."""
    verdict, by = _text(verdict, "the verdict"), _text(by, "who closes")
    _open(query, item, "closed again")
    _change(
        execute,
        item,
        "status = 'closed', verdict = ?, closed_at = ?, closed_by = ?",
        (verdict, _utc(at), by),
        "status = 'open'",
        (),
    )
    _log(execute, item, at, by, "closed", None, verdict)


def dispute(
    execute: Execute, query: Query, item: int, reason: str, *, by: str, at: datetime
) -> None:
    """Mark the rating of ``item`` disputed (the customer was at fault): it stays, annotated,
    and leaves the adjusted 满意率. An item open or closed may be disputed."""
    reason, by = _text(reason, "the reason"), _text(by, "who disputes")
    found = _item(query, item)
    if found["disputed"]:
        raise FollowupError(
            f"follow-up item {item} is disputed already ({found['dispute_reason']}); "
            "lift the dispute first to give another reason"
        )
    _change(execute, item, "disputed = 1, dispute_reason = ?", (reason,), "disputed = 0", ())
    _log(execute, item, at, by, "disputed", None, reason)


def lift(execute: Execute, query: Query, item: int, reason: str, *, by: str, at: datetime) -> None:
    """Lift the dispute of ``item``: its rating counts in the adjusted 满意率 again. The
    dispute's reason stays in the audit trail."""
    reason, by = _text(reason, "the reason"), _text(by, "who lifts the dispute")
    found = _item(query, item)
    if not found["disputed"]:
        raise FollowupError(f"follow-up item {item} is not disputed")
    _change(execute, item, "disputed = 0, dispute_reason = NULL", (), "disputed = 1", ())
    _log(execute, item, at, by, "lifted", found["dispute_reason"], reason)


def redate(
    execute: Execute, query: Query, centre: CentreConfig, *, by: str, at: datetime
) -> list[tuple[int, str, str]]:
    """Compute the deadline of every open item again with the calendar and settings now in
    force (a new year's holidays in a newer ``chinese-calendar``, a day off added to the
    configuration); returns ``(item, old, new)`` of each deadline that changed (logged)."""
    by = _text(by, "who redates")
    changed = []
    rows = query(
        "SELECT id, branch, rated_at, deadline, provisional FROM followups "
        "WHERE status = 'open' ORDER BY id",
        (),
    )
    for item_id, branch_id, rated_at, deadline, provisional in list(rows):
        calendar = WorkCalendar.of(centre, centre.branch_or_default(branch_id))
        rated = datetime.fromisoformat(rated_at).date()
        due = calendar.after(rated, centre.followup.working_days)
        if due.day.isoformat() == deadline and int(due.provisional) == provisional:
            continue
        old = _due_text(date.fromisoformat(deadline), bool(provisional))
        _change(
            execute,
            item_id,
            "deadline = ?, provisional = ?",
            (due.day.isoformat(), int(due.provisional)),
            "status = 'open' AND deadline = ?",
            (deadline,),
        )
        new = _due_text(due.day, due.provisional)
        _log(execute, item_id, at, by, "redated", old, new)
        changed.append((item_id, old, new))
    return changed


# -- reading ---------------------------------------------------------------------------------------

WHICH = ("all", "open", "overdue", "closed")


def items(
    query: Query,
    centre: CentreConfig,
    today: datetime | date,
    *,
    which: str = "all",
    branches: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The items (``which``: all, open, overdue, closed), by deadline. ``today``: the moment
    (each branch's date in its own time zone) or the date that counts as today, for
    ``overdue`` (open after its deadline), ``late`` (closed after it) and
    ``working_days_left`` (of an open item; negative: overdue by so many)."""
    if which not in WHICH:
        raise ValueError(f"which must be one of {', '.join(WHICH)}, not {which!r}")
    where, params = ["1 = 1"], []
    if which in ("open", "overdue", "closed"):
        where.append("status = ?")
        params.append("closed" if which == "closed" else "open")
    if branches:
        where.append(f"branch IN ({', '.join('?' * len(branches))})")
        params += list(branches)
    notes = Counter(
        {
            int(i): int(n)
            for i, n in query(
                "SELECT item, count(*) FROM followup_log WHERE action = 'note' GROUP BY item", ()
            )
        }
    )
    out = []
    for values in query(
        f"SELECT {', '.join(_ITEM)} FROM followups WHERE {' AND '.join(where)} "
        "ORDER BY deadline, id",
        params,
    ):
        row = _as_item(values)
        branch = centre.branch_or_default(row["branch"])
        local_today = _local_date(today, branch)
        deadline = date.fromisoformat(row["deadline"])
        is_open = row["status"] == "open"
        row["branch_name"] = branch.info.name if centre.branch(branch.id) else None
        row["overdue"] = is_open and local_today > deadline
        row["late"] = (not is_open) and _local_date(
            datetime.fromisoformat(row["closed_at"]), branch
        ) > deadline
        row["working_days_left"] = (
            WorkCalendar.of(centre, branch).count(local_today, deadline) if is_open else None
        )
        row["notes"] = notes[row["id"]]
        if which == "overdue" and not row["overdue"]:
            continue
        out.append(row)
    return out


def get_item(query: Query, item_id: int) -> dict[str, Any]:
    """One item as stored (raises :class:`FollowupError` for an unknown id)."""
    return _item(query, item_id)


def history(query: Query, item_id: int) -> list[dict[str, Any]]:
    """The audit trail of one item, oldest first."""
    _item(query, item_id)
    return [
        dict(zip(_LOG, values, strict=True))
        for values in query(
            f"SELECT {', '.join(_LOG)} FROM followup_log WHERE item = ? ORDER BY id", (item_id,)
        )
    ]


# -- helpers ---------------------------------------------------------------------------------------


def _as_item(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_ITEM, values, strict=True))
    row["provisional"], row["disputed"] = bool(row["provisional"]), bool(row["disputed"])
    return row


def _item(query: Query, item_id: int) -> dict[str, Any]:
    rows = list(query(f"SELECT {', '.join(_ITEM)} FROM followups WHERE id = ?", (item_id,)))
    if not rows:
        raise FollowupError(f"there is no follow-up item {item_id}")
    return _as_item(rows[0])


def _open(query: Query, item_id: int, cannot: str) -> dict[str, Any]:
    found = _item(query, item_id)
    if found["status"] != "open":
        raise FollowupError(
            f"follow-up item {item_id} is closed (by {found['closed_by']} at "
            f"{found['closed_at']}: {found['verdict']}) and cannot be {cannot}"
        )
    return found


def _change(
    execute: Execute, item_id: int, sets: str, values: tuple, guard: str, guarded: tuple
) -> None:
    """One conditional update; a change made meanwhile by someone else refuses this one."""
    done = execute(
        f"UPDATE followups SET {sets} WHERE id = ? AND {guard}", (*values, item_id, *guarded)
    )
    if done != 1:
        raise FollowupError(f"follow-up item {item_id} changed meanwhile; look again and retry")


def _log(
    execute: Execute,
    item_id: int,
    at: datetime,
    who: str,
    action: str,
    old: str | None,
    new: str | None,
) -> None:
    execute(
        "INSERT INTO followup_log (item, logged_at, who, action, old_value, new_value) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (item_id, _utc(at), who, action, old, new),
    )


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise FollowupError(f"{what} must not be empty")
    return value


def _utc(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError(f"a time with its zone is needed, not {at.isoformat()}")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _due_text(day: date, provisional: bool) -> str:
    return f"{day.isoformat()}{' (provisional)' if provisional else ''}"


def _local_date(today: datetime | date, branch: Branch) -> date:
    if isinstance(today, datetime):
        return today.astimezone(ZoneInfo(branch.time_zone)).date()
    return today
