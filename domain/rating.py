"""Which ratings are bad (差评): the ones that get a one-tap reason and a supervisor's follow-up."""

from __future__ import annotations

from config.model import RatingConfig, RatingLevel

REASON_WINDOW_S = 15.0


def bad_levels(rating: RatingConfig) -> frozenset[int]:
    """Levels below the best unsatisfied one: 不满意 and 非常不满意 on the five-level scale,
    不满意 on the three- and four-level ones. Neutral levels (不了解) are never bad."""
    unsatisfied = [lv for lv in rating.levels if not lv.satisfied and not lv.neutral]
    if len(unsatisfied) < 2:
        return frozenset(lv.value for lv in unsatisfied)
    best = max(unsatisfied, key=_rank)
    return frozenset(lv.value for lv in unsatisfied if lv is not best)


def _rank(level: RatingLevel) -> int:
    return level.value
