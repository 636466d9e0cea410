"""The ground truth (issue 11): a business day of several branches acted out by ``counterside
simulate`` through the real broker (TLS, ACL) and the real centre (``counterside centre run``),
all as processes; then every transaction and rating the simulator caused must be at the centre
exactly once, and every KPI of ``counterside centre kpi --format json`` must equal the value
computed from the simulator's own log (``sim.truth``)."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import pytest

from tests.truth_check import check, counterside

DAY = date(2026, 3, 2)  # a Monday in the past: fixed, whatever today is


@pytest.mark.travel_free  # a fixed day, and the work is done by child processes
def test_every_simulated_transaction_and_rating_reaches_the_centre_once_and_the_kpis_agree(
    tmp_path: Path,
) -> None:
    data = tmp_path / "sim"
    started = time.monotonic()
    # with 1,100 files open first, as 200 branches' devices held them when sent from one
    # process: the sending processes start afresh, with their own files numbered from 3
    run = counterside("simulate", "--data", str(data), "--branches", "3", "--counters", "4",
                      "--seed", "11", "--day", DAY.isoformat(), "--workers", "3",
                      "--timeout", "240", timeout=600, held_files=1100)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    expected, done = check(data, DAY)
    assert sorted(expected) == ["sim-b001", "sim-b002", "sim-b003"]
    # the centre knew the branches as a bank's does: by name, in their regions
    period = ["--from", DAY.isoformat(), "--to", DAY.isoformat()]
    by_region = counterside("centre", "kpi", "--db", str(data / "centre.sqlite"), "--config",
                            str(data / "centre.toml"), *period, "--by", "region", "--format",
                            "json", timeout=120)  # fmt: skip
    assert by_region.returncode == 0, by_region.stderr
    regions = {r["region"]: r["finished"] for r in json.loads(by_region.stdout)}
    assert regions["模拟省/模拟市1"] == sum(k["finished"] for k in expected.values())
    assert all(
        k["finished"] > 100 and k["no_shows"] and k["transferred"] for k in expected.values()
    )
    report = [
        f"{branch}: {k['finished']} finished, {k['rated']} rated, 评价率 "
        f"{k['evaluation_rate']:.4f}, 满意率 {k['satisfaction_rate']:.4f}, 差评率 "
        f"{k['bad_rating_rate']:.4f}, {k['no_shows']} no-shows, {k['transferred']} transfers, "
        f"{k['pauses']} pauses: the centre agrees"
        for branch, k in expected.items()
    ]
    print(f"\nground truth: {len(done)} transactions in {time.monotonic() - started:.0f} s\n"
          + "\n".join(report))  # fmt: skip


def test_simulate_never_empties_a_folder_it_did_not_make(tmp_path: Path) -> None:
    """Each run starts its database over: pointed at a real centre's folder by mistake, it
    must refuse, not delete the centre's database."""
    centre = tmp_path / "centre"
    centre.mkdir()
    (centre / "centre.sqlite").write_bytes(b"the bank's year")
    run = counterside("simulate", "--data", str(centre), "--branches", "1", "--counters", "1",
                      "--day", DAY.isoformat(),
                      timeout=120)  # fmt: skip
    assert run.returncode != 0 and "did not make" in run.stderr
    assert (centre / "centre.sqlite").read_bytes() == b"the bank's year"
