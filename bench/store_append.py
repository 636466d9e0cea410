"""Latency and throughput of ``EventStore.append`` against a plain sqlite3 INSERT+COMMIT loop.

Both sides are fully durable: WAL, ``synchronous=FULL``, one commit per event, a fresh file each
in the same temporary directory. The plain loop does the least any store must do for the same
row: a uuid4, compact UTF-8 JSON, an ISO-8601 UTC time, ``INSERT`` of the same eight columns
(``seq`` primary key, unique ``id``) and ``COMMIT``. After a warm-up on each file the measured
events run in blocks that alternate between the two, so disk and cache state drift evenly.
Target: ours costs at most 1.5x the plain loop (p50, p99 latency and throughput).
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from device.clock import ManualClock
from device.events import DomainEvent
from device.store import EventStore

TARGET = 1.5
DEVICE = "bench-device"

_PLAIN_SCHEMA = """CREATE TABLE events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, device_id TEXT NOT NULL,
    boot_id TEXT NOT NULL, mono REAL NOT NULL, wall TEXT NOT NULL, type TEXT NOT NULL,
    payload TEXT NOT NULL)"""
_PLAIN_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def make_events(n: int) -> list[DomainEvent]:
    """Realistic small events: a rating with a short Chinese comment, one per second."""
    clock = ManualClock(wall=datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
    return [
        DomainEvent(
            "rating.given",
            clock.advance(1.0),
            {
                "counter": i % 8 + 1,
                "level": i % 5 + 1,
                "ticket": f"A{i:03d}",
                "comment": "办理很快",
            },
        )
        for i in range(n)
    ]


class Plain:
    """The baseline: sqlite3 with the same pragmas, one INSERT and one COMMIT per event."""

    name = "plain sqlite3"

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(_PLAIN_SCHEMA)
        self.conn.commit()
        self.seq = 0

    def append(self, event: DomainEvent) -> None:
        self.seq += 1
        at = event.at
        payload = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":"))
        wall = at.wall.astimezone(UTC).isoformat(timespec="microseconds")
        row = (self.seq, str(uuid.uuid4()), DEVICE, at.boot, at.mono, wall, event.type, payload)
        self.conn.execute(_PLAIN_INSERT, row)
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class Ours:
    name = "EventStore.append"

    def __init__(self, path: Path) -> None:
        self.store = EventStore(path, DEVICE)
        self.append = self.store.append

    def close(self) -> None:
        self.store.close()


def _run_block(append: Callable[[DomainEvent], object], events: list[DomainEvent]) -> list[int]:
    latencies = []
    clock = time.perf_counter_ns
    for event in events:
        t0 = clock()
        append(event)
        latencies.append(clock() - t0)
    return latencies


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(n_events: int, blocks: int, directory: str | None) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=directory) as tmp:
        print(f"files in {tmp}")
        sides = [Plain(Path(tmp) / "plain.db"), Ours(Path(tmp) / "ours.db")]
        warmup = make_events(max(50, n_events // 10))
        events = make_events(n_events)
        size = -(-n_events // blocks)
        chunks = [events[i : i + size] for i in range(0, n_events, size)]
        latencies: dict[str, list[int]] = {side.name: [] for side in sides}
        try:
            for side in sides:
                _run_block(side.append, warmup)
            for i, chunk in enumerate(chunks):
                for side in sides if i % 2 == 0 else reversed(sides):  # ABBA...
                    gc.collect()
                    latencies[side.name] += _run_block(side.append, chunk)
        finally:
            for side in sides:
                side.close()
    return {
        name: {
            "p50_ms": _percentile(values, 0.50) / 1e6,
            "p99_ms": _percentile(values, 0.99) / 1e6,
            "mean_ms": statistics.fmean(values) / 1e6,
            "events_per_s": len(values) / (sum(values) / 1e9),
        }
        for name, values in latencies.items()
    }


def report(results: dict[str, dict[str, float]], n_events: int) -> bool:
    plain, ours = results[Plain.name], results[Ours.name]
    print(f"{n_events} events per side, WAL + synchronous=FULL, one commit per event")
    print(f"{'':22}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'events/s':>11}")
    for name, r in results.items():
        print(
            f"{name:22}{r['p50_ms']:10.3f}{r['p99_ms']:10.3f}{r['mean_ms']:10.3f}"
            f"{r['events_per_s']:11.0f}"
        )
    ratios = {key: ours[key] / plain[key] for key in ("p50_ms", "p99_ms", "events_per_s")}
    checks = {
        "p50": ratios["p50_ms"] <= TARGET,
        "p99": ratios["p99_ms"] <= TARGET,
        "throughput": ratios["events_per_s"] >= 1 / TARGET,
    }
    print(
        f"{'ratio ours/plain':22}{ratios['p50_ms']:9.2f}x{ratios['p99_ms']:9.2f}x{'':10}"
        f"{ratios['events_per_s']:10.2f}x"
    )
    met = all(checks.values())
    detail = ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in checks.items())
    verdict = "MET" if met else "NOT MET"
    print(f"target (ours costs at most {TARGET}x the plain loop): {verdict} ({detail})")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_append", description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="measured events per side")
    parser.add_argument("--blocks", type=int, default=10, help="alternating blocks (default 10)")
    parser.add_argument("--dir", default=None, help="directory for the files (default: temp)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.blocks < 1:
        parser.error("--events and --blocks must be positive")
    results = measure(args.events, min(args.blocks, args.events), args.dir)
    report(results, args.events)
    return 0  # informative: a missed target is printed, not an error


if __name__ == "__main__":
    sys.exit(main())
