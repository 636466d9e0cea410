"""Server time of the dashboard's overview and branch pages over a bank of synthetic rollups
(issue 10: under 300 ms for a year of a 2,000-counter bank).

The rollups (``central/rollups.py``) are written directly, as the ingest would have summed them:
per business day x branch x counter (one teller per counter, one business type), with rating
levels, a wait histogram of a few bins and the pads' powered minutes; ``--counters`` counters
in branches of ``--per-branch``, over ``--days`` business days. The app is served by uvicorn on
this machine, signed in as the central office; each page is asked ``--rounds`` times (the first,
cold, not counted) and the median and worst shown, with the size, so the growth shows across
runs of several sizes.

    .venv/bin/python -m bench.dashboard [--counters 200] [--days 90] [--per-branch 10] [--quick]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from central import accounts
from central.rollups import COARSE_FILL, COUNTS
from central.store import CentralStore

TARGET_MS = 300.0


def fill(db: Path, counters: int, per_branch: int, days: int, seed: int = 7) -> date:
    """Synthetic rollups; returns the last business day."""
    rng = random.Random(seed)
    end = date(2026, 11, 25)
    first = end - timedelta(days=days - 1)
    with CentralStore(db) as store:
        rollups, levels, waits, uptime, devices, tellers = [], [], [], [], [], []
        for c in range(counters):
            branch, counter = f"b{c // per_branch:04d}", c % per_branch + 1
            teller = f"{1000 + counter}"
            devices.append((f"{branch}-pad-{counter}", branch, counter, first.isoformat()))
            tellers.append((branch, teller, f"柜员{teller}", end.isoformat()))
        for d in range(days):
            day = (first + timedelta(days=d)).isoformat()
            for device, branch, counter, _ in devices:
                teller = f"{1000 + counter}"
                finished = rng.randint(20, 60)
                rated = int(finished * rng.uniform(0.7, 0.95))
                values: dict[str, float] = dict.fromkeys(COUNTS, 0)
                values.update(rows=finished, finished=finished, rated=rated,
                              unrated=finished - rated, wait_n=finished,
                              wait_sum_s=finished * rng.uniform(120, 900),
                              wait_limited=finished, wait_within=int(finished * 0.9),
                              service_n=finished, service_sum_s=finished * 300.0)  # fmt: skip
                key = (day, branch, counter, teller, "个人业务")
                rollups.append((*key, *values.values()))
                bad = rng.randint(0, 2)
                for level, n in ((5, rated - bad - rated // 10), (4, rated // 10), (1, bad)):
                    if n > 0:
                        levels.append((*key, level, n))
                for b in (4, 20, 40, 60):
                    waits.append((*key, b, finished // 4))
                uptime.append((day, branch, device, rng.randint(480, 510)))
        conn = store._conn  # the bench writes its synthetic rows in one transaction
        with conn.write("synthetic rollups", RuntimeError):
            cols = ", ".join(COUNTS)
            conn.executemany(
                f"INSERT INTO rollups (day, branch, counter, teller, business_type, {cols}) "
                f"VALUES ({', '.join('?' * (5 + len(COUNTS)))})",
                rollups,
            )
            conn.executemany("INSERT INTO rollup_levels VALUES (?, ?, ?, ?, ?, ?, ?)", levels)
            conn.executemany("INSERT INTO rollup_waits VALUES (?, ?, ?, ?, ?, ?, ?)", waits)
            conn.executemany("INSERT INTO uptime_days VALUES (?, ?, ?, ?)", uptime)
            conn.executemany("INSERT INTO counter_devices VALUES (?, ?, ?, ?)", devices)
            conn.executemany("INSERT INTO tellers VALUES (?, ?, ?, ?)", tellers)
            conn.executemany(
                "INSERT INTO devices (device_id, branch) VALUES (?, ?)",
                [(d[0], d[1]) for d in devices],
            )
            for sql in COARSE_FILL:  # the months and years, as the ingest keeps them
                conn.execute(sql)
    add_bench_user(db)
    return end


def add_bench_user(db: Path) -> None:
    """The central office's user the benchmark signs in as (kept if there)."""
    with CentralStore(db) as store:
        if not store.query("SELECT 1 FROM users WHERE name = 'bench'"):
            store.write(
                "user",
                lambda e, q: accounts.add_user(
                    e, q, "bench", "central", "bench-password", at=datetime.now(UTC)
                ),
            )


def measure(
    db: Path, centre_file: Path, start: date, end: date, branch: str, rounds: int
) -> dict[str, list[float]]:
    import httpx

    from config.centre import load_centre_config
    from tests.web_support import Bank, Clock, served

    clock = Clock(datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC))
    pages = {
        "overview": f"/?from={start}&to={end}",
        "branch": f"/branch/{branch}?from={start}&to={end}",
    }
    times: dict[str, list[float]] = {name: [] for name in pages}
    bank = Bank(db, centre_file, load_centre_config(centre_file))
    with served(bank, clock) as site, httpx.Client(base_url=site, timeout=120) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        client.post("/login", data={"name": "bench", "password": "bench-password",
                                    "csrf": token[1], "next": "/"})  # fmt: skip
        for name, url in pages.items():
            for i in range(rounds + 1):
                t = time.perf_counter()
                answer = client.get(url)
                elapsed = (time.perf_counter() - t) * 1000
                assert answer.status_code == 200, answer.text[:200]
                if i:  # the first is cold
                    times[name].append(elapsed)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.dashboard", description=__doc__)
    parser.add_argument("--counters", type=int, default=200)
    parser.add_argument("--per-branch", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="40 counters, 30 days, 3 rounds")
    parser.add_argument(
        "--db", type=Path,
        help="a central store made before (e.g. kept by bench.centre_kpi --keep DIR: "
        "DIR/sqlite-1/centre.sqlite, its centre.toml beside it) instead of synthetic rollups",
    )  # fmt: skip
    parser.add_argument("--from", dest="start", type=date.fromisoformat, help="with --db")
    parser.add_argument("--to", dest="end", type=date.fromisoformat, help="with --db")
    parser.add_argument("--branch", default="b0000", help="the branch page's branch")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.counters, args.days, args.rounds = 40, 30, 3
    if args.db is not None:
        return measure_kept(args)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "centre.sqlite"
        t = time.perf_counter()
        end = fill(db, args.counters, args.per_branch, args.days)
        rows = args.counters * args.days
        made = time.perf_counter() - t
        branches = args.counters // args.per_branch
        print(f"bank: {args.counters} counters in {branches} branches, {args.days} days: "
              f"{rows} rollup rows, made in {made:.1f} s")  # fmt: skip
        centre_file = db.with_name("centre.toml")
        centre_file.write_text("", encoding="utf-8")  # branches unknown: ids and the defaults
        start = end - timedelta(days=args.days - 1)
        times = measure(db, centre_file, start, end, args.branch, args.rounds)
    show(times)
    return 0


def measure_kept(args: argparse.Namespace) -> int:
    """The pages over a store made before (its rows counted for the size)."""
    db: Path = args.db
    centre_file = db.with_name("centre.toml")
    add_bench_user(db)
    with CentralStore(db) as store:
        rows = store.query("SELECT count(*) FROM rollups")[0][0]
        days = store.query("SELECT min(day), max(day) FROM rollups")[0]
        counters = store.query("SELECT count(*) FROM counter_devices")[0][0]
    start = args.start or date.fromisoformat(days[0])
    end = args.end or date.fromisoformat(days[1])
    print(f"bank: {db} ({counters} pads; {rows} daily rollup rows of {days[0]} to {days[1]}); "
          f"pages of {start} to {end}")  # fmt: skip
    show(measure(db, centre_file, start, end, args.branch, args.rounds))
    return 0


def show(times: dict[str, list[float]]) -> None:
    for name, values in times.items():
        median, worst = statistics.median(values), max(values)
        verdict = "met" if worst < TARGET_MS else "NOT met"
        print(f"{name}: median {median:.0f} ms, worst {worst:.0f} ms over {len(values)} "
              f"(target < {TARGET_MS:.0f} ms at a 2,000-counter year: {verdict} at this "
              "size)")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
