"""One branch's day in this process: a one-box device app (the queue and every counter in one
store) on a :class:`~domain.clock.ManualClock`, driven by :class:`~sim.day.BranchDay` second by
second. A whole day takes seconds; the store's outbox then holds it for the uplink."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from config.model import Config
from device.app import DeviceApp
from device.heartbeat import Heartbeat
from device.store import EventStore
from domain.clock import ManualClock
from sim.day import BranchDay
from sim.model import Behaviour
from sim.ports import LocalPort
from sim.truth import TruthLog

STEP_S = 1.0
AFTER_CLOSE_S = 3 * 3600.0  # at most this long to serve who still waits at closing


def run_day(
    config: Config,
    store_path: Path,
    truth: TruthLog,
    *,
    seed: int,
    opening: datetime,
    close: datetime,
    staff_prefix: str = "1",
) -> BranchDay:
    """Act out the day of ``config``'s branch into the store at ``store_path``."""
    clock = ManualClock(wall=opening, boot=f"sim-{config.device.device_id}-{opening.date()}")
    with EventStore(store_path, config.device.device_id) as store:
        device = DeviceApp(config, store, clock)
        types = [bt.code for bt in config.business_types]
        day = BranchDay(
            config.device.branch_id,
            config,
            LocalPort(device),
            Behaviour(seed, types, len(config.counters)),
            truth,
            opening=opening,
            close=close,
            staff_prefix=staff_prefix,
        )
        heartbeat = Heartbeat(store, clock)  # 开机率: one a minute, as a running device stores
        limit = (close - opening).total_seconds() + AFTER_CLOSE_S
        elapsed = 0.0
        while not day.done() and elapsed < limit:
            heartbeat.beat()
            day.step(clock.now().wall)
            clock.advance(STEP_S)
            elapsed += STEP_S
            device.tick()
    return day
