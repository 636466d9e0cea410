"""``counterside centre import``: a device's event store file, recovered by hand, into the
central store, exactly as if its events had arrived over MQTT (idempotent with them: an event
the centre already holds counts as a duplicate, whichever way it came first).

The file is opened read-only; its events go through :meth:`CentralStore.ingest` in batches of
the uplink's size, so they are checked, quarantined, chained and counted like any batch.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from central.store import CentralStore
from domain.events import EventContractError, StoredEvent, decode_payload
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
            device, store = conn.execute("SELECT device_id, store_id FROM meta").fetchone()
            rows = conn.execute(
                "SELECT seq, id, device_id, boot_id, mono, wall, type, payload, prev "
                "FROM events ORDER BY seq"
            )
            events, stored, duplicates, invalid = 0, 0, 0, 0
            while chunk := rows.fetchmany(BATCH):
                batch = EventBatch(device, tuple(_event(row) for row in chunk), store)
                result = centre.ingest(branch, batch, received_at)
                events += len(chunk)
                stored += result.stored - result.invalid
                duplicates += result.duplicates
                invalid += result.invalid
        except (sqlite3.Error, TypeError, ValueError) as exc:
            raise ImportFailed(f"{path}: not a readable counterside device store: {exc}") from exc
    finally:
        conn.close()
    return Imported(device, store, events, stored, duplicates, invalid)


def _event(row: tuple) -> StoredEvent:
    seq, eid, device, boot, mono, wall, kind, payload, prev = row
    try:
        body = decode_payload(kind, payload)
    except EventContractError:
        body = json.loads(payload)  # kept as it is: the ingest quarantines it with the reason
    return StoredEvent(seq, eid, device, boot, mono, datetime.fromisoformat(wall), kind, body, prev)
