"""Hold a simulation's ground truth (``sim.truth``) against what the centre made of it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from sim import truth

ROOT = Path(__file__).resolve().parent.parent
TIMEZONE = "Asia/Shanghai"  # the shipped default the simulated branches keep
COMPARED = (
    "finished", "rated", "ratings", "satisfied", "unsatisfied", "levels", "evaluation_rate",
    "satisfaction_rate", "bad_rating_rate", "unrated", "no_shows", "transferred", "pauses",
    "called",
)  # fmt: skip


def counterside(
    *args: str, timeout: float, held_files: int = 0
) -> subprocess.CompletedProcess[str]:
    """``counterside ARGS`` in a process of its own; ``held_files``: it opens that many files
    first, so that the files it opens next are numbered past them (paho-mqtt's ``select()``
    takes numbers below 1024 only)."""
    launch = ["-m", "device.cli"]
    if held_files:
        launch = ["-c", "import os, runpy; "
                  f"held = [os.open(os.devnull, os.O_RDONLY) for _ in range({held_files})]; "
                  "runpy.run_module('device.cli', run_name='__main__')"]  # fmt: skip
    return subprocess.run(
        [sys.executable, *launch, *args],
        capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False,
    )  # fmt: skip


def check(data: Path, day: date) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Assert every transaction and accepted rating of ``day`` in ``data/truth.jsonl`` is at the
    centre (``data/centre.sqlite``) exactly once, nothing more, and that every KPI of
    ``counterside centre kpi --format json`` equals the ground truth's. Returns the ground
    truth's KPIs per branch and its transactions."""
    records = truth.read(data / "truth.jsonl")
    expected = truth.kpis(records, day, TIMEZONE)
    done = truth.transactions(records)
    with sqlite3.connect(data / "centre.sqlite") as db:
        rows = {
            tx: (outcome, rating)
            for tx, outcome, rating in db.execute(
                "SELECT transaction_id, outcome, rating FROM transactions WHERE business_day = ?",
                (day.isoformat(),),
            )
        }
        closed = Counter(
            tx
            for (tx,) in db.execute(
                "SELECT json_extract(payload, '$.transaction_id') FROM events"
                " WHERE type = 'transaction.closed'"
            )
        )
        pressed = Counter(
            (tx, value)
            for tx, value in db.execute(
                "SELECT json_extract(payload, '$.transaction_id'), json_extract(payload, '$.value')"
                " FROM events WHERE type = 'rating.press'"
                " AND json_extract(payload, '$.outcome') = 'accepted'"
            )
        )
    assert len({r["transaction"] for r in done}) == len(done)  # the simulator's own log
    assert set(rows) == {r["transaction"] for r in done}, "the centre's transactions differ"
    for r in done:
        assert rows[r["transaction"]] == (r["kind"], r.get("rating")), r  # kinds are outcomes
        assert closed[r["transaction"]] == 1, f"{r} closed {closed[r['transaction']]} times"
    rated = [(r["transaction"], r["rating"]) for r in done if r.get("rating") is not None]
    assert Counter(rated) == pressed, "the accepted ratings at the centre differ"
    # what the customers meant, pressed inside the window, not what the devices said they kept
    meant = {r["transaction"]: r["intended"] for r in done if r.get("intended") is not None}
    assert meant, "no rating pressed inside its window: the check would prove nothing"
    lost = {tx: (value, rows[tx][1]) for tx, value in meant.items() if rows[tx][1] != value}
    assert not lost, f"ratings customers gave that the centre lacks or holds otherwise: {lost}"

    kpi = counterside("centre", "kpi", "--db", str(data / "centre.sqlite"), "--from",
                      day.isoformat(), "--to", day.isoformat(), "--by", "branch",
                      "--format", "json", timeout=120)  # fmt: skip
    assert kpi.returncode == 0, kpi.stderr
    centre = {row["branch"]: row for row in json.loads(kpi.stdout)}
    assert sorted(centre) == sorted(expected)
    for branch, mine in expected.items():
        theirs = {k: centre[branch][k] for k in COMPARED}
        assert theirs == {k: mine[k] for k in COMPARED}, branch
    return expected, done
