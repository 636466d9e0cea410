"""Parse speed of wire messages: a 200-event batch of a simulated branch morning, and small ones.

The events are those a simulated morning stores (``device.simulation``: tickets, calls, services,
ratings and transaction records, the contract's real payloads), in one ``events`` batch as the
uplink encodes it. Timed in this process, best of ``--repeat`` runs of ``--number`` parses each:

- ``sync.schema.parse_batch``: everything the centre does before it stores a batch (size,
  UTF-8, JSON, duplicate keys, envelope, every field, seqs contiguous, and, where the reader
  does it, the event contract per event);
- the event contract alone (``domain.events.typed_payload`` of every payload), which the centre
  applies to each new event (part of ``parse_batch`` where the reader checks it);
- the baseline, in the same run: the standard library's bare ``json.loads`` of the same bytes
  (no check at all), and ``msgspec.json.decode`` to plain Python objects;
- small messages: an ``ack``, a queue request, a queue state and a configuration message.

Target: the batch parses, with every check, in at most twice the time of the bare ``json.loads``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import timeit
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from config.loader import load_config
from device.app import DeviceApp
from device.simulation import Simulation
from device.store import EventStore
from domain.clock import ManualClock
from domain.events import StoredEvent, typed_payload
from sync import config_downlink, schema
from sync import queue_protocol as qp

TARGET = 2.0
DEVICE = "bench-pad"
STORE = "5b1c0d3e-7f00-4a1b-9c2d-0e1f2a3b4c5d"


def morning_events(n: int) -> list[StoredEvent]:
    """The first ``n`` events a simulated branch morning stores."""
    config = load_config()
    clock = ManualClock(wall=datetime(2026, 11, 25, 0, 30, tzinfo=UTC), boot="bench")
    with (
        tempfile.TemporaryDirectory(prefix="bench-wire-") as tmp,
        EventStore(Path(tmp) / "morning.sqlite", config.device.device_id) as store,
    ):
        app = DeviceApp(config, store, clock)
        Simulation(app, clock, customers=max(12, n // 3), seed=3).run()
        events = store.events(limit=n)
    if len(events) < n:
        raise SystemExit(f"the simulated morning stored only {len(events)} events")
    return events


def _json(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def small_messages() -> dict[str, tuple]:
    """Name -> (parse function, payload, extra arguments), built as plain JSON."""
    request = {"v": 1, "kind": "queue_req", "device": "w3", "id": "9f1c2d", "op": "call_next",
               "counter": 3, "ttl_s": 2.0}  # fmt: skip
    state = {"v": 1, "kind": "queue_state", "store": STORE, "seq": 812,
             "at": "2026-11-25T09:14:03.200000+00:00", "day": "2026-11-25",
             "waiting": {"cash": 4, "general": 1, "corporate": 0},
             "counters": {str(n): {"serves": ["cash", "general"], "has_work": 4,
                                   "upcoming": ["A013", "A014", "A015", "A016", "B007"]}
                          for n in range(1, 9)},
             "current": [{"counter": 3, "ticket": "A012", "ticket_id": "20261125-A012",
                          "business_type": "cash", "calls": 2}]}  # fmt: skip
    config = {"v": 1, "kind": "config", "version": 7, "issued_at": "2026-11-25T08:00:00+08:00",
              "toml": "[queue]\nrecall_limit = 3\n" * 20}  # fmt: skip
    ack = {"v": 1, "kind": "ack", "device": DEVICE, "store": STORE, "upto": 42}
    return {
        "ack": (schema.parse_ack, _json(ack), (DEVICE,)),
        "queue request": (qp.parse_request, _json(request), ("w3",)),
        "queue state (8 counters)": (qp.parse_state, _json(state), ()),
        "config": (config_downlink.parse_message, _json(config), ()),
    }


def best_us(func, number: int, repeat: int) -> float:
    """Best time of one call in microseconds."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wire_parse", description=__doc__)
    parser.add_argument("--events", type=int, default=200, help="events in the batch (200)")
    parser.add_argument("--number", type=int, default=200, help="parses per run (200)")
    parser.add_argument("--repeat", type=int, default=7, help="runs; the best counts (7)")
    parser.add_argument("--quick", action="store_true", help="50 parses per run, 3 runs")
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.number, args.repeat = min(args.number, 50), min(args.repeat, 3)
    events = morning_events(args.events)
    raw = schema.encode_batch(DEVICE, events, store=STORE)
    parsed = schema.parse_batch(raw, DEVICE)
    assert len(parsed.events) == args.events
    n, r = args.number, args.repeat
    ours = best_us(lambda: schema.parse_batch(raw, DEVICE), n, r)
    bare = best_us(lambda: json.loads(raw), n, r)
    fast = best_us(lambda: msgspec.json.decode(raw), n, r)
    contract = best_us(lambda: [typed_payload(e.type, e.payload) for e in parsed.events], n, r)
    print(f"batch of {args.events} events, {len(raw)} bytes; best of {r} runs of {n} parses")
    print(f"{'':34}{'µs/batch':>10}{'µs/event':>10}")
    for label, us in (
        ("sync.schema.parse_batch", ours),
        ("event contract alone", contract),
        ("json.loads (no checks)", bare),
        ("msgspec.json.decode (no checks)", fast),
    ):
        print(f"{label:34}{us:10.0f}{us / args.events:10.2f}")
    for name, (parse, payload, extra) in small_messages().items():
        parse(payload, *extra)
        us = best_us(lambda p=parse, b=payload, e=extra: p(b, *e), n * 10, r)
        print(f"{name:34}{us:10.1f}   ({len(payload)} bytes)")
    ratio = ours / bare
    verdict = "MET" if ratio <= TARGET else "NOT MET"
    print(f"ratio parse_batch / bare json.loads: {ratio:.2f}x; target (at most {TARGET:.0f}x): "
          f"{verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
