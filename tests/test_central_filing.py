"""Batches filed together (``CentralStore.ingest_many``, what the ingest's group commit does,
some of them prepared before the transaction: ``Prepared``) give what the same batches give
filed one by one: every result and every row, on SQLite and on
PostgreSQL, for a stream that has everything (two devices' mornings with heartbeats, a device
whose store is replaced, batches out of order and again, a conflicting copy, an invalid event
(whose copy breaks the chain).
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from central.store import CentralStore, CentralStoreError, Prepared
from config.loader import load_config
from device.app import DeviceApp
from device.heartbeat import Heartbeat
from device.simulation import Simulation
from device.store import EventStore
from domain.clock import ManualClock
from domain.events import StoredEvent
from sync.schema import EventBatch, encode_batch, parse_batch

OPENING = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
RECEIVED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TABLES = (
    "events", "stores", "devices", "quarantine", "heartbeats", "chain_breaks", "alerts",
    "transactions", "rollups", "rollup_levels", "rollup_waits", "rollup_timing", "tellers",
    "counter_devices", "uptime_days",
)  # fmt: skip


class BeatingSimulation(Simulation):
    """A simulated morning whose device beats every minute, as a running device does."""

    def __init__(self, app: DeviceApp, clock: ManualClock, **kwargs) -> None:
        super().__init__(app, clock, **kwargs)
        self.heartbeat = Heartbeat(app.store, clock)

    def step(self) -> None:
        super().step()
        self.heartbeat.beat()


def morning(path: Path, device: str, seed: int, customers: int) -> tuple[list[StoredEvent], str]:
    config = load_config()
    clock = ManualClock(wall=OPENING, boot=f"boot-{seed}")
    with EventStore(path, device) as store:
        BeatingSimulation(
            DeviceApp(config, store, clock), clock, customers=customers, seed=seed
        ).run()
        return store.events(), store.store_id


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, bytes]]:
    """(branch, device, message) in the order they arrive."""
    tmp = tmp_path_factory.mktemp("filing")
    rng = random.Random(4)
    stores = [
        ("b1", "pad-a", *morning(tmp / "a.sqlite", "pad-a", 1, 30)),
        ("b2", "pad-b", *morning(tmp / "b.sqlite", "pad-b", 2, 30)),
        ("b1", "pad-a", *morning(tmp / "a2.sqlite", "pad-a", 3, 5)),  # pad-a re-imaged
    ]
    messages: list[tuple[str, str, bytes]] = []
    for branch, device, events, sid in stores:
        cuts = [0]
        while cuts[-1] < len(events):
            cuts.append(min(len(events), cuts[-1] + rng.randint(1, 60)))
        for a, b in itertools.pairwise(cuts):
            messages.append((branch, device, encode_batch(device, events[a:b], store=sid)))
    branch, device, events, sid = stores[0]
    other = [replace(e, id=str(uuid.uuid4())) for e in events[40:45]]  # a copy with other ids
    bad = [replace(events[60], id="not-a-uuid")]  # invalid: put aside, a placeholder stored
    messages.append((branch, device, encode_batch(device, other, store=sid)))
    messages.insert(3, (branch, device, encode_batch(device, bad, store=sid)))
    tail = messages[: len(messages) // 3]
    for k in sorted(rng.sample(range(len(messages)), 10), reverse=True):
        branch, device, raw = messages[k]
        batch = parse_batch(raw, device)
        last = encode_batch(device, batch.events[-1:], store=batch.store)
        again = [(branch, device, raw), (branch, device, last)][: rng.randint(1, 2)]
        messages[k + 1 : k + 1] = again  # at once again (whole, or its last event)
    messages[1:1] = rng.sample(messages, 12)  # some again, early
    rng.shuffle(tail)
    return messages + tail  # the first third again, at the end, shuffled


def dump(store: CentralStore) -> dict[str, list]:
    return {t: sorted(store.query(f"SELECT * FROM {t}"), key=repr) for t in TABLES}


def test_batches_filed_together_give_what_they_give_one_by_one(stream, new_centre_db) -> None:
    with CentralStore(new_centre_db()) as one:
        alone = [
            one.ingest(branch, parse_batch(raw, device), RECEIVED) for branch, device, raw in stream
        ]
        expected = dump(one)
    assert len(expected["quarantine"]) >= 2 and expected["heartbeats"] and expected["alerts"]
    assert any(r.replaced is not None for r in alone) and any(r.conflicts for r in alone)
    rng = random.Random(7)
    together = []
    target = new_centre_db()
    with CentralStore(target) as first, CentralStore(target) as second:
        i = 0
        while i < len(stream):
            size = rng.randint(1, 40)
            # some prepared before the transaction, as the ingest does
            part: list[tuple[str, EventBatch] | Prepared] = [
                Prepared(b, batch) if rng.random() < 0.5 else (b, batch)
                for b, batch in ((b, parse_batch(raw, d)) for b, d, raw in stream[i : i + size])
            ]
            store = rng.choice((first, second))  # two workers, each with what it remembers
            with store.group():
                half = rng.randint(0, len(part))  # sometimes two filings in one transaction
                together += store.ingest_many(part[:half], RECEIVED)
                together += store.ingest_many(part[half:], RECEIVED)
            i += size
        assert together == alone
        assert dump(first) == expected


def test_a_rolled_back_group_is_forgotten(stream, centre_db) -> None:
    """What a transaction stored and then rolled back is not taken as stored later (the last
    event of each store is remembered only once committed)."""
    branch, device, raw = stream[0]
    first = parse_batch(raw, device)
    events = {}
    for _, d, message in stream:
        batch = parse_batch(message, d)
        if (d, batch.store) == (device, first.store):
            events.update({e.seq: e for e in batch.events})
    one = EventBatch(device, (events[1],), first.store)
    two = EventBatch(device, (replace(events[2], prev="0" * 64),), first.store)  # a bad link
    with CentralStore(centre_db) as store:
        with pytest.raises(CentralStoreError), store.group():
            store.ingest(branch, one, RECEIVED)
            store.quarantine("t", "r", b"x", RECEIVED)
            raise CentralStoreError("the group fails: nothing of it is kept")
        assert store.event_count() == 0 and store.quarantined() == []
        store.ingest(branch, two, RECEIVED)
        assert store.chain_breaks() == []  # seq 1 is not there: the link cannot be checked yet
        store.ingest(branch, one, RECEIVED)
        (broken,) = store.chain_breaks()  # now it can, and it does not hold
        assert broken.seq == 2


def test_a_break_is_found_whichever_worker_stored_the_neighbour(stream, centre_db) -> None:
    branch, device, raw = stream[0]
    sid = parse_batch(raw, device).store
    events = {}
    for _, d, message in stream:
        batch = parse_batch(message, d)
        if (d, batch.store) == (device, sid):
            events.update({e.seq: e for e in batch.events})
    before = tuple(events[s] for s in range(1, 6))
    after = (replace(events[6], prev="0" * 64), *(events[s] for s in range(7, 11)))
    with CentralStore(centre_db) as one, CentralStore(centre_db) as other:
        one.ingest(branch, EventBatch(device, before, sid), RECEIVED)
        other.ingest(branch, EventBatch(device, after, sid), RECEIVED)  # knows nothing of 1..5
        broken = other.chain_breaks()  # into 6 (its prev), into 7 (6's own hash changed)
        assert [b.seq for b in broken] == [6, 7]
        one.ingest(branch, EventBatch(device, (events[11],), sid), RECEIVED)  # 10 is other's
        assert one.chain_breaks() == broken
