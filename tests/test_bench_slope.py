"""The rule that judges a memory soak (bench/counter_frame.py): steady growth fails, a flat
series with noise and one step passes, too few samples are not judged flat."""

from __future__ import annotations

import random

from bench.counter_frame import flat, robust_slope, slope


def series(per_100k: float, *, step_at: int | None = None, noise: float = 0.3) -> list:
    rng = random.Random(7)
    out = [(0, 60.0)]  # before the caches fill
    for n in range(1000, 100_001, 1000):
        rss = 84.0 + per_100k * n / 100_000 + rng.uniform(-noise, noise)
        if step_at is not None and n >= step_at:
            rss += 0.6
        out.append((n, rss))
    return out


def test_steady_growth_fails_and_a_flat_series_passes() -> None:
    assert not flat(series(2.0))  # 2 MB per 100,000 presses
    assert flat(series(0.0))
    assert abs(robust_slope(series(2.0)) - 0.2) < 0.03  # MB per 10,000


def test_the_warm_up_is_left_out() -> None:
    warm = [(0, 60.0), (1000, 70.0), *series(0.0)[3:]]
    assert flat(warm)
    assert slope(warm, after=0.0)[0] > 0.1  # fitted from the start: over 1 MB per 100,000


def test_one_step_moves_the_robust_slope_less_than_least_squares() -> None:
    stepped = series(0.0, step_at=70_000, noise=0.05)
    assert robust_slope(stepped) < slope(stepped)[0]


def test_too_few_samples_are_not_judged_flat() -> None:
    assert not flat([(0, 70.0), (50_000, 84.0), (100_000, 90.0)])
