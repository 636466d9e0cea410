"""The central store (idempotent ingest, contiguous mark, gaps, conflicts, quarantine,
heartbeats), the heartbeat helper and the uptime (开机率) computation. No broker needed."""

from __future__ import annotations

import json
import random
import sqlite3
import time as _time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import central.store as central_store
from central import cli
from central.store import PLACEHOLDER_TYPE, SCHEMA_VERSION, CentralStore, DeviceRow
from central.uptime import business_minutes, uptime
from config.model import OpeningSpan
from device.heartbeat import Heartbeat, HeartbeatThread
from device.store import EventStore
from domain.clock import ManualClock
from domain.events import HEARTBEAT_TYPE, DeviceHeartbeat, StoredEvent
from sync.schema import EventBatch, Status, encode_batch, parse_batch

DEVICE = "pad-01"
T0 = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai, a Wednesday


def uid(seq: int, marker: str = "") -> str:
    """The event id of seq ``seq`` in the copy ``marker``: a UUID, as devices make them."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seq}{marker}"))


def ev(seq: int, marker: str = "", type_: str = "rating.given", minute: int = 0) -> StoredEvent:
    wall = T0 + timedelta(minutes=minute, seconds=seq % 60)
    payload = {"minute": wall.strftime("%Y-%m-%dT%H:%M")} if type_ == HEARTBEAT_TYPE else {"s": seq}
    return StoredEvent(seq, uid(seq, marker), DEVICE, "boot", float(seq), wall, type_, payload)


def device_row(store: CentralStore, device: str) -> DeviceRow:
    row = store.device(device)
    assert row is not None, f"{device} is not known"
    return row


def batch(first: int, last: int, marker: str = "") -> EventBatch:
    return EventBatch(DEVICE, tuple(ev(s, marker) for s in range(first, last + 1)))


def test_ingest_is_idempotent_and_tracks_the_contiguous_mark(centre_db) -> None:
    with CentralStore(centre_db) as store:
        r = store.ingest("b1", batch(1, 10), T0)
        assert (r.stored, r.duplicates, r.contiguous, r.advanced, r.gap) == (10, 0, 10, True, None)
        r = store.ingest("b1", batch(5, 12), T0)
        assert (r.stored, r.duplicates, r.contiguous, r.advanced) == (2, 6, 12, True)
        r = store.ingest("b1", batch(1, 12), T0)
        assert (r.stored, r.duplicates, r.advanced) == (0, 12, False)
        row = device_row(store, DEVICE)
        assert (row.contiguous_seq, row.max_seq, row.events, row.duplicates) == (12, 12, 12, 18)
        assert store.seqs(DEVICE) == list(range(1, 13))


def test_gaps_are_reported_and_closed_out_of_order(centre_db) -> None:
    with CentralStore(centre_db) as store:
        store.ingest("b1", batch(1, 3), T0)
        r = store.ingest("b1", batch(8, 9), T0)
        assert (r.contiguous, r.advanced, r.gap) == (3, False, (4, 7))
        r = store.ingest("b1", batch(12, 12), T0)
        assert r.gap == (4, 7)
        r = store.ingest("b1", batch(4, 7), T0)  # fills the first gap, reaches the island 8..9
        assert (r.contiguous, r.gap) == (9, (10, 11))
        r = store.ingest("b1", batch(10, 11), T0)
        assert (r.contiguous, r.gap) == (12, None)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 8)), min_size=1, max_size=30))
def test_any_order_any_repeats_gives_the_same_state(tmp_path_factory, chunks) -> None:
    path = tmp_path_factory.mktemp("c") / "c.sqlite"
    seen: set[int] = set()
    with CentralStore(path) as store:
        for first, extra in chunks:
            store.ingest("b1", batch(first, first + extra), T0)
            seen.update(range(first, first + extra + 1))
        expected = 0
        while expected + 1 in seen:
            expected += 1
        assert store.contiguous(DEVICE) == expected
        assert store.seqs(DEVICE) == sorted(seen)


def test_conflicting_event_is_quarantined_not_stored(centre_db) -> None:
    with CentralStore(centre_db) as store:
        store.ingest("b1", batch(1, 3), T0)
        r = store.ingest("b1", batch(2, 4, marker="-other"), T0)
        assert (r.stored, r.duplicates, r.contiguous) == (1, 0, 4)
        assert [(c.seq, c.stored_id, c.incoming_id) for c in r.conflicts] == [
            (2, uid(2), uid(2, "-other")),
            (3, uid(3), uid(3, "-other")),
        ]
        assert store.event_ids(DEVICE)[2] == uid(2)
        rows = store.quarantined("conflict")
        assert [q["seq"] for q in rows] == [2, 3]
        other = uid(2, "-other")
        assert (
            rows[0]["reason"]
            == f"conflict: seq 2 is stored with id {uid(2)}, this batch brings id {other}"
        )
        assert device_row(store, DEVICE).conflicts == 2
        again = store.ingest("b1", batch(2, 4, marker="-other"), T0)  # the same copy resent
        assert (again.conflicts, again.duplicates) == ((), 1)
        assert len(store.quarantined("conflict")) == 2
        third = store.ingest("b1", batch(3, 3, marker="-third"), T0)  # yet another copy
        assert [c.incoming_id for c in third.conflicts] == [uid(3, "-third")]


STORE_A = "0a0a0a0a-0000-4000-8000-00000000000a"
STORE_B = "0b0b0b0b-0000-4000-8000-00000000000b"


def store_batch(store: str, first: int, last: int, marker: str = "") -> EventBatch:
    return EventBatch(DEVICE, batch(first, last, marker).events, store)


def test_a_new_store_of_a_device_is_filed_beside_the_old_one(centre_db) -> None:
    """A re-imaged device numbers from 1 again: new events, not conflicts, and nothing of the old
    store is lost or counted twice."""
    with CentralStore(centre_db) as store:
        first = store.ingest("b1", store_batch(STORE_A, 1, 10), T0)
        assert (first.replaced, first.current) == (None, True)
        fresh = store.ingest("b1", store_batch(STORE_B, 1, 5, marker="-b"), T0)
        assert (fresh.stored, fresh.conflicts, fresh.contiguous) == (5, (), 5)
        assert fresh.replaced is not None and fresh.replaced.store == STORE_A
        assert (fresh.replaced.contiguous_seq, fresh.replaced.max_seq) == (10, 10)
        late = store.ingest("b1", store_batch(STORE_A, 9, 12), T0)  # the old store's backlog
        assert (late.stored, late.duplicates, late.contiguous, late.current) == (2, 2, 12, False)
        again = store.ingest("b1", store_batch(STORE_B, 1, 5, marker="-b"), T0)
        assert (again.stored, again.duplicates, again.replaced) == (0, 5, None)
        row = device_row(store, DEVICE)
        assert (row.store, row.contiguous_seq, row.events, row.conflicts, row.stores) == (
            STORE_B, 5, 5, 0, 2,
        )  # fmt: skip
        assert store.event_ids(DEVICE) == {s: uid(s, "-b") for s in range(1, 6)}
        assert store.event_ids(DEVICE, store=STORE_A) == {s: uid(s) for s in range(1, 13)}
        assert [(r.store, r.contiguous_seq) for r in store.stores(DEVICE)] == [
            (STORE_A, 12), (STORE_B, 5),
        ]  # fmt: skip
        assert store.event_count() == 17 and store.quarantined() == []


def test_a_version_1_centre_database_keeps_its_events_under_the_unnamed_store(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in central_store.MIGRATIONS[0]:
        conn.execute(sql)
    conn.execute("INSERT INTO devices (device_id, branch, contiguous_seq, max_seq, events, "
                 "last_seen) VALUES (?, 'b1', 2, 2, 2, 'then')", (DEVICE,))  # fmt: skip
    for seq in (1, 2):
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, 'b1', 'boot', 1.0, ?, 'rating.given', '{}', 'x')",
            (DEVICE, seq, uid(seq), T0.isoformat()),
        )
    conn.execute("INSERT INTO devices (device_id, branch, status) VALUES ('pad-9', 'b1', 'online')")
    conn.close()
    with CentralStore(path) as store:
        row = device_row(store, DEVICE)
        assert (row.store, row.contiguous_seq, row.events, row.stores) == ("", 2, 2, 1)
        assert device_row(store, "pad-9").store is None  # a status, never a batch
        r = store.ingest("b1", batch(2, 3), T0)  # a device whose store was migrated goes on
        assert (r.duplicates, r.stored, r.contiguous, r.replaced) == (1, 1, 3, None)
        r = store.ingest("b1", store_batch(STORE_A, 1, 1, "-new"), T0)
        assert r.replaced is not None and r.replaced.store == ""
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT schema_version FROM meta").fetchone()[0] == SCHEMA_VERSION


def test_an_event_with_a_non_uuid_id_or_a_far_future_wall_is_put_aside_with_a_reason(
    tmp_path: Path,
) -> None:
    """Kept raw in quarantine, a placeholder at its seq: the sequence stays whole (the device is
    acknowledged, nothing waits on it) and nothing is stored as if it were right."""
    events = list(batch(1, 5).events)
    events[1] = replace(events[1], id="not-a-uuid")
    events[2] = replace(events[2], wall=datetime(2999, 1, 1, tzinfo=UTC))
    events[3] = replace(events[3], type=HEARTBEAT_TYPE, wall=T0 + timedelta(days=2))
    with CentralStore(tmp_path / "c.sqlite") as store:
        r = store.ingest("b1", EventBatch(DEVICE, tuple(events)), T0)
        assert (r.stored, r.invalid, r.contiguous, r.gap) == (5, 3, 5, None)
        again = store.ingest("b1", EventBatch(DEVICE, tuple(events)), T0)
        assert (again.stored, again.duplicates, again.invalid) == (0, 5, 0)
        put_aside = store.quarantined("invalid")
        assert store.heartbeat_minutes(DEVICE) == []  # a minute two days ahead is not counted
        ids = store.event_ids(DEVICE)
    assert [q["seq"] for q in put_aside] == [2, 3, 4]
    assert put_aside[0]["reason"] == "field 'id' of seq 2 is not a UUID: 'not-a-uuid'"
    assert put_aside[1]["reason"].startswith(
        "field 'wall' of seq 3 is 2999-01-01T00:00:00+00:00, more than 1 day, 0:00:00 ahead"
    )
    kept = datetime.fromisoformat(json.loads(put_aside[1]["raw"])["wall"])
    assert kept == datetime(2999, 1, 1, tzinfo=UTC)
    assert ids[2] == "not-a-uuid" and ids[3] == uid(3)  # resends are duplicates, not conflicts
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        rows = conn.execute("SELECT seq, type, wall, payload FROM events ORDER BY seq").fetchall()
    assert [t for _, t, _, _ in rows] == ["rating.given", PLACEHOLDER_TYPE, PLACEHOLDER_TYPE,
                                          PLACEHOLDER_TYPE, "rating.given"]  # fmt: skip
    assert json.loads(rows[2][3]) == {
        "type": "rating.given",
        "reason": put_aside[1]["reason"],
        "quarantine_id": put_aside[1]["id"],
    }


def test_an_event_whose_payload_does_not_fit_the_contract_is_put_aside(centre_db) -> None:
    """Checked as the batch is read (``EventBatch.unfit``): one event put aside with the path of
    the wrong field, the rest of the batch stored, the device acknowledged."""
    events = list(batch(1, 3).events)
    events[1] = replace(events[1], type="rating.press", payload={"counter": 3, "value": "five"})
    raw = encode_batch(DEVICE, events)
    with CentralStore(centre_db) as store:
        r = store.ingest("b1", parse_batch(raw, DEVICE), T0)
        assert (r.stored, r.invalid, r.contiguous) == (3, 1, 3)
        (put_aside,) = store.quarantined("invalid")
    assert put_aside["seq"] == 2
    assert put_aside["reason"] == (
        "the payload of seq 2 does not fit the event contract: "
        "rating.press: Expected `int`, got `str` - at `$.value`"
    )
    assert json.loads(put_aside["raw"])["payload"] == {"counter": 3, "value": "five"}


def test_quarantine_keeps_the_raw_bytes_and_the_reason(centre_db) -> None:
    with CentralStore(centre_db) as store:
        qid = store.quarantine(
            "cs/v1/b1/pad-01/events", "not JSON: x", b"\xff\x00", T0, device=DEVICE
        )
        (row,) = store.quarantined()
    assert (row["id"], row["kind"], row["raw"], row["reason"]) == (
        qid,
        "malformed",
        b"\xff\x00",
        "not JSON: x",
    )


def test_status_and_heartbeat_minutes(centre_db) -> None:
    beats = EventBatch(
        DEVICE,
        tuple(ev(s, type_=HEARTBEAT_TYPE, minute=m) for s, m in ((1, 0), (2, 0), (3, 1), (4, 5))),
    )
    with CentralStore(centre_db) as store:
        store.set_status("b1", Status(DEVICE, "online", "2026-11-25T00:30:00+00:00"), T0)
        store.ingest("b1", beats, T0)
        minutes = store.heartbeat_minutes(DEVICE)
        assert minutes == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=5)]
        assert store.heartbeat_minutes(
            DEVICE, T0 + timedelta(minutes=1), T0 + timedelta(minutes=5)
        ) == [T0 + timedelta(minutes=1)]
        assert device_row(store, DEVICE).status == "online"


def test_heartbeat_helper_beats_once_per_minute(tmp_path: Path) -> None:
    clock = ManualClock(wall=T0)
    with EventStore(tmp_path / "d.sqlite", DEVICE) as store:
        heartbeat = Heartbeat(store, clock)
        assert heartbeat.beat() is not None
        assert heartbeat.beat() is None
        clock.advance(59)
        assert heartbeat.beat() is None
        clock.advance(1)
        second = heartbeat.beat()
        assert second is not None and second.type == HEARTBEAT_TYPE
        assert isinstance(second.payload, DeviceHeartbeat)
        assert second.payload.minute == "2026-11-25T00:31+00:00"
        clock.advance(180)  # a pause (e.g. the process hung) leaves minutes without a beat
        assert heartbeat.beat() is not None
        assert [e.type for e in store.events()] == [HEARTBEAT_TYPE] * 3


def test_heartbeat_thread_uses_its_own_store_and_reports(tmp_path: Path) -> None:
    clock = ManualClock(wall=T0)
    beats: list[StoredEvent] = []
    EventStore(tmp_path / "d.sqlite", DEVICE).close()
    thread = HeartbeatThread(
        tmp_path / "d.sqlite", DEVICE, clock, check_s=0.01, on_beat=beats.append
    )
    thread.start()
    try:
        deadline = _time.monotonic() + 5
        while len(beats) < 1 and _time.monotonic() < deadline:
            _time.sleep(0.01)
        clock.advance(60)
        while len(beats) < 2 and _time.monotonic() < deadline:
            _time.sleep(0.01)
    finally:
        thread.stop()
    assert [b.payload["minute"] for b in beats] == [
        "2026-11-25T00:30+00:00",
        "2026-11-25T00:31+00:00",
    ]
    with EventStore(tmp_path / "d.sqlite", DEVICE) as store:
        assert [e.id for e in store.events()] == [b.id for b in beats]


HOURS = {
    "mon": (OpeningSpan(time(8, 30), time(17, 0)),),
    "tue": (OpeningSpan(time(8, 30), time(17, 0)),),
    "wed": (OpeningSpan(time(8, 30), time(12, 0)), OpeningSpan(time(13, 0), time(17, 0))),
    "thu": (OpeningSpan(time(8, 30), time(17, 0)),),
    "fri": (OpeningSpan(time(8, 30), time(17, 0)),),
    "sat": (OpeningSpan(time(9, 0), time(16, 0)),),
    "sun": (),
}
SHANGHAI = "Asia/Shanghai"


def test_business_minutes_follow_the_opening_hours() -> None:
    wed = date(2026, 11, 25)
    minutes = business_minutes(HOURS, wed, wed + timedelta(days=1), SHANGHAI)
    assert len(minutes) == 210 + 240
    assert min(minutes) == T0 and T0 - timedelta(minutes=1) not in minutes
    assert max(minutes) == datetime(2026, 11, 25, 8, 59, tzinfo=UTC)  # 16:59 local
    week = business_minutes(HOURS, date(2026, 11, 23), date(2026, 11, 30), SHANGHAI)
    assert len(week) == 4 * 510 + 450 + 420 + 0


def test_uptime_counts_powered_business_minutes_only() -> None:
    wed = date(2026, 11, 25)
    powered = [T0 + timedelta(minutes=m, seconds=30) for m in range(-30, 100)]  # 08:00-09:40
    powered += [T0 + timedelta(minutes=m) for m in range(100, 110)] * 2  # repeats count once
    result = uptime(powered, HOURS, wed, wed + timedelta(days=1), SHANGHAI)
    assert (result.business_minutes, result.powered_minutes) == (450, 110)
    assert result.rate == 110 / 450
    assert uptime([], HOURS, date(2026, 11, 29), date(2026, 11, 30), SHANGHAI).rate is None


def test_uptime_full_day_is_one() -> None:
    sat = date(2026, 11, 28)
    start = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 09:00 local
    rng = random.Random(1)
    beats = [start + timedelta(minutes=m, seconds=rng.uniform(0, 59.9)) for m in range(7 * 60)]
    assert uptime(beats, HOURS, sat, sat + timedelta(days=1), SHANGHAI).rate == 1.0


def test_cli_devices_and_uptime(tmp_path: Path, capsys) -> None:
    db = tmp_path / "c.sqlite"
    beats = EventBatch(
        DEVICE, tuple(ev(s, type_=HEARTBEAT_TYPE, minute=s - 1) for s in range(1, 52))
    )
    with CentralStore(db) as store:
        store.ingest("b1", beats, T0)
        bad = replace(ev(52), payload={"unexpected": True}, type="counter.called")
        store.ingest("b1", EventBatch(DEVICE, (bad,)), T0)  # does not fit the contract
    assert cli.main(["devices", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    # contiguous, max, events, duplicates, conflicts, quarantined, chain breaks
    assert "pad-01\tb1\t52\t52\t52\t0\t0\t1\t0\t" in out
    assert "1 message(s) in quarantine" in out
    empty = tmp_path / "empty.toml"  # the shipped defaults only: 08:30-17:00 on a Wednesday
    empty.write_text("")
    assert cli.main(["uptime", "--db", str(db), "--device", DEVICE, "--from", "2026-11-25",
                     "--to", "2026-11-26", "--config", str(empty)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "powered 51 of 510 business minutes, 开机率 10.00%" in out
