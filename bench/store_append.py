"""Latency and throughput of ``EventStore.append`` on a store that already holds a year of events,
against a plain sqlite3 INSERT+COMMIT loop on a table holding the same year.

Every side is fully durable: WAL, ``synchronous=FULL``, one commit per event. The plain loop does
the least any store must do for the same row: a time-ordered UUID, compact UTF-8 JSON, an ISO-8601
UTC time, ``INSERT`` of the same eight columns (``seq`` primary key, unique ``id``) and
``COMMIT``. A third, informative side is the same plain loop with random (version 4) UUIDs, as
the store made them before: it shows what random keys in the unique index cost once the table
is big. It is not part of the verdict.

The year-old files are built once (one bulk transaction each) and cached in the temporary
directory; every round starts from fresh copies of them whose pages are dropped from the OS page
cache, as after a reboot. Within a round the sides take turns in blocks whose order rotates, and
the rounds rotate which side goes first, so disk and cache state drift evenly over all sides.
Target: ours costs at most 1.5x the plain loop (p50, p99 latency and throughput).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from device.migrations import LATEST_VERSION
from device.store import EventStore, time_ordered_uuid
from domain.clock import ManualClock, wall_text
from domain.events import DomainEvent

TARGET = 1.5
DEVICE = "bench-device"
YEAR = 1_000_000
"""Events in a year of a busy counter: about 2,700 a day (transactions, ratings, heartbeats)."""
BUILD = 1  # bump when the cached files must be rebuilt
CACHE = Path(tempfile.gettempdir()) / "counterside-bench-cache"

_PLAIN_SCHEMA = """CREATE TABLE events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, device_id TEXT NOT NULL,
    boot_id TEXT NOT NULL, mono REAL NOT NULL, wall TEXT NOT NULL, type TEXT NOT NULL,
    payload TEXT NOT NULL)"""
_PLAIN_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_COLUMNS = "seq, id, device_id, boot_id, mono, wall, type, payload"
_PAYLOAD = {"counter": 3, "level": 5, "ticket": "A001", "comment": "办理很快"}


def make_events(n: int, start: datetime | None = None) -> list[DomainEvent]:
    """Realistic small events: a rating with a short Chinese comment, one per second."""
    clock = ManualClock(wall=start or datetime(2026, 11, 25, 8, 30, tzinfo=UTC))
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


def _v4() -> str:
    return str(uuid.uuid4())


def _v7(when: datetime) -> str:
    return time_ordered_uuid(int(when.timestamp() * 1000), 0)


# -- the year-old files ----------------------------------------------------------------------


def _history_rows(n: int, end: datetime, ids: Callable[[datetime], str]) -> Iterator[tuple]:
    """``n`` events spread evenly over the year before ``end``, in seq order."""
    step = timedelta(days=365) / max(n, 1)
    payload = json.dumps(_PAYLOAD, ensure_ascii=False, separators=(",", ":"))
    start = end - timedelta(days=365)
    for i in range(n):
        wall = start + step * i
        yield (i + 1, ids(wall), DEVICE, "boot-history", float(i), wall_text(wall), "rating.given",
               payload)  # fmt: skip


def _bulk(path: Path, rows: Iterator[tuple], table: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB: random keys build fast enough
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO {table} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def built(kind: str, history: int, end: datetime) -> Path:
    """The cached file of ``kind`` (``ours``, ``plain``, ``plain-v4``) holding ``history`` events,
    built on first use."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{kind}-{history}-schema{LATEST_VERSION}-build{BUILD}.sqlite"
    if path.exists():
        return path
    t0 = time.perf_counter()
    tmp = path.with_suffix(".building")
    for leftover in CACHE.glob(f"{tmp.name}*"):
        leftover.unlink()
    if kind == "ours":
        EventStore(tmp, DEVICE).close()  # the store's own schema, at the latest version
    else:
        conn = sqlite3.connect(tmp)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_PLAIN_SCHEMA)
        conn.close()
    ids = (lambda _wall: _v4()) if kind == "plain-v4" else _v7
    _bulk(tmp, _history_rows(history, end, ids), "events")
    tmp.rename(path)
    size = path.stat().st_size / 1e6
    print(f"built {path.name} ({size:.0f} MB) in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


def _fresh_copy(template: Path, work: Path) -> Path:
    """A copy of ``template`` at ``work``, on disk and out of the page cache (a cold start)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, work)
    fd = os.open(work, os.O_RDONLY)
    try:
        os.fsync(fd)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return work


# -- the sides ----------------------------------------------------------------------------------


class Plain:
    """The baseline: sqlite3 with the same pragmas, one INSERT and one COMMIT per event."""

    name = "plain sqlite3"
    kind = "plain"

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.seq = self.conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0

    def new_id(self, event: DomainEvent) -> str:
        return _v7(event.at.wall)

    def append(self, event: DomainEvent) -> None:
        self.seq += 1
        at = event.at
        payload = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":"))
        wall = at.wall.astimezone(UTC).isoformat(timespec="microseconds")
        row = (self.seq, self.new_id(event), DEVICE, at.boot, at.mono, wall, event.type, payload)
        self.conn.execute(_PLAIN_INSERT, row)
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class PlainRandom(Plain):
    """Informative: the plain loop with random UUIDs, as the store made them before."""

    name = "plain, random uuid4"
    kind = "plain-v4"

    def new_id(self, event: DomainEvent) -> str:
        return _v4()


class Ours:
    name = "EventStore.append"
    kind = "ours"

    def __init__(self, path: Path) -> None:
        self.store = EventStore(path, DEVICE)
        self.append = self.store.append

    def close(self) -> None:
        self.store.close()


SIDES = (Plain, Ours, PlainRandom)


def _io() -> tuple[int, int]:
    """(bytes read, bytes written) by this process's system calls so far (Linux)."""
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            fields = dict(line.split(":") for line in f)
    except OSError:
        return 0, 0
    return int(fields["rchar"]), int(fields["wchar"])


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


def _figures(values: list[int]) -> dict[str, float]:
    return {
        "p50_ms": _percentile(values, 0.50) / 1e6,
        "p99_ms": _percentile(values, 0.99) / 1e6,
        "mean_ms": statistics.fmean(values) / 1e6,
        "events_per_s": len(values) / (sum(values) / 1e9),
    }


def measure(opts: argparse.Namespace) -> dict:
    """Run every round; per side the pooled figures, per round the ratios ours/plain."""
    end = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    templates = {side.kind: built(side.kind, opts.history, end) for side in SIDES}
    latencies: dict[str, list[int]] = {side.name: [] for side in SIDES}
    io = {side.name: [0, 0] for side in SIDES}
    rounds: list[dict[str, float]] = []
    size = -(-opts.events // opts.blocks)
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=opts.dir) as tmp:
        for r in range(opts.rounds):
            events = make_events(opts.warmup + opts.events, start=end + timedelta(days=r))
            warmup, measured = events[: opts.warmup], events[opts.warmup :]
            chunks = [measured[i : i + size] for i in range(0, len(measured), size)]
            order = [SIDES[(r + i) % len(SIDES)] for i in range(len(SIDES))]  # rotate first
            sides = [s(_fresh_copy(templates[s.kind], Path(tmp) / f"{s.kind}.db")) for s in order]
            this_round: dict[str, list[int]] = {s.name: [] for s in sides}
            try:
                for side in sides:
                    _run_block(side.append, warmup)
                for i, chunk in enumerate(chunks):
                    for side in sides if i % 2 == 0 else reversed(sides):  # ABC CBA ...
                        gc.collect()
                        before = _io()
                        this_round[side.name] += _run_block(side.append, chunk)
                        after = _io()
                        io[side.name][0] += after[0] - before[0]
                        io[side.name][1] += after[1] - before[1]
            finally:
                for side in sides:
                    side.close()
            for name, values in this_round.items():
                latencies[name] += values
            plain, ours = _figures(this_round[Plain.name]), _figures(this_round[Ours.name])
            rounds.append({k: ours[k] / plain[k] for k in ("p50_ms", "p99_ms", "events_per_s")})
    figures = {name: _figures(values) for name, values in latencies.items()}
    for name, (read, written) in io.items():
        n = len(latencies[name])
        figures[name].update(read_kb=read / n / 1024, written_kb=written / n / 1024)
    return {"figures": figures, "rounds": rounds}


def report(results: dict, opts: argparse.Namespace) -> bool:
    figures, rounds = results["figures"], results["rounds"]
    plain, ours = figures[Plain.name], figures[Ours.name]
    print(
        f"{opts.events} events per side in each of {opts.rounds} rounds, appended to a store "
        f"already holding {opts.history:,} events; WAL + synchronous=FULL, one commit per event"
    )
    print(
        f"{'':22}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'events/s':>10}"
        f"{'read KB':>9}{'written KB':>11}  (per event)"
    )
    for name, r in figures.items():
        print(
            f"{name:22}{r['p50_ms']:9.3f}{r['p99_ms']:9.3f}{r['mean_ms']:9.3f}"
            f"{r['events_per_s']:10.0f}{r['read_kb']:9.1f}{r['written_kb']:11.1f}"
        )
    ratios = {key: ours[key] / plain[key] for key in ("p50_ms", "p99_ms", "events_per_s")}
    print(
        f"{'ratio ours/plain':22}{ratios['p50_ms']:8.2f}x{ratios['p99_ms']:8.2f}x{'':9}"
        f"{ratios['events_per_s']:9.2f}x"
    )
    for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("events_per_s", "throughput")):
        each = [r[key] for r in rounds]
        print(f"  {label} ratio by round: " + " ".join(f"{x:.2f}" for x in each))
    random = figures[PlainRandom.name]
    mean, p99 = random["mean_ms"] / plain["mean_ms"], random["p99_ms"] / plain["p99_ms"]
    print(
        f"random uuid4 keys instead of time-ordered ones (plain loop): mean {mean:.2f}x, "
        f"p99 {p99:.2f}x, {random['read_kb']:.1f} KB read per event against {plain['read_kb']:.1f}"
    )
    checks = {
        "p50": ratios["p50_ms"] <= TARGET,
        "p99": ratios["p99_ms"] <= TARGET,
        "throughput": ratios["events_per_s"] >= 1 / TARGET,
    }
    met = all(checks.values())
    detail = ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in checks.items())
    verdict = "MET" if met else "NOT MET"
    print(f"target (ours costs at most {TARGET}x the plain loop): {verdict} ({detail})")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_append", description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="measured events per side/round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each from a fresh copy")
    parser.add_argument("--blocks", type=int, default=10, help="alternating blocks per round")
    parser.add_argument("--history", type=int, default=YEAR, help="events already in the store")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured events per side/round")
    parser.add_argument("--quick", action="store_true", help="100,000 events of history, 2 rounds")
    parser.add_argument("--dir", default=None, help="directory for the files (default: temp)")
    opts, _ = parser.parse_known_args(argv)
    if opts.quick:
        opts.history, opts.rounds = min(opts.history, 100_000), 2
        opts.events = min(opts.events, 1000)
    if min(opts.events, opts.blocks, opts.rounds) < 1 or opts.history < 0 or opts.warmup < 0:
        parser.error("--events, --blocks and --rounds must be positive")
    opts.blocks = min(opts.blocks, opts.events)
    report(measure(opts), opts)
    return 0  # informative: a missed target is printed, not an error


if __name__ == "__main__":
    sys.exit(main())
