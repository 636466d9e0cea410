"""The KPI overview of a year of a 2,000-counter bank (about 60 million transactions): bank,
regions and branches, for a month and for the year, at 1%, 10% and 100% of the bank.

The data set is made directly in the tables the KPIs read (``bench/kpi_data.py``: the daily
rollups, levels, waits histogram, pads' minutes, tellers, follow-up items), in bulk, not sent
as events through MQTT and the ingest: the KPIs read only the rollups, and 60 million
transactions as events would take hours to ingest. The coarse rollups (per month x branch) are
then made from the daily ones by the statements of the schema migration that adds them.

Each query runs as ``counterside centre kpi`` computes it (``central.kpi.kpis`` on a
``CentralStore``) several times (min and median), and also:

- **days**: the same query from the daily rollups only (``coarse=False``), as before the coarse
  rollups, compared row for row with the other (they must be equal);
- **cli**: the whole command, ``counterside centre kpi --format json`` (reads the centre's
  configuration with its branches' files, opens the store, writes the JSON).

Sides: SQLite (a file, WAL) and PostgreSQL (a throwaway cluster of Debian's binaries, ``fsync``
on, ``VACUUM ANALYZE`` after the load as autovacuum would do). Data sets live in a temporary
directory (``--dir``), removed at the end; a scale is skipped, with a message, when the disk
lacks room for it (``--keep DIR``: kept there, and used again by the next run and by
``bench.dashboard --db``). Target: every overview query under 1 s at full size.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from bench.kpi_data import TABLES, Bank, Generator, centre_toml, days_rows

TARGET_S = 1.0
LEVELS = ("bank", "region", "branch")
PERIODS = {
    "month": (date(2026, 11, 1), date(2026, 11, 30)),
    "year": (date(2026, 1, 1), date(2026, 12, 31)),
    "3-27 Nov": (date(2026, 11, 3), date(2026, 11, 27)),  # no whole month: the daily rollups
}
NOW = datetime(2027, 1, 1, tzinfo=UTC)  # 开机率 counts every day of the year
BYTES_PER_COUNTER = {"sqlite": 4.5e6, "postgresql": 9e6}  # a generous estimate, before measuring
MARGIN = 3e9  # left free on the disk


@dataclass
class Result:
    side: str
    scale: float
    rows: dict[str, int] = field(default_factory=dict)
    load_s: float = 0.0
    coarse_s: float = 0.0
    size: int = 0
    times: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    config_s: float = 0.0  # reading the centre's configuration (the command does it each time)


def _timed(work: Callable[[], object], runs: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - t)
    return times, out


# --- loading ------------------------------------------------------------------------------------


def load_sqlite(path: Path, gen: Generator) -> tuple[float, float]:
    """The day-level tables in bulk, then the coarse ones as the migration makes them; the
    seconds each took."""
    from central.rollups import COARSE_FILL

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")  # one writer, no WAL of the whole load
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    t = time.perf_counter()
    conn.execute("BEGIN")
    _fixed(gen, lambda sql, rows: conn.executemany(sql, rows))
    for table, columns, rows in days_rows(gen):
        conn.executemany(_insert(table, columns), rows)
    conn.execute("COMMIT")
    load = time.perf_counter() - t
    t = time.perf_counter()
    conn.execute("BEGIN")
    for sql in COARSE_FILL:
        conn.execute(sql)
    conn.execute("COMMIT")
    coarse = time.perf_counter() - t
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return load, coarse


def _insert(table: str, columns) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _fixed(gen: Generator, executemany) -> None:
    executemany(_insert("counter_devices", ("device_id", "branch", "counter", "first_day")),
                gen.counter_devices())  # fmt: skip
    executemany(_insert("tellers", ("branch", "teller", "name", "last_day")), gen.tellers())


def load_postgres(url: str, gen: Generator) -> tuple[float, float]:
    import psycopg

    from central.rollups import COARSE_FILL

    with psycopg.connect(url, autocommit=True) as conn:
        t = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            _fixed(gen, lambda sql, rows: cur.executemany(sql.replace("?", "%s"), rows))
            for table, columns, rows in days_rows(gen):
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        load = time.perf_counter() - t
        t = time.perf_counter()
        with conn.transaction():
            for sql in COARSE_FILL:
                conn.execute(sql)
        coarse = time.perf_counter() - t
        conn.execute("VACUUM ANALYZE")
    return load, coarse


def _size(side: str, target: str) -> int:
    if side == "sqlite":
        return sum(p.stat().st_size for p in Path(target).parent.glob(Path(target).name + "*"))
    import psycopg

    with psycopg.connect(target) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return int(row[0])


# --- one data set -------------------------------------------------------------------------------


def run_scale(side: str, scale: float, target: str, work: Path, args) -> Result:
    from central import cli
    from central.kpi import kpis
    from central.rollups import COARSE_TABLES
    from central.store import CentralStore
    from config.centre import load_centre_config

    bank = Bank.scaled(scale)
    centre_text, branch_text = centre_toml(bank)
    (work / "centre.toml").write_text(centre_text, encoding="utf-8")
    (work / "branch.toml").write_text(branch_text, encoding="utf-8")
    t = time.perf_counter()
    centre = load_centre_config(work / "centre.toml")
    config_s = time.perf_counter() - t
    loaded = work / "loaded"  # a kept data set (--keep) made before: used as it is
    if loaded.exists():
        load, coarse = 0.0, 0.0
    else:
        with CentralStore(target, centre=centre):
            pass  # the schema, as the centre makes it
        gen = Generator(bank)
        loader = load_sqlite if side == "sqlite" else load_postgres
        load, coarse = loader(Path(target) if side == "sqlite" else target, gen)  # type: ignore[arg-type]
        if args.keep:
            loaded.write_text(f"{load:.0f} s, coarse {coarse:.0f} s\n", encoding="utf-8")
    res = Result(side, scale, load_s=load, coarse_s=coarse, size=_size(side, target))
    res.config_s = config_s
    print(f"  {side} {scale:g}: {bank.branches} branches, {bank.counters} counters; loaded in "
          f"{load:.0f} s, coarse rollups made in {coarse:.1f} s; {res.size / 1e9:.2f} GB",
          flush=True)  # fmt: skip
    with CentralStore(target, centre=centre) as store:
        for table in (*TABLES, *COARSE_TABLES):
            res.rows[table] = int(store.query(f"SELECT count(*) FROM {table}")[0][0])
        if args.plans and side == "sqlite":
            _plans(store, centre)
        for period, (start, end) in PERIODS.items():
            for by in LEVELS:

                def ours(by: str = by, start: date = start, end: date = end) -> object:
                    return kpis(store.query, centre, start, end, by, now=NOW)

                times, rows = _timed(ours, args.runs)
                res.times[("kpi", period, by)] = times
                if args.day_runs and period != "3-27 Nov":

                    def days(by: str = by, start: date = start, end: date = end) -> object:
                        return kpis(store.query, centre, start, end, by, now=NOW, coarse=False)

                    times, same = _timed(days, args.day_runs)
                    res.times[("days", period, by)] = times
                    if not same_rows(same, rows):
                        res.mismatches.append(f"{period} {by}")
                print(f"    {period:8} {by:7} kpi {_fmt(res.times[('kpi', period, by)])}"
                      + (f"  days {_fmt(res.times[('days', period, by)])}"
                         if ("days", period, by) in res.times else ""), flush=True)  # fmt: skip
    for period, (start, end) in PERIODS.items():
        if period == "3-27 Nov":
            continue
        for by in LEVELS:
            config = str(work / "centre.toml")
            argv = ["kpi", "--db", target, "--from", start.isoformat(), "--to", end.isoformat(),
                    "--by", by, "--config", config, "--format", "json"]  # fmt: skip

            def command(argv: list[str] = argv) -> object:
                with contextlib.redirect_stdout(io.StringIO()):
                    return cli.main(argv)

            times, status = _timed(command, args.runs)
            if status != 0:
                res.mismatches.append(f"cli {period} {by}: exit {status}")
            res.times[("cli", period, by)] = times
    return res


def same_rows(a: object, b: object) -> bool:
    """Equal, floats to their rounding (a sum of seconds added up in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_rows(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_rows(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _plans(store, centre) -> None:
    """SQLite's plan of each statement of a year's bank-level query."""
    from central.kpi import kpis

    seen: list[str] = []

    def explain(sql: str, params=()) -> list:
        if sql.lstrip().upper().startswith("SELECT") and sql not in seen:
            seen.append(sql)
            plan = store.query(f"EXPLAIN QUERY PLAN {sql}", params)
            print(f"    plan: {sql[:70]}...")
            for row in plan:
                print(f"      {row[-1]}")
        return store.query(sql, params)

    kpis(explain, centre, *PERIODS["year"], "bank", now=NOW)
    kpis(explain, centre, *PERIODS["3-27 Nov"], "bank", now=NOW)


def _fmt(times: list[float]) -> str:
    return f"{min(times) * 1000:8.0f} {statistics.median(times) * 1000:8.0f} ms"


# --- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench.centre_kpi",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", default="0.01,0.1,1", help="fractions of the bank (0.01,0.1,1)")
    parser.add_argument("--sides", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=5, help="runs of each query (5)")
    parser.add_argument(
        "--day-runs", type=int, default=1, help="runs from the daily rollups only (1; 0: none)"
    )
    parser.add_argument("--dir", type=Path, help="where the data sets go (default: $TMPDIR)")
    parser.add_argument("--plans", action="store_true", help="print SQLite's query plans")
    parser.add_argument(
        "--keep", type=Path,
        help="keep each SQLite data set in this folder (sqlite-SCALE/), and use one kept "
        "there before instead of making it again (also for bench.dashboard --db)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="1% and 10% only, 3 runs")
    args, _ = parser.parse_known_args(argv)
    scales = [float(s) for s in args.scale.split(",")]
    if args.quick:
        scales, args.runs = [s for s in scales if s <= 0.1] or [0.01], 3
    sides = [s for s in ("sqlite", "postgresql") if s in args.sides.split(",")]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    results: list[Result] = []
    pg = None
    base = tempfile.mkdtemp(prefix="bench-kpi-", dir=args.dir)
    try:
        for side in sides:
            if side == "postgresql":
                from tests.postgres_server import PostgresServer

                pg = PostgresServer(durable=True)
            for scale in scales:
                need = BYTES_PER_COUNTER[side] * Bank.scaled(scale).counters
                if args.keep and side == "sqlite" and (args.keep / f"sqlite-{scale:g}").exists():
                    need = 0
                free = shutil.disk_usage(base).free
                if free - need < MARGIN:
                    print(f"  {side} {scale:g}: SKIPPED: needs about {need / 1e9:.1f} GB, "
                          f"{free / 1e9:.1f} GB free on {base}", flush=True)  # fmt: skip
                    continue
                kept = args.keep is not None and side == "sqlite"
                if kept:
                    work = args.keep / f"sqlite-{scale:g}"
                    work.mkdir(parents=True, exist_ok=True)
                else:
                    work = Path(tempfile.mkdtemp(dir=base))
                target = str(work / "centre.sqlite") if side == "sqlite" else pg.new_database()  # type: ignore[union-attr]
                try:
                    results.append(run_scale(side, scale, target, work, args))
                finally:
                    if not kept:
                        _drop(side, target, work, pg)
            if pg is not None:
                pg.stop()
                pg = None
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)
    report(results)
    return 0


def _drop(side: str, target: str, work: Path, pg) -> None:
    shutil.rmtree(work, ignore_errors=True)
    if side == "postgresql":
        import psycopg

        name = target.rsplit("/", 1)[1]
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}"')


def report(results: list[Result]) -> None:
    print("\nrows (scale: rollups, levels, waits, uptime days, follow-ups | months: rollups, "
          "levels, waits), load, size")  # fmt: skip
    for r in results:
        figures = ", ".join(f"{r.rows[t]:,}" for t in r.rows)
        print(f"  {r.side:10} {r.scale:5g}: {figures}; load {r.load_s:.0f} s + coarse "
              f"{r.coarse_s:.1f} s; {r.size / 1e9:.2f} GB; the centre's configuration read in "
              f"{r.config_s * 1000:.0f} ms")  # fmt: skip
    print("\nmedian (min) in ms, and growth of the median from the scale before")
    keys = sorted({k for r in results for k in r.times}, key=lambda k: (k[1], k[2], k[0]))
    verdict: list[str] = []
    full = [r for r in results if r.scale >= 1 and r.side == "sqlite"]
    for side in ("sqlite", "postgresql"):
        mine = [r for r in results if r.side == side]
        if not mine:
            continue
        print(f"  {side}: " + " | ".join(f"scale {r.scale:g}" for r in mine))
        for key in keys:
            cells, before = [], None
            for r in mine:
                times = r.times.get(key)
                if times is None:
                    cells.append("-")
                    continue
                med = statistics.median(times)
                growth = f" x{med / before:.1f}" if before else ""
                cells.append(f"{med * 1000:.0f} ({min(times) * 1000:.0f}){growth}")
                before = med
                overview = key[0] in ("kpi", "cli") and key[1] != "3-27 Nov"
                if r in full and overview and med >= TARGET_S:
                    verdict.append(f"{key[0]} {key[1]} {key[2]} {med:.2f} s")
            print(f"    {key[0]:4} {key[1]:8} {key[2]:7} " + " | ".join(cells))
    for r in results:
        if r.mismatches:
            print(f"  {r.side} {r.scale:g}: DIFFERENT from the daily rollups: {r.mismatches}")
        else:
            print(f"  {r.side} {r.scale:g}: every query equal to the daily rollups' (floats: 1e-9)")
    if not full:
        print("target: the overview under 1 s at full size: NOT MEASURED (no full-size SQLite run)")
    else:
        state = "MET" if not verdict else "NOT MET (" + ", ".join(verdict) + ")"
        print(f"target: the overview (bank, region, branch; a month, the year) under 1 s at full "
              f"size on SQLite: {state}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
