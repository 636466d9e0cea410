"""``counterside simulate``: many branches' business day against a real broker and centre.

Each branch is a one-box device (the queue and every counter in one store, as ``counterside
demo-branch`` runs) whose day is acted out by :class:`~sim.day.BranchDay` on a manual clock, in
a pool of worker processes. Then every branch's device connects to the broker with its own
certificate and its uplink sends the day to the centre, all at once: the load test. The run ends
once the centre has acknowledged every event. The ground truth (every ticket, transaction,
rating and pause the simulation caused) is ``truth.jsonl`` in the data folder.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from config.loader import load_config
from device.store import EventStore
from sim import configs
from sim.broker import free_port
from sim.central import Central, centre_kpi, start_central
from sim.local import run_day
from sim.truth import TruthLog
from sync.acl import Identity, Role
from sync.connection import DeviceConnection
from sync.settings import ConnectionSettings, TlsSettings, UplinkSettings
from sync.uplink import Uplink


@dataclass(frozen=True)
class Job:
    index: int
    branch: str
    device: str
    files: tuple[str, ...]
    store: str
    truth: str
    seed: int
    day: date
    opening: str
    close: str


MARKER = ".counterside-simulate"
"""The file that marks a folder as simulate's own (it empties its database at each run)."""


def branch_ids(n: int) -> list[tuple[str, str]]:
    """(branch, device) of each simulated branch."""
    return [(f"sim-b{i:03d}", f"sim-b{i:03d}-box") for i in range(1, n + 1)]


def branch_name(i: int) -> str:
    return f"模拟支行{i}"


def region(i: int) -> str:
    """The region of the ``i``-th branch: ten branches a city."""
    return f"模拟省/模拟市{(i - 1) // 10 + 1}"


def _run_job(job: Job) -> tuple[str, int, int, int]:
    config = load_config(*job.files)
    tz = ZoneInfo(config.device.timezone)
    opening = datetime.combine(job.day, dtime.fromisoformat(job.opening), tz)
    close = datetime.combine(job.day, dtime.fromisoformat(job.close), tz)
    log = TruthLog(Path(job.truth))
    try:
        day = run_day(config, Path(job.store), log, seed=job.seed, opening=opening, close=close,
                      staff_prefix=str(job.index))  # fmt: skip
    finally:
        log.close()
    return job.branch, day.issued, day.served, day.rated


def simulate_days(data: Path, jobs: list[Job], workers: int, say) -> None:
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for branch, issued, served, rated in pool.map(_run_job, jobs):
            say(f"{branch}: {issued} tickets, {served} served, {rated} rated")


SENDERS_PER_PROCESS = 100
"""Devices sent from one process: each holds some seven open files (its socket, paho's wake-up
pair, its store's files), and paho-mqtt waits on them with ``select()``, which takes file
numbers below 1024 only (a device past that never connects: "Protocol error" at the broker)."""


@dataclass(frozen=True)
class Sender:
    """One device to send: where to connect, and its store."""

    branch: str
    device: str
    store: str
    mqtt: tuple[str, int, Path, Path, Path]  # host, port, CA, certificate, key


def _outbox(sender: Sender) -> int:
    with EventStore(Path(sender.store), sender.device, durable=False) as store:
        return store.outbox_size()


def _send_part(part: list[Sender], timeout: float) -> bool:
    """Connect these devices and send their stores (in a process of their own); True once the
    centre acknowledged every event of them."""
    parts: list[tuple[DeviceConnection, Uplink]] = []
    uplink_settings = UplinkSettings(batch_max_events=200, max_inflight=8, poll_s=0.5)
    deadline = time.monotonic() + timeout
    try:
        for sender in part:
            host, port, ca, cert, key = sender.mqtt
            settings = ConnectionSettings(host, port, client_id=sender.device,
                                          tls=TlsSettings(ca, cert, key))  # fmt: skip
            connection = DeviceConnection(
                settings, sender.branch, sender.device, boot_id="simulate"
            )

            def opener(store: Path = Path(sender.store), device: str = sender.device) -> EventStore:
                return EventStore(store, device, durable=False)

            uplink = Uplink(connection, opener, sender.branch, sender.device, uplink_settings)
            uplink.start()
            connection.start()
            parts.append((connection, uplink))
        while any(_outbox(sender) for sender in part):
            if time.monotonic() > deadline:
                return False
            time.sleep(1.0)
        return True
    finally:
        for connection, uplink in parts:
            uplink.stop()
            connection.stop()


def send_all(central: Central, jobs: list[Job], timeout: float, say) -> bool:
    """Connect every branch's device and send its store, from processes of at most
    :data:`SENDERS_PER_PROCESS` devices, started afresh (a forked one would hold this process's
    open files, and its devices' files would be numbered past 1024 all the same); True once the
    centre acknowledged all."""
    senders = [Sender(job.branch, job.device, job.store, central.mqtt(job.device)) for job in jobs]
    parts = [
        senders[i : i + SENDERS_PER_PROCESS] for i in range(0, len(senders), SENDERS_PER_PROCESS)
    ]
    started = time.monotonic()
    fresh = multiprocessing.get_context("spawn")  # none of this process's open files
    with ProcessPoolExecutor(max_workers=len(parts), mp_context=fresh) as pool:
        sent = [pool.submit(_send_part, part, timeout) for part in parts]
        while True:
            left = sum(_outbox(sender) for sender in senders)
            elapsed = time.monotonic() - started
            say(f"uplink: {left} events not yet acknowledged by the centre ({elapsed:.0f} s)")
            if all(f.done() for f in sent):
                return all(f.result() for f in sent) and left == 0
            time.sleep(2.0)


def run(
    data: Path,
    *,
    branches: int,
    counters: int,
    seed: int,
    day: date,
    workers: int,
    opening: str = "08:30",
    close: str = "17:00",
    port: int | None = None,
    timeout: float = 1800.0,
    say=print,
) -> int:
    """Simulate, send, check the centre got everything; 0 when it did."""
    data = data.resolve()
    # each run is an experiment of its own: the branches, the broker's state, the centre's
    # database and the ground truth start over (the CA and certificates are kept); only in a
    # folder this command made, never a real centre's or the demo's
    marker = data / MARKER
    if data.exists() and any(data.iterdir()) and not marker.exists():
        raise SystemExit(
            f"counterside simulate: {data} holds files simulate did not make (a centre's "
            f"database?); give an empty or new folder"
        )
    data.mkdir(parents=True, exist_ok=True)
    marker.write_text("made by counterside simulate: its contents are replaced at each run\n")
    fresh, truth_dir = data / "branches", data / "truth"
    for folder in (fresh, truth_dir, data / "broker"):
        shutil.rmtree(folder, ignore_errors=True)
    for name in (
        "centre.sqlite",
        "centre.sqlite-wal",
        "centre.sqlite-shm",
        "truth.jsonl",
        "centre.toml",
    ):
        (data / name).unlink(missing_ok=True)
    ids = branch_ids(branches)
    devices = [Identity(b, d, role) for b, d in ids for role in (Role.COUNTER, Role.CONTROLLER)]
    jobs = []
    for i, (branch, device) in enumerate(ids, start=1):
        folder = fresh / branch
        files = (
            str(configs.write(folder / "branch.toml",
                              configs.branch_toml(branch, branch_name(i), counters))),
            str(configs.write(folder / "device.toml", configs.device_toml(
                branch, device, ("counter", "controller"), 1))),
        )  # fmt: skip
        jobs.append(Job(i, branch, device, files, str(folder / f"{device}.sqlite"),
                        str(truth_dir / f"{branch}.jsonl"), seed * 100_003 + i, day,
                        opening, close))  # fmt: skip
    # the centre knows the branches as a bank's would: names, regions, each branch's file
    named = [(b, branch_name(i), region(i), f"branches/{b}/branch.toml")
             for i, (b, _) in enumerate(ids, start=1)]  # fmt: skip
    centre = configs.write(data / "centre.toml", configs.centre_toml(named))
    central = start_central(data, devices, port or free_port(), centre)
    try:
        say(f"simulate: {branches} branches x {counters} counters, {day}, seed {seed}")
        simulate_days(data, jobs, workers, say)
        with open(data / "truth.jsonl", "w", encoding="utf-8") as out:
            for job in jobs:
                out.write(Path(job.truth).read_text(encoding="utf-8"))
        say(f"ground truth: {data / 'truth.jsonl'}")
        if not send_all(central, jobs, timeout, say):
            say("simulate: the centre did not acknowledge everything in time")
            return 1
    finally:
        central.stop()
    say(centre_kpi(central.db, day, config=centre))
    return 0
