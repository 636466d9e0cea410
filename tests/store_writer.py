"""Test helper process: append events to an event store and report each one once it is durable.

Usage: ``python tests/store_writer.py DB DEVICE_ID [--count N] [--go FILE] [--seed S]``

Prints ``SEQ ID`` (flushed) for every event only after ``append``/``append_many`` returned. Runs
until killed unless ``--count`` is given. With ``--go`` it opens the store, prints ``ready`` and
waits for FILE to exist before writing, so that several writers can start at the same moment.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.store import EventStore
from domain.clock import SystemClock
from domain.events import DomainEvent


def _payload(rng: random.Random, n: int) -> dict:
    size = rng.choice((0, 10, 100, 300, 3000))  # the largest spill onto overflow pages
    return {"n": n, "pid": os.getpid(), "note": "满意度评价" * rng.randint(0, size)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db")
    parser.add_argument("device_id")
    parser.add_argument("--count", type=int, default=0, help="events to append (0: until killed)")
    parser.add_argument("--go", help="print 'ready', then wait for this file before writing")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    clock = SystemClock()
    out = sys.stdout
    with EventStore(args.db, args.device_id) as store:
        if args.go:
            out.write("ready\n")
            out.flush()
            while not os.path.exists(args.go):
                time.sleep(0.001)
        n = 0
        while not args.count or n < args.count:
            batch = 3 if rng.random() < 0.15 else 1
            if args.count:
                batch = min(batch, args.count - n)
            events = [
                DomainEvent("test.tick", clock.now(), _payload(rng, n + i)) for i in range(batch)
            ]
            stored = store.append_many(events) if batch > 1 else [store.append(events[0])]
            out.write("".join(f"{e.seq} {e.id}\n" for e in stored))
            out.flush()
            n += batch
    return 0


if __name__ == "__main__":
    sys.exit(main())
