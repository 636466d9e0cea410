"""Alerts (issue 9, item 7): raised from the events as they are stored, each with its evidence
(event ids), deduplicated by a key, acknowledgeable, and published per branch (retained on
``cs/v1/<branch>/alerts`` by the ingest: ``sync.schema.AlertState``).

Raised in the transaction that stores the event that completes them (so within the ingest's
own latency of its last event arriving):

- ``bad_rating``: a rating in the unsatisfied levels (at once);
- ``bad_burst``: at a branch, at least half of at least ``BURST_MIN`` ratings within
  ``BURST_WINDOW`` are bad (whichever of them arrives last, late or not);
- ``wait_over_limit``: a customer waited past the limit (the queue's own event);
- ``idle_with_queue``: a teller idle while customers wait for the counter (闲置叫号);
- ``chain_break``: a device's hash chain does not hold (``central/chain.py``).

Checked by :func:`evaluate` (the ingest calls it every minute; ``counterside centre alerts
check`` too) against the clock it is given:

- ``device_offline``: a pad offline (its retained status) during its branch's business hours;
- ``below_target``: a teller or branch below a KPI target (满意率, 评价率) over the month so far,
  once it has at least ``min_sample`` ratings or transactions;

``opened_late`` / ``closed_early`` (满点服务) are raised as sign-ins and sign-outs arrive, and
re-judged when late ones do: central/opening.py.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from central.chain import ChainBreak
from central.kpi import kpis
from config.centre import Branch, CentreConfig
from domain.events import (
    CounterIdleWithQueue,
    StoredEvent,
    TicketWaitOverLimit,
    typed_payload,
)
from domain.report import TransactionRow

SCHEMA = (
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        branch TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        at TEXT NOT NULL,
        message TEXT NOT NULL,
        evidence TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        acked_at TEXT,
        acked_by TEXT
    )""",
    "CREATE INDEX alerts_open ON alerts (branch, acked_at)",
)
RATED_AT = "coalesce(rated_at, closed_at)"
"""When a transaction was rated (or closed, for a rating without its own time)."""
RATED_INDEX = (
    f"CREATE INDEX transactions_rated ON transactions (branch, business_day, ({RATED_AT})) "
    "WHERE outcome = 'served' AND rating IS NOT NULL"
)
"""The ratings of a branch's day in time order: what :func:`_burst` reads (schema version 11)."""
BURST_WINDOW = timedelta(minutes=15)
BURST_MIN = 4
GRACE = timedelta(minutes=5)

Execute = Callable[[str, Sequence[Any]], Any]
"""Runs one statement, returns its cursor (``fetchone``, ``fetchall``, ``rowcount``)."""


@dataclass(frozen=True)
class AlertRow:
    id: int
    key: str
    branch: str
    kind: str
    subject: str
    at: str
    message: str
    evidence: tuple[str, ...]
    raised_at: str
    acked_at: str | None
    acked_by: str | None


_COLUMNS = "id, key, branch, kind, subject, at, message, evidence, raised_at, acked_at, acked_by"


def _row(values: Sequence[Any]) -> AlertRow:
    aid, key, branch, kind, subject, at, message, evidence, raised, acked_at, acked_by = values
    return AlertRow(
        int(aid), key, branch, kind, subject, at, message, tuple(json.loads(evidence)), raised,
        acked_at, acked_by,
    )  # fmt: skip


def raise_alert(
    execute: Execute,
    *,
    key: str,
    branch: str,
    kind: str,
    subject: str,
    at: datetime,
    message: str,
    evidence: Iterable[str],
    now: datetime,
) -> bool:
    """Store an alert unless one with ``key`` exists; True if it is new."""
    cur = execute(
        "INSERT INTO alerts (key, branch, kind, subject, at, message, evidence, raised_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        (key, branch, kind, subject, at.isoformat(), message, json.dumps(list(evidence)),
         now.astimezone(UTC).isoformat(timespec="seconds")),
    )  # fmt: skip
    return bool(cur.rowcount == 1)


# -- raised as events are stored -----------------------------------------------------------------


def on_transaction(
    execute: Execute, centre: CentreConfig, branch: Branch, row: TransactionRow, now: datetime
) -> set[str]:
    """Alerts of a new transaction row: a bad rating, and a burst that this rating completes
    (a good one arriving late can complete one too); the branches touched."""
    if row.rating is None or row.outcome != "served":
        return set()
    at = row.rated_at or row.closed_at
    raised = False
    if row.rating in centre.kpi.unsatisfied_levels:
        raised = raise_alert(
            execute,
            key=f"bad_rating:{row.transaction_id}",
            branch=branch.id,
            kind="bad_rating",
            subject=row.teller or "",
            at=at,
            message=f"差评：{row.counter}号窗口 {row.teller_name}({row.teller}) "
            f"{row.ticket or '无票'} 评价 {row.rating_label or row.rating}",
            evidence=[row.event_id],
            now=now,
        )
    raised |= _burst(execute, centre, branch, row.business_day, at, now)
    return {branch.id} if raised else set()


BURST_RATINGS = (
    f"SELECT {RATED_AT}, rating, event_id FROM transactions "
    "WHERE branch = ? AND business_day = ? AND outcome = 'served' AND rating IS NOT NULL "
    f"AND {RATED_AT} >= ? AND {RATED_AT} <= ?"
)
"""The ratings of a branch's day within a time range (by the index ``transactions_rated``)."""


def _burst(
    execute: Execute,
    centre: CentreConfig,
    branch: Branch,
    day: date,
    at: datetime,
    now: datetime,
) -> bool:
    """A burst of bad ratings in a window that holds ``at`` (a rating just stored): the first
    window [end - W, end] ending at a rating in [at, at + W] with at least ``BURST_MIN`` ratings,
    half of them or more bad. Linear in the ratings of [at - W, at + W] once sorted (the
    ingest runs this for every rating: a busy branch's windows must not cost their square)."""
    lo, hi = (at - BURST_WINDOW).isoformat(), (at + BURST_WINDOW).isoformat()
    # local ISO times of one branch, which sort as the times they write
    rows = execute(BURST_RATINGS, (branch.id, day.isoformat(), lo, hi)).fetchall()
    bad = centre.kpi.unsatisfied_levels
    if 2 * sum(1 for r in rows if r[1] in bad) < BURST_MIN:
        return False  # too few bad ratings for any window to be a burst
    ratings = sorted((datetime.fromisoformat(r[0]), r[1], r[2]) for r in rows)
    times = [r[0] for r in ratings]
    bads_before = list(itertools.accumulate((r[1] in bad for r in ratings), initial=0))
    for end in times:
        if not (at <= end <= at + BURST_WINDOW):
            continue
        first, last = bisect.bisect_left(times, end - BURST_WINDOW), bisect.bisect_right(times, end)
        n, n_bad = last - first, bads_before[last] - bads_before[first]
        if n < BURST_MIN or 2 * n_bad < n:
            continue
        bads = [r for r in ratings[first:last] if r[1] in bad]
        if _same_burst(execute, branch.id, {r[2] for r in bads}):
            return False  # a burst sharing a bad rating with this one is already raised
        return raise_alert(
            execute,
            key=f"bad_burst:{branch.id}:{bads[0][2]}",
            branch=branch.id,
            kind="bad_burst",
            subject=branch.id,
            at=end,
            message=f"差评集中：{branch.info.name} {BURST_WINDOW.seconds // 60}分钟内 "
            f"{n}个评价中{n_bad}个差评",
            evidence=[r[2] for r in bads],
            now=now,
        )
    return False


def _same_burst(execute: Execute, branch: str, bad_ids: set[str]) -> bool:
    """A burst alert of ``branch`` whose evidence holds one of these bad ratings."""
    for (evidence,) in execute(
        "SELECT evidence FROM alerts WHERE branch = ? AND kind = 'bad_burst'", (branch,)
    ).fetchall():
        if bad_ids & set(json.loads(evidence)):
            return True
    return False


def on_event(execute: Execute, branch: Branch, event: StoredEvent, now: datetime) -> set[str]:
    """Alerts carried by one new event of the queue or a counter; the branches touched."""
    p = typed_payload(event.type, event.payload)
    zone = ZoneInfo(branch.time_zone)
    at = event.wall.astimezone(zone)
    if isinstance(p, TicketWaitOverLimit):
        # ticket ids repeat across branches (each numbers its day from A001)
        key, kind, subject = f"wait:{branch.id}:{p.ticket.id}", "wait_over_limit", p.ticket.number
        message = f"等候超时：{p.ticket.number} 已等候{round(p.waited_s / 60)}分钟" + (
            f"（限{round(p.limit_s / 60)}分钟）" if p.limit_s else ""
        )
    elif isinstance(p, CounterIdleWithQueue):
        key, kind, subject = f"idle:{event.id}", "idle_with_queue", p.teller or str(p.counter)
        message = f"闲置叫号：{p.counter}号窗口 空闲{_minutes(p.idle_s)}，{p.waiting}人等候"
    else:
        return set()
    new = raise_alert(
        execute, key=key, branch=branch.id, kind=kind, subject=subject, at=at,
        message=message, evidence=[event.id], now=now,
    )  # fmt: skip
    return {branch.id} if new else set()


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}分{whole % 60:02d}秒" if whole % 60 else f"{whole // 60}分钟"


def on_chain_break(execute: Execute, branch: str, broken: ChainBreak, now: datetime) -> set[str]:
    new = raise_alert(
        execute,
        key=f"chain:{broken.device}:{broken.store}:{broken.seq}",
        branch=branch,
        kind="chain_break",
        subject=broken.device,
        at=now,
        message=f"数据链断裂：设备{broken.device} 第{broken.seq}条事件之前的记录被删除或篡改",
        evidence=[f"{broken.device}/{broken.store}/{broken.seq}"],
        now=now,
    )
    return {branch} if new else set()


# -- checked against the clock -------------------------------------------------------------------


def evaluate(
    execute: Execute, query: Callable[[str, Sequence[Any]], Iterable[Sequence[Any]]],
    centre: CentreConfig, now: datetime,
) -> set[str]:  # fmt: skip
    """The alerts that depend on time passing; the branches touched. (Below target is read and
    raised apart: :func:`below_target_findings`, :func:`raise_below_target`.)"""
    return _offline(execute, centre, now)


def _branches(execute: Execute, centre: CentreConfig) -> list[Branch]:
    """The configured branches and every other branch with devices."""
    ids = {b.id for b in centre.resolved}
    ids |= {r[0] for r in execute("SELECT DISTINCT branch FROM devices", ()).fetchall()}
    return [centre.branch_or_default(b) for b in sorted(ids)]


def _open_now(branch: Branch, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(branch.time_zone))
    clock = local.time().replace(tzinfo=None)
    return any(s.start <= clock < s.end for s in branch.spans(local.date()))


def _offline(execute: Execute, centre: CentreConfig, now: datetime) -> set[str]:
    touched: set[str] = set()
    pads = {r[0] for r in execute("SELECT device_id FROM counter_devices", ()).fetchall()}
    for branch in _branches(execute, centre):
        if not _open_now(branch, now):
            continue
        for device, since in execute(
            "SELECT device_id, status_at FROM devices WHERE branch = ? AND status = 'offline'",
            (branch.id,),
        ).fetchall():
            if device not in pads or _open_offline(execute, device):
                continue  # one alert per outage (a retained status comes again and again)
            if raise_alert(
                execute, key=f"offline:{device}:{since}", branch=branch.id,
                kind="device_offline", subject=device, at=now,
                message=f"设备离线：{device} 营业时间内离线（自{since}）",
                evidence=[f"{device}/status/{since}"], now=now,
            ):  # fmt: skip
                touched.add(branch.id)
    return touched


def _open_offline(execute: Execute, device: str) -> bool:
    row = execute(
        "SELECT 1 FROM alerts WHERE kind = 'device_offline' AND subject = ? AND acked_at IS NULL",
        (device,),
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class BelowTarget:
    """A teller or branch below a KPI target over the month so far."""

    key: str
    branch: str
    subject: str
    message: str
    evidence: str


def below_target_findings(
    query: Callable[[str, Sequence[Any]], Iterable[Sequence[Any]]],
    centre: CentreConfig,
    now: datetime,
) -> list[BelowTarget]:
    """Month to date (in the centre's default zone): tellers and branches below target, once
    they have ``min_sample``. Reads only (the caller reads in a snapshot, outside the ingest's
    write lock: over a large bank this is the costly part)."""
    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    start, targets, least = today.replace(day=1), centre.kpi.targets, centre.kpi.min_sample
    found: list[BelowTarget] = []
    for level in ("branch", "teller"):
        for row in kpis(query, centre, start, today, level):
            subject = row.get("teller") or row["branch"]
            checks = (
                ("satisfaction", row["satisfaction_rate"], targets.satisfaction, row["ratings"]),
                ("evaluation", row["evaluation_rate"], targets.evaluation, row["finished"]),
            )
            for name, rate, target, n in checks:
                if rate is None or target is None or n < least or rate >= target:
                    continue
                label = {"satisfaction": "满意率", "evaluation": "评价率"}[name]
                who = f"{row.get('teller_name') or ''}({subject})" if level == "teller" else subject
                found.append(BelowTarget(
                    key=f"below:{name}:{row['branch']}:{level}:{subject}:{start:%Y-%m}",
                    branch=row["branch"], subject=subject,
                    message=f"{label}未达标：{who} 本月{rate:.1%}（目标{target:.0%}，n={n}）",
                    evidence=f"kpi/{start}..{today}",
                ))  # fmt: skip
    return found


def raise_below_target(execute: Execute, found: list[BelowTarget], now: datetime) -> set[str]:
    """The findings as alerts (each once); the branches with new ones."""
    touched: set[str] = set()
    for f in found:
        if raise_alert(
            execute, key=f.key, branch=f.branch, kind="below_target", subject=f.subject, at=now,
            message=f.message, evidence=[f.evidence], now=now,
        ):  # fmt: skip
            touched.add(f.branch)
    return touched


# -- reading and acknowledging ---------------------------------------------------------------------


def alerts(
    execute: Execute,
    *,
    branch: str | None = None,
    branches: Sequence[str] | None = None,
    open_only: bool = False,
    limit: int = 1000,
) -> list[AlertRow]:
    """Alerts (of ``branch``, of any of ``branches``), newest first."""
    where, params = [], []
    if branch is not None:
        where.append("branch = ?")
        params.append(branch)
    if branches is not None:
        where.append(f"branch IN ({', '.join('?' * len(branches)) or 'NULL'})")
        params += list(branches)
    if open_only:
        where.append("acked_at IS NULL")
    sql = f"SELECT {_COLUMNS} FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = execute(sql + f" ORDER BY id DESC LIMIT {int(limit)}", tuple(params)).fetchall()
    return [_row(r) for r in rows]


def get_alert(execute: Execute, alert_id: int) -> AlertRow:
    """One alert; raises LookupError for an unknown id."""
    row = execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if row is None:
        raise LookupError(f"no alert {alert_id}")
    return _row(row)


def acknowledge(execute: Execute, alert_id: int, by: str, now: datetime) -> AlertRow:
    """Acknowledge an open alert; raises LookupError (unknown) or ValueError (already)."""
    row = execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if row is None:
        raise LookupError(f"no alert {alert_id}")
    found = _row(row)
    if found.acked_at is not None:
        raise ValueError(
            f"alert {alert_id} was acknowledged by {found.acked_by} at {found.acked_at}"
        )
    stamp = now.astimezone(UTC).isoformat(timespec="seconds")
    execute("UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ?", (stamp, by, alert_id))
    return AlertRow(**{**found.__dict__, "acked_at": stamp, "acked_by": by})
