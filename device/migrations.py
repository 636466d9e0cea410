"""Schema of the device event store as an ordered list of migrations, by version number.

Each migration runs in its own transaction (the store opens it with ``BEGIN IMMEDIATE``) and the
store records the new version in ``meta.schema_version`` inside that same transaction, so a crash
leaves the file at one version or the next, never in between. Never edit a released migration:
append a new one. A step is either a tuple of SQL statements (named parameter ``:device_id``
available) or a function ``(conn, device_id) -> None`` that must not commit.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from domain.events import (
    EventContractError,
    canonical_payload,
    chain_hash,
    chain_start,
    decode_payload,
)

MigrationSteps = tuple[str, ...] | Callable[[sqlite3.Connection, str], None]


@dataclass(frozen=True)
class Migration:
    """Brings a store from ``version - 1`` to ``version``."""

    version: int
    description: str
    steps: MigrationSteps

    def apply(self, conn: sqlite3.Connection, device_id: str) -> None:
        """Run the steps on ``conn``, inside the caller's transaction."""
        if callable(self.steps):
            self.steps(conn, device_id)
            return
        for sql in self.steps:
            conn.execute(sql, {"device_id": device_id})


# Version 1: the first release. One-row ``meta`` table, strictly append-only ``events``.
_V1 = (
    """CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        device_id TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        acked_seq INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        device_id TEXT NOT NULL,
        boot_id TEXT NOT NULL,
        mono REAL NOT NULL,
        wall TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL
    )""",
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END""",
    "INSERT INTO meta (id, device_id, schema_version) VALUES (1, :device_id, 0)",
)

# Version 2: pruning of acknowledged events, the outbox view, a wall-time index.
# ``meta.pruned_seq`` is the highest seq ever deleted: the next seq is one past the larger of it
# and max(events.seq), so numbering continues after pruning, even after pruning everything.
_V2 = (
    "ALTER TABLE meta ADD COLUMN pruned_seq INTEGER NOT NULL DEFAULT 0",
    "DROP TRIGGER events_no_delete",
    """CREATE TRIGGER events_no_unacked_delete BEFORE DELETE ON events
    WHEN OLD.seq > (SELECT acked_seq FROM meta)
    BEGIN SELECT RAISE(ABORT, 'events not yet acknowledged by the centre: DELETE refused'); END""",
    """CREATE TRIGGER events_pruned_high_water AFTER DELETE ON events
    BEGIN UPDATE meta SET pruned_seq = max(pruned_seq, OLD.seq); END""",
    """CREATE TRIGGER meta_acked_seq_guard BEFORE UPDATE OF acked_seq ON meta
    WHEN NEW.acked_seq < OLD.acked_seq
      OR NEW.acked_seq > max(ifnull((SELECT max(seq) FROM events), 0), OLD.pruned_seq)
    BEGIN SELECT RAISE(ABORT, 'acked_seq only grows and never passes the last seq'); END""",
    """CREATE TRIGGER meta_device_id_fixed BEFORE UPDATE OF device_id ON meta
    WHEN NEW.device_id IS NOT OLD.device_id
    BEGIN SELECT RAISE(ABORT, 'the device id of an event store never changes'); END""",
    "CREATE INDEX events_wall ON events (wall)",
    """CREATE VIEW outbox AS
    SELECT * FROM events WHERE seq > (SELECT acked_seq FROM meta) ORDER BY seq""",
)


def _v3_store_id(conn: sqlite3.Connection, device_id: str) -> None:
    """Version 3: the store's identity (``meta.store_id``), named by every batch and every ack
    (``docs/protocol.md``), so an acknowledgement computed for another store of the same device
    (an earlier incarnation, before a re-image) can never release this store's events.

    A store created by this version gets a new UUID. A store that already numbered events keeps
    the unnamed identity ``''``: the centre filed its events under ``''`` too, so both sides go on
    agreeing about them. The identity never changes afterwards (trigger).
    """
    conn.execute("ALTER TABLE meta ADD COLUMN store_id TEXT NOT NULL DEFAULT ''")
    (used,) = conn.execute(
        "SELECT max(ifnull((SELECT max(seq) FROM events), 0), pruned_seq) FROM meta"
    ).fetchone()
    if used == 0:
        conn.execute("UPDATE meta SET store_id = ?", (str(uuid.uuid4()),))
    conn.execute(
        """CREATE TRIGGER meta_store_id_fixed BEFORE UPDATE OF store_id ON meta
        WHEN NEW.store_id IS NOT OLD.store_id
        BEGIN SELECT RAISE(ABORT, 'the identity of an event store never changes'); END"""
    )


# Version 4: checkpoints of the state the events lead to, written in the same transaction as the
# events (one row per owner of state: the device's branch, the controller's queue service), so a
# restart rebuilds exactly that state, whatever the wall clock did; ``seq`` is the last event the
# state includes (events after it, from other writers, are replayed on top). The many items of a
# state (the queue's tickets) are rows of their own, written only when they change, so a commit
# costs what it changes, not what the queue holds.
_V4 = (
    """CREATE TABLE checkpoints (
        name TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL
    )""",
    """CREATE TABLE checkpoint_items (
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (name, key)
    ) WITHOUT ROWID""",
)


def _v5_hash_chain(conn: sqlite3.Connection, device_id: str) -> None:
    """Version 5: every event carries ``prev``, the hash of the event before it (the chain of
    ``domain/events.py``), and ``hash``, its own, so that a deleted, altered or reordered event is
    detectable by whoever holds a later one. ``meta.chain_head`` is the ``prev`` of the first
    event kept (the chain's start, or the last event pruned). Events stored before this version
    are chained now, in seq order: from here on, none can go unnoticed."""
    conn.execute("ALTER TABLE events ADD COLUMN prev TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE events ADD COLUMN hash TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE meta ADD COLUMN chain_head TEXT NOT NULL DEFAULT ''")
    (store_id,) = conn.execute("SELECT store_id FROM meta").fetchone()
    head = chain_start(store_id)
    conn.execute("UPDATE meta SET chain_head = ?", (head,))
    rows = conn.execute(
        "SELECT seq, id, device_id, boot_id, mono, wall, type, payload FROM events ORDER BY seq"
    ).fetchall()
    if not rows:
        return
    conn.execute("DROP TRIGGER events_no_update")  # only to chain what was stored before
    for seq, id_, device, boot, mono, wall, type_, text in rows:
        try:
            payload = canonical_payload(decode_payload(type_, text))
        except EventContractError:
            payload = text.encode()  # as stored: it is what the chain vouches for
        hashed = chain_hash(head, seq, id_, device, boot, mono, wall, type_, payload)
        conn.execute("UPDATE events SET prev = ?, hash = ? WHERE seq = ?", (head, hashed, seq))
        head = hashed
    conn.execute(
        """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END"""
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema: meta, append-only events", _V1),
    Migration(2, "prune acknowledged events, outbox view, wall index", _V2),
    Migration(3, "the store's own identity, named by batches and acks", _v3_store_id),
    Migration(4, "checkpoints of state written with the events", _V4),
    Migration(5, "a hash chain over the events", _v5_hash_chain),
)


def _check(migrations: tuple[Migration, ...]) -> int:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"event store migrations must be numbered 1, 2, 3, ...: {versions}")
    return versions[-1]


LATEST_VERSION = _check(MIGRATIONS)
