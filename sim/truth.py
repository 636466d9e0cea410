"""The simulator's ground truth: every ticket, transaction, rating and pause it caused, one JSON
object a line, and the KPIs that follow from it alone (to hold against the centre's).

Records (``kind``): ``issued`` (a ticket), ``served`` (a finished transaction, with the ``rating``
the pad accepted or null), ``no_show``, ``transferred`` (a transaction handed on to another
business type), ``pause``. Each has ``branch``, ``at`` (ISO wall time) and, for transactions,
``counter``, ``teller``, ``ticket``, ``business_type`` and ``transaction`` (its id).
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

SATISFIED, UNSATISFIED = (4, 5), (1, 2)  # the centre's default levels (config.centre)


class TruthLog:
    """Appends records to ``path`` (kept from run to run), one line each, flushed at once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()

    def write(self, kind: str, branch: str, at: datetime, **fields: Any) -> None:
        record = {"kind": kind, "branch": branch, "at": at.isoformat(), **fields}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def kpis(records: Iterable[dict[str, Any]], day: date, timezone: str) -> dict[str, dict[str, Any]]:
    """Per branch: the KPIs of ``day`` (the branch's local date) as the centre defines them
    (``central/kpi.py``), from the simulator's records alone."""
    tz = ZoneInfo(timezone)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    levels: dict[str, Counter[int]] = defaultdict(Counter)
    for r in records:
        if datetime.fromisoformat(r["at"]).astimezone(tz).date() != day:
            continue
        c = counts[r["branch"]]
        if r["kind"] == "served":
            c["finished"] += 1
            if r.get("rating") is not None:
                c["rated"] += 1
                levels[r["branch"]][int(r["rating"])] += 1
        elif r["kind"] == "no_show":
            c["no_shows"] += 1
        elif r["kind"] == "transferred":
            c["transferred"] += 1
        elif r["kind"] == "pause":
            c["pauses"] += 1
    out = {}
    for branch, c in sorted(counts.items()):
        lv = levels[branch]
        ratings = sum(lv.values())
        satisfied = sum(n for v, n in lv.items() if v in SATISFIED)
        unsatisfied = sum(n for v, n in lv.items() if v in UNSATISFIED)
        out[branch] = {
            "finished": c["finished"],
            "rated": c["rated"],
            "ratings": ratings,
            "satisfied": satisfied,
            "unsatisfied": unsatisfied,
            "levels": {str(v): n for v, n in sorted(lv.items(), reverse=True)},
            "evaluation_rate": c["rated"] / c["finished"] if c["finished"] else None,
            "satisfaction_rate": satisfied / ratings if ratings else None,
            "bad_rating_rate": unsatisfied / ratings if ratings else None,
            "unrated": c["finished"] - c["rated"],
            "no_shows": c["no_shows"],
            "transferred": c["transferred"],
            "pauses": c["pauses"],
            "called": c["finished"] + c["no_shows"],
        }
    return out


def transactions(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transactions the simulator closed (served, no-shows and transfers' legs)."""
    return [r for r in records if r["kind"] in ("served", "no_show", "transferred")]
