"""``counterside centre import``: a device's event store file, recovered by hand, into the
central store, exactly as if its events had arrived over MQTT (idempotent with them: an event
the centre already holds counts as a duplicate, whichever way it came first).

The file is opened read-only; its events go through :meth:`CentralStore.ingest` in batches of
the uplink's size, so they are checked, quarantined, chained and counted like any batch.

A store of an older release is read as the device itself would send it once upgraded (its
migrations, ``device/migrations.py``): without an identity (before version 3) its store is the
unnamed ``''``, and without a hash chain (before version 5) each event's ``prev`` is computed
here in seq order from the chain's start, as the device's version 5 migration does. So an import
agrees with what the upgraded device sends, event for event.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from central.store import CentralStore
from domain.events import (
    EventContractError,
    StoredEvent,
    canonical_payload,
    chain_hash,
    chain_start,
    decode_payload,
)
from sync.schema import EventBatch

BATCH = 200


class ImportFailed(Exception):
    """The file is not a device's event store that can be read; the message says why."""


@dataclass(frozen=True)
class Imported:
    device: str
    store: str
    events: int
    stored: int
    duplicates: int
    invalid: int
    lost: int = 0  # placeholders: seqs the device deleted that the centre never held


def import_store(centre: CentralStore, path: Path, branch: str, received_at: datetime) -> Imported:
    """Ingest every event held in the device store at ``path`` as events of ``branch``."""
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ImportFailed(f"{path}: cannot open it: {exc}") from exc
    try:
        try:
            meta = _columns(conn, "meta")
            store_column = "store_id" if "store_id" in meta else "''"
            pruned_column = "pruned_seq" if "pruned_seq" in meta else "0"
            device, store, pruned = conn.execute(
                f"SELECT device_id, {store_column}, {pruned_column} FROM meta"
            ).fetchone()
            chained = "prev" in _columns(conn, "events")
            rows = conn.execute(
                "SELECT seq, id, device_id, boot_id, mono, wall, type, payload, "
                f"{'prev' if chained else 'NULL'} FROM events ORDER BY seq"
            )
            events, stored, duplicates, invalid, lost = 0, 0, 0, 0, 0
            head = chain_start(store)  # for a store from before the chain
            while chunk := rows.fetchmany(BATCH):
                read = []
                for row in chunk:
                    event = _event(row)
                    if not chained:
                        event = replace(event, prev=head)
                        head = _own_hash(head, row)
                    read.append(event)
                batch = EventBatch(device, tuple(read), store, pruned)
                result = centre.ingest(branch, batch, received_at)
                events += len(chunk)
                stored += result.stored - result.invalid
                duplicates += result.duplicates
                invalid += result.invalid
                lost += result.lost
        except (sqlite3.Error, TypeError, ValueError) as exc:
            raise ImportFailed(f"{path}: not a readable counterside device store: {exc}") from exc
    finally:
        conn.close()
    return Imported(device, store, events, stored, duplicates, invalid, lost)


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _own_hash(prev: str, row: tuple) -> str:
    """An event's hash as the device's chain migration computes it, from the stored row (an
    invalid payload as stored)."""
    seq, eid, device, boot, mono, wall, kind, text, _ = row
    try:
        payload = canonical_payload(decode_payload(kind, text))
    except EventContractError:
        payload = text.encode()
    return chain_hash(prev, seq, eid, device, boot, mono, wall, kind, payload)


def _event(row: tuple) -> StoredEvent:
    seq, eid, device, boot, mono, wall, kind, payload, prev = row
    try:
        body = decode_payload(kind, payload)
    except EventContractError:
        body = json.loads(payload)  # kept as it is: the ingest quarantines it with the reason
    return StoredEvent(seq, eid, device, boot, mono, datetime.fromisoformat(wall), kind, body, prev)
