"""The one backoff policy: exact and jittered delays, a loop's count of failures, its users."""

from __future__ import annotations

import random

import pytest

from support.backoff import Backoff
from sync.settings import ConnectionSettings, UplinkSettings


def test_exact_delays_double_up_to_the_cap_and_start_again_after_a_success() -> None:
    retry = Backoff(initial_s=0.5, max_s=10.0, jitter=0.0).retry()
    assert [retry.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert retry.failures == 7
    retry.reset()
    assert (retry.failures, retry.next_delay()) == (0, 0.5)


def test_a_very_long_outage_stays_at_the_cap() -> None:
    assert Backoff(0.02, 0.1, 0.0).delay(10_000) == 0.1
    assert Backoff(0.02, 0.1, 0.0).delay(-3) == 0.02  # before the first retry: the initial delay


def test_jittered_delays_are_spread_below_the_exact_one() -> None:
    retry = Backoff(initial_s=1.0, max_s=30.0, jitter=0.5).retry(random.Random(3))
    firsts = []
    for _ in range(200):
        firsts.append(retry.next_delay())
        assert 1.0 <= retry.next_delay() <= 2.0
        retry.reset()
    assert all(0.5 <= d <= 1.0 for d in firsts)
    assert max(firsts) - min(firsts) > 0.25


@pytest.mark.parametrize(
    ("initial_s", "max_s", "jitter"), [(0.0, 1.0, 0.0), (2.0, 1.0, 0.0), (1.0, 2.0, 1.5)]
)
def test_nonsense_is_refused(initial_s: float, max_s: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(initial_s, max_s, jitter)


def test_the_sync_settings_keep_their_defaults() -> None:
    assert ConnectionSettings("broker").reconnect == Backoff(1.0, 60.0, 0.5)
    assert UplinkSettings().refused == Backoff(1.0, 60.0, 0.5)
    timeouts = UplinkSettings().ack_timeouts.retry()
    assert [timeouts.next_delay() for _ in range(6)] == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]
    # A first timeout above the cap (a test that wants none) stays where it is.
    assert UplinkSettings(ack_timeout_s=600).ack_timeouts.delay(5) == 600.0
