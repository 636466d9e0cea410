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
    assert at.mono == pytest.approx(100.0 + 150.0)
    assert between(clock.at(101.0), at).seconds == pytest.approx(90.0)
    assert between(clock.at(101.0), at).exact and at.boot == "run-1"


def test_before_its_epoch_it_stands_at_the_epoch() -> None:
    clock = ScaledClock(100.0, EPOCH_WALL, 60.0, "run-1")
    assert clock.at(90.0).wall == EPOCH_WALL and clock.at(99.0).mono == 100.0


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
