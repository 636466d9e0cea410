"""A fleet of devices' event streams for the centre's benchmarks, made from simulated branch
mornings (``device.simulation``) so that the centre gets what real devices send.

A few mornings are simulated once (each a one-box branch: the queue and three counters in one
store, as the demo runs), with a ``device.heartbeat`` for every minute the morning lasts. Each
device of the fleet takes one of them from an offset of its own and re-identifies it as a device
would have made it: its own device id, store id, event ids and transaction ids, sequence numbers
from 1 and the hash chain recomputed from its store's chain start, on the day the benchmark
runs. Each device belongs to a branch of its own (ticket numbers are per branch and day).

The messages are the uplink's own encoding (``sync.schema.encode_event`` / ``encode_batch``),
made before anything is timed.
"""

from __future__ import annotations

import functools
import random
import tempfile
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec

from config.loader import load_config
from device.app import DeviceApp
from device.simulation import Simulation
from device.store import EventStore
from domain.clock import ManualClock, minute_of
from domain.events import (
    DeviceHeartbeat,
    EventType,
    StoredEvent,
    TransactionClosed,
    chain_start,
    typed_payload,
)
from domain.report import ROW_TYPES
from sync import schema, topics

OPENING_UTC = timedelta(hours=0, minutes=30)
"""When a simulated morning starts: 08:30 in Asia/Shanghai (the shipped hours)."""
BAD_LEVELS = (1, 2)  # the centre's default unsatisfied levels: each such rating raises an alert
ALERT_TYPES = ("ticket.wait_over_limit", "counter.idle_with_queue")  # alert as they are stored
LIVE_FROM = timedelta(hours=1)
"""Live devices send from this long after opening on (09:30)."""


def bench_day(now: datetime | None = None) -> date:
    """The business day the fleet's events fall on: yesterday in Asia/Shanghai (UTC+8), so that
    no event is ahead of the centre's clock."""
    now = now or datetime.now(UTC)
    return (now + timedelta(hours=8)).date() - timedelta(days=1)


def simulate_morning(day: date, seed: int, customers: int) -> list[StoredEvent]:
    """One simulated branch morning on ``day``, with a heartbeat every minute, in time order
    (seqs are renumbered when a device takes it)."""
    config = load_config()
    start = datetime.combine(day, datetime.min.time(), UTC) + OPENING_UTC
    clock = ManualClock(wall=start, boot=f"sim-{seed}")
    with (
        tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp,
        EventStore(Path(tmp) / "morning.sqlite", config.device.device_id) as store,
    ):
        Simulation(DeviceApp(config, store, clock), clock, customers=customers, seed=seed).run()
        events = store.events()
    first, last = events[0], events[-1]
    beats = []
    minute = minute_of(first.wall)
    while minute <= last.wall:
        mono = first.mono + (minute - first.wall).total_seconds()
        payload = DeviceHeartbeat(minute=minute.isoformat(timespec="minutes"))
        beats.append(replace(first, wall=minute, mono=mono, type=EventType.DEVICE_HEARTBEAT,
                             payload=payload))  # fmt: skip
        minute += timedelta(minutes=1)
    merged = sorted([*events, *beats], key=lambda e: (e.wall, e.type != "device.heartbeat"))
    return [replace(e, payload=typed_payload(e.type, e.payload)) for e in merged]


@functools.lru_cache(maxsize=8)
def _morning(day: date, seed: int, customers: int) -> list[StoredEvent]:
    return simulate_morning(day, seed, customers)


@dataclass(frozen=True)
class Device:
    """One device of the fleet: its branch, ids, and its events as encoded for a batch."""

    branch: str
    device: str
    store: str
    events: tuple[bytes, ...]  # encode_event of seq 1, 2, ...
    rows: int  # transaction rows its events make (served or not, expired, cancelled)
    alerting: tuple[tuple[int, str], ...]  # (seq, event id) of the events that raise an alert

    @property
    def topic(self) -> str:
        return topics.events(self.branch, self.device)

    def message(self, first: int, last: int) -> bytes:
        """The ``events`` message of seqs ``first..last``."""
        return schema.encode_batch(self.device, self.events[first - 1 : last], store=self.store)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def reidentify(
    morning: list[StoredEvent],
    offset: int,
    count: int,
    branch: str,
    device: str,
    rng: random.Random,
) -> Device:
    """``count`` events of ``morning`` from ``offset`` as ``device`` of ``branch`` made them."""
    store = _uuid(rng)
    prev = chain_start(store)
    transactions: dict[str, str] = {}
    out, alerting, rows = [], [], 0
    for seq, source in enumerate(morning[offset : offset + count], 1):
        payload = source.payload
        old = getattr(payload, "transaction_id", None)
        if old:
            new = transactions.setdefault(old, _uuid(rng))
            payload = msgspec.structs.replace(payload, transaction_id=new)  # type: ignore[type-var]
        event = replace(
            source, seq=seq, id=_uuid(rng), device_id=device, payload=payload, prev=prev,
            boot_id=f"{device}-boot",
        )  # fmt: skip
        prev = event.chain_hash()
        out.append(schema.encode_event(event))
        rows += event.type in ROW_TYPES
        bad = isinstance(payload, TransactionClosed) and payload.rating in BAD_LEVELS
        if bad or event.type in ALERT_TYPES:
            alerting.append((seq, event.id))
    return Device(branch, device, store, tuple(out), rows, tuple(alerting))


def fleet(
    devices: int,
    events_each: int,
    *,
    live: bool = False,
    mornings: int = 4,
    customers: int = 150,
    seed: int = 1,
    day: date | None = None,
) -> list[Device]:
    """``devices`` devices of ``events_each`` events each (one branch per device). ``live``:
    every device from the same time of the morning (``LIVE_FROM``, within a minute), as online
    devices send what happens now; else each from an offset of its own (a backlog of the day)."""
    day = day or bench_day()
    rng = random.Random(seed)
    sims = [_morning(day, seed + i, customers) for i in range(mornings)]
    opening = datetime.combine(day, datetime.min.time(), UTC) + OPENING_UTC
    out = []
    for i in range(devices):
        morning = sims[i % len(sims)]
        if events_each > len(morning):
            raise ValueError(f"a morning holds {len(morning)} events, not {events_each}")
        offset = rng.randrange(len(morning) - events_each + 1)
        if live:
            start = opening + LIVE_FROM + timedelta(seconds=rng.uniform(0, 60))
            offset = next(n for n, e in enumerate(morning) if e.wall >= start)
            offset = min(offset, len(morning) - events_each)
        name = f"d{i:05d}"
        out.append(reidentify(morning, offset, events_each, f"b{i:05d}", name, rng))
    return out


BUILD = 2  # bump when the cached fleets must be made again
CACHE = Path(tempfile.gettempdir()) / "counterside-bench-cache"


def cached_fleet(
    devices: int, events_each: int, *, live: bool = False, seed: int = 1
) -> list[Device]:
    """:func:`fleet`, kept in ``$TMPDIR/counterside-bench-cache`` (one file per size and day)."""
    import pickle

    day = bench_day()
    name = f"fleet-{devices}x{events_each}{'-live' if live else ''}-s{seed}"
    path = CACHE / f"{name}-{day}-b{BUILD}.pickle"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    made = fleet(devices, events_each, live=live, seed=seed, day=day)
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"{name}-*.pickle"):
        old.unlink()  # an older day's
    part = path.with_suffix(".part")
    with part.open("wb") as f:
        pickle.dump(made, f, protocol=pickle.HIGHEST_PROTOCOL)
    part.replace(path)
    return made
