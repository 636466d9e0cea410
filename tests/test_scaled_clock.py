"""The accelerated clock of simulations (``domain.clock.ScaledClock``) and how an app finds it
(``device.clocks``): every process given the same text reads the same time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from device.clocks import ENV, device_clock
from domain.clock import ScaledClock, SystemClock, between, rate_of

EPOCH_WALL = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)


def test_it_runs_rate_times_faster_from_its_epoch_in_both_clocks() -> None:
    clock = ScaledClock(100.0, EPOCH_WALL, 60.0, "run-1")
    at = clock.at(102.5)
    assert at.wall == EPOCH_WALL + timedelta(seconds=150)
    assert at.mono == pytest.approx(150.0)  # from 0, as a boot's monotonic clock
    assert between(clock.at(101.0), at).seconds == pytest.approx(90.0)
    assert between(clock.at(101.0), at).exact and at.boot == "run-1"


def test_before_its_epoch_it_stands_at_the_epoch() -> None:
    clock = ScaledClock(100.0, EPOCH_WALL, 60.0, "run-1")
    assert clock.at(90.0).wall == EPOCH_WALL and clock.at(99.0).mono == 0.0


def test_two_processes_given_the_same_text_agree_and_the_real_clock_is_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = ScaledClock(time.monotonic(), EPOCH_WALL, 60.0, "demo-7")
    monkeypatch.setenv(ENV, clock.to_text())
    other = device_clock()
    assert isinstance(other, ScaledClock) and rate_of(other) == 60.0
    reading = time.monotonic()
    assert other.at(reading) == clock.at(reading)
    monkeypatch.delenv(ENV)
    assert isinstance(device_clock(), SystemClock) and rate_of(device_clock()) == 1.0


def test_a_bad_clock_text_or_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        ScaledClock.from_text("fast|1|2026-03-02T00:30:00+00:00|x")
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0.0, EPOCH_WALL, 0.0, "x")


def test_the_centre_reads_a_simulation_s_time_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's centre (ingest, commands, dashboard) keeps the simulation's time: at 60x a
    day's events run hours ahead of the machine's clock, and the ingest would put aside events
    more than a day ahead of its own as from the future."""
    from central.ingest import CentralIngest
    from sync.settings import ConnectionSettings

    far = datetime(2030, 1, 1, tzinfo=UTC)
    monkeypatch.setenv(ENV, ScaledClock(time.monotonic(), far, 60.0, "demo-8").to_text())
    ingest = CentralIngest(":memory:", ConnectionSettings(host="127.0.0.1"))
    assert abs(ingest.now() - far) < timedelta(minutes=10)
    monkeypatch.delenv(ENV)
    real = CentralIngest(":memory:", ConnectionSettings(host="127.0.0.1"))
    assert abs(real.now() - datetime.now(UTC)) < timedelta(minutes=1)


def test_a_wait_across_two_runs_is_measured_as_across_a_power_cut() -> None:
    """A ticket issued near the end of one demo run and called in the next: its wait is the
    simulated time between them, not the machine's uptime added to it."""
    first = ScaledClock(5_000.0, EPOCH_WALL, 60.0, "run-1")
    issued = first.at(5_000.0 + 60.0)  # an hour into the first run
    second = ScaledClock(90_000.0, EPOCH_WALL + timedelta(hours=2), 60.0, "run-2")
    called = second.at(90_000.0)  # the next run starts where the last one stopped, an hour on
    wait = between(issued, called)
    assert wait.seconds == pytest.approx(3600.0, abs=1.0) and not wait.exact
