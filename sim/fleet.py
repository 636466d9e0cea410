"""``counterside simulate``: many branches' business day against a real broker and centre.

Each branch is a one-box device (the queue and every counter in one store, as ``counterside
demo-branch`` runs) whose day is acted out by :class:`~sim.day.BranchDay` on a manual clock, in
a pool of worker processes. Then every branch's device connects to the broker with its own
certificate and its uplink sends the day to the centre, all at once: the load test. The run ends
once the centre has acknowledged every event. The ground truth (every ticket, transaction,
rating and pause the simulation caused) is ``truth.jsonl`` in the data folder.
"""

from __future__ import annotations

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


def send_all(central: Central, jobs: list[Job], timeout: float, say) -> bool:
    """Connect every branch's device and send its store; True once the centre acknowledged all."""
    parts: list[tuple[DeviceConnection, Uplink, Job]] = []
    uplink_settings = UplinkSettings(batch_max_events=200, max_inflight=8, poll_s=0.5)
    for job in jobs:
        host, port, ca, cert, key = central.mqtt(job.device)
        settings = ConnectionSettings(host, port, client_id=job.device,
                                      tls=TlsSettings(ca, cert, key))  # fmt: skip
        connection = DeviceConnection(settings, job.branch, job.device, boot_id="simulate")
        store = Path(job.store)

        def opener(store: Path = store, device: str = job.device) -> EventStore:
            return EventStore(store, device, durable=False)

        uplink = Uplink(connection, opener, job.branch, job.device, uplink_settings)
        uplink.start()
        connection.start()
        parts.append((connection, uplink, job))
    started = time.monotonic()
    try:
        while True:
            left = 0
            for job in jobs:
                with EventStore(Path(job.store), job.device, durable=False) as device_store:
                    left += device_store.outbox_size()
            elapsed = time.monotonic() - started
            say(f"uplink: {left} events not yet acknowledged by the centre ({elapsed:.0f} s)")
            if left == 0:
                return True
            if elapsed > timeout:
                return False
            time.sleep(2.0)
    finally:
        for connection, uplink, _job in parts:
            uplink.stop()
            connection.stop()


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
    for name in ("centre.sqlite", "centre.sqlite-wal", "centre.sqlite-shm", "truth.jsonl"):
        (data / name).unlink(missing_ok=True)
    ids = branch_ids(branches)
    devices = [Identity(b, d, role) for b, d in ids for role in (Role.COUNTER, Role.CONTROLLER)]
    central = start_central(data, devices, port or free_port())
    try:
        jobs = []
        for i, (branch, device) in enumerate(ids, start=1):
            folder = fresh / branch
            files = (
                str(configs.write(folder / "branch.toml",
                                  configs.branch_toml(branch, f"模拟支行{i}", counters))),
                str(configs.write(folder / "device.toml", configs.device_toml(
                    branch, device, ("counter", "controller"), 1))),
            )  # fmt: skip
            jobs.append(Job(i, branch, device, files, str(folder / f"{device}.sqlite"),
                            str(truth_dir / f"{branch}.jsonl"), seed * 100_003 + i, day,
                            opening, close))  # fmt: skip
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
    say(centre_kpi(central.db, day))
    return 0
