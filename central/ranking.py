"""Rankings of tellers and branches by 满意率 that do not reward small samples.

Ranked by the lower bound of the 95% Wilson interval of 满意率 (so 3 of 3 does not beat 297 of
300), then by the rate and by the sample; fewer ratings than ``[kpi] min_sample`` are listed after
the ranked ones as "not ranked (n < 30)", with their interval and n all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from central.kpi import Query, kpis
from config.centre import CentreConfig

RANKED_BY = ("teller", "branch")


def ranking(
    query: Query,
    centre: CentreConfig,
    start: date,
    end: date,
    by: str,
    *,
    branches: Sequence[str] = (),
    business_type: str | None = None,
    full: bool = True,
) -> list[dict[str, Any]]:
    """KPI rows of ``by`` (teller or branch) with ``rank`` (None: not ranked) and ``ranked``
    (why not, when not), best first; ``branches``: ranked among these branches only;
    ``full=False``: the rows without what does not rank them (the waits' percentile, 开机率:
    None), for a list of the worst."""
    if by not in RANKED_BY:
        raise ValueError(f"--by must be one of {', '.join(RANKED_BY)}, not {by!r}")
    least = centre.kpi.min_sample
    rows = kpis(
        query, centre, start, end, by, branches=branches, business_type=business_type,
        waits=full, uptime=full,
    )  # fmt: skip
    enough = [r for r in rows if r["ratings"] >= least]
    enough.sort(key=lambda r: (-r["satisfaction_low"], -r["satisfaction_rate"], -r["ratings"]))
    small = sorted(
        (r for r in rows if r["ratings"] < least),
        key=lambda r: (-(r["satisfaction_low"] or 0.0), -r["ratings"]),
    )
    out = []
    for i, row in enumerate(enough, 1):
        out.append({"rank": i, "ranked": "ranked", **row})
    for row in small:
        out.append({"rank": None, "ranked": f"not ranked (n < {least})", **row})
    return out
