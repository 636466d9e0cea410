"""``[mqtt] heartbeat_s`` paces the heartbeat checks, aligned on the wall clock so that every
minute the device is on has one, whatever the drift of the sleeps."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.loader import load_config
from config.model import MqttConfig
from device.heartbeat import next_check_in
from device.link import open_link
from domain.clock import ManualClock
from tests.mqtt_broker import free_port

T0 = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("every_s", [10, 15, 45, 60])
def test_every_minute_gets_a_check_however_the_sleeps_drift(every_s: float) -> None:
    rng = random.Random(every_s)
    wall, checked = T0 + timedelta(seconds=rng.uniform(0, 60)), set()
    while wall < T0 + timedelta(hours=3):
        checked.add(wall.replace(second=0, microsecond=0))
        late = rng.uniform(0, 0.04)  # a sleep ends a little late, never early
        wall += timedelta(seconds=next_check_in(wall, every_s) + late)
    minutes = {T0 + timedelta(minutes=m) for m in range(1, 180)}
    assert minutes <= checked
    assert next_check_in(T0 + timedelta(seconds=59.99), every_s) < 0.1  # right after the minute


def test_the_link_checks_heartbeats_at_the_configured_pace(tmp_path: Path) -> None:
    base = load_config()
    mqtt = MqttConfig(enabled=True, host="127.0.0.1", port=free_port(), tls=False, heartbeat_s=15)
    config = replace(base, mqtt=mqtt)
    link = open_link(
        config,
        db=tmp_path / "d.sqlite",
        clock=ManualClock(),
        base_files=[],
        state_dir=tmp_path,
        client=False,
    )
    assert link is not None
    try:
        assert link.heartbeat.check_s == 15
    finally:
        link.stop()
