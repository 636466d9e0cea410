"""The device's durable event store: one SQLite file, append-only, fsynced on every commit.

Each stored event gets a time-ordered UUID (version 7), the device id, a contiguous per-device
sequence number (1, 2, 3, ...), the boot id and both clock readings of its ``Instant``. The file
runs in WAL mode with ``synchronous=FULL``, so an event is on disk when ``append`` returns.
Triggers make ``events`` append-only: no UPDATE ever, DELETE only of events the centre has
acknowledged (``prune``).

Transactions are explicit: the connection runs with ``isolation_level=None`` (no implicit
transactions from Python's sqlite3) and every write is one ``BEGIN IMMEDIATE ... COMMIT``, which
takes the write lock before the next seq is read, so several connections or processes may append
to the same file. One ``EventStore`` belongs to one thread; give another thread its own.

The uplink's own connection (``durable=False``) only reads events and records the centre's
acknowledgements, without an fsync per commit: it then holds the write lock for microseconds,
not for the fsync that the counter's next key press would wait out. An acknowledgement lost in a
power cut only sends the centre again what it has (it keeps each event once); a connection that
is not durable appends nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from device.migrations import LATEST_VERSION, MIGRATIONS
from domain.clock import wall_text
from domain.events import (
    PAYLOADS,
    DomainEvent,
    EventContractError,
    Payload,
    StoredEvent,
    canonical_payload,
    chain_hash,
    decode_payload,
    encode_payload,
    payload_variants,
    typed_payload,
)
from support.sqlite import write_transaction

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another connection's write lock before giving up."""

PAGE_CACHE_KIB = 256
"""SQLite's page cache per connection, in KiB (SQLite's default: 2,000). A device's work is at
the end of the log (appends, the newest unacknowledged events, the last seq), a few pages; the
rest of the file stays in the kernel's page cache. Without this bound each of a device's
connections (app, uplink, heartbeat) filled its 2 MB with older pages as the log grew, which
RSS showed as growth tens of thousands of presses into bench/counter_frame.py's soak."""

_COLUMNS = "seq, id, device_id, boot_id, mono, wall, type, payload, prev"
# Highest seq ever assigned: pruning only deletes acknowledged events and records the highest seq
# it deleted in meta.pruned_seq (trigger), so this survives pruning everything.
PRUNE_CHUNK = 5000
"""Events deleted per write transaction by :meth:`EventStore.prune`."""

_LAST_SEQ = "max(ifnull((SELECT max(seq) FROM events), 0), (SELECT pruned_seq FROM meta))"
# The hot path: prepared statements (cached by sqlite3). Inside the write transaction: the last
# seq and the chain's head (the last event's hash, or the head kept when everything was pruned),
# then one INSERT per event with its seq, its ``prev`` and its own hash.
_HEAD = (
    f"SELECT {_LAST_SEQ}, ifnull((SELECT hash FROM events ORDER BY seq DESC LIMIT 1), "
    "(SELECT chain_head FROM meta))"
)
_INSERT = (
    "INSERT INTO events (seq, id, device_id, boot_id, mono, wall, type, payload, prev, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class StoreError(Exception):
    """The event store cannot do what was asked; the message names the file."""


@dataclass
class ChainReport:
    """What :meth:`EventStore.verify` found: the events walked and every break of the chain."""

    path: Path
    events: int = 0
    first: int = 0
    last: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        span = f"seq {self.first}..{self.last}" if self.events else "no events"
        verdict = "the chain is whole" if self.ok else f"{len(self.problems)} problem(s)"
        return "\n".join([f"{self.path}: {self.events} events ({span}): {verdict}", *self.problems])


@dataclass(frozen=True)
class Checkpoint:
    """The state of one owner (``name``) as it was after the event ``seq``, as JSON data.

    ``items`` are the parts of the state kept as rows of their own, by key (a queue's tickets).
    Written (:meth:`EventStore.append_many`), ``items`` holds only the items that changed and
    ``removed`` the keys of those gone; read (:meth:`EventStore.checkpoint`), ``items`` holds
    them all."""

    name: str
    state: dict
    items: dict[str, dict] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    seq: int = 0


def time_ordered_uuid(unix_ms: int, counter: int) -> str:
    """A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter for ids made
    in the same millisecond, then 62 random bits.

    Event ids are unique-indexed: random (version 4) keys land on a random leaf of that index at
    every append, so once a store holds months of events each append reads and rewrites a page
    that is rarely cached. Time-ordered keys all land on the newest leaf.
    """
    value = (
        (unix_ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76  # version
        | (counter & 0xFFF) << 64
        | 0b10 << 62  # variant
        | int.from_bytes(os.urandom(8), "big") >> 2
    )
    return str(uuid.UUID(int=value))


def _payload_text(event: DomainEvent) -> str:
    if isinstance(event.payload, Payload):
        if event.type != event.payload.TYPE:
            raise StoreError(f"event {event.type!r}: its payload is a {event.payload.TYPE}'s")
        return encode_payload(event.payload).decode("utf-8")
    if not isinstance(event.payload, dict):
        raise StoreError(f"event {event.type!r}: payload must be a dict, not {event.payload!r}")
    return _json_text(event.payload, f"event {event.type!r}: payload")


def _typed(event: DomainEvent) -> DomainEvent:
    """``event`` with the typed payload of its type (plain values of a contract type are
    checked and typed here, or refused)."""
    if isinstance(event.payload, Payload) or event.type not in PAYLOADS:
        return event
    try:
        return DomainEvent(event.type, event.at, typed_payload(event.type, event.payload))
    except EventContractError as exc:
        raise StoreError(str(exc)) from None


def _json_text(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not plain JSON: {exc}") from exc


def _wall(when: datetime) -> str:
    try:
        return wall_text(when)
    except ValueError as exc:
        raise StoreError(str(exc)) from None


def _payload(event_type: str, text: str, seq: int) -> Payload | dict[str, Any]:
    """A stored payload, typed; one that no longer fits the contract stays as stored (logged)."""
    try:
        return decode_payload(event_type, text)
    except EventContractError as exc:
        log.warning("event #%d does not fit the event contract (%s): read as stored", seq, exc)
        return json.loads(text)


def _event_from_row(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        seq=row["seq"],
        id=row["id"],
        device_id=row["device_id"],
        boot_id=row["boot_id"],
        mono=row["mono"],
        wall=datetime.fromisoformat(row["wall"]),
        type=row["type"],
        payload=_payload(row["type"], row["payload"], row["seq"]),
        prev=row["prev"],
    )


class EventStore:
    """The append-only event log of one device, in one SQLite file (created or migrated on open)."""

    def __init__(self, path: str | Path, device_id: str, *, durable: bool = True) -> None:
        if not device_id:
            raise StoreError(f"{path}: an event store needs a device id")
        self.path = Path(path)
        self.device_id = device_id
        self.durable = durable
        self._closed = False
        self._claims: dict[str, int] = {}  # role -> file descriptor of its lock
        self._id_ms, self._id_counter = 0, 0  # of the last id: ids never go back with the clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # any thread, one at a time: the app's input worker appends, its frame loop ticks,
            # each holding the app's lock (device.runtime)
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the event store: {exc}") from exc
        try:
            self._configure()
            self._migrate()
        except BaseException as exc:
            self._conn.close()
            self._closed = True
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: cannot open the event store: {exc}") from exc
            raise

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """The file through sqlite-utils, on this store's connection, for inspection and tools.
        Made on first use: the running apps never need it, and importing sqlite-utils (click,
        dateutil, pluggy and its plugins) takes 11.8 MB in a bare interpreter, about 4 MB of the
        counter app's peak (bench/README.md, counter_frame)."""
        import sqlite_utils

        return sqlite_utils.Database(self._conn)

    # --- opening -------------------------------------------------------------------------------

    def _configure(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch the journal to WAL (it stays {mode!r})")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        self._conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")

    def _schema_version(self) -> int:
        tables = [
            r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        if "meta" not in tables:
            if tables:
                raise StoreError(
                    f"{self.path}: is an SQLite file but not an event store "
                    f"(no meta table; tables: {', '.join(sorted(tables))})"
                )
            return 0
        row = self._conn.execute("SELECT schema_version FROM meta").fetchone()
        if row is None:
            raise StoreError(f"{self.path}: the meta table of the event store is empty")
        version = int(row[0])
        if version > LATEST_VERSION:
            raise StoreError(
                f"{self.path}: event store schema version {version} is newer than this software "
                f"understands (up to {LATEST_VERSION}); install a newer counterside release"
            )
        return version

    def _check_device(self) -> None:
        row = self._conn.execute("SELECT device_id FROM meta").fetchone()
        if row is not None and row[0] != self.device_id:
            raise StoreError(
                f"{self.path}: this event store belongs to device {row[0]!r}, "
                f"not to device {self.device_id!r}; check the device id in the configuration "
                f"or the store path"
            )

    def _migrate(self) -> None:
        version = self._schema_version()
        if version >= 1:
            self._check_device()  # never migrate another device's file
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            with self._write(f"migration to schema version {migration.version}") as conn:
                version = self._schema_version()  # another process may have migrated meanwhile
                if version >= migration.version:
                    continue
                migration.apply(conn, self.device_id)
                conn.execute("UPDATE meta SET schema_version = ?", (migration.version,))
                version = migration.version
        self._check_device()

    def _write(self, what: str):
        """One write transaction holding the write lock from the start; committed on success."""
        return write_transaction(self._conn, f"{self.path}: {what}", StoreError)

    def _durable_write(self, what: str):
        """A write transaction that stores events: only on a durable connection."""
        if not self.durable:
            raise StoreError(f"{self.path}: {what}: this connection does not store events")
        return self._write(what)

    # --- writing -------------------------------------------------------------------------------

    def _new_id(self, wall: datetime) -> str:
        """A time-ordered id from the event's wall time, always after the previous id."""
        unix_ms = int(wall.timestamp() * 1000)
        if unix_ms > self._id_ms:
            self._id_ms, self._id_counter = unix_ms, 0
        elif self._id_counter < 0xFFF:
            self._id_counter += 1
        else:
            self._id_ms, self._id_counter = self._id_ms + 1, 0
        return time_ordered_uuid(self._id_ms, self._id_counter)

    def _row(self, event: DomainEvent) -> tuple:
        at = event.at
        wall, payload = _wall(at.wall), _payload_text(event)  # checked before an id is made
        return (
            self._new_id(at.wall),
            self.device_id,
            at.boot,
            float(at.mono),
            wall,
            event.type,
            payload,
        )

    @staticmethod
    def _chained(conn: sqlite3.Connection, rows: list[tuple], events: list[DomainEvent]):
        """Insert ``rows`` after the last event, each chained to the one before; yields
        ``(seq, prev)`` (inside the caller's write transaction)."""
        seq, head = conn.execute(_HEAD).fetchone()
        for row, e in zip(rows, events, strict=True):
            seq += 1
            id_, device, boot, mono, wall, type_, text = row
            canon = (
                text.encode() if isinstance(e.payload, Payload) else canonical_payload(e.payload)
            )
            hashed = chain_hash(head, seq, id_, device, boot, mono, wall, type_, canon)
            conn.execute(_INSERT, (seq, *row, head, hashed))
            yield seq, head
            head = hashed

    @staticmethod
    def _stored(seq: int, row: tuple, payload: Payload | dict[str, Any], prev: str) -> StoredEvent:
        id_, device_id, boot, mono, wall, type_, _text = row
        return StoredEvent(
            seq, id_, device_id, boot, mono, datetime.fromisoformat(wall), type_, payload, prev
        )

    def append(self, event: DomainEvent) -> StoredEvent:
        """Store one event; it is committed and fsynced when this returns."""
        event = _typed(event)
        row = self._row(event)
        with self._durable_write("append") as conn:
            ((seq, prev),) = self._chained(conn, [row], [event])
        return self._stored(seq, row, event.payload, prev)

    def append_many(
        self, events: Iterable[DomainEvent], checkpoint: Checkpoint | None = None
    ) -> list[StoredEvent]:
        """Store several events in one transaction: all of them, with consecutive seqs, or none.

        ``checkpoint``: the state these events lead to (its changed items, the keys of items
        gone), stored in the same transaction, so it never disagrees with them."""
        events = [_typed(event) for event in events]
        rows = [self._row(event) for event in events]
        if not rows and checkpoint is None:
            return []
        if checkpoint is not None:
            name = checkpoint.name
            state = _json_text(checkpoint.state, f"checkpoint {name!r}")
            items = [
                (name, key, _json_text(item, f"checkpoint {name!r} item {key!r}"))
                for key, item in checkpoint.items.items()
            ]
        with self._durable_write("append") as conn:
            chained = list(self._chained(conn, rows, events))
            if checkpoint is not None:
                seq = (
                    chained[-1][0] if chained else conn.execute(f"SELECT {_LAST_SEQ}").fetchone()[0]
                )
                conn.execute(
                    "INSERT OR REPLACE INTO checkpoints (name, seq, state) VALUES (?, ?, ?)",
                    (name, seq, state),
                )
                conn.executemany(
                    "DELETE FROM checkpoint_items WHERE name = ? AND key = ?",
                    [(name, key) for key in checkpoint.removed],
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO checkpoint_items (name, key, state) VALUES (?, ?, ?)",
                    items,
                )
        return [
            self._stored(seq, row, e.payload, prev)
            for (seq, prev), row, e in zip(chained, rows, events, strict=True)
        ]

    def checkpoint(self, name: str) -> Checkpoint | None:
        """The last state stored under ``name`` (see :meth:`append_many`), with all its items."""
        row = self._conn.execute(
            "SELECT seq, state FROM checkpoints WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        items = {
            key: json.loads(text)
            for key, text in self._conn.execute(
                "SELECT key, state FROM checkpoint_items WHERE name = ?", (name,)
            )
        }
        return Checkpoint(name, json.loads(row[1]), items, seq=int(row[0]))

    def ack(self, upto_seq: int) -> int:
        """The centre has every event up to ``upto_seq``; lower values than before are ignored."""
        upto_seq = int(upto_seq)
        with self._write("acknowledgement") as conn:
            acked, last = conn.execute(f"SELECT acked_seq, {_LAST_SEQ} FROM meta").fetchone()
            if upto_seq > last:
                raise StoreError(
                    f"{self.path}: cannot acknowledge up to seq {upto_seq}: "
                    f"the last event stored is seq {last}"
                )
            if upto_seq <= acked:
                return acked
            conn.execute("UPDATE meta SET acked_seq = ?", (upto_seq,))
        return upto_seq

    def prune(self, before: datetime, chunk: int = PRUNE_CHUNK) -> int:
        """Delete the oldest acknowledged events, up to the first one with a wall time from
        ``before`` on; returns how many.

        The caller chooses the date (events stay at least 30 days on the device). Unacknowledged
        events are never deleted, and seq numbering continues after pruning. Only a prefix of
        the log goes (never an event between two kept ones), and ``meta.chain_head`` keeps the
        hash of the last one deleted, so the hash chain of what is kept stays whole. At most
        ``chunk`` events go per write transaction, so the app's own writes never wait long for
        the lock (the first prune of a store with years behind it deletes millions); the WAL
        is truncated afterwards.
        """
        cutoff, deleted = _wall(before), 0
        while True:
            with self._write("prune") as conn:
                (upto,) = conn.execute(
                    "SELECT min((SELECT acked_seq FROM meta), "
                    "ifnull((SELECT min(seq) FROM events WHERE wall >= ?) - 1, 1e18), "
                    "ifnull((SELECT min(seq) FROM events), 0) + ? - 1)",
                    (cutoff, chunk),
                ).fetchone()
                last = conn.execute(
                    "SELECT hash FROM events WHERE seq <= ? ORDER BY seq DESC LIMIT 1", (upto,)
                ).fetchone()
                if last is None:
                    break
                conn.execute("UPDATE meta SET chain_head = ?", (last[0],))
                deleted += conn.execute("DELETE FROM events WHERE seq <= ?", (upto,)).rowcount
        if deleted:
            with contextlib.suppress(sqlite3.Error):  # a reader holds it: the next checkpoint
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return deleted

    def verify(self) -> ChainReport:
        """Walk the hash chain of the events kept: every event's hash recomputed, every
        ``prev`` checked against the hash of the event before it (or ``meta.chain_head``)."""
        (head,) = self._conn.execute("SELECT chain_head FROM meta").fetchone()
        report = ChainReport(self.path)
        expected_seq = None
        for seq, id_, device, boot, mono, wall, type_, text, prev, stored in self._conn.execute(
            f"SELECT {_COLUMNS}, hash FROM events ORDER BY seq"
        ):
            report.events += 1
            report.first = report.first or seq
            report.last = seq
            if expected_seq is not None and seq != expected_seq:
                report.problems.append(f"seq {expected_seq}..{seq - 1}: missing (deleted)")
            if prev != head:
                report.problems.append(
                    f"seq {seq}: does not follow the event before it (deleted, altered "
                    f"or reordered before it)"
                )
            try:
                decoded = decode_payload(type_, text)
                forms = (
                    payload_variants(decoded)  # as this release and earlier ones wrote it
                    if isinstance(decoded, Payload)
                    else [canonical_payload(decoded)]
                )
            except EventContractError:
                forms = [text.encode()]
            head_of = (prev, seq, id_, device, boot, mono, wall, type_)
            if all(chain_hash(*head_of, form) != stored for form in forms):
                report.problems.append(f"seq {seq}: altered (its hash does not match)")
            head, expected_seq = stored, seq + 1
        return report

    # --- reading -------------------------------------------------------------------------------

    def _select(self, sql: str, params: list | tuple) -> list[StoredEvent]:
        cursor = self._conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [_event_from_row(dict(zip(names, row, strict=True))) for row in cursor]

    def _scalar(self, sql: str) -> int:
        return int(self._conn.execute(sql).fetchone()[0])

    def last_seq(self) -> int:
        """The highest seq ever assigned (0 for an empty store), even if pruned since."""
        return self._scalar(f"SELECT {_LAST_SEQ}")

    def last_event(self, other_than_boot: str | None = None) -> StoredEvent | None:
        """The event stored last (``None`` if there is none); with ``other_than_boot``, the last
        one stored in another boot: how far the previous boot got, whatever this boot has
        stored since (heartbeats, the uplink)."""
        sql = f"SELECT {_COLUMNS} FROM events"
        params: tuple[str, ...] = ()
        if other_than_boot is not None:
            sql, params = sql + " WHERE boot_id != ?", (other_than_boot,)
        found = self._select(sql + " ORDER BY seq DESC LIMIT 1", params)
        return found[0] if found else None

    def acked_seq(self) -> int:
        return self._scalar("SELECT acked_seq FROM meta")

    def pruned_seq(self) -> int:
        """The highest seq ever deleted by :meth:`prune` (0: none): this store no longer holds
        seqs 1..pruned_seq (every batch the uplink sends says so, ``docs/protocol.md``)."""
        return self._scalar("SELECT pruned_seq FROM meta")

    def event_id(self, seq: int) -> str | None:
        """The id of the event at ``seq``, None if not held."""
        row = self._conn.execute("SELECT id FROM events WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else str(row[0])

    def kept(self) -> int:
        """How many events the store holds (all but those :meth:`prune` deleted)."""
        return self._scalar("SELECT count(*) FROM events")

    def schema_version(self) -> int:
        return self._scalar("SELECT schema_version FROM meta")

    @property
    def store_id(self) -> str:
        """This store's identity: a UUID given at creation (``''`` for a store that already held
        events before identities existed); it never changes. A re-imaged device with the same
        device id has a new one, so nothing computed for its earlier store applies to it."""
        return str(self._conn.execute("SELECT store_id FROM meta").fetchone()[0])

    def events(
        self, after_seq: int = 0, limit: int | None = None, types: Iterable[str] | None = None
    ) -> list[StoredEvent]:
        """Events with seq > ``after_seq`` in seq order, optionally only the given types."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        sql = f"SELECT {_COLUMNS} FROM events WHERE seq > ?"
        params: list[Any] = [int(after_seq)]
        if types is not None:
            wanted = [types] if isinstance(types, str) else list(types)
            if not wanted:
                return []
            sql += f" AND type IN ({', '.join('?' for _ in wanted)})"
            params += wanted
        sql += " ORDER BY seq LIMIT ?"
        params.append(-1 if limit is None else limit)
        return self._select(sql, params)

    def events_between(self, start: datetime, end: datetime) -> list[StoredEvent]:
        """Events with ``start <= wall < end`` (any offsets; compared in UTC), in seq order."""
        return self._select(
            f"SELECT {_COLUMNS} FROM events WHERE wall >= ? AND wall < ? ORDER BY seq",
            (_wall(start), _wall(end)),
        )

    def outbox(self, limit: int = 500) -> list[StoredEvent]:
        """The oldest events not yet acknowledged by the centre, in seq order."""
        return self._select(f"SELECT {_COLUMNS} FROM outbox ORDER BY seq LIMIT ?", (limit,))

    def outbox_size(self) -> int:
        return self._scalar("SELECT count(*) FROM outbox")

    def integrity_ok(self) -> bool:
        """Whether ``PRAGMA integrity_check`` finds the file sound."""
        try:
            return self._conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        except sqlite3.DatabaseError:  # damaged beyond what the check itself can read
            return False

    # --- one writer of each kind of state --------------------------------------------------------

    def claim(self, role: str) -> None:
        """Become the only writer of ``role``'s state (``branch``, ``queue``) in this store until
        :meth:`close`; a second process (or store object) asking for the same role is refused
        with the process that holds it. Several connections may still append events (the
        uplink, heartbeats): only the owner of a state may keep it in memory and checkpoint it.
        """
        if role in self._claims:
            return
        real = self.path.resolve()  # one lock however the store is named (links, ./)
        lock = real.with_name(f"{real.name}.{role}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 300).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise StoreError(
                f"{self.path}: already in use as the {role} store by {holder}; a second process "
                f"on one store would not see the first one's queue and counters: run every panel "
                f"of this device in one process (counterside counter --panels kiosk,pad,console), "
                f"or give each process its own store and connect them over MQTT"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} ({' '.join(sys.argv)[:200]})".encode())
        self._claims[role] = fd

    # --- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for fd in self._claims.values():
                os.close(fd)  # releases the lock
            self._claims.clear()
            self._conn.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EventStore({str(self.path)!r}, device_id={self.device_id!r})"
