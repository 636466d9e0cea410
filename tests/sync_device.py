"""Test helper process: a device that appends events and runs the uplink against its store.

Usage: ``python tests/sync_device.py DB DEVICE BRANCH HOST PORT CA CERT KEY [--append-ms MS]
[--seed S]``

The main thread appends 1-3 events every ``--append-ms`` milliseconds (0: appends nothing, only
drains) with its own ``EventStore``; the uplink pumps with another. Prints ``ready`` once the
connection is up and ``appended SEQ`` after each append, flushed. SIGTERM stops cleanly (offline
status); the fault tests mostly use SIGKILL.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.store import EventStore
from domain.clock import SystemClock
from domain.events import DomainEvent
from sync.connection import DeviceConnection
from sync.settings import Backoff, ConnectionSettings, TlsSettings, UplinkSettings
from sync.uplink import Uplink

UPLINK = UplinkSettings(
    batch_max_events=40,
    max_inflight=4,
    ack_timeout_s=2.0,
    ack_timeout_max_s=4.0,
    refused=Backoff(0.2, 1.0),
    poll_s=0.1,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("db", "device", "branch", "host"):
        parser.add_argument(name)
    parser.add_argument("port", type=int)
    for name in ("ca", "cert", "key"):
        parser.add_argument(name, type=Path)
    parser.add_argument("--append-ms", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{args.device} %(levelname)s %(message)s")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rng = random.Random(args.seed)
    clock = SystemClock()
    settings = ConnectionSettings(
        args.host,
        args.port,
        client_id=args.device,
        tls=TlsSettings(args.ca, args.cert, args.key),
        keepalive_s=2,
        reconnect=Backoff(0.1, 1.0),
    )
    store = EventStore(args.db, args.device)
    connection = DeviceConnection(settings, args.branch, args.device, boot_id=clock.boot)
    uplink = Uplink(
        connection, lambda: EventStore(args.db, args.device), args.branch, args.device, UPLINK
    )
    uplink.start()
    connection.start()
    connection.wait_connected(10)
    print("ready", flush=True)
    n = 0
    while not stop.is_set():
        if args.append_ms > 0:
            count = rng.randint(1, 3)
            events = [
                DomainEvent(
                    "test.tick", clock.now(), {"n": n + i, "note": "满意" * rng.randint(0, 9)}
                )
                for i in range(count)
            ]
            stored = store.append_many(events)
            n += count
            uplink.notify()
            print(f"appended {stored[-1].seq}", flush=True)
        stop.wait(args.append_ms / 1000 if args.append_ms > 0 else 0.05)
    uplink.stop()
    connection.stop()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
