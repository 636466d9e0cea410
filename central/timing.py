"""满意率 against timing: by the customer's waiting-time band and by service within or over its
limit, per branch, business type or the whole bank (issue 9, item 6). Each rating is tied to its
own transaction's timings, so the figures say how much a long wait costs in satisfaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from central.kpi import Query, wilson
from central.rollups import WAIT_BANDS
from config.centre import CentreConfig

TIMING_LEVELS = ("bank", "branch", "business_type")


def band_name(i: int) -> str:
    lo, hi = WAIT_BANDS[i]
    return f"{lo // 60}-{hi // 60} min" if hi is not None else f"over {lo // 60} min"


SERVICE = {-1: "no limit", 0: "within limit", 1: "over limit"}


def timing(
    query: Query,
    centre: CentreConfig,
    start: date,
    end: date,
    by: str,
    *,
    branches: Sequence[str] = (),
    business_type: str | None = None,
) -> list[dict[str, Any]]:
    """One row per group x dimension (``wait`` band or ``service`` within/over its limit);
    ``branches``: of these branches only."""
    if by not in TIMING_LEVELS:
        raise ValueError(f"--by must be one of {', '.join(TIMING_LEVELS)}, not {by!r}")
    keys = {"bank": "", "branch": "branch, ", "business_type": "business_type, "}[by]
    counts: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    where, params = "day >= ? AND day <= ?", [start.isoformat(), end.isoformat()]
    if branches:
        where += f" AND branch IN ({', '.join('?' * len(branches))})"
        params += list(branches)
    if business_type is not None:
        where += " AND business_type = ?"
        params.append(business_type)
    for dimension, column in (("wait", "wait_band"), ("service", "service_over")):
        for found in query(
            f"SELECT {keys}{column}, level, sum(n) FROM rollup_timing "
            f"WHERE {where} GROUP BY {keys}{column}, level",
            params,
        ):
            *group, value, level, n = found
            counts[(tuple(group), dimension, int(value))][int(level)] += int(n)
    satisfied, unsatisfied = centre.kpi.satisfied_levels, centre.kpi.unsatisfied_levels
    neutral = centre.kpi.neutral_levels  # left out of the denominator, as 满意率's (central.kpi)
    rows = []
    for group, dimension, value in sorted(counts, key=lambda k: (k[0], k[1] != "wait", k[2])):
        levels = counts[(group, dimension, value)]
        n = sum(c for lv, c in levels.items() if lv not in neutral)
        good = sum(c for lv, c in levels.items() if lv in satisfied)
        bad = sum(c for lv, c in levels.items() if lv in unsatisfied)
        ci = wilson(good, n)
        row: dict[str, Any] = {by: group[0]} if group else {}
        row |= {
            "dimension": dimension,
            "value": band_name(value) if dimension == "wait" else SERVICE[value],
            "code": value,  # the band's index in WAIT_BANDS; the service's -1, 0 or 1
            "ratings": n,  # 满意率's denominator: the neutral levels left out
            "neutral": sum(c for lv, c in levels.items() if lv in neutral),
            "satisfied": good,
            "unsatisfied": bad,
            "satisfaction_rate": good / n if n else None,
            "satisfaction_low": ci[0] if ci else None,
            "satisfaction_high": ci[1] if ci else None,
        }
        rows.append(row)
    return rows
