"""The ground truth (issue 11): a business day of several branches acted out by ``counterside
simulate`` through the real broker (TLS, ACL) and the real centre (``counterside centre run``),
all as processes; then every transaction and rating the simulator caused must be at the centre
exactly once, and every KPI of ``counterside centre kpi --format json`` must equal the value
computed from the simulator's own log (``sim.truth``)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from sim import truth

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 3, 2)  # a Monday in the past: fixed, whatever today is
TIMEZONE = "Asia/Shanghai"  # the shipped default the simulated branches keep
COMPARED = (
    "finished", "rated", "ratings", "satisfied", "unsatisfied", "levels", "evaluation_rate",
    "satisfaction_rate", "bad_rating_rate", "unrated", "no_shows", "transferred", "pauses",
    "called",
)  # fmt: skip


def counterside(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False,
    )  # fmt: skip


def test_every_simulated_transaction_and_rating_reaches_the_centre_once_and_the_kpis_agree(
    tmp_path: Path,
) -> None:
    data = tmp_path / "sim"
    started = time.monotonic()
    run = counterside("simulate", "--data", str(data), "--branches", "3", "--counters", "4",
                      "--seed", "11", "--day", DAY.isoformat(), "--workers", "3",
                      "--timeout", "240", timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    records = truth.read(data / "truth.jsonl")
    expected = truth.kpis(records, DAY, TIMEZONE)
    assert sorted(expected) == ["sim-b001", "sim-b002", "sim-b003"]

    # every transaction the simulator closed is at the centre, once, as the simulator saw it
    done = truth.transactions(records)
    with sqlite3.connect(data / "centre.sqlite") as db:
        rows = {
            tx: (outcome, rating)
            for tx, outcome, rating in db.execute(
                "SELECT transaction_id, outcome, rating FROM transactions WHERE business_day = ?",
                (DAY.isoformat(),),
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
        outcome = {"served": "served", "no_show": "no_show", "transferred": "transferred"}
        assert rows[r["transaction"]] == (outcome[r["kind"]], r.get("rating")), r
        assert closed[r["transaction"]] == 1, (
            f"{r['transaction']} closed {closed[r['transaction']]} times"
        )
    rated = [(r["transaction"], r["rating"]) for r in done if r.get("rating") is not None]
    assert Counter(rated) == pressed, "the accepted ratings at the centre differ"

    # each KPI the centre computes equals the simulator's own figure
    kpi = counterside("centre", "kpi", "--db", str(data / "centre.sqlite"), "--from",
                      DAY.isoformat(), "--to", DAY.isoformat(), "--by", "branch",
                      "--format", "json", timeout=120)  # fmt: skip
    assert kpi.returncode == 0, kpi.stderr
    centre = {row["branch"]: row for row in json.loads(kpi.stdout)}
    assert sorted(centre) == sorted(expected)
    report = []
    for branch, mine in expected.items():
        theirs = {k: centre[branch][k] for k in COMPARED}
        assert theirs == {k: mine[k] for k in COMPARED}, branch
        report.append(
            f"{branch}: {mine['finished']} finished, {mine['rated']} rated, "
            f"评价率 {mine['evaluation_rate']:.4f}, 满意率 {mine['satisfaction_rate']:.4f}, "
            f"差评率 {mine['bad_rating_rate']:.4f}, {mine['no_shows']} no-shows, "
            f"{mine['transferred']} transfers, {mine['pauses']} pauses: centre agrees"
        )
    print(f"\nground truth: {len(done)} transactions, {len(rated)} ratings in "
          f"{time.monotonic() - started:.0f} s\n" + "\n".join(report))  # fmt: skip
