"""The coarse rollups (per month x branch, schema version 6): kept up to date with the daily
ones as events arrive, made from them when an older database is opened, and giving the KPIs of
the bank, regions and branches the daily rollups give, over any range.

Four months of three branches on fixed dates of 2026 (whatever date the suite runs on), real
SQLite files and PostgreSQL databases.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from central.kpi import kpis, whole_months, whole_years
from central.rollups import COARSE_FILL, COARSE_TABLES
from central.store import SCHEMA_VERSION, CentralStore
from config.centre import CentreConfig, load_centre_config
from domain.events import DeviceHeartbeat, StoredEvent, TransactionClosed
from sync.schema import EventBatch
from tests.test_central_analytics import CENTRE_TOML, closed

FIRST, LAST = date(2026, 8, 3), date(2026, 11, 26)
RECEIVED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NEW_PAD_FROM = date(2026, 10, 15)  # b1's counter 1 gets a new pad
MADE_HOLIDAY = date(2026, 9, 16)  # b2 worked that day; the configuration calls it a holiday now
POWERED_BEFORE_SERVING = date(2026, 8, 12)  # b3's counter 2's pad serves from then on


def _on(event: StoredEvent, day: date, device: str, **changes) -> StoredEvent:
    """``closed(...)``'s event moved to ``day``, from ``device``."""
    payload = event.payload
    assert isinstance(payload, TransactionClosed) and payload.ticket_info is not None
    info = msgspec.structs.replace(payload.ticket_info, business_day=day)
    shift = timedelta(days=(day - date(2026, 11, 25)).days)
    return replace(
        event, device_id=device, wall=event.wall + shift,
        payload=msgspec.structs.replace(payload, ticket_info=info, **changes),
    )  # fmt: skip


def _beats(device: str, day: date, minutes: int) -> list[StoredEvent]:
    """Heartbeats of ``device`` from 08:30 (Shanghai) on ``day``."""
    opening = datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC)
    out = []
    for i in range(minutes):
        wall = opening + timedelta(minutes=i)
        beat = DeviceHeartbeat(minute=wall.strftime("%Y-%m-%dT%H:%M"))
        out.append(StoredEvent(0, "", device, "b", 0.0, wall, "device.heartbeat", beat))
    return out


def _months_of_events(seed: int = 3) -> dict[tuple[str, str], list[StoredEvent]]:
    """(branch, device) -> its events, in order: transactions with fractional waits and
    services, every rating level, no-shows; heartbeats; a pad replaced in mid-October."""
    rng = random.Random(seed)
    days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    days = sorted([*rng.sample([d for d in days if d.weekday() < 5], 40), MADE_HOLIDAY])
    out: dict[tuple[str, str], list[StoredEvent]] = {}
    seq = 0
    for day in days:
        for branch in ("b1", "b2", "b3"):
            for counter in (1, 2):
                device = f"pad-{branch}-{counter}"
                if (branch, counter) == ("b1", 1) and day >= NEW_PAD_FROM:
                    device += "-new"
                events = out.setdefault((branch, device), [])
                if device == "pad-b1-1-new" and not events:  # on three days before it served
                    events += _beats(device, NEW_PAD_FROM - timedelta(days=3), 25)
                if device == "pad-b3-2" and day < POWERED_BEFORE_SERVING:
                    # powered, not serving yet (alone at its counter): not counted
                    events += _beats(device, day, 35)
                    continue
                events += _beats(device, day, rng.randrange(5, 40))
                for _ in range(rng.randrange(1, 6)):
                    seq += 1
                    outcome = "no_show" if rng.random() < 0.1 else "served"
                    rating = (
                        rng.choice([5, 5, 5, 4, 3, 2, 1, None]) if outcome == "served" else None
                    )
                    event = closed(
                        seq, teller=f"{branch}-{counter}{rng.randrange(2)}", counter=counter,
                        rating=rating, outcome=outcome, wait=rng.uniform(10.0, 2400.0),
                        service=rng.uniform(30.0, 700.0),
                        business_type=rng.choice(["cash", "loan"]),
                    )  # fmt: skip
                    event = _on(event, day, device)
                    if rng.random() < 0.1:  # served without a ticket: no wait at all
                        assert isinstance(event.payload, TransactionClosed)
                        payload = msgspec.structs.replace(
                            event.payload, ticket_info=None, ticket=None, ticket_id=None,
                            waiting_s=None, total_waiting_s=None,
                        )  # fmt: skip
                        event = replace(event, payload=payload)
                    events.append(event)
    return out


def _ingest(store: CentralStore, streams: dict[tuple[str, str], list[StoredEvent]]) -> None:
    n = 0
    for (branch, device), events in streams.items():
        numbered = []
        for i, e in enumerate(events, 1):
            n += 1
            numbered.append(replace(e, seq=i, id=f"0193a9c0-0000-7000-8000-{n:012d}"))
        for i in range(0, len(numbered), 300):
            batch = EventBatch(device, tuple(numbered[i : i + 300]), "s")
            store.ingest(branch, batch, RECEIVED)


def _centre(tmp_path: Path, holiday: bool, neutral: bool = False) -> CentreConfig:
    text = CENTRE_TOML
    if neutral:  # level 3 given, but counted in neither rate
        text = text.replace("[kpi]\n", "[kpi]\nneutral_levels = [3]\n")
    if holiday:
        text = text.replace('id = "b2"\n', f'id = "b2"\nholidays = [{MADE_HOLIDAY.isoformat()}]\n')
    path = tmp_path / f"centre-{holiday:d}{neutral:d}.toml"
    path.write_text(text, encoding="utf-8")
    return load_centre_config(path)


def _same(a: object, b: object) -> bool:
    """Equal, floats to their rounding (sums of seconds added up in another order); counts
    exactly."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _coarse(store: CentralStore) -> dict[str, list]:
    return {t: sorted(store.query(f"SELECT * FROM {t}")) for t in COARSE_TABLES}


@pytest.fixture(scope="module")
def streams() -> dict[tuple[str, str], list[StoredEvent]]:
    return _months_of_events()


def test_the_months_give_the_kpis_of_the_days_over_random_ranges(
    tmp_path: Path, centre_db, streams
) -> None:
    centre = _centre(tmp_path, holiday=False)
    later = _centre(tmp_path, holiday=True)  # hours changed after the minutes were counted
    rng = random.Random(11)
    ranges = [
        (date(2026, 8, 1), date(2026, 11, 30)), (date(2026, 9, 1), date(2026, 9, 30)),
        (date(2026, 7, 20), date(2026, 12, 10)), (date(2026, 8, 14), date(2026, 10, 31)),
        (date(2026, 1, 1), date(2026, 12, 31)), (date(2025, 11, 1), date(2027, 1, 14)),
        # to a day with nothing after it in its month (the month to date: read as the month)
        (date(2026, 11, 1), LAST), (date(2026, 8, 1), date(2026, 11, 27)),
        (date(2026, 9, 14), LAST), (date(2026, 11, 2), LAST),
        (date(2026, 10, 1), date(2026, 11, 20)),
    ]  # fmt: skip
    for _ in range(12):
        a, b = sorted(FIRST - timedelta(days=20) + timedelta(days=rng.randrange(140)) for _ in "ab")
        ranges.append((a, b))
    nows = (
        None, datetime(2026, 11, 20, 4, 0, tzinfo=UTC), datetime(2026, 9, 10, 4, 0, tzinfo=UTC),
        datetime(2026, 11, 26, 9, 0, tzinfo=UTC),  # LAST, in the middle of its business hours
    )  # fmt: skip
    with CentralStore(centre_db, centre=centre) as store:
        _ingest(store, streams)
        months = store.query("SELECT count(*) FROM month_rollups")[0][0]
        assert months == 4 * 3  # August to November, three branches
        compared = 0
        for start, end in ranges:
            for by in ("bank", "region", "branch", "counter", "teller", "day"):
                for config in (centre, later):
                    now = rng.choice(nows)
                    ours = kpis(store.query, config, start, end, by, now=now)
                    days = kpis(store.query, config, start, end, by, now=now, coarse=False)
                    assert _same(ours, days), (start, end, by, now)
                    compared += whole_months(start, end)[0] is not None
                    every = kpis(store.query, config, start, end, by, now=now,
                                 branches=["b1", "b2", "b3"])  # fmt: skip
                    assert _same(every, days), (start, end, by, now)  # days sought by key
                    some = [rng.choice(["b1", "b2", "b3"])]  # one branch: its days sought by key
                    ours = kpis(store.query, config, start, end, by, now=now, branches=some)
                    days = kpis(store.query, config, start, end, by, now=now, branches=some,
                                coarse=False)  # fmt: skip
                    assert _same(ours, days), (start, end, by, now, some)
        # the months the coarse minutes alone would get wrong were among them: the new pad's
        # minutes before it served (beside the old pad's; alone at its counter), the day made
        # a holiday since
        for branch, month, config in (("b1", 10, centre), ("b2", 9, later), ("b3", 8, centre)):
            start = date(2026, month, 1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            held = store.query(
                "SELECT sum(minutes) FROM uptime_months WHERE branch = ? AND month = ?",
                (branch, start.strftime("%Y-%m")),
            )[0][0]
            (row,) = kpis(store.query, config, start, end, "branch", branches=[branch])
            assert row["powered_minutes"] < held
    assert compared > 50  # most ranges hold whole months: the coarse rollups were read


def test_a_trend_without_waits_is_the_trend_with_them_but_the_percentile(
    centre_db, streams
) -> None:
    with CentralStore(centre_db) as store:
        _ingest(store, streams)
        config = store.centre
        full = kpis(store.query, config, FIRST, LAST, "day")
        lean = kpis(store.query, config, FIRST, LAST, "day", waits=False)
        assert len(full) == 41 and all(r["wait_p90_s"] is not None for r in full)
        assert [r["wait_p90_s"] for r in lean] == [None] * len(full)
        assert _same([{**r, "wait_p90_s": None} for r in full], lean)


def test_the_months_kept_as_events_arrive_equal_those_made_from_the_days(
    centre_db, streams
) -> None:
    with CentralStore(centre_db) as store:
        _ingest(store, streams)
        kept = _coarse(store)
        assert all(kept.values())
        for table in COARSE_TABLES:
            store._conn.execute(f"DELETE FROM {table}")
        for sql in COARSE_FILL:
            store._conn.execute(sql)
        assert _same(_coarse(store), kept)  # the sums of seconds added up in another order


def test_a_version_6_database_gets_its_months_when_opened(centre_db, streams) -> None:
    with CentralStore(centre_db) as store:
        _ingest(store, streams)
        expected = _coarse(store)
        for table in (*COARSE_TABLES, "sessions", "sign_in_failures", "api_tokens", "users"):
            store._conn.execute(f"DROP TABLE {table}")  # as the version 6 release left it
        store._conn.execute("DROP INDEX followups_disputed")
        store._conn.execute("DROP INDEX transactions_rated")  # version 11
        store._conn.execute("UPDATE meta SET schema_version = 6")
    with CentralStore(centre_db) as store:
        assert store.query("SELECT schema_version FROM meta") == [(SCHEMA_VERSION,)]
        assert _same(_coarse(store), expected) and expected["uptime_months"]


@pytest.mark.parametrize(
    ("start", "end", "months", "edges"),
    [
        (date(2026, 1, 1), date(2026, 12, 31), ("2026-01", "2026-12"), []),
        (date(2026, 2, 1), date(2026, 2, 28), ("2026-02", "2026-02"), []),
        (date(2026, 1, 15), date(2026, 3, 10), ("2026-02", "2026-02"),
         [(date(2026, 1, 15), date(2026, 1, 31)), (date(2026, 3, 1), date(2026, 3, 10))]),
        (date(2026, 12, 1), date(2027, 1, 30), ("2026-12", "2026-12"),
         [(date(2027, 1, 1), date(2027, 1, 30))]),
        (date(2026, 11, 3), date(2026, 11, 27), None, [(date(2026, 11, 3), date(2026, 11, 27))]),
        (date(2026, 2, 2), date(2026, 3, 30), None, [(date(2026, 2, 2), date(2026, 3, 30))]),
    ],
)  # fmt: skip
def test_whole_months_of_a_range(start, end, months, edges) -> None:
    assert whole_months(start, end) == (months, edges)


def test_whole_years_of_whole_months() -> None:
    assert whole_years(("2026-01", "2026-12")) == (("2026", "2026"), [])
    assert whole_years(("2025-11", "2027-03")) == (
        ("2026", "2026"),
        [("2025-11", "2025-12"), ("2027-01", "2027-03")],
    )
    assert whole_years(("2026-02", "2026-12")) == (None, [("2026-02", "2026-12")])


def test_every_figure_links_to_exactly_what_it_counts(tmp_path: Path, centre_db, streams) -> None:
    """The dashboard's links (``central.web``) as search criteria: each lists the transactions
    its figure counts, with a neutral rating level and ticketless transactions (no wait) in the
    data: the cards' n, 满意率 against timing, the heat map's cells."""
    from central.heatmap import heatmap
    from central.search import search_transactions
    from central.timing import timing
    from central.web.pages import BEHIND

    centre = _centre(tmp_path, holiday=False, neutral=True)
    neutral = centre.kpi.neutral_levels

    def count(**criteria) -> int:
        rows, more = search_transactions(
            store.query, FIRST, LAST, neutral=neutral, limit=100_000, **criteria
        )
        assert not more
        return len(rows)

    with CentralStore(centre_db, centre=centre) as store:
        _ingest(store, streams)
        no_wait = store.query(
            "SELECT count(*) FROM transactions WHERE total_waiting_s IS NULL AND outcome = 'served'"
        )[0][0]
        assert (
            no_wait > 0
            and store.query("SELECT count(*) FROM transactions WHERE rating = 3")[0][0] > 0
        )  # the data holds what the figures leave out
        (bank,) = kpis(store.query, centre, FIRST, LAST, "bank")
        for n_key, criteria in BEHIND.items():
            flags = {k: (v == 1 if k in ("scored", "called", "limited") else v)
                     for k, v in criteria.items()}  # fmt: skip
            assert count(**flags) == bank[n_key], n_key
        for row in timing(store.query, centre, FIRST, LAST, "bank"):
            cell = {"wait_band" if row["dimension"] == "wait" else "service": row["code"]}
            assert count(scored=True, **cell) == row["ratings"], row  # as the page links it
            rated = count(outcome="served", rating_status="rated", **cell)
            assert rated == row["ratings"] + row["neutral"], row  # 3 is neutral here
        for cell in heatmap(store.query, centre, FIRST, LAST):
            at = {"weekday": cell["weekday"], "hour": cell["hour"]}
            assert count(called=True, **at) == cell["called"], cell
            assert count(scored=True, **at) == cell["ratings"], cell


def test_an_empty_range_and_a_lean_ranking(tmp_path: Path, centre_db, streams) -> None:
    """A range ending before it starts has no day (no empty ``IN ()`` list for PostgreSQL);
    the overview's lean ranking lists every branch the full one lists, one whose pad was only
    powered in the range too."""
    from central.ranking import ranking

    centre = _centre(tmp_path, holiday=False)
    served = closed(90_001, counter=1, rating=None)  # in July: its pad serves since then
    lone = {("b4", "pad-b4-1"): [
        _on(served, date(2026, 7, 15), "pad-b4-1"), *_beats("pad-b4-1", date(2026, 9, 1), 30),
    ]}  # fmt: skip
    with CentralStore(centre_db, centre=centre) as store:
        _ingest(store, {**streams, **lone})
        for branches in ((), ("b1",), ("b1", "b2")):
            (bank,) = kpis(store.query, centre, LAST, FIRST, "bank", branches=branches)
            assert bank["finished"] == 0 and bank["satisfaction_rate"] is None
            assert kpis(store.query, centre, LAST, FIRST, "counter", branches=branches) == []
        full = ranking(store.query, centre, FIRST, LAST, "branch")
        lean = ranking(store.query, centre, FIRST, LAST, "branch", full=False)
        assert [r["branch"] for r in lean] == [r["branch"] for r in full]
        assert "b4" in {r["branch"] for r in lean if r["rank"] is None}
        assert all(r["uptime_rate"] is None and r["wait_p90_s"] is None for r in lean)


def test_today_counts_the_business_minutes_up_to_now(tmp_path: Path, centre_db, streams) -> None:
    """开机率 of a range ending today counts today's business minutes up to now, not the whole
    day's: at 09:00 a pad on since the 08:30 opening is at 100%, not at a sixteenth."""
    from central.rollups import business_minutes

    centre = _centre(tmp_path, holiday=False)
    nine = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # LAST, 09:00 in Shanghai
    with CentralStore(centre_db, centre=centre) as store:
        _ingest(store, streams)
        (whole,) = kpis(store.query, centre, LAST, LAST, "bank")
        (today,) = kpis(store.query, centre, LAST, LAST, "bank", now=nine)
        (month,) = kpis(store.query, centre, date(2026, 11, 1), LAST, "bank", now=nine)
        days = kpis(store.query, centre, date(2026, 11, 1), LAST, "bank", now=nine, coarse=False)
    pads = whole["business_minutes"] // business_minutes(centre.branch_or_default("b1"), LAST)
    assert pads == 6 and today["business_minutes"] == pads * 30  # 08:30 to 09:00
    assert whole["business_minutes"] - today["business_minutes"] == pads * (510 - 30)
    assert month["business_minutes"] == days[0]["business_minutes"] < whole["business_minutes"] * 30
    assert _same([month], days)
