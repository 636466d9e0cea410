"""Events a device deleted (``[mqtt] keep_acked_days``) before this centre held them: every batch
says ``pruned`` (the store no longer holds seqs 1..pruned), and the centre files a lost
placeholder at each of those seqs it lacks, so its mark moves on and the device is acknowledged
(a centre restored from an old backup, or a new one, would otherwise ask for them forever and
the device's window would fill). On SQLite and PostgreSQL (``centre_db``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central import store as central_store
from central.imports import import_store
from central.store import LOST_REASON, PLACEHOLDER_TYPE, CentralStore
from device.store import EventStore
from domain.clock import ManualClock
from domain.events import StoredEvent, SyncQuarantined, decode_payload
from sync import schema, wire
from sync.schema import EventBatch, encode_batch, parse_batch
from tests.sync_harness import append_events, pruned_store

DEVICE = "pad-1"
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
STORE = "0c4e9a53-5f1e-4b7a-9d2c-3e8f6a1b2c4d"


def device_events(path: Path, n: int) -> tuple[list[StoredEvent], str]:
    """``n`` events of a real device store (chained: each ``prev`` the hash of the one before)."""
    append_events(path, DEVICE, n, ManualClock(wall=START))
    with EventStore(path, DEVICE) as store:
        return store.events(), store.store_id


def rows(centre: CentralStore, store: str) -> dict[int, tuple[str, str, str, str]]:
    """seq -> (id, type, prev, payload) of the device store's events at the centre."""
    found = centre._conn.execute(
        "SELECT seq, id, type, prev, payload FROM events WHERE device_id = ? AND store = ?",
        (DEVICE, store),
    ).fetchall()
    return {seq: (eid, kind, prev, payload) for seq, eid, kind, prev, payload in found}


# --- the wire ----------------------------------------------------------------------------------


def _event(seq: int) -> StoredEvent:
    wall = datetime(2026, 11, 25, 8, 31, 7, 120000, tzinfo=UTC)
    return StoredEvent(seq, f"id-{seq}", DEVICE, "b", 1.5, wall, "x.y", {"n": seq}, prev="p")


TODAY = (  # what encode_batch wrote before the field (git show HEAD~:sync/schema.py)
    b'{"v":1,"kind":"events","device":"pad-1","store":"STORE","events":['
    b'{"seq":41,"id":"id-41","boot":"b","mono":1.5,"wall":"2026-11-25T08:31:07.120000Z",'
    b'"type":"x.y","payload":{"n":41},"prev":"p"}]}'
)


@pytest.mark.parametrize("store", [STORE, ""])
def test_a_batch_of_a_device_that_never_pruned_is_written_as_before(store: str) -> None:
    expected = TODAY.replace(b"STORE", store.encode())
    raw = encode_batch(DEVICE, [_event(41)], store=store)
    assert raw == expected
    assert encode_batch(DEVICE, [_event(41)], store=store, pruned=0) == expected
    assert schema.batch_envelope_size(DEVICE, store) == len(expected) - len(
        schema.encode_event(_event(41))
    )
    # the centre's fast path (written back byte for byte) still takes today's batches
    assert wire._read_as_written(expected, schema.Events, DEVICE) is not None
    assert parse_batch(expected, DEVICE).pruned == 0


def test_pruned_round_trips_and_is_checked() -> None:
    raw = encode_batch(DEVICE, [_event(41), _event(42)], store=STORE, pruned=40)
    assert raw.startswith(
        f'{{"v":1,"kind":"events","device":"pad-1","store":"{STORE}","pruned":40,"events":['.encode()
    )
    assert wire._read_as_written(raw, schema.Events, DEVICE) is not None
    batch = parse_batch(raw, DEVICE)
    assert (batch.pruned, batch.first, batch.last, batch.store) == (40, 41, 42, STORE)
    assert batch.put_aside(41, "x").pruned == 40
    assert schema.batch_envelope_size(DEVICE, STORE, 40) == len(raw) - len(
        b",".join(schema.encode_event(_event(s)) for s in (41, 42))
    )
    bad = raw.replace(b'"pruned":40', b'"pruned":-1')
    with pytest.raises(schema.SchemaError, match=r"Expected `int` >= 0 - at `\$.pruned`"):
        parse_batch(bad, DEVICE)
    with pytest.raises(ValueError):
        encode_batch(DEVICE, [_event(41)], store=STORE, pruned=-1)


@pytest.mark.parametrize("pruned", [41, 42, 10**6])
def test_a_batch_that_sends_what_it_says_it_deleted_is_refused(pruned: int) -> None:
    raw = encode_batch(DEVICE, [_event(41), _event(42)], store=STORE, pruned=pruned)
    with pytest.raises(schema.SchemaError, match=f"pruned {pruned}: the store cannot send seq 41"):
        parse_batch(raw, DEVICE)


# --- the centre's filing -----------------------------------------------------------------------


def test_what_a_new_centre_never_held_is_filed_as_lost_once(centre_db, tmp_path: Path) -> None:
    events, sid = device_events(tmp_path / "d.sqlite", 45)
    batch = EventBatch(DEVICE, tuple(events[40:]), sid, pruned=40)  # seqs 41..45
    with CentralStore(centre_db) as centre:
        r = centre.ingest("b1", batch, RECEIVED)
        assert (r.stored, r.lost, r.lost_range, r.contiguous, r.gap) == (5, 40, (1, 40), 45, None)
        assert r.chain_breaks == () and centre.chain_breaks(DEVICE) == []
        held = rows(centre, sid)
        assert sorted(held) == list(range(1, 46))
        for seq in range(1, 41):
            eid, kind, prev, payload = held[seq]
            assert (eid, kind, prev) == (f"lost-{seq}", PLACEHOLDER_TYPE, "")
            lost = decode_payload(kind, payload)
            assert lost == SyncQuarantined(type="", reason=LOST_REASON, quarantine_id=None)
        assert [held[s][0] for s in range(41, 46)] == [e.id for e in events[40:]]
        assert centre.quarantined("invalid") == []  # nothing of the device put aside
        (row,) = centre.stores(DEVICE)
        assert (row.contiguous_seq, row.max_seq, row.events) == (45, 45, 45)
        assert centre.rebuild() == 0  # placeholders count in no transaction, rollup or KPI

        again = centre.ingest("b1", batch, RECEIVED + timedelta(hours=1))
        assert (again.stored, again.duplicates, again.lost, again.contiguous) == (0, 5, 0, 45)
        assert rows(centre, sid) == held


def test_only_the_seqs_not_held_are_filed_as_lost(centre_db, tmp_path: Path) -> None:
    events, sid = device_events(tmp_path / "d.sqlite", 50)
    with CentralStore(centre_db) as centre:  # restored from a backup with holes
        centre.ingest("b1", EventBatch(DEVICE, tuple(events[0:10]), sid), RECEIVED)  # 1..10
        centre.ingest("b1", EventBatch(DEVICE, tuple(events[19:25]), sid), RECEIVED)  # 20..25
        before = rows(centre, sid)
        r = centre.ingest("b1", EventBatch(DEVICE, tuple(events[45:]), sid, 30), RECEIVED)
        assert (r.lost, r.lost_range, r.contiguous, r.gap) == (14, (11, 30), 30, (31, 45))
        held = rows(centre, sid)
        lost = sorted(s for s, (eid, *_) in held.items() if eid.startswith("lost-"))
        assert lost == [*range(11, 20), *range(26, 31)]
        assert {s: held[s] for s in before} == before  # what was held stays untouched
        assert r.chain_breaks == () and centre.chain_breaks(DEVICE) == []
        # the device answers the resend of 31..45 (it holds them): all of it, no break
        r = centre.ingest("b1", EventBatch(DEVICE, tuple(events[30:45]), sid, 30), RECEIVED)
        assert (r.lost, r.contiguous, r.gap) == (0, 50, None)
        assert centre.chain_breaks(DEVICE) == []


def test_at_most_so_many_lost_per_batch(centre_db, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(central_store, "MAX_LOST_PER_BATCH", 7)
    events, sid = device_events(tmp_path / "d.sqlite", 20)
    batch = EventBatch(DEVICE, tuple(events[16:]), sid, pruned=16)  # 17..20
    with CentralStore(centre_db) as centre:
        marks = []
        for _ in range(4):
            r = centre.ingest("b1", batch, RECEIVED)
            marks.append((r.lost, r.contiguous, r.contiguous_id))
        last = events[19].id  # the ack names the event at the mark, never a placeholder
        assert marks == [(7, 7, ""), (7, 14, ""), (2, 20, last), (0, 20, last)]


def test_an_imported_store_file_says_what_its_device_deleted(centre_db, tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    sid = pruned_store(path, DEVICE, 30, 10)
    with CentralStore(centre_db) as centre:
        imported = import_store(centre, path, "b1", RECEIVED)
        assert (imported.events, imported.stored) == (10, 10)
        (row,) = centre.stores(DEVICE)
        assert (row.store, row.contiguous_seq) == (sid, 40)
        assert sorted(s for s, (eid, *_) in rows(centre, sid).items() if eid.startswith("lost-")) \
            == list(range(1, 31))  # fmt: skip
    assert imported.lost == 30


def test_a_lost_event_that_comes_after_all_replaces_its_placeholder(
    centre_db, tmp_path: Path
) -> None:
    """Another worker filed the device's later batch (pruned 70) before the resend of 41..60,
    or an older copy of the store is imported after the pruned one: the events are stored in
    place of their placeholders, no conflict, the store still acknowledged."""
    events, sid = device_events(tmp_path / "d.sqlite", 120)
    with CentralStore(centre_db) as centre:
        centre.ingest("b1", EventBatch(DEVICE, tuple(events[:40]), sid), RECEIVED)  # 1..40
        late = centre.ingest("b1", EventBatch(DEVICE, tuple(events[100:]), sid, 70), RECEIVED)
        assert (late.lost, late.lost_range, late.gap) == (30, (41, 70), (71, 100))
        back = centre.ingest("b1", EventBatch(DEVICE, tuple(events[40:60]), sid), RECEIVED)
        assert (back.stored, back.conflicts, back.store_conflicts) == (20, (), 0)
        held = rows(centre, sid)
        assert {s: held[s][0] for s in range(41, 61)} == {e.seq: e.id for e in events[40:60]}
        assert all(held[s][0] == f"lost-{s}" for s in range(61, 71))
        rest = centre.ingest("b1", EventBatch(DEVICE, tuple(events[70:100]), sid), RECEIVED)
        assert (rest.contiguous, rest.store_conflicts) == (120, 0)
        (row,) = centre.stores(DEVICE)
        assert (row.contiguous_seq, row.events, row.conflicts) == (120, 120, 0)
        assert centre.chain_breaks(DEVICE) == []
        assert centre.rebuild() == 0  # the rating events are no transactions; nothing is lost


def test_importing_an_older_copy_after_the_pruned_store_fills_its_placeholders(
    centre_db, tmp_path: Path
) -> None:
    path, old_copy = tmp_path / "d.sqlite", tmp_path / "sd-card-image.sqlite"
    pruned_store(path, DEVICE, 30, 10, copy_to=old_copy)
    with CentralStore(centre_db) as centre:
        assert import_store(centre, path, "b1", RECEIVED).lost == 30
        second = import_store(centre, old_copy, "b1", RECEIVED)
        assert (second.events, second.stored, second.duplicates) == (40, 30, 10)
        (row,) = centre.stores(DEVICE)
        assert (row.contiguous_seq, row.conflicts) == (40, 0)
        assert not any(eid.startswith("lost-") for eid, *_ in rows(centre, row.store).values())
