"""The device event store on real SQLite files."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import device.store as store_module
from device.migrations import LATEST_VERSION, MIGRATIONS, Migration
from device.store import PAGE_CACHE_KIB, EventStore, StoreError
from domain.clock import Instant, ManualClock, wall_text
from domain.events import DomainEvent, StoredEvent, chain_hash, chain_start

DEVICE = "pad-0001"
WRITER = Path(__file__).with_name("store_writer.py")
CST = timezone(timedelta(hours=8))


def ev(clock: ManualClock, type_: str = "rating.given", **payload) -> DomainEvent:
    return DomainEvent(type_, clock.advance(1.5), payload)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "device" / "events.db"


@pytest.fixture
def store(db_path: Path):
    with EventStore(db_path, DEVICE) as s:
        yield s


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection beside the store, as any other program could open one."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def test_append_assigns_contiguous_seqs_uuids_and_clock_readings(store: EventStore) -> None:
    clock = ManualClock(boot="boot-a")
    first = store.append(ev(clock, counter=3))
    batch = store.append_many([ev(clock, n=i) for i in range(3)])
    last = store.append(ev(clock))
    stored = [first, *batch, last]

    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert store.last_seq() == 5
    assert len({e.id for e in stored}) == 5
    assert all(uuid.UUID(e.id).version == 7 for e in stored)
    assert {e.device_id for e in stored} == {DEVICE}
    assert first.boot_id == "boot-a"
    assert first.mono == 1001.5
    assert first.wall == datetime(2026, 11, 25, 8, 30, 1, 500000, tzinfo=UTC)
    assert first.payload == {"counter": 3}
    assert store.events() == stored


def test_ids_are_time_ordered_even_when_the_wall_clock_steps_back(store: EventStore) -> None:
    # random ids scatter appends over the whole unique index of a big store; ordered ids do not
    clock = ManualClock()
    first = store.append(ev(clock))
    clock.jump_wall(-3 * 3600)  # NTP corrects a clock that ran ahead
    later = store.append_many([ev(clock, n=i) for i in range(50)])
    ids = [first.id, *(e.id for e in later)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
    unix_ms = int(uuid.UUID(first.id).hex[:12], 16)
    assert unix_ms == int(first.wall.timestamp() * 1000)


def test_reopen_keeps_events_and_acknowledgement(db_path: Path) -> None:
    clock = ManualClock()
    with EventStore(db_path, DEVICE) as s:
        written = s.append_many([ev(clock, n=i) for i in range(4)])
        s.ack(2)
    with EventStore(db_path, DEVICE) as s:
        assert s.events() == written
        assert s.acked_seq() == 2
        assert s.append(ev(clock)).seq == 5


def test_chinese_payload_round_trips_as_compact_utf8_json(store: EventStore) -> None:
    clock = ManualClock()
    payload = {"comment": "柜员态度很好，办理很快！", "tags": ["服务", "效率"], "level": 5}
    stored = store.append(DomainEvent("rating.given", clock.now(), payload))
    assert store.events()[0].payload == payload == stored.payload
    with raw(store.path) as conn:
        text = conn.execute("SELECT payload FROM events WHERE seq = 1").fetchone()[0]
    assert text == json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    assert "柜员" in text and "\\u" not in text and ", " not in text


def test_wal_and_full_sync_on_every_open(db_path: Path) -> None:
    for _ in range(2):
        with EventStore(db_path, DEVICE) as s:
            assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with raw(db_path) as conn:  # WAL is persistent in the file; synchronous is per connection
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_connection_holds_a_small_page_cache(db_path: Path) -> None:
    """The device's memory budget: SQLite's page cache bounded on each connection (its default
    of 2 MB per connection grew the counter's RSS as the log grew: bench/counter_frame.py)."""
    with EventStore(db_path, DEVICE) as s, EventStore(db_path, DEVICE, durable=False) as up:
        for conn in (s.db, up.db):
            assert conn.execute("PRAGMA cache_size").fetchone()[0] == -PAGE_CACHE_KIB
    assert PAGE_CACHE_KIB <= 512


def test_the_uplinks_connection_acks_without_fsync_and_stores_nothing(db_path: Path) -> None:
    clock = ManualClock()
    with EventStore(db_path, DEVICE) as store, EventStore(db_path, DEVICE, durable=False) as up:
        assert up.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: no fsync
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        store.append_many([ev(clock), ev(clock)])
        assert [e.seq for e in up.outbox()] == [1, 2]
        assert up.ack(1) == 1 and store.acked_seq() == 1
        with pytest.raises(StoreError, match="does not store events"):
            up.append(ev(clock))
        with pytest.raises(StoreError, match="does not store events"):
            up.append_many([ev(clock)])
        assert store.last_seq() == 2


def test_update_is_refused_even_for_acknowledged_events(store: EventStore) -> None:
    clock = ManualClock()
    store.append_many([ev(clock), ev(clock)])
    store.ack(2)
    with raw(store.path) as conn:
        for sql in ("UPDATE events SET type = 'forged' WHERE seq = 1", "UPDATE events SET seq = 9"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
    assert [e.type for e in store.events()] == ["rating.given", "rating.given"]


def test_delete_is_refused_until_acknowledged(store: EventStore) -> None:
    clock = ManualClock()
    store.append_many([ev(clock) for _ in range(3)])
    store.ack(1)
    with raw(store.path) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="not yet acknowledged"):
            conn.execute("DELETE FROM events WHERE seq = 2")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("DELETE FROM events")  # the whole statement fails, seq 1 stays too
        conn.execute("DELETE FROM events WHERE seq = 1")
    assert [e.seq for e in store.events()] == [2, 3]


def test_ack_is_monotone_and_never_passes_the_last_seq(store: EventStore) -> None:
    clock = ManualClock()
    store.append_many([ev(clock) for _ in range(5)])
    assert store.ack(3) == 3
    assert store.ack(1) == 3
    assert store.ack(3) == 3
    assert store.acked_seq() == 3
    with pytest.raises(StoreError) as err:
        store.ack(6)
    assert str(store.path) in str(err.value) and "6" in str(err.value) and "5" in str(err.value)
    assert store.acked_seq() == 3
    with raw(store.path) as conn:  # the guard holds for other writers too
        with pytest.raises(sqlite3.IntegrityError, match="acked_seq"):
            conn.execute("UPDATE meta SET acked_seq = 2")
        with pytest.raises(sqlite3.IntegrityError, match="acked_seq"):
            conn.execute("UPDATE meta SET acked_seq = 99")
    assert store.ack(5) == 5


def test_outbox_view_holds_the_unacknowledged_events_in_order(store: EventStore) -> None:
    clock = ManualClock()
    store.append_many([ev(clock, n=i) for i in range(6)])
    assert store.outbox_size() == 6
    store.ack(2)
    assert [e.seq for e in store.outbox()] == [3, 4, 5, 6]
    assert [e.seq for e in store.outbox(limit=2)] == [3, 4]
    assert store.outbox_size() == 4
    assert "outbox" in store.db.view_names()
    with raw(store.path) as conn:
        assert [r[0] for r in conn.execute("SELECT seq FROM outbox")] == [3, 4, 5, 6]
    store.ack(6)
    assert store.outbox() == [] and store.outbox_size() == 0


def test_prune_deletes_only_old_acknowledged_events(store: EventStore) -> None:
    clock = ManualClock(wall=datetime(2026, 1, 1, tzinfo=UTC))
    old = store.append_many([ev(clock, n=i) for i in range(4)])  # 2026-01-01
    clock.advance(40 * 86400)
    recent = store.append_many([ev(clock, n=i) for i in range(2)])  # 2026-02-10
    store.ack(5)  # old 1..4 and recent 5 acknowledged, 6 not

    cutoff = datetime(2026, 2, 1, 8, 0, tzinfo=CST)
    assert store.prune(cutoff) == 4
    assert [e.seq for e in store.events()] == [5, 6]
    assert store.prune(cutoff) == 0
    assert store.prune(datetime(2030, 1, 1, tzinfo=UTC)) == 1  # 6 is not acknowledged
    assert store.events() == [recent[1]]
    assert old[0].seq == 1


def test_seq_continues_after_pruning_everything_and_reopening(db_path: Path) -> None:
    clock = ManualClock()
    with EventStore(db_path, DEVICE) as s:
        s.append_many([ev(clock) for _ in range(3)])
        s.ack(3)
        assert s.prune(datetime(2100, 1, 1, tzinfo=UTC)) == 3
        assert s.events() == [] and s.last_seq() == 3 and s.outbox_size() == 0
        assert s.ack(3) == 3
    with EventStore(db_path, DEVICE) as s:
        assert s.last_seq() == 3
        assert s.append(ev(clock)).seq == 4
        assert [e.seq for e in s.outbox()] == [4]


def test_opening_another_devices_store_names_the_file_and_both_ids(db_path: Path) -> None:
    EventStore(db_path, DEVICE).close()
    with pytest.raises(StoreError) as err:
        EventStore(db_path, "pad-0002")
    message = str(err.value)
    assert str(db_path) in message and DEVICE in message and "pad-0002" in message


def test_a_foreign_sqlite_file_is_not_taken_over(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as conn:
        conn.execute("CREATE TABLE customers (name TEXT)")
    with pytest.raises(StoreError, match="not an event store"):
        EventStore(db_path, DEVICE)


def test_a_store_newer_than_the_code_is_refused(db_path: Path) -> None:
    EventStore(db_path, DEVICE).close()
    with raw(db_path) as conn:
        conn.execute("UPDATE meta SET schema_version = ?", (LATEST_VERSION + 1,))
    with pytest.raises(StoreError) as err:
        EventStore(db_path, DEVICE)
    assert str(db_path) in str(err.value)
    assert f"version {LATEST_VERSION + 1} is newer" in str(err.value)


# The schema of release 1, frozen here by hand: migration 1 must keep producing exactly this.
V1_SCHEMA = """
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    device_id TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    mono REAL NOT NULL,
    wall TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
"""


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
    return sorted((t, n, " ".join(s.split())) for t, n, s in rows)


def test_migration_1_still_builds_the_released_v1_schema(tmp_path: Path) -> None:
    with raw(tmp_path / "hand.db") as by_hand, raw(tmp_path / "code.db") as by_code:
        by_hand.executescript(V1_SCHEMA)
        MIGRATIONS[0].apply(by_code, DEVICE)
        assert _schema(by_hand) == _schema(by_code)


def test_v1_store_is_migrated_on_open_and_keeps_its_data(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute(
            "INSERT INTO meta (id, device_id, schema_version, acked_seq) VALUES (1, ?, 1, 1)",
            (DEVICE,),
        )
        for seq in (1, 2, 3):
            conn.execute(
                "INSERT INTO events VALUES (?, ?, ?, 'boot-0', ?, ?, 'ticket.issued', ?)",
                (
                    seq,
                    f"00000000-0000-4000-8000-00000000000{seq}",
                    DEVICE,
                    float(seq),
                    f"2026-01-0{seq}T08:00:00.000000+00:00",
                    '{"ticket":"A00' + str(seq) + '","业务":"现金"}',
                ),
            )

    with EventStore(db_path, DEVICE) as s:
        assert s.schema_version() == LATEST_VERSION
        assert s.store_id == ""  # it numbered events before stores had identities
        events = s.events()
        assert [e.seq for e in events] == [1, 2, 3]
        assert events[2].id == "00000000-0000-4000-8000-000000000003"
        assert events[2].payload == {"ticket": "A003", "业务": "现金"}
        assert events[0].wall == datetime(2026, 1, 1, 8, tzinfo=UTC)
        assert s.acked_seq() == 1
        assert [e.seq for e in s.outbox()] == [2, 3]  # the view came with version 2
        assert s.prune(datetime(2026, 6, 1, tzinfo=UTC)) == 1  # v1 refused every DELETE
        assert s.append(ev(ManualClock())).seq == 4
    with raw(db_path) as conn:
        assert conn.execute("SELECT schema_version FROM meta").fetchone()[0] == LATEST_VERSION


def test_every_new_store_has_an_identity_of_its_own_that_never_changes(tmp_path: Path) -> None:
    with (
        EventStore(tmp_path / "a.sqlite", DEVICE) as a,
        EventStore(tmp_path / "b.sqlite", DEVICE) as b,
    ):
        assert uuid.UUID(a.store_id) and uuid.UUID(b.store_id)
        assert a.store_id != b.store_id  # same device id, another store: another identity
        first = a.store_id
        a.append(ev(ManualClock()))
    with EventStore(tmp_path / "a.sqlite", DEVICE) as a:
        assert a.store_id == first
    with raw(tmp_path / "a.sqlite") as conn, pytest.raises(sqlite3.IntegrityError, match="never"):
        conn.execute("UPDATE meta SET store_id = ?", (str(uuid.uuid4()),))


def test_an_empty_v2_store_gets_an_identity_when_migrated(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as conn:
        for migration in MIGRATIONS[:2]:
            migration.apply(conn, DEVICE)
        conn.execute("UPDATE meta SET schema_version = 2")
    with EventStore(db_path, DEVICE) as s:
        assert uuid.UUID(s.store_id)


def test_events_filters_by_seq_limit_and_type(store: EventStore) -> None:
    clock = ManualClock()
    types = ["test.issued", "test.called", "rating.given", "test.issued", "rating.given"]
    store.append_many([ev(clock, t) for t in types])
    assert [e.seq for e in store.events(after_seq=2)] == [3, 4, 5]
    assert [e.seq for e in store.events(after_seq=1, limit=2)] == [2, 3]
    assert [e.seq for e in store.events(types=["rating.given"])] == [3, 5]
    assert [e.seq for e in store.events(types="test.issued")] == [1, 4]
    assert [e.seq for e in store.events(after_seq=3, types=("test.issued", "x"))] == [4]
    assert store.events(types=[]) == []
    assert store.events(limit=0) == []


def test_events_between_compares_instants_across_offsets(store: EventStore) -> None:
    clock = ManualClock(wall=datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
    store.append(DomainEvent("a", clock.now()))  # 23:00 UTC = 07:00 CST next day
    clock.advance(3600)
    store.append(DomainEvent("b", clock.now()))  # 00:00 UTC
    clock.jump_wall(-7200)  # the wall clock steps back: seq order and wall order now differ
    store.append(DomainEvent("c", clock.now()))  # 22:00 UTC
    store.append(DomainEvent("d", Instant(5.0, datetime(2026, 3, 2, 8, 30, tzinfo=CST))))  # 00:30Z

    start = datetime(2026, 3, 2, 7, 0, tzinfo=CST)  # == 23:00 UTC, inclusive
    end = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # exclusive
    assert [e.type for e in store.events_between(start, end)] == ["a", "b"]
    wide = store.events_between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=CST))
    assert [e.type for e in wide] == ["a", "b", "c", "d"]
    assert wide[3].wall == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    with pytest.raises(StoreError, match="no UTC offset"):
        store.events_between(datetime(2026, 1, 1), end)


def test_bad_payload_stores_nothing(store: EventStore) -> None:
    clock = ManualClock()
    with pytest.raises(StoreError, match=r"rating\.given"):
        store.append_many([ev(clock), ev(clock, when=datetime.now(UTC))])
    with pytest.raises(StoreError):
        store.append(ev(clock, score=float("nan")))
    assert store.events() == [] and store.last_seq() == 0


def test_stored_event_to_dict_is_json_ready(store: EventStore) -> None:
    stored = store.append(ev(ManualClock(), comment="好"))
    data = json.loads(json.dumps(stored.to_dict(), ensure_ascii=False))
    assert data["wall"] == "2026-11-25T08:30:01.500000+00:00"
    assert data["payload"] == {"comment": "好"} and data["seq"] == 1
    assert StoredEvent.from_dict(data) == stored


def test_two_connections_interleaving_keep_seqs_contiguous(db_path: Path) -> None:
    clock = ManualClock()
    with EventStore(db_path, DEVICE) as a, EventStore(db_path, DEVICE) as b:
        seqs = []
        for i in range(10):
            seqs.append((a if i % 2 else b).append(ev(clock)).seq)
            if i == 4:
                seqs += [e.seq for e in a.append_many([ev(clock), ev(clock)])]
        assert seqs == list(range(1, 13))
        assert b.last_seq() == 12 and [e.seq for e in b.events()] == seqs


def test_concurrent_appends_from_two_processes_are_contiguous_and_unique(tmp_path: Path) -> None:
    db_path, go, count = tmp_path / "events.db", tmp_path / "go", 400
    EventStore(db_path, DEVICE).close()
    args = [str(WRITER), str(db_path), DEVICE, "--count", str(count), "--go", str(go)]
    writers = [
        subprocess.Popen(
            [sys.executable, *args, "--seed", str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for w in writers:  # both have the store open before either writes
        assert w.stdout is not None and w.stderr is not None
        assert w.stdout.readline() == "ready\n", w.stderr.read()
    go.touch()
    printed = []
    for w in writers:
        out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err
        printed.append([tuple(line.split()) for line in out.splitlines()])

    with EventStore(db_path, DEVICE) as s:
        events = s.events()
    assert [e.seq for e in events] == list(range(1, 2 * count + 1))
    assert len({e.id for e in events}) == 2 * count
    by_seq = {str(e.seq): e.id for e in events}
    for lines in printed:
        assert len(lines) == count
        assert all(by_seq[seq] == id_ for seq, id_ in lines)
    assert {e.payload["pid"] for e in events} == {w.pid for w in writers}


def test_each_migration_is_one_transaction(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    EventStore(db_path, DEVICE).close()
    nxt = LATEST_VERSION + 1
    broken = Migration(nxt, "half done", ("CREATE TABLE extra (x)", "SELECT no_such_function()"))
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(store_module, "LATEST_VERSION", nxt)
    with pytest.raises(StoreError, match=f"schema version {nxt}") as err:
        EventStore(db_path, DEVICE)
    assert str(db_path) in str(err.value)
    with raw(db_path) as conn:
        assert conn.execute("SELECT schema_version FROM meta").fetchone()[0] == LATEST_VERSION
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []

    def add_extra(conn: sqlite3.Connection, device_id: str) -> None:
        conn.execute("CREATE TABLE extra (device_id TEXT)")
        conn.execute("INSERT INTO extra VALUES (?)", (device_id,))

    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, Migration(nxt, "fn", add_extra)))
    with EventStore(db_path, DEVICE) as s:
        assert s.schema_version() == nxt
        assert s.db.execute("SELECT device_id FROM extra").fetchall() == [(DEVICE,)]


# -- the hash chain (issue 8, item 6) ------------------------------------------------------------


def chained_store(db_path: Path, n: int = 6) -> None:
    clock = ManualClock()
    with EventStore(db_path, DEVICE) as s:
        s.append_many([ev(clock, n=i) for i in range(n - 1)])
        s.append(ev(clock, "rating.given", n=n))


def tamper(db_path: Path, *sql: str) -> None:
    """What anyone with a shell on the Pi could do to the file (the triggers are no guard)."""
    with raw(db_path) as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        conn.execute("DROP TRIGGER IF EXISTS events_no_unacked_delete")
        for statement in sql:
            conn.execute(statement)


def test_every_event_carries_the_hash_of_the_one_before(db_path: Path) -> None:
    chained_store(db_path)
    with EventStore(db_path, DEVICE) as s:
        events = s.events()
        assert events[0].prev == chain_start(s.store_id)
        assert all(b.prev == a.chain_hash() for a, b in itertools.pairwise(events))
        report = s.verify()
    assert report.ok and (report.events, report.first, report.last) == (6, 1, 6)


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (("DELETE FROM events WHERE seq = 3",), "seq 3..3: missing (deleted)"),
        (("UPDATE events SET payload = '{\"n\":99}' WHERE seq = 2",), "seq 2: altered"),
        (
            (
                "UPDATE events SET seq = 100 WHERE seq = 2",
                "UPDATE events SET seq = 2 WHERE seq = 3",
                "UPDATE events SET seq = 3 WHERE seq = 100",
            ),
            "seq 2: does not follow the event before it",
        ),
    ],
    ids=["deleted", "altered", "reordered"],
)
def test_a_deleted_altered_or_reordered_event_is_found(db_path: Path, sql, problem) -> None:
    chained_store(db_path)
    tamper(db_path, *sql)
    with EventStore(db_path, DEVICE) as s:
        report = s.verify()
    assert not report.ok and any(problem in p for p in report.problems), report.problems


def test_pruning_keeps_the_chain_of_what_is_kept_whole(store: EventStore) -> None:
    clock = ManualClock(wall=datetime(2026, 1, 1, tzinfo=UTC))
    store.append_many([ev(clock, n=i) for i in range(4)])
    clock.advance(40 * 86400)
    store.append_many([ev(clock, n=i) for i in range(2)])
    store.ack(6)
    assert store.prune(datetime(2026, 2, 1, tzinfo=UTC)) == 4
    assert store.verify().ok
    assert store.prune(datetime(2030, 1, 1, tzinfo=UTC)) == 2
    store.append(ev(clock, n=7))  # after everything was pruned, the chain goes on
    assert store.verify().ok and store.events()[0].prev != chain_start(store.store_id)


def test_a_running_device_never_imports_sqlite_utils(tmp_path: Path) -> None:
    """sqlite-utils (with click, dateutil, pluggy) costs a device memory: the store opens,
    appends and reads without it; ``EventStore.db`` brings it in for tools only."""
    script = (
        "import sys\n"
        "import device.launch\n"
        "from device.store import EventStore\n"
        "from domain.clock import ManualClock\n"
        "from domain.events import DomainEvent\n"
        f"with EventStore({str(tmp_path / 'd.sqlite')!r}, 'pad-1') as s:\n"
        "    s.append(DomainEvent('rating.given', ManualClock().now(), {}))\n"
        "    assert len(s.events()) == 1\n"
        "    print('sqlite_utils' in sys.modules)\n"
        "    s.db.table_names()\n"
        "    print('sqlite_utils' in sys.modules)\n"
    )
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def test_prune_deletes_in_chunks_and_keeps_the_chain_whole(store: EventStore) -> None:
    clock = ManualClock(wall=datetime(2026, 1, 1, tzinfo=UTC))
    store.append_many([ev(clock, n=i) for i in range(23)])
    clock.advance(40 * 86400)
    store.append_many([ev(clock, n=i) for i in range(3)])
    store.ack(26)
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    assert store.prune(datetime(2026, 2, 1, tzinfo=UTC), chunk=5) == 23
    store._conn.set_trace_callback(None)
    deletes = sorted({s for s in statements if s.startswith("DELETE FROM events")})
    assert deletes == [f"DELETE FROM events WHERE seq <= {n}" for n in (10, 15, 20, 23, 5)]
    assert [e.seq for e in store.events()] == [24, 25, 26] and store.pruned_seq() == 23
    assert store.verify().ok
    assert store.prune(datetime(2026, 2, 1, tzinfo=UTC), chunk=5) == 0


def test_verify_accepts_an_event_as_an_earlier_release_wrote_it(db_path: Path) -> None:
    """``counter.resumed`` had no ``teller`` in its first release: such a device hashed the
    payload without it. Its chain is whole, and verify must say so, as the centre does."""
    at = Instant(1.5, datetime(2026, 1, 1, tzinfo=UTC), "boot")
    with EventStore(db_path, DEVICE) as store:
        store.append(DomainEvent("rating.given", at, {"level": 5}))
        (head,) = store._conn.execute("SELECT hash FROM events WHERE seq = 1").fetchone()
    old = '{"counter":1,"reason":"lunch","paused_s":3.5,"over_limit":false}'  # no "teller"
    wall = wall_text(datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    eid = "0190a000-0000-7000-8000-000000000002"
    own = chain_hash(head, 2, eid, DEVICE, "boot", 2.5, wall, "counter.resumed", old.encode())
    with closing(sqlite3.connect(db_path)) as conn:  # as the earlier release stored it
        conn.execute(
            "INSERT INTO events (seq, id, device_id, boot_id, mono, wall, type, payload, prev,"
            " hash) VALUES (2, ?, ?, 'boot', 2.5, ?, 'counter.resumed', ?, ?, ?)",
            (eid, DEVICE, wall, old, head, own),
        )
        conn.commit()
    with EventStore(db_path, DEVICE) as store:
        assert store.verify().ok, store.verify().problems
        with closing(sqlite3.connect(db_path)) as conn:  # and a real alteration still shows
            conn.execute("DROP TRIGGER events_no_update")
            conn.execute("UPDATE events SET payload = replace(payload, 'lunch', 'tea')")
            conn.commit()
        assert store.verify().problems == ["seq 2: altered (its hash does not match)"]
