"""The centre's ingest database: every device's events exactly once, per-store progress,
quarantined messages and heartbeat minutes. SQLite, WAL, ``synchronous=FULL``.

Events are filed by ``(device_id, store, seq)``: a device's seqs count within one event store
(``EventStore.store_id``, named by each batch), and a re-imaged device with the same id starts a
new store at seq 1. Its events are new events, filed beside the old store's, which stay as they
were; the first batch of a new store records it as the device's current store and reports the one
it replaces (``IngestResult.replaced``), so the centre can say what the old store had delivered.

Ingest is idempotent: a batch may arrive any number of times, in any order, through any number
of workers. Each batch is one ``BEGIN IMMEDIATE`` transaction that inserts the events it does
not already hold (by ``(device_id, store, seq)``), counts exact duplicates, quarantines conflicts
(same ``(device_id, store, seq)``, different event id) and recomputes the store's highest
contiguous seq from the stored rows, which only ever grows. The transaction commits before anyone
is acknowledged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import re
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from central import accounts, chain, followup, opening, rollups
from central import alerts as alert_rules
from central.database import Database, DatabaseError, open_database
from central.kpi import Query
from config.centre import Branch, CentreConfig
from domain.clock import minute_of, wall_text
from domain.events import (
    HEARTBEAT_TYPE,
    EventContractError,
    StoredEvent,
    SyncQuarantined,
    decode_payload,
)
from domain.report import TransactionRow
from sync import topics
from sync.schema import ALERTS_SHOWN, Alert, AlertState, EventBatch, Status, encode_event

log = logging.getLogger(__name__)

SCHEMA_VERSION = 11
BUSY_TIMEOUT_S = 30.0

# Version 1, as released: frozen. A new database is built by running every version in turn.
_V1 = (
    "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), schema_version INTEGER NOT NULL)",
    "INSERT INTO meta VALUES (1, 1)",
    """CREATE TABLE events (
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        branch TEXT NOT NULL,
        boot_id TEXT NOT NULL,
        mono REAL NOT NULL,
        wall TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (device_id, seq)
    ) WITHOUT ROWID""",
    "CREATE INDEX events_wall ON events (wall)",
    """CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        branch TEXT NOT NULL,
        contiguous_seq INTEGER NOT NULL DEFAULT 0,
        max_seq INTEGER NOT NULL DEFAULT 0,
        events INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        conflicts INTEGER NOT NULL DEFAULT 0,
        last_seen TEXT,
        status TEXT,
        status_at TEXT,
        status_reason TEXT
    )""",
    """CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('malformed', 'conflict')),
        topic TEXT NOT NULL,
        device_id TEXT,
        seq INTEGER,
        reason TEXT NOT NULL,
        raw BLOB NOT NULL
    )""",
    "CREATE INDEX quarantine_device_seq ON quarantine (device_id, seq)",
    """CREATE TABLE heartbeats (
        device_id TEXT NOT NULL,
        minute TEXT NOT NULL,
        PRIMARY KEY (device_id, minute)
    ) WITHOUT ROWID""",
)

# Version 2: events filed per store of a device. What version 1 held came from stores without
# an identity, so it goes to the unnamed store '' (the devices name it '' too: see
# device/migrations.py, version 3). A device's progress moves to ``stores``, one row per store;
# ``devices.store`` is the current one (NULL before the first batch).
_V2 = (
    """CREATE TABLE events_v2 (
        device_id TEXT NOT NULL,
        store TEXT NOT NULL,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        branch TEXT NOT NULL,
        boot_id TEXT NOT NULL,
        mono REAL NOT NULL,
        wall TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (device_id, store, seq)
    ) WITHOUT ROWID""",
    """INSERT INTO events_v2 SELECT device_id, '', seq, id, branch, boot_id, mono, wall, type,
        payload, received_at FROM events""",
    "DROP TABLE events",
    "ALTER TABLE events_v2 RENAME TO events",
    "CREATE INDEX events_wall ON events (wall)",
    """CREATE TABLE stores (
        device_id TEXT NOT NULL,
        store TEXT NOT NULL,
        branch TEXT NOT NULL,
        contiguous_seq INTEGER NOT NULL DEFAULT 0,
        max_seq INTEGER NOT NULL DEFAULT 0,
        events INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        conflicts INTEGER NOT NULL DEFAULT 0,
        first_seen TEXT,
        last_seen TEXT,
        PRIMARY KEY (device_id, store)
    ) WITHOUT ROWID""",
    """INSERT INTO stores SELECT device_id, '', branch, contiguous_seq, max_seq, events,
        duplicates, conflicts, last_seen, last_seen FROM devices
        WHERE max_seq > 0 OR duplicates > 0 OR conflicts > 0""",
    """CREATE TABLE devices_v2 (
        device_id TEXT PRIMARY KEY,
        branch TEXT NOT NULL,
        store TEXT,
        last_seen TEXT,
        status TEXT,
        status_at TEXT,
        status_reason TEXT
    )""",
    """INSERT INTO devices_v2 SELECT device_id, branch,
        CASE WHEN max_seq > 0 OR duplicates > 0 OR conflicts > 0 THEN '' END,
        last_seen, status, status_at, status_reason FROM devices""",
    "DROP TABLE devices",
    "ALTER TABLE devices_v2 RENAME TO devices",
    # kind 'invalid': one event of a good batch put aside (a placeholder keeps its seq)
    """CREATE TABLE quarantine_v2 (
        id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('malformed', 'conflict', 'invalid')),
        topic TEXT NOT NULL,
        device_id TEXT,
        store TEXT,
        seq INTEGER,
        reason TEXT NOT NULL,
        raw BLOB NOT NULL
    )""",
    """INSERT INTO quarantine_v2 SELECT id, received_at, kind, topic, device_id, NULL, seq,
        reason, raw FROM quarantine""",
    "DROP TABLE quarantine",
    "ALTER TABLE quarantine_v2 RENAME TO quarantine",
    "CREATE INDEX quarantine_device_seq ON quarantine (device_id, seq)",
)

# Version 3: each event keeps ``prev``, the hash of the event before it in its device's store
# (docs/events.md), so the centre can check the chain: nothing deleted, altered or reordered.
_V3 = ("ALTER TABLE events ADD COLUMN prev TEXT NOT NULL DEFAULT ''",)

# Version 4: transactions and rollups (central/rollups.py), filled from the stored events when a
# version 3 database is opened (CentralStore.rebuild); each event's own hash and the breaks of
# the devices' hash chains (central/chain.py); alerts (central/alerts.py).
_V4 = (*rollups.SCHEMA, *chain.SCHEMA, *alert_rules.SCHEMA)

# Version 5: follow-up items of bad ratings, their audit trail (central/followup.py), opened for
# the ratings a version 4 database holds when it is opened (CentralStore.rebuild).
_V5 = followup.SCHEMA
# Version 6: each counter's day of sign-ins and sign-outs (central/opening.py), filled from the
# events a version 5 database holds when it is opened; and the index of every event's wall time
# goes (the ingest updated it for each event stored, at random places, and nothing reads events
# by time any more: the 满点服务 check reads counter_days).
_V6 = (*opening.SCHEMA, "DROP INDEX IF EXISTS events_wall")

# Version 7: coarse rollups, per month x branch (central/rollups.py), made from the daily ones
# of the database opened; kept up to date with them from then on. The disputed ratings (the
# KPIs read them by day) indexed apart from the many others.
_V7 = (
    *rollups.MONTH_SCHEMA,
    *rollups.MONTH_FILL,
    "CREATE INDEX followups_disputed ON followups (day, branch, rating) WHERE disputed = 1",
)
# Version 8: the dashboard's users, sessions and failed sign-ins (central/accounts.py).
_V8 = accounts.SCHEMA
# Version 9: coarse rollups per business day x branch (central/rollups.py), made from the daily
# ones of the database opened: the daily trend and a range's edge days of the bank, region and
# branch levels read one row per branch and day.
_V9 = (*rollups.BRANCH_DAY_SCHEMA, *rollups.BRANCH_DAY_FILL)
# Version 10: coarse rollups per month x branch x counter x teller (central/rollups.py), made
# from the daily ones: the counter and teller levels read whole months from them.
_V10 = (*rollups.DESK_MONTH_SCHEMA, *rollups.DESK_MONTH_FILL)
# Version 11: the rated transactions of a branch's day by the time of their rating, which the
# burst rule reads for every rating stored (it scanned the branch's whole day: quadratic in a
# busy branch's day).
_V11 = (alert_rules.RATED_INDEX,)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    _V1,
    _V2,
    _V3,
    _V4,
    _V5,
    _V6,
    _V7,
    _V8,
    _V9,
    _V10,
    _V11,
)
"""Version n is built by ``MIGRATIONS[n - 1]``; never edit a released one, append."""
assert len(MIGRATIONS) == SCHEMA_VERSION

_INSERT = (
    "INSERT INTO events (device_id, store, seq, id, branch, boot_id, mono, wall, type, payload, "
    "received_at, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_RUN_END = """WITH RECURSIVE run(s) AS (
    SELECT CAST(? AS INTEGER) UNION ALL
    SELECT s + 1 FROM run WHERE EXISTS
        (SELECT 1 FROM events WHERE device_id = ? AND store = ? AND seq = s + 1)
) SELECT max(s) FROM run"""
_DEVICE_ROW = """SELECT d.device_id, d.branch, d.store, coalesce(s.contiguous_seq, 0),
    coalesce(s.max_seq, 0), coalesce(s.events, 0), coalesce(s.duplicates, 0),
    coalesce(s.conflicts, 0),
    d.last_seen, d.status, d.status_at, d.status_reason,
    (SELECT count(*) FROM stores n WHERE n.device_id = d.device_id)
    FROM devices d LEFT JOIN stores s ON s.device_id = d.device_id AND s.store = d.store"""


T = TypeVar("T")

MAX_FUTURE = timedelta(days=1)
"""An event's wall time further ahead of the centre's clock than this is put aside."""
ALERT_TYPES = frozenset({"ticket.wait_over_limit", "counter.idle_with_queue"})
"""Event types (beside transaction rows) that raise alerts as they are stored."""
REBUILD_FLUSH = 20_000
"""A rebuild adds its rollups to the tables after this many events (and at the end)."""
PLACEHOLDER_TYPE = "sync.quarantined"
"""Stored in place of an event put aside (kind ``invalid``), so the store's sequence stays whole;
also in place of an event lost (:data:`LOST_REASON`)."""

LOST_REASON = (
    "lost: deleted on the device after an earlier acknowledgement, before this centre held it"
)
"""The reason of the placeholder filed at each seq a device's store no longer holds (its batch
says ``pruned``) and this centre never held: a centre restored from a backup older than the
devices' ``keep_acked_days``, or a new one. Such a seq can never come, so it is filed as lost
(id ``lost-<seq>``, no quarantine row, empty ``prev`` and hash) and the mark moves past it."""

LOST_ID = "lost-"
"""The id of a lost placeholder is this and its seq: no device's event id looks like it."""

MAX_LOST_PER_BATCH = 10_000
"""Lost placeholders filed per batch at most; the device's next batches say ``pruned`` again."""


def _row(values: dict[str, Any]) -> TransactionRow:
    """A transaction row as stored, back in its types."""
    hints = typing.get_type_hints(TransactionRow)
    for name, value in values.items():
        if value is None:
            continue
        hint = hints[name]
        kinds = typing.get_args(hint) or (hint,)
        if bool in kinds:
            values[name] = bool(value)
        elif datetime in kinds:
            values[name] = datetime.fromisoformat(value)
        elif date in kinds:
            values[name] = date.fromisoformat(value)
    return TransactionRow(**values)


def _statements(conn: Database) -> tuple[rollups.Execute, Query]:
    """``execute(sql, params) -> rows changed`` and ``query(sql, params) -> rows`` on ``conn``."""
    return (
        lambda sql, params: conn.execute(sql, params).rowcount,
        lambda sql, params=(): conn.execute(sql, tuple(params)).fetchall(),
    )


class CentralStoreError(Exception):
    """The central database cannot do what was asked; the message names the file."""


@dataclass(frozen=True)
class Conflict:
    seq: int
    stored_id: str
    incoming_id: str


@dataclass(frozen=True)
class StoreRow:
    """One event store of a device and how far the centre holds it."""

    device_id: str
    store: str
    branch: str
    contiguous_seq: int
    max_seq: int
    events: int
    duplicates: int
    conflicts: int
    first_seen: str | None
    last_seen: str | None


@dataclass(frozen=True)
class IngestResult:
    """What one batch did. ``conflicts`` are the new ones (a conflicting copy seen before is
    not recorded again); ``gap`` is the missing range just above ``contiguous``, if any later
    event is already stored; ``store_conflicts`` counts every conflict of the batch's store.
    ``replaced`` is the device's previous store when this batch is the first of a new one;
    ``current`` says whether the batch's store is the device's current (latest) store."""

    device: str
    store: str
    stored: int
    duplicates: int
    conflicts: tuple[Conflict, ...]
    contiguous: int
    advanced: bool
    gap: tuple[int, int] | None
    store_conflicts: int = 0
    replaced: StoreRow | None = None
    current: bool = True
    invalid: int = 0  # events put aside (quarantined as ``invalid``, a placeholder stored)
    chain_breaks: tuple[chain.ChainBreak, ...] = ()  # links found broken by this batch
    alerted: frozenset[str] = frozenset()  # branches with new alerts (their state to publish)
    lost: int = 0  # placeholders filed for seqs the device deleted before this centre held them
    lost_range: tuple[int, int] | None = None  # the first and last of them
    contiguous_id: str = ""  # the id of the device's event held at ``contiguous`` (the ack's)


@dataclass(frozen=True)
class DeviceRow:
    """A device with the figures of its current store; ``stores`` counts all its stores."""

    device_id: str
    branch: str
    store: str | None
    contiguous_seq: int
    max_seq: int
    events: int
    duplicates: int
    conflicts: int
    last_seen: str | None
    status: str | None
    status_at: str | None
    status_reason: str | None
    stores: int


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A UUID in its canonical form (what ``str(uuid.UUID(x))`` writes)."""


def _problem(
    event: StoredEvent,
    unfit: str | None,
    received_at: datetime,
    max_future: timedelta,
    bad_wall: Exception | None = None,
    raw: bytes | None = None,
) -> str | None:
    """Why an event that parsed cannot be stored as it is, or None; ``unfit``: why its payload
    does not fit the event contract (``EventBatch.unfit``); ``bad_wall``: why its wall time
    cannot be written as stored (``wall_text``); ``raw``: its payload's JSON, if at hand."""
    where = f"of seq {event.seq}"
    if _UUID.fullmatch(event.id) is None:
        return f"field 'id' {where} is not a UUID: {event.id[:64]!r}"
    try:
        if bad_wall is not None:
            raise bad_wall
        ahead = event.wall - received_at
    except (ValueError, OverflowError) as exc:
        return f"field 'wall' {where} cannot be stored: {exc}"
    if ahead > max_future:
        return (
            f"field 'wall' {where} is {event.wall.isoformat()}, more than {max_future} ahead "
            f"of the centre's clock ({received_at.isoformat(timespec='seconds')})"
        )
    if unfit is not None:
        return f"the payload {where} does not fit the event contract: {unfit}"
    odd = _odd_value(event, raw)
    if odd is not None:
        return f"{odd} {where} cannot be stored in every database the centre runs on"
    return None


_NUL = b"\\u0000"  # a NUL character as JSON writes it
_DIGITS = bytes.maketrans(b"0123456789", b"0" * 10)  # every digit read as 0, nothing else is
_LONG = b"0" * 19  # ... so 19 digits in a row (an integer that may not fit in 64 bits) show so
INT64 = range(-(2**63), 2**63)


def _suspect(raw: bytes) -> bool:
    """Whether a payload's JSON may hold a NUL or an integer outside 64 bits (its escaped NUL
    or 19 digits in a row); two scans in C, where a regular expression tried every byte."""
    return _NUL in raw or _LONG in raw.translate(_DIGITS)


def _odd_value(event: StoredEvent, raw: bytes | None = None) -> str | None:
    """A NUL character (PostgreSQL's text refuses it) or an integer outside 64 bits (neither
    database's integer holds it) in the event's payload or identity, or None; ``raw``: the
    payload's JSON, if at hand."""
    if "\x00" in event.boot_id or "\x00" in event.device_id or "\x00" in event.type:
        return "a NUL character in its identity"
    if raw is None:
        raw = _PAYLOAD.encode(event.payload)
    if not _suspect(raw):
        return None  # the common case: nothing to look at closely
    stack: list[Any] = [msgspec.json.decode(raw)]
    while stack:
        value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return "a NUL character in the payload"
        if isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
            return f"the integer {value} in the payload"
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


def _with(event: StoredEvent, payload: Any) -> StoredEvent:
    """``event`` with its typed payload."""
    return StoredEvent(
        event.seq, event.id, event.device_id, event.boot_id, event.mono, event.wall, event.type,
        payload, event.prev,
    )  # fmt: skip


def _placeholder(event: StoredEvent, reason: str, qid: int, received_at: datetime) -> StoredEvent:
    """What is stored at an invalid event's seq: same seq and id, the centre's time."""
    payload = SyncQuarantined(type=event.type, reason=reason, quarantine_id=qid)
    return replace(event, wall=received_at, type=PLACEHOLDER_TYPE, payload=payload)


@dataclass(frozen=True)
class Prepared:
    """A batch of ``branch`` ready to file, with what each of its events needs that depends on
    neither the database nor the clock: its stored wall time (or why it has none), its own
    hashes (``chain.own_hashes``) and its payload's JSON. Made before the write transaction
    (the ingest prepares a group's batches before it takes the write lock), or by
    :meth:`CentralStore.ingest_many` itself."""

    branch: str
    batch: EventBatch
    events: tuple[tuple[str | None, Exception | None, str, bytes], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        out = []
        unfits = self.batch.unfit
        for event, typed in zip(self.batch.events, self.batch.typed, strict=True):
            try:
                wall: str | None = wall_text(event.wall)
                bad_wall = None
            except (ValueError, OverflowError) as exc:
                wall, bad_wall = None, exc
            fits = not unfits or event.seq not in unfits
            own = chain.own_hashes(event, typed, wall) if fits and wall else ""
            out.append((wall, bad_wall, own, _PAYLOAD.encode(event.payload)))
        object.__setattr__(self, "events", tuple(out))


@dataclass
class _Held:
    """What one write transaction knows of one device store: the figures of its ``stores`` row
    (read under the write lock, then kept up to date here) and the events it stored."""

    row: StoreRow
    held_max: int  # the highest seq in the database before this transaction
    branch: str
    contiguous: int
    max_seq: int
    conflicts: int
    events: int = 0
    duplicates: int = 0
    new_conflicts: int = 0
    ids: dict[int, str] = field(default_factory=dict)  # seq -> id, stored here
    links: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (prev, hash)


_PAYLOAD = msgspec.json.Encoder()
_COUNTED = rollups.ROLLUP_TYPES | ALERT_TYPES | opening.MOVE_TYPES
_STORE_COLUMNS = (
    "device_id, store, branch, contiguous_seq, max_seq, events, duplicates, conflicts, "
    "first_seen, last_seen"
)
_IN_CHUNK = 500  # ids per IN (...) list
_VALUES_CHUNK = 400  # rows per multi-row VALUES list


class _Filing:
    """The batches of one write transaction, filed as one after the other would be, with the
    statements shared: each device's and store's row read once (all at once), the new events
    inserted together when the transaction ends (or when a read needs them), the rollups added
    once per key, each store's and device's row updated once. ``links``: each store's last
    event stored, for :attr:`CentralStore._tails` once committed."""

    def __init__(
        self, store: CentralStore, conn: Database, received_at: datetime, max_future: timedelta
    ) -> None:
        self.store, self.conn = store, conn
        self.received_at, self.max_future = received_at, max_future
        self.now = _utc_text(received_at)
        self.currents: dict[str, str | None] = {}  # device -> its current store (row or not)
        self.known: dict[tuple[str, str], StoreRow] = {}  # stores on record
        self.held: dict[tuple[str, str], _Held] = {}
        self.branches: dict[str, str] = {}  # device -> the branch of its last batch
        self.rows: list[tuple] = []  # events to insert
        self.pending = rollups.Pending()
        self.links: dict[tuple[str, str], tuple[int, str, str]] = {}
        # heartbeat minutes to insert, (device, minute) -> (branch, minute), the first of each
        self.beats: dict[tuple[str, str], tuple[Branch, datetime]] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, params)

    def run(self, batches: Sequence[Prepared]) -> list[IngestResult]:
        self._read({p.batch.device for p in batches})
        results = [self._one(p) for p in batches]
        self._flush()
        self._file_beats()
        self.pending.flush(self.conn.executemany)
        self.conn.executemany(
            # both only grow (read under the write lock, raised here)
            "UPDATE stores SET branch = ?, contiguous_seq = ?, max_seq = ?, events = events + ?, "
            "duplicates = duplicates + ?, conflicts = conflicts + ?, last_seen = ? "
            "WHERE device_id = ? AND store = ?",
            [(h.branch, h.contiguous, h.max_seq, h.events, h.duplicates, h.new_conflicts,
              self.now, *key) for key, h in self.held.items()],
        )  # fmt: skip
        self.conn.executemany(
            "UPDATE devices SET branch = ?, last_seen = ? WHERE device_id = ?",
            [(branch, self.now, device) for device, branch in self.branches.items()],
        )
        return results

    def _read(self, devices: set[str]) -> None:
        """The rows of these devices and of all their stores."""
        ids = sorted(devices)
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for device, current in self.execute(
                f"SELECT device_id, store FROM devices WHERE device_id IN ({marks})", chunk
            ).fetchall():
                self.currents[device] = current
            for row in self.execute(
                f"SELECT {_STORE_COLUMNS} FROM stores WHERE device_id IN ({marks})", chunk
            ).fetchall():
                self.known[(row[0], row[1])] = StoreRow(*row)

    def _flush(self) -> None:
        """Insert the events filed so far (before anything reads the events table)."""
        if self.rows:
            self.conn.executemany(_INSERT, self.rows)
            self.rows = []

    def _file_store(self, branch: str, device: str, store: str) -> tuple[StoreRow | None, bool]:
        """Make sure the device and its store are on record; a store seen for the first time
        becomes the device's current one. Returns (the store it replaces, is it current)."""
        if device not in self.currents:
            self.execute(
                "INSERT INTO devices (device_id, branch) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (device, branch),
            )
            self.currents[device] = None
        current = self.currents[device]
        new = (device, store) not in self.known
        if new:
            self.execute(
                "INSERT INTO stores (device_id, store, branch, first_seen) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (device, store, branch, self.now),
            )
            self.known[(device, store)] = StoreRow(
                device, store, branch, 0, 0, 0, 0, 0, self.now, None
            )
        if not new and current is not None:
            return None, current == store
        self.execute("UPDATE devices SET store = ? WHERE device_id = ?", (store, device))
        self.currents[device] = store
        if current is None or current == store:
            return None, True
        return self._row(device, current), True

    def _row(self, device: str, store: str) -> StoreRow:
        """The store's row as it stands in this transaction."""
        row, h = self.known[(device, store)], self.held.get((device, store))
        if h is None:
            return row
        return replace(
            row, branch=h.branch, contiguous_seq=h.contiguous, max_seq=h.max_seq,
            events=row.events + h.events, duplicates=row.duplicates + h.duplicates,
            conflicts=h.conflicts, last_seen=self.now,
        )  # fmt: skip

    def _held(self, device: str, store: str) -> _Held:
        h = self.held.get((device, store))
        if h is None:
            row = self.known[(device, store)]
            h = self.held[(device, store)] = _Held(
                row, row.max_seq, row.branch, row.contiguous_seq, row.max_seq, row.conflicts
            )
        return h

    def _one(self, prepared: Prepared) -> IngestResult:
        branch, batch = prepared.branch, prepared.batch
        device, store, first, last = batch.device, batch.store, batch.first, batch.last
        received_at, now = self.received_at, self.now
        replaced, current = self._file_store(branch, device, store)
        h = self._held(device, store)
        h.branch, self.branches[device] = branch, branch
        before, store_conflicts = h.contiguous, h.conflicts
        links: dict[int, tuple[str, str]] = {}
        lost, lost_range = (
            self._file_lost(h, branch, device, store, batch.pruned, links)
            if batch.pruned > before
            else (0, None)
        )
        held: dict[int, str] = {}
        if first <= h.held_max:  # some may be stored already (a resend, a repeat)
            held = dict(
                self.execute(
                    "SELECT seq, id FROM events WHERE device_id = ? AND store = ? "
                    "AND seq BETWEEN ? AND ?",
                    (device, store, first, last),
                ).fetchall()
            )
        rows, beats, conflicts, duplicates, invalid = 0, [], [], 0, 0
        added: list[StoredEvent] = []
        ids, unfits, counted = h.ids, batch.unfit, _COUNTED
        recovered = 0
        for event, typed, (wall, bad_wall, own, raw) in zip(
            batch.events, batch.typed, prepared.events, strict=True
        ):
            seq = event.seq
            stored_id = ids.get(seq) or held.get(seq)
            if stored_id is not None and stored_id.startswith(LOST_ID):
                # filed as lost, yet here it is (an older copy of the store imported, a resend
                # filed after a later batch of another worker): the event replaces the
                # placeholder, as if it had come in time
                self._flush()
                self.execute(
                    "DELETE FROM events WHERE device_id = ? AND store = ? AND seq = ?",
                    (device, store, seq),
                )
                h.events -= 1
                recovered += 1
                stored_id = None
            if stored_id is None:
                unfit = unfits.get(seq) if unfits else None
                links[seq] = (event.prev, own)
                payload: Any = event.payload
                problem = _problem(event, unfit, received_at, self.max_future, bad_wall, raw)
                if problem is not None:
                    invalid += 1
                    (qid,) = self.execute(
                        "INSERT INTO quarantine (received_at, kind, topic, device_id, store,"
                        " seq, reason, raw) VALUES (?, 'invalid', ?, ?, ?, ?, ?, ?)"
                        " RETURNING id",
                        (
                            now,
                            topics.events(branch, device),
                            device,
                            store,
                            seq,
                            problem,
                            encode_event(event),
                        ),
                    ).fetchone()
                    event = _placeholder(event, problem, qid, received_at)
                    typed = payload = event.payload
                    wall = wall_text(event.wall)
                    raw = _PAYLOAD.encode(payload)
                self.rows.append(
                    (device, store, seq, event.id, branch, event.boot_id, event.mono, wall,
                     event.type, raw.decode(), now, event.prev, own)
                )  # fmt: skip
                ids[seq] = event.id
                rows += 1
                kind = event.type
                if kind == HEARTBEAT_TYPE:
                    beats.append((device, minute_of(event.wall)))
                elif kind in counted:
                    added.append(event if typed is event.payload else _with(event, typed))
            elif stored_id == event.id:
                duplicates += 1
            else:
                reason = (
                    f"conflict: seq {seq} is stored with id {stored_id}, "
                    f"this batch brings id {event.id}"
                )
                if CentralStore._quarantined_before(self.conn, device, seq, reason):
                    continue  # the same conflicting copy again: recorded and alerted once
                conflicts.append(Conflict(seq, stored_id, event.id))
                self.execute(
                    "INSERT INTO quarantine (received_at, kind, topic, device_id, store, seq,"
                    " reason, raw) VALUES (?, 'conflict', ?, ?, ?, ?, ?, ?)",
                    (now, topics.events(branch, device), device, store, seq, reason,
                     encode_event(event)),
                )  # fmt: skip
        if recovered:
            log.warning("%s: %d event(s) of store %s filed as lost came after all: stored",
                        device, recovered, store)  # fmt: skip
        alerted = self._add_up(branch, store, added, beats)
        breaks = chain.check_links(functools.partial(self._links, h, device, store), device,
                                   store, links)  # fmt: skip
        h.links.update(links)
        for b in breaks:
            self.execute(
                "INSERT INTO chain_breaks (device_id, store, seq, expected, found, "
                "detected_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (b.device, b.store, b.seq, b.expected, b.found, now),
            )
            alerted |= alert_rules.on_chain_break(self.conn.execute, branch, b, received_at)
        if links:
            top = max(links)
            tail = self.links.get((device, store))
            if tail is None or top > tail[0]:
                self.links[(device, store)] = (top, *links[top])
        contiguous = max(before, last) if first <= before + 1 else before
        max_seq = max(h.max_seq, last, lost_range[1] if lost_range else 0)
        if contiguous < max_seq:
            self._flush()
            contiguous = self.execute(_RUN_END, (contiguous, device, store)).fetchone()[0]
        gap = None
        if contiguous < max_seq:
            (next_held,) = self.execute(
                "SELECT min(seq) FROM events WHERE device_id = ? AND store = ? AND seq > ?",
                (device, store, contiguous),
            ).fetchone()
            gap = (contiguous + 1, next_held - 1)
        h.contiguous, h.max_seq = max(before, contiguous), max_seq
        mark_id = self._id_at(h, device, store, contiguous)
        h.events += rows + lost
        h.duplicates += duplicates
        h.new_conflicts += len(conflicts)
        h.conflicts += len(conflicts)
        return IngestResult(
            device,
            store,
            rows,
            duplicates,
            tuple(conflicts),
            contiguous,
            contiguous > before,
            gap,
            store_conflicts + len(conflicts),
            replaced,
            current,
            invalid,
            tuple(breaks),
            frozenset(alerted),
            lost,
            lost_range,
            mark_id,
        )

    def _file_lost(
        self,
        h: _Held,
        branch: str,
        device: str,
        store: str,
        pruned: int,
        links: dict[int, tuple[str, str]],
    ) -> tuple[int, tuple[int, int] | None]:
        """File a lost placeholder (:data:`LOST_REASON`) at each seq from the store's mark + 1
        to ``pruned`` (at most :data:`MAX_LOST_PER_BATCH` seqs on) that is held neither in the
        database nor filed earlier in this transaction; what is held stays as it is. Their links
        (empty ``prev`` and hash) go into ``links``, so the chain check skips them and the event
        after them. Returns how many, and the first and last."""
        start, end = h.contiguous + 1, min(pruned, h.contiguous + MAX_LOST_PER_BATCH)
        if end < start:
            return 0, None
        held: set[int] = set()
        if start <= h.held_max:
            held = {
                seq
                for (seq,) in self.execute(
                    "SELECT seq FROM events WHERE device_id = ? AND store = ? "
                    "AND seq BETWEEN ? AND ?",
                    (device, store, start, end),
                ).fetchall()
            }
        wall = wall_text(self.received_at)
        payload = _PAYLOAD.encode(SyncQuarantined(type="", reason=LOST_REASON)).decode()
        ids, filed = h.ids, []
        for seq in range(start, end + 1):
            if seq in held or seq in ids:
                continue
            eid = f"{LOST_ID}{seq}"
            self.rows.append(
                (device, store, seq, eid, branch, "", 0.0, wall, PLACEHOLDER_TYPE, payload,
                 self.now, "", "")
            )  # fmt: skip
            ids[seq] = eid
            links[seq] = ("", "")
            filed.append(seq)
        return len(filed), (filed[0], filed[-1]) if filed else None

    def _id_at(self, h: _Held, device: str, store: str, seq: int) -> str:
        """The id of the device's event held at ``seq`` ('' for none, or a lost placeholder)."""
        found = h.ids.get(seq)
        if found is None and 0 < seq <= h.held_max:
            row = self.execute(
                "SELECT id FROM events WHERE device_id = ? AND store = ? AND seq = ?",
                (device, store, seq),
            ).fetchone()
            found = row[0] if row else None
        return "" if found is None or found.startswith(LOST_ID) else str(found)

    def _links(
        self, h: _Held, device: str, store: str, seqs: Sequence[int]
    ) -> dict[int, tuple[str, str]]:
        """The stored events among ``seqs``: stored here, the last one committed (known for
        good), or else read; a seq above what the database held is not there to read."""
        found: dict[int, tuple[str, str]] = {}
        tail = self.store._tails.get((device, store))
        wanted = []
        for seq in seqs:
            if seq in h.links:
                found[seq] = h.links[seq]
            elif tail is not None and tail[0] == seq:
                found[seq] = (tail[1], tail[2])
            elif seq <= h.held_max:
                wanted.append(seq)
        if wanted:
            found.update(chain.stored_links(self.execute, device, store)(wanted))
        return found

    def _add_up(
        self, branch: str, store: str, events: list[StoredEvent], beats: list[tuple[str, datetime]]
    ) -> set[str]:
        """Newly stored events and heartbeat minutes into the transactions, rollups and
        alerts; returns the branches with new alerts."""
        where = self.store._branch(branch)
        centre, now, execute = self.store.centre, self.received_at, self.conn.execute
        alerted: set[str] = set()

        def changed(sql: str, params: tuple) -> int:
            return int(execute(sql, params).rowcount)

        def query(sql: str, params: Sequence[Any] = ()) -> list:
            return execute(sql, tuple(params)).fetchall()

        for event in events:
            row = rollups.apply_event(changed, self.pending, where, event, store)
            if row is not None:
                followup.open_item(changed, query, centre, where, row)
                alerted |= alert_rules.on_transaction(execute, centre, where, row, now)
            elif event.type in ALERT_TYPES:
                alerted |= alert_rules.on_event(execute, where, event, now)
            elif event.type in opening.MOVE_TYPES:
                alerted |= opening.on_move(execute, centre, where, event, now)
        for device, minute in beats:  # the first of each minute counts (see _file_beats)
            self.beats.setdefault((device, minute.isoformat()), (where, minute))
        return alerted

    def _file_beats(self) -> None:
        """The heartbeat minutes of the whole transaction, inserted together; those that were
        not held yet count towards the rollups (nothing reads ``heartbeats`` while filing, so
        this gives what inserting each at once gives)."""
        keys = list(self.beats)
        for i in range(0, len(keys), _VALUES_CHUNK):
            chunk = keys[i : i + _VALUES_CHUNK]
            values = ", ".join(["(?, ?)"] * len(chunk))
            for device, minute in self.execute(
                f"INSERT INTO heartbeats (device_id, minute) VALUES {values} "
                "ON CONFLICT DO NOTHING RETURNING device_id, minute",
                [x for key in chunk for x in key],
            ).fetchall():
                where, when = self.beats[(device, minute)]
                rollups.apply_heartbeat(self.pending, where, device, when)
        self.beats = {}


class CentralStore:
    """The ingest database; one instance per thread (the ingest's store thread owns one).
    ``busy_timeout_s``: how long a write waits for another connection's lock; ``centre``: the
    organisation (branches' time zones and hours) the rollups are computed with."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_s: float | None = None,
        centre: CentreConfig | None = None,
    ) -> None:
        self.centre = centre or CentreConfig()
        timeout = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        try:
            self._conn = open_database(path, timeout)
        except DatabaseError as exc:
            raise CentralStoreError(str(exc)) from exc
        self.name = self._conn.name
        self.dialect = self._conn.dialect
        self._grouped = False
        self._hours_judged: datetime | None = None  # closings judged up to (central/opening.py)
        # the last event stored of each store (seq, prev, hash), as committed: events are never
        # changed once stored, so whatever another worker has done since, this stays true
        self._tails: dict[tuple[str, str], tuple[int, str, str]] = {}
        self._committing: list[dict[tuple[str, str], tuple[int, str, str]]] = []
        self._branches: dict[str, Branch] = {}
        self._branches_of: CentreConfig | None = None
        self._create()

    def _create(self) -> None:
        with self._write("create or migrate the schema") as conn:
            tables = conn.tables()
            if "meta" not in tables:
                if tables:
                    raise CentralStoreError(f"{self.name}: a database but not a central store")
                version = 0
            else:
                version = conn.execute("SELECT schema_version FROM meta").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CentralStoreError(
                    f"{self.name}: central store schema version {version}, this software "
                    f"understands up to {SCHEMA_VERSION}; install a newer counterside release"
                )
            for steps in MIGRATIONS[version:]:
                for sql in steps:
                    conn.ddl(sql)
            conn.execute("UPDATE meta SET schema_version = ?", (SCHEMA_VERSION,))
            if 0 < version < 4:
                self._fill_hashes(conn)
            if 0 < version < 5:
                self._rebuild(conn)
            elif 0 < version < 6:
                self._refill_counter_days(conn)

    def _write(self, what: str):
        if self._grouped:
            return contextlib.nullcontext(self._conn)  # inside group(): its transaction
        return self._conn.write(what, CentralStoreError)

    @contextlib.contextmanager
    def group(self, what: str = "group commit") -> Iterator[None]:
        """One write transaction for every write inside (group commit): they are committed
        together when the block ends, or none of them if it raises."""
        self._committing = []
        with self._conn.write(what, CentralStoreError):
            self._grouped = True
            try:
                yield
            finally:
                self._grouped = False
        for links in self._committing:  # committed: what they say is now true for good
            self._tails.update(links)
        self._committing = []

    # --- writing -------------------------------------------------------------------------------

    def ingest(
        self,
        branch: str,
        batch: EventBatch,
        received_at: datetime,
        *,
        max_future: timedelta = MAX_FUTURE,
    ) -> IngestResult:
        """Store a parsed batch (committed when this returns, unless inside :meth:`group`).

        An event that parsed but cannot be taken as it is (its id is not a UUID, its wall time is
        more than ``max_future`` ahead of ``received_at`` or cannot be stored, its payload does not
        fit the event contract: ``batch.unfit``) is quarantined as
        ``invalid`` with the reason and its raw JSON, and a ``sync.quarantined`` placeholder
        with the same seq and id takes its place: the sequence stays whole, so the device is
        acknowledged and nothing waits forever on it, and nothing is lost.
        """
        return self.ingest_many([(branch, batch)], received_at, max_future=max_future)[0]

    def ingest_many(
        self,
        batches: Sequence[tuple[str, EventBatch] | Prepared],
        received_at: datetime,
        *,
        max_future: timedelta = MAX_FUTURE,
    ) -> list[IngestResult]:
        """Store parsed batches (branch, batch), or batches :class:`Prepared` before, in one
        transaction, each as :meth:`ingest` would one after the other, and give each its
        result; the statements are shared: one read of what the database holds of their devices
        and stores, the events inserted together, the rollups added once per key
        (``rollups.Pending``), the stores updated once each."""
        if not batches:
            return []
        ready = [b if isinstance(b, Prepared) else Prepared(*b) for b in batches]
        first = ready[0].batch
        what = f"ingest of {len(ready)} batches" if len(ready) > 1 else (
            f"ingest of {first.device} seqs {first.first}..{first.last}"
        )  # fmt: skip
        with self._write(what) as conn:
            filing = _Filing(self, conn, received_at, max_future)
            results = filing.run(ready)
        self._on_commit(filing.links)
        return results

    def _on_commit(self, links: dict[tuple[str, str], tuple[int, str, str]]) -> None:
        """Remember the last stored link of each store once it is committed (inside
        :meth:`group`: when the group is)."""
        if self._grouped:
            self._committing.append(links)
        else:
            self._tails.update(links)

    def _branch(self, branch_id: str) -> Branch:
        """``self.centre.branch_or_default``, remembered per branch (for this configuration)."""
        if self._branches_of is not self.centre:
            self._branches, self._branches_of = {}, self.centre
        found = self._branches.get(branch_id)
        if found is None:
            found = self._branches[branch_id] = self.centre.branch_or_default(branch_id)
        return found

    def _fill_hashes(self, conn: Database) -> None:
        """Each stored event's own hash (kept since version 4), for the events stored before."""
        rows = conn.execute(
            "SELECT device_id, store, seq, id, boot_id, mono, wall, type, payload, prev "
            "FROM events WHERE hash = ''"
        ).fetchall()
        for device, store, seq, eid, boot, mono, wall, kind, payload, prev in rows:
            try:
                body = decode_payload(kind, payload)
            except EventContractError:
                continue  # outside the contract: its hash cannot be recomputed as made
            event = StoredEvent(
                seq, eid, device, boot, mono, datetime.fromisoformat(wall), kind, body, prev
            )
            conn.execute(
                "UPDATE events SET hash = ? WHERE device_id = ? AND store = ? AND seq = ?",
                (chain.event_hash(event), device, store, seq),
            )

    def write(self, what: str, work: Callable[[rollups.Execute, Query], T]) -> T:
        """``work(execute, query)`` in one write transaction, committed when this returns (a
        person's change: central/followup.py)."""
        with self._write(what) as conn:
            return work(*_statements(conn))

    def rebuild(self) -> int:
        """Recompute the transactions and rollups from the stored events and heartbeats (in one
        transaction); returns the events that counted."""
        with self._write("rebuild the transactions and rollups") as conn:
            return self._rebuild(conn)

    def _rebuild(self, conn: Database) -> int:
        for sql in rollups.CLEAR:
            conn.execute(sql)

        execute, query = _statements(conn)
        pending = rollups.Pending()

        types = sorted(rollups.ROLLUP_TYPES)
        cur = conn.execute(
            f"SELECT branch, store, seq, id, device_id, boot_id, mono, wall, type, payload, prev "
            f"FROM events WHERE type IN ({', '.join('?' * len(types))})",
            types,
        )
        counted = 0
        for branch, store, seq, eid, device, boot, mono, wall, kind, payload, prev in cur:
            event = StoredEvent(
                seq, eid, device, boot, mono, datetime.fromisoformat(wall), kind,
                decode_payload(kind, payload), prev,
            )  # fmt: skip
            where = self._branch(branch)
            row = rollups.apply_event(execute, pending, where, event, store)
            if row is not None:  # human data (followup.py) is never cleared: no item twice
                followup.open_item(execute, query, self.centre, where, row)
            counted += 1
            if counted % REBUILD_FLUSH == 0:
                pending.flush(conn.executemany)
        beats = conn.execute(
            "SELECT d.branch, h.device_id, h.minute FROM heartbeats h "
            "JOIN devices d ON d.device_id = h.device_id"
        ).fetchall()
        for branch, device, minute in beats:
            where = self._branch(branch)
            rollups.apply_heartbeat(pending, where, device, datetime.fromisoformat(minute))
        pending.flush(conn.executemany)
        self._refill_counter_days(conn)
        return counted

    def _refill_counter_days(self, conn: Database) -> None:
        conn.execute("DELETE FROM counter_days")
        moves = sorted(opening.MOVE_TYPES)
        rows = conn.execute(
            "SELECT branch, id, device_id, seq, boot_id, mono, wall, type, payload FROM events "
            f"WHERE type IN ({', '.join('?' * len(moves))})",
            moves,
        )  # read as they come: a bank's years of moves need not all be in memory at once
        opening.refill(conn.executemany, rows, self._branch)

    @staticmethod
    def _quarantined_before(conn: Database, device: str, seq: int, reason: str) -> bool:
        row = conn.execute(
            "SELECT 1 FROM quarantine WHERE device_id = ? AND seq = ? AND reason = ?",
            (device, seq, reason),
        ).fetchone()
        return row is not None

    def quarantine(
        self,
        topic: str,
        reason: str,
        raw: bytes,
        received_at: datetime,
        *,
        device: str | None = None,
        once: bool = False,
    ) -> int:
        """Keep a message that does not parse, with the reason; returns its quarantine id.
        ``once``: if the same message (topic, reason, bytes) is already kept, keep it only once
        (a retained message comes again at every subscription)."""
        with self._write("quarantine") as conn:
            if once:
                row = conn.execute(
                    "SELECT id FROM quarantine WHERE kind = 'malformed' AND topic = ? "
                    "AND reason = ? AND raw = ?",
                    (topic, reason, bytes(raw)),
                ).fetchone()
                if row is not None:
                    return int(row[0])
            (qid,) = conn.execute(
                "INSERT INTO quarantine (received_at, kind, topic, device_id, reason, raw) "
                "VALUES (?, 'malformed', ?, ?, ?, ?) RETURNING id",
                (_utc_text(received_at), topic, device, reason, bytes(raw)),
            ).fetchone()
            return int(qid)

    def set_status(self, branch: str, status: Status, received_at: datetime) -> None:
        """Record a device's latest online/offline status."""
        with self._write("status") as conn:
            conn.execute(
                "INSERT INTO devices (device_id, branch) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (status.device, branch),
            )
            conn.execute(
                "UPDATE devices SET status = ?, status_at = ?, status_reason = ? "
                "WHERE device_id = ?",
                (status.state, status.at or _utc_text(received_at), status.reason, status.device),
            )

    # --- reading -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[CentralStore]:
        """Reads inside see the database as of one moment (a read-only transaction): a KPI
        table read by several queries agrees with itself while the ingest writes on."""
        with self._conn.snapshot():
            yield self

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """The rows of a read-only query (the KPIs' and rankings' reads)."""
        return self._conn.execute(sql, tuple(params)).fetchall()

    def transactions(self, branch: str | None = None) -> list[tuple[str, TransactionRow]]:
        """Every transaction row held (of one branch), with its branch, by business day and
        closing time."""
        names = [f.name for f in dataclasses.fields(TransactionRow)]
        sql = f"SELECT branch, {', '.join(names)} FROM transactions"
        params: tuple = ()
        if branch is not None:
            sql, params = sql + " WHERE branch = ?", (branch,)
        out = []
        order = " ORDER BY business_day, closed_at, transaction_id"
        for branch_id, *values in self._conn.execute(sql + order, params):
            out.append((branch_id, _row(dict(zip(names, values, strict=True)))))
        return out

    def device(self, device_id: str) -> DeviceRow | None:
        """The device with the figures of its current store."""
        row = self._conn.execute(f"{_DEVICE_ROW} WHERE d.device_id = ?", (device_id,)).fetchone()
        return DeviceRow(*row) if row else None

    def devices(self) -> list[DeviceRow]:
        return [DeviceRow(*r) for r in self._conn.execute(f"{_DEVICE_ROW} ORDER BY 1")]

    def stores(self, device_id: str) -> list[StoreRow]:
        """Every event store the device has sent from, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM stores WHERE device_id = ? ORDER BY first_seen, store", (device_id,)
        )
        return [StoreRow(*r) for r in rows]

    def _store_of(self, device_id: str, store: str | None) -> str:
        """``store``, or (None) the device's current store ('' before its first batch)."""
        if store is not None:
            return store
        row = self._conn.execute(
            "SELECT store FROM devices WHERE device_id = ?", (device_id,)
        ).fetchone()
        return row[0] if row and row[0] is not None else ""

    def contiguous(self, device_id: str, store: str | None = None) -> int:
        """The highest contiguous seq held of ``store`` (default: the current store)."""
        row = self._conn.execute(
            "SELECT contiguous_seq FROM stores WHERE device_id = ? AND store = ?",
            (device_id, self._store_of(device_id, store)),
        ).fetchone()
        return row[0] if row else 0

    def seqs(self, device_id: str, store: str | None = None) -> list[int]:
        return [
            r[0]
            for r in self._conn.execute(
                "SELECT seq FROM events WHERE device_id = ? AND store = ? ORDER BY seq",
                (device_id, self._store_of(device_id, store)),
            )
        ]

    def event_ids(self, device_id: str, store: str | None = None) -> dict[int, str]:
        return dict(
            self._conn.execute(
                "SELECT seq, id FROM events WHERE device_id = ? AND store = ?",
                (device_id, self._store_of(device_id, store)),
            )
        )

    def event_count(self, device_id: str | None = None, store: str | None = None) -> int:
        """Events held: of every device, or of one device's store (default: current)."""
        if device_id is None:
            return self._conn.execute("SELECT count(*) FROM events").fetchone()[0]
        return self._conn.execute(
            "SELECT count(*) FROM events WHERE device_id = ? AND store = ?",
            (device_id, self._store_of(device_id, store)),
        ).fetchone()[0]

    # --- alerts ----------------------------------------------------------------------------------

    def evaluate_alerts(self, now: datetime, *, targets: bool = True) -> set[str]:
        """The alerts that depend on time passing (central/alerts.py, central/opening.py);
        branches with new ones. ``targets``: also who is below a KPI target this month, read in
        a snapshot before the write lock is taken (the costly part; the ingest asks for it less
        often)."""
        found = []
        if targets:
            with self.snapshot():
                found = alert_rules.below_target_findings(self.query, self.centre, now)
        with self._write("evaluate the alerts") as conn:
            touched = alert_rules.evaluate(conn.execute, conn.execute, self.centre, now)
            touched |= alert_rules.raise_below_target(conn.execute, found, now)
            touched |= opening.evaluate(conn.execute, self.centre, now, self._hours_judged)
        self._hours_judged = now
        return touched

    def alerts(
        self,
        *,
        branch: str | None = None,
        branches: Sequence[str] | None = None,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[alert_rules.AlertRow]:
        return alert_rules.alerts(
            self._conn.execute, branch=branch, branches=branches, open_only=open_only, limit=limit
        )

    def alert(self, alert_id: int) -> alert_rules.AlertRow:
        """One alert; raises LookupError for an unknown id."""
        return alert_rules.get_alert(self._conn.execute, alert_id)

    def acknowledge_alert(self, alert_id: int, by: str, now: datetime) -> alert_rules.AlertRow:
        with self._write(f"acknowledge alert {alert_id}") as conn:
            return alert_rules.acknowledge(conn.execute, alert_id, by, now)

    def alert_state(self, branch: str, now: datetime) -> AlertState:
        """What ``cs/v1/<branch>/alerts`` carries: the open alerts, newest first."""
        rows = self.alerts(branch=branch, open_only=True, limit=ALERTS_SHOWN)
        (count,) = self._conn.execute(
            "SELECT count(*) FROM alerts WHERE branch = ? AND acked_at IS NULL", (branch,)
        ).fetchone()
        shown = [Alert(r.id, r.kind, r.subject, r.at, r.message) for r in rows]
        return AlertState(branch, now.astimezone(UTC).isoformat(timespec="seconds"), count, shown)

    def alert_branches(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT DISTINCT branch FROM alerts")]

    def chain_breaks(self, device_id: str | None = None) -> list[chain.ChainBreak]:
        """Every break of a device's hash chain found so far (of one device)."""
        sql = "SELECT device_id, store, seq, expected, found FROM chain_breaks"
        params: tuple = ()
        if device_id is not None:
            sql, params = sql + " WHERE device_id = ?", (device_id,)
        rows = self._conn.execute(sql + " ORDER BY device_id, store, seq", params)
        return [chain.ChainBreak(*row) for row in rows]

    def quarantined(self, kind: str | None = None) -> list[dict]:
        names = ("id", "received_at", "kind", "topic", "device_id", "store", "seq", "reason", "raw")
        sql = f"SELECT {', '.join(names)} FROM quarantine"
        rows = self._conn.execute(
            sql + (" WHERE kind = ? ORDER BY id" if kind else " ORDER BY id"),
            (kind,) if kind else (),
        )
        return [dict(zip(names, row, strict=True)) for row in rows]

    def heartbeat_minutes(
        self, device_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[datetime]:
        """UTC minutes with a heartbeat, ``start <= minute < end`` when given."""
        lo = minute_of(start).isoformat() if start else ""
        hi = minute_of(end).isoformat() if end else "~"
        return [
            datetime.fromisoformat(r[0])
            for r in self._conn.execute(
                "SELECT minute FROM heartbeats WHERE device_id = ? AND minute >= ? AND minute < ?"
                " ORDER BY minute",
                (device_id, lo, hi),
            )
        ]

    # --- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> CentralStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
