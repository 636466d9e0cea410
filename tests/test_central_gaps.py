"""One resend request per gap, asked again at the interval: the gap tracker with a manual clock."""

from __future__ import annotations

from central.gaps import GapTracker, ResendAsk


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_gap_that_moves_with_every_batch_is_asked_for_once_per_interval() -> None:
    """After an outage each batch moves the gap (here 100 batches): one request, not 100."""
    clock = Clock()
    gaps = GapTracker(interval_s=5.0, max_events=5000, clock=clock)
    asks = [gaps.update("b1", "pad", "s", (1 + 10 * i, 5000 + 50 * i)) for i in range(100)]
    assert [a for a in asks if a is not None] == [ResendAsk("b1", "pad", "s", 1, 5000)]
    clock.t += 4.9
    assert gaps.due() == []
    clock.t += 0.1
    assert gaps.due() == [ResendAsk("b1", "pad", "s", 991, 5990)]  # the range as it is now
    assert gaps.due() == []


def test_a_gap_that_closes_and_reopens_within_the_interval_waits_for_it() -> None:
    clock = Clock()
    gaps = GapTracker(interval_s=5.0, max_events=100, clock=clock)
    assert gaps.update("b1", "pad", "s", (4, 900)) == ResendAsk("b1", "pad", "s", 4, 103)
    assert gaps.update("b1", "pad", "s", None) is None
    clock.t += 1
    assert gaps.update("b1", "pad", "s", (950, 960)) is None  # asked 1 s ago
    clock.t += 4
    assert gaps.due() == [ResendAsk("b1", "pad", "s", 950, 960)]
    gaps.update("b1", "pad", "s", None)
    clock.t += 5
    assert gaps.due() == [] and gaps.open_gaps() == {}
    assert gaps.update("b1", "pad", "s", (970, 971)) is not None  # a new gap, long after


def test_stores_and_devices_are_asked_independently() -> None:
    clock = Clock()
    gaps = GapTracker(interval_s=5.0, max_events=100, clock=clock)
    assert gaps.update("b1", "pad", "old", (1, 2)) is not None
    assert gaps.update("b1", "pad", "new", (1, 2)) is not None
    assert gaps.update("b2", "kiosk", "x", (5, 6)) is not None
    assert set(gaps.open_gaps()) == {("pad", "old"), ("pad", "new"), ("kiosk", "x")}
