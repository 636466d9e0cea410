"""A central store with three branches in two regions, for the dashboard's tests: simulated
branch days (a real device app on a :class:`ManualClock` fixed in November 2026, whatever the
date the suite runs on) ingested by the real central store, users of every role, and the
dashboard served by uvicorn on a free port for the browser tests."""

from __future__ import annotations

import functools
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from central import accounts
from central.store import CentralStore
from central.web.app import create_app
from central.web.context import Settings
from config.centre import CentreConfig, load_centre_config
from config.loader import load_config
from device.app import DeviceApp
from device.heartbeat import Heartbeat
from device.simulation import Simulation
from device.store import EventStore
from domain.clock import ManualClock
from sync.schema import EventBatch, Status

FIRST_DAY = date(2026, 11, 23)
DAYS = 3
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the morning after
PASSWORD = "correct horse 47"
POWERED_MINUTES = 510  # 08:30 to 17:00, the shipped opening hours (less a cut at the end)
BRANCHES = (
    ("chengguan", "城关支行", "浙江省/杭州市", 60),
    ("xihu", "西湖支行", "浙江省/杭州市", 40),
    ("haishu", "海曙支行", "浙江省/宁波市", 30),
)
USERS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("zongbu", "central", None, None),
    ("hangzhou", "region", "浙江省/杭州市", None),
    ("chengguan-mgr", "branch", None, "chengguan"),
    ("guest", "viewer", None, None),
)
CENTRE_TOML = "\n".join(
    f'[[branches]]\nid = "{b}"\nname = "{name}"\nregion = "{region}"\n'
    for b, name, region, _ in BRANCHES
)


@dataclass(frozen=True)
class Bank:
    db: Path
    centre_file: Path
    centre: CentreConfig


class _Powered(Simulation):
    """A simulated day with the pad's heartbeats (the device's own :class:`Heartbeat`)."""

    def __init__(self, *args, beat: Heartbeat, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat = beat

    def step(self) -> None:
        super().step()
        self.heartbeat.beat()


def _simulate(folder: Path, branch: str, customers: int, seed: int) -> tuple[list, str]:
    own = folder / f"{branch}.toml"
    own.write_text(f'[device]\ndevice_id = "{branch}-pad-1"\nbranch_id = "{branch}"\n')
    config = load_config(own)
    start = datetime.combine(FIRST_DAY, datetime.min.time(), UTC) + timedelta(minutes=30)
    clock = ManualClock(wall=start, boot="sim")
    path = folder / f"{branch}.sqlite"
    with EventStore(path, config.device.device_id) as store:
        app = DeviceApp(config, store, clock)
        beat = Heartbeat(store, clock)
        for day in range(DAYS):
            opening = start + timedelta(days=day)
            clock.advance((opening - clock.now().wall).total_seconds())
            _Powered(app, clock, customers=customers, seed=seed + day, beat=beat).run()
            cut = opening + timedelta(minutes=POWERED_MINUTES - (7 * seed + 3 * day) % 40)
            while clock.now().wall < cut:  # on after the last customer, until a power cut
                clock.advance(60)
                beat.beat()
        events = store.events()
    with sqlite3.connect(path) as conn:
        (sid,) = conn.execute("SELECT store_id FROM meta").fetchone()
    return events, sid


def _add_user(
    name: str, role: str, region: str | None, branch: str | None, execute, query
) -> accounts.User:
    return accounts.add_user(
        execute, query, name, role, PASSWORD, region=region, branch=branch, at=NOW
    )


def build_bank(folder: Path) -> Bank:
    """The central store (SQLite) with the simulated days of every branch and every user."""
    folder.mkdir(parents=True, exist_ok=True)
    centre_file = folder / "centre.toml"
    centre_file.write_text(CENTRE_TOML, encoding="utf-8")
    centre = load_centre_config(centre_file)
    db = folder / "centre.sqlite"
    # the devices' stores are scratch: in memory when it can (an fsync per event on a disk
    # makes the heartbeats of three pads' days take seconds)
    shm = Path("/dev/shm")
    with (
        tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else folder) as scratch,
        CentralStore(db, centre=centre) as store,
    ):
        for i, (branch, _, _, customers) in enumerate(BRANCHES):
            events, sid = _simulate(Path(scratch), branch, customers, seed=10 * i + 1)
            device = events[0].device_id
            for k in range(0, len(events), 200):
                batch = EventBatch(device, tuple(events[k : k + 200]), sid)
                store.ingest(branch, batch, NOW)
            if branch == "haishu":  # its pad lost power an hour ago
                status = Status(device, "offline", (NOW - timedelta(minutes=70)).isoformat())
            else:
                status = Status(device, "online", (NOW - timedelta(minutes=5)).isoformat())
            store.set_status(branch, status, NOW)
        for user in USERS:
            store.write("user", functools.partial(_add_user, *user))
    return Bank(db, centre_file, centre)


def copy_bank(bank: Bank, folder: Path) -> Bank:
    """A copy of the bank's database that a test may change."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "centre.sqlite"
    with sqlite3.connect(bank.db) as source, sqlite3.connect(db) as target:
        source.backup(target)
    shutil.copy(bank.centre_file, folder / "centre.toml")
    return Bank(db, folder / "centre.toml", bank.centre)


class Clock:
    """The dashboard's clock in a test: fixed, moved by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings(bank: Bank, clock: Clock | None = None, **more: Any) -> Settings:
    return Settings(str(bank.db), bank.centre, clock=clock or Clock(), **more)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(bank: Bank, clock: Clock | None = None, **more: Any) -> Iterator[str]:
    """The dashboard served by uvicorn in a thread; its base URL. ``more``: :class:`Settings`."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        create_app(settings(bank, clock, **more)), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
