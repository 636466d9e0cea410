"""Signals that ratings were not given freely, per teller (issue 9, item 8). Shown beside the
KPIs and ranked, never used to change a rating by themselves: a signal is a reason to look.

- ``quick_share``: ratings given within ``QUICK_S`` (1 s) of the invitation (the finish): a
  customer who read the question cannot answer that fast, a teller reaching over can;
- ``top_share`` against ``branch_top_share``: the teller's share of the top level against the
  rest of the branch's (``top_excess``, in points of share);
- ``paused_presses``: rating keys pressed while the pad showed 暂停服务;
- ``longest_run``: the longest run of identical ratings in a row.

A teller is flagged for each signal past its threshold (``THRESHOLDS``); tellers are ranked by
the number of flags, then by their quick share.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from central.kpi import Query, Sums, group_sums
from central.rollups import QUICK_S
from config.centre import CentreConfig

THRESHOLDS = {"quick_share": 0.2, "top_excess": 0.15, "paused_presses": 1, "longest_run": 20}
MIN_RATINGS = 10  # shares of fewer ratings than this are not flagged


def _top_level(centre: CentreConfig) -> int:
    return max(centre.kpi.satisfied_levels)


def trust(query: Query, centre: CentreConfig, start: date, end: date) -> list[dict[str, Any]]:
    """One row per teller with ratings or paused presses over ``start..end``, most flagged
    first."""
    top = _top_level(centre)
    tellers = group_sums(query, centre, start, end, "teller")
    branches: dict[str, Sums] = defaultdict(Sums)
    for (branch, _), sums in tellers.items():
        branches[branch].add(sums)
    runs = _longest_runs(query, start, end)
    rows = []
    for (branch, teller), sums in tellers.items():
        n = sum(sums.levels.values())
        paused = int(sums.counts["paused_presses"])
        if not n and not paused:
            continue
        tops = sums.levels.get(top, 0)
        rest_n = sum(branches[branch].levels.values()) - n
        rest_tops = branches[branch].levels.get(top, 0) - tops
        row: dict[str, Any] = {
            "branch": branch,
            "teller": teller,
            "ratings": n,
            "quick_ratings": int(sums.counts["quick_ratings"]),
            "quick_share": sums.counts["quick_ratings"] / n if n else None,
            "top_share": tops / n if n else None,
            "branch_top_share": rest_tops / rest_n if rest_n else None,
            "paused_presses": paused,
            "longest_run": runs.get((branch, teller), 0),
        }
        row["top_excess"] = (
            row["top_share"] - row["branch_top_share"]
            if row["top_share"] is not None and row["branch_top_share"] is not None
            else None
        )
        row["flags"] = _flags(row)
        rows.append(row)
    rows.sort(
        key=lambda r: (-len(r["flags"]), -(r["quick_share"] or 0.0), r["branch"], r["teller"])
    )
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return rows


def _flags(row: dict[str, Any]) -> list[str]:
    flags = []
    enough = row["ratings"] >= MIN_RATINGS
    for name, limit in THRESHOLDS.items():
        value = row[name]
        if value is None or (name in ("quick_share", "top_excess") and not enough):
            continue
        if value >= limit:
            flags.append(name)
    return flags


def _longest_runs(query: Query, start: date, end: date) -> dict[tuple[str, str], int]:
    """Per (branch, teller): the longest run of one rating level, in the order rated."""
    best: dict[tuple[str, str], int] = {}
    last: tuple[str, str, int] | None = None
    run = 0
    for branch, teller, rating in query(
        "SELECT branch, teller, rating FROM transactions WHERE rating IS NOT NULL "
        "AND outcome = 'served' AND business_day >= ? AND business_day <= ? "
        "ORDER BY branch, teller, rated_at, transaction_id",
        (start.isoformat(), end.isoformat()),
    ):
        here = (branch, teller, rating)
        run = run + 1 if here == last else 1
        last = here
        key = (branch, teller)
        best[key] = max(best.get(key, 0), run)
    return best


__all__ = ["QUICK_S", "THRESHOLDS", "trust"]
