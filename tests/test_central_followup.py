"""Follow-up of bad ratings (差评回访, issue 9 item 9): an item per bad rating, once, whatever
the delivery and however often the centre rebuilds; deadlines in China's working days; an audit
trail of every change; disputes that adjust the 满意率 and delete nothing.

Real databases (an SQLite file, then a PostgreSQL database: the ``centre_db`` fixtures) and the
real command line. Every date is given (ratings in November 2026, the
times of changes injected), so nothing depends on the day the suite runs on; the command line
records its changes at the wall clock, which the tests bracket rather than name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from msgspec import structs

from central import cli, followup
from central.kpi import kpis
from central.rollups import COARSE_TABLES
from central.store import SCHEMA_VERSION, CentralStore
from central.workdays import Deadline, WorkCalendar
from config.centre import load_centre_config
from config.errors import ConfigError
from domain.events import StoredEvent, TransactionClosed
from sync.schema import EventBatch
from tests.test_central_analytics import DAY, RECEIVED, closed

REPO = Path(__file__).resolve().parents[1]
AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the day after the ratings
DUE = "2026-12-16"  # 15 working days after Wednesday 25 November 2026
RATINGS = [5, 1, 4, 2, 3, None, 5, 1, 5, 4]  # bad: seqs 2, 4 and 8 (levels 1 and 2)
BAD = ["tx-2", "tx-4", "tx-8"]


def deliver(
    store: CentralStore, events, *, branch: str = "b1", size: int = 1, received=RECEIVED
) -> None:
    """Events as one device's batches of ``size`` (a batch delivered again is a duplicate)."""
    for i in range(0, len(events), size):
        chunk = tuple(events[i : i + size])
        store.ingest(branch, EventBatch(chunk[0].device_id, chunk, "s"), received)


def open_centre(tmp_path: Path, db: str, toml: str = "") -> CentralStore:
    """The central store at ``db`` (an SQLite file or a PostgreSQL database: the ``centre_db``
    fixtures), with the centre's configuration ``toml``."""
    centre = None
    if toml:
        (tmp_path / "centre.toml").write_text(toml, encoding="utf-8")
        centre = load_centre_config(tmp_path / "centre.toml")
    return CentralStore(db, centre=centre)


def rated(ratings=RATINGS, start: int = 1, **kw):
    return [closed(i, rating=r, **kw) for i, r in enumerate(ratings, start)]


def table(store: CentralStore, name: str) -> list[tuple]:
    return sorted(store.query(f"SELECT * FROM {name}"))


def change(store: CentralStore, action, item: int, text: str, by: str, at: datetime = AT):
    store.write("test", lambda e, q: action(e, q, item, text, by=by, at=at))


def moved(event: StoredEvent, by: timedelta) -> StoredEvent:
    """``event`` (a ``closed(...)``) stored and rated ``by`` later."""
    closed_tx = event.payload
    assert isinstance(closed_tx, TransactionClosed) and closed_tx.timeline.rated is not None
    line = closed_tx.timeline
    assert line.rated is not None
    rated = replace(line.rated, wall=line.rated.wall + by)
    payload = structs.replace(closed_tx, timeline=structs.replace(line, rated=rated))
    return replace(event, wall=event.wall + by, payload=payload)


def ids(store: CentralStore) -> dict[str, int]:
    return {r[1]: r[0] for r in store.query("SELECT id, transaction_id FROM followups")}


# -- one item per bad rating ---------------------------------------------------------------------


def test_one_item_per_bad_rating_whatever_the_delivery(tmp_path: Path, centre_db) -> None:
    events = rated()
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, events, size=3)
        deliver(store, events, size=3)  # every batch again: duplicates
        deliver(store, events[:4], size=2)  # again, cut differently
        # the same transactions again as new events of another store (a re-imaged pad)
        for i, e in enumerate(events, 1):
            store.ingest("b1", EventBatch(e.device_id, (replace(e, seq=i),), "s2"), RECEIVED)
        items = followup.items(store.query, store.centre, date(2026, 11, 26))
        opened = store.query("SELECT item FROM followup_log WHERE action = 'opened'")
    assert sorted(r["transaction_id"] for r in items) == BAD
    assert sorted(i for (i,) in opened) == sorted(r["id"] for r in items)  # opened once each
    first = next(r for r in items if r["transaction_id"] == "tx-2")
    where = (first["branch"], first["counter"], first["teller"], first["business_type"])
    assert first["rating"] == 1 and where == ("b1", 1, "1001", "cash")
    assert (first["day"], first["deadline"], first["status"]) == ("2026-11-25", DUE, "open")
    assert first["rated_at"].startswith("2026-11-25T08:32") and not first["provisional"]


def test_the_configured_unsatisfied_levels_open_items(tmp_path: Path, new_centre_db) -> None:
    with open_centre(tmp_path, new_centre_db(), "[kpi]\nunsatisfied_levels = [1]\n") as store:
        deliver(store, rated())
        assert sorted(ids(store)) == ["tx-2", "tx-8"]  # level 2 is not bad here
    events = [closed(30, rating=None, outcome="no_show", service=0.0), closed(31, rating=None)]
    with CentralStore(new_centre_db()) as store:
        deliver(store, events)
        assert ids(store) == {}  # no rating, no item


def test_a_rebuild_keeps_every_item_and_reopens_none(tmp_path: Path, centre_db) -> None:
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, rated())
        item = ids(store)
        change(store, followup.assign, item["tx-2"], "张三", "李主任")
        change(store, followup.note, item["tx-2"], "called the customer back", "张三")
        change(store, followup.close, item["tx-2"], "fee explained; customer satisfied", "张三")
        change(store, followup.dispute, item["tx-4"], "customer was abusive", "李主任")
        before = {t: table(store, t) for t in ("followups", "followup_log", "transactions")}
        kpi_before = kpis(store.query, store.centre, DAY, DAY, "teller")
        assert store.rebuild() == len(RATINGS)
        assert store.rebuild() == len(RATINGS)
        after = {t: table(store, t) for t in ("followups", "followup_log", "transactions")}
        assert after == before
        assert kpis(store.query, store.centre, DAY, DAY, "teller") == kpi_before
        closed_item = followup.get_item(store.query, item["tx-2"])
    assert closed_item["status"] == "closed" and closed_item["owner"] == "张三"


ACCOUNT_TABLES = ("sessions", "sign_in_failures", "api_tokens", "users")


def test_a_version_4_database_gets_its_items_when_opened(tmp_path: Path, centre_db) -> None:
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, rated())
        expected = table(store, "followups")
        for sql in (
            *(f"DROP TABLE {t}" for t in ACCOUNT_TABLES),  # of a later version
            "DROP VIEW rollup_disputed",
            "DROP TABLE followup_log",
            "DROP TABLE followups",
            "DROP TABLE counter_days",  # version 6
            *(f"DROP TABLE {t}" for t in COARSE_TABLES),  # version 7
            "DROP INDEX transactions_rated",  # version 11
            "UPDATE meta SET schema_version = 4",
        ):
            store._conn.execute(sql)  # as the version 4 release left it
    with CentralStore(centre_db) as store:
        assert table(store, "followups") == expected
        assert store.query("SELECT schema_version FROM meta") == [(SCHEMA_VERSION,)]


# -- deadlines in working days -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rated_on", "days", "due"),
    [
        (date(2026, 11, 25), 15, date(2026, 12, 16)),  # three weeks of weekdays
        (date(2026, 11, 27), 1, date(2026, 11, 30)),  # Friday: the weekend does not count
        (date(2026, 9, 30), 3, date(2026, 10, 10)),  # National Day 1-7 October off; 10th worked
        (date(2026, 9, 30), 15, date(2026, 10, 27)),
        (date(2026, 9, 18), 1, date(2026, 9, 20)),  # Sunday 20 September worked (调休)
        (date(2026, 2, 13), 2, date(2026, 2, 24)),  # Spring Festival: 14th worked, 15-23 off
        (date(2026, 4, 30), 1, date(2026, 5, 6)),  # Labour Day 1-5 May off
        (date(2026, 10, 1), 1, date(2026, 10, 8)),  # rated on a holiday: counts from the next day
    ],
)
def test_deadlines_follow_chinas_2026_working_days(rated_on, days, due) -> None:
    assert WorkCalendar().after(rated_on, days) == Deadline(due, False)


def test_a_year_the_calendar_lacks_is_provisional_until_the_bank_names_it() -> None:
    dec = date(2026, 12, 20)  # 15 working days run into January 2027
    provisional = WorkCalendar().after(dec, 15)
    assert provisional.provisional and provisional.day == date(2027, 1, 8)  # Monday to Friday
    known = WorkCalendar(([date(2027, 1, 1)], ())).after(dec, 15)
    assert known == Deadline(date(2027, 1, 11), False)
    assert WorkCalendar().count(date(2026, 12, 16), date(2026, 12, 18)) == 2
    assert WorkCalendar().count(date(2026, 12, 18), date(2026, 12, 16)) == -2


FOLLOWUP_TOML = """
[followup]
working_days = 15
holidays = [2026-12-01, 2026-12-02]

[[branches]]
id = "b1"
name = "城关支行"
workdays = [2026-12-02]   # the branch wins over the bank: it works that day
holidays = [2026-12-03]

[[branches]]
id = "b2"
name = "喀什支行"
time_zone = "Asia/Urumqi"
"""


def test_the_configuration_overrides_the_calendar_bank_then_branch(
    tmp_path: Path, new_centre_db
) -> None:
    with open_centre(tmp_path, new_centre_db(), FOLLOWUP_TOML) as store:
        deliver(store, rated())
        deliver(store, [replace(e, device_id="pad-2") for e in rated(start=40)], branch="b2")
        due = {
            r["transaction_id"]: r["deadline"]
            for r in followup.items(store.query, store.centre, DAY)
        }
    # b1: 1 December off (the bank), 2nd worked (the branch), 3rd off (the branch)
    assert due["tx-2"] == "2026-12-18"
    # b2: only the bank's days: 1 and 2 December off
    assert due["tx-41"] == "2026-12-18" and due["tx-43"] == "2026-12-18"
    short = "[followup]\nworking_days = 5\n"
    with open_centre(tmp_path, new_centre_db(), short) as store:
        deliver(store, rated())
        (item, *_) = followup.items(store.query, store.centre, DAY)
    assert item["deadline"] == "2026-12-02"


def test_the_followup_section_reports_its_problems_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "centre.toml"
    path.write_text(
        "[followup]\nworking_days = 0\nholidays = [2026-12-01]\nworkdays = [2026-12-01]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_centre_config(path)
    text = str(err.value)
    assert f"{path}: followup.working_days: " in text
    assert f"{path}: followup.workdays: 2026-12-01 also in holidays" in text


def test_overdue_in_each_branch_s_own_time_zone_and_late_closing(tmp_path: Path, centre_db) -> None:
    toml = '[[branches]]\nid = "b1"\nname = "一"\n[[branches]]\nid = "b2"\nname = "二"\n'
    toml += 'time_zone = "Asia/Urumqi"\n'
    with open_centre(tmp_path, centre_db, toml) as store:
        deliver(store, rated([1]))
        deliver(store, [replace(closed(50, rating=1), device_id="pad-2")], branch="b2")
        q, c = store.query, store.centre
        assert {r["deadline"] for r in followup.items(q, c, DAY)} == {DUE}

        def overdue(now) -> list[str]:
            return [r["branch"] for r in followup.items(q, c, now, which="overdue")]

        assert overdue(date(2026, 12, 16)) == []  # due today: not overdue yet
        assert overdue(date(2026, 12, 17)) == ["b1", "b2"]
        # 23:58 on the 16th in Shanghai: still in time
        assert overdue(datetime(2026, 12, 16, 15, 58, tzinfo=UTC)) == []
        # 00:30 on the 17th in Shanghai, 22:30 on the 16th in Urumqi
        assert overdue(datetime(2026, 12, 16, 16, 30, tzinfo=UTC)) == ["b1"]
        (b1,) = followup.items(q, c, date(2026, 12, 18), which="overdue", branches=["b1"])
        assert b1["overdue"] and b1["working_days_left"] == -2
        item = b1["id"]
        change(
            store, followup.close, item, "apologised", "张三", datetime(2026, 12, 18, 3, tzinfo=UTC)
        )
        (late,) = followup.items(q, c, date(2026, 12, 30), which="closed")
        (on_time,) = followup.items(q, c, date(2026, 12, 30), which="open")
    assert late["late"] and not late["overdue"] and late["working_days_left"] is None
    assert on_time["overdue"] and not on_time["late"]


# -- changes and their audit trail -----------------------------------------------------------------


def test_every_change_is_in_the_audit_trail_with_who_when_and_what(
    tmp_path: Path, centre_db
) -> None:
    times = [AT + timedelta(hours=h) for h in range(8)]
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, rated())
        item = ids(store)["tx-2"]
        change(store, followup.assign, item, "张三", "李主任", times[0])
        change(store, followup.assign, item, "王五", "李主任", times[1])
        change(store, followup.note, item, "customer unreachable", "王五", times[2])
        change(store, followup.dispute, item, "customer was abusive", "李主任", times[3])
        change(store, followup.lift, item, "recording shows no abuse", "赵行长", times[4])
        change(store, followup.close, item, "apologised; fee refunded", "王五", times[5])
        change(store, followup.note, item, "customer thanked us", "王五", times[6])
        trail = followup.history(store.query, item)
        now = followup.get_item(store.query, item)
        (listed,) = [r for r in followup.items(store.query, store.centre, DAY) if r["id"] == item]
    assert [(e["who"], e["action"], e["old_value"], e["new_value"]) for e in trail] == [
        ("centre", "opened", None, f"rating 1, due {DUE}"),
        ("李主任", "assigned", None, "张三"),
        ("李主任", "assigned", "张三", "王五"),
        ("王五", "note", None, "customer unreachable"),
        ("李主任", "disputed", None, "customer was abusive"),
        ("赵行长", "lifted", "customer was abusive", "recording shows no abuse"),
        ("王五", "closed", None, "apologised; fee refunded"),
        ("王五", "note", None, "customer thanked us"),
    ]
    assert trail[0]["logged_at"] == "2026-11-25T00:32:00.000000+00:00"  # the rating's time
    assert [datetime.fromisoformat(e["logged_at"]) for e in trail[1:]] == times[:7]
    assert (now["status"], now["owner"], now["verdict"], now["closed_by"]) == (
        "closed", "王五", "apologised; fee refunded", "王五",
    )  # fmt: skip
    assert now["closed_at"] == times[5].isoformat(timespec="microseconds")
    assert not now["disputed"] and now["dispute_reason"] is None and listed["notes"] == 2


REFUSALS = (
    "close_again", "assign_closed", "unknown", "same_owner", "lift_undisputed", "dispute_twice",
    "nobody", "empty_note",
)  # fmt: skip


@pytest.mark.parametrize(
    ("act", "text", "by", "message"),
    [
        ("close_again", "again", "王五", "is closed (by 王五 at "),
        ("assign_closed", "赵六", "李主任", "cannot be reassigned"),
        ("unknown", "x", "y", "there is no follow-up item 999"),
        ("same_owner", "张三", "李主任", "is already assigned to 张三"),
        ("lift_undisputed", "why", "李主任", "is not disputed"),
        ("dispute_twice", "again", "李主任", "is disputed already (customer was abusive)"),
        ("nobody", "x", "  ", "who assigns must not be empty"),
        ("empty_note", " ", "王五", "the note must not be empty"),
    ],
    ids=lambda v: v if v in REFUSALS else "",
)
def test_a_change_that_cannot_be_made_says_why_and_changes_nothing(
    tmp_path: Path, centre_db, act, text, by, message
) -> None:
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, rated())
        item = ids(store)
        change(store, followup.assign, item["tx-2"], "张三", "李主任")
        change(store, followup.close, item["tx-8"], "done", "王五")
        change(store, followup.dispute, item["tx-4"], "customer was abusive", "李主任")
        before = {t: table(store, t) for t in ("followups", "followup_log")}
        action, target = {
            "close_again": (followup.close, item["tx-8"]),
            "assign_closed": (followup.assign, item["tx-8"]),
            "unknown": (followup.note, 999),
            "same_owner": (followup.assign, item["tx-2"]),
            "lift_undisputed": (followup.lift, item["tx-2"]),
            "dispute_twice": (followup.dispute, item["tx-4"]),
            "nobody": (followup.assign, item["tx-2"]),
            "empty_note": (followup.note, item["tx-2"]),
        }[act]

        def work(e, q):
            followup.note(e, q, item["tx-2"], "written before the refusal", by="王五", at=AT)
            action(e, q, target, text, by=by, at=AT)

        with pytest.raises(
            followup.FollowupError, match=message.replace("(", r"\(").replace(")", r"\)")
        ):
            store.write("test", work)
        assert {t: table(store, t) for t in ("followups", "followup_log")} == before


def test_redate_after_the_bank_names_a_new_year_s_holidays(tmp_path: Path, centre_db) -> None:
    """A December rating's deadline in 2027 (not yet in chinese-calendar) is provisional; once
    [followup] names 2027's days, redate computes it again, in the trail."""
    late_december = moved(closed(60, rating=1), timedelta(days=25))  # 20 December, 09:30
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, [late_december], received=late_december.wall)
        (item,) = followup.items(store.query, store.centre, date(2026, 12, 21))
    assert item["rated_at"].startswith("2026-12-20") and item["provisional"]
    assert item["deadline"] == "2027-01-08"
    toml = "[followup]\nholidays = [2027-01-01]\n"
    with open_centre(tmp_path, centre_db, toml) as store:
        changed = store.write(
            "redate", lambda e, q: followup.redate(e, q, store.centre, by="管理员", at=AT)
        )
        again = store.write(
            "redate", lambda e, q: followup.redate(e, q, store.centre, by="管理员", at=AT)
        )
        now = followup.get_item(store.query, item["id"])
        trail = followup.history(store.query, item["id"])
    assert changed == [(item["id"], "2027-01-08 (provisional)", "2027-01-11")] and again == []
    assert (now["deadline"], now["provisional"]) == ("2027-01-11", False)
    assert (trail[-1]["who"], trail[-1]["action"]) == ("管理员", "redated")


# -- disputes adjust the 满意率, and delete nothing -----------------------------------------------


def test_a_dispute_adjusts_the_satisfaction_rate_but_not_the_raw_one(
    tmp_path: Path, centre_db
) -> None:
    ratings = [5, 5, 5, 5, 4, 4, 4, 4, 5, 1]  # nine satisfied of ten
    toml = '[[branches]]\nid = "b1"\nname = "城关支行"\nregion = "浙江省/杭州市"\n'
    with open_centre(tmp_path, centre_db, toml) as store:
        deliver(store, rated(ratings))
        q, c = store.query, store.centre
        derived = ("transactions", "rollups", "rollup_levels")
        raw_tables = {t: table(store, t) for t in derived}

        def rows() -> dict[str, dict]:
            out = {}
            for by in ("bank", "region", "branch", "counter", "teller", "business_type"):
                out[by] = kpis(q, c, DAY, DAY, by)[0]
            return out

        before = rows()
        item = ids(store)["tx-10"]
        change(store, followup.dispute, item, "customer at fault (委屈奖)", "李主任")
        disputed = rows()
        assert {t: table(store, t) for t in derived} == raw_tables  # the rating is still there
        change(store, followup.lift, item, "not confirmed", "赵行长")
        lifted = rows()
        items = store.query("SELECT count(*) FROM followups")
    for by in before:
        b, d, lf = before[by], disputed[by], lifted[by]
        assert b["satisfaction_rate"] == d["satisfaction_rate"] == pytest.approx(0.9), by
        assert b["satisfaction_rate_adjusted"] == pytest.approx(0.9) and b["disputed"] == 0, by
        assert d["satisfaction_rate_adjusted"] == 1.0 and d["disputed"] == 1, by
        assert d["ratings"] == 10 and d["unsatisfied"] == 1, by  # raw counts unchanged
        assert (round(d["satisfaction_adjusted_low"], 3), d["satisfaction_adjusted_high"]) == (
            0.701,
            1.0,
        ), by  # fmt: skip  (Wilson, 9 of 9)
        assert d["meets"]["satisfaction"] is False and d["meets"]["satisfaction_adjusted"], by
        assert lf == b, by
    assert items == [(1,)]


def test_disputes_count_in_their_own_period_only(tmp_path: Path, centre_db) -> None:
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, rated([1, 5]))
        change(store, followup.dispute, ids(store)["tx-1"], "customer at fault", "李主任")
        (other,) = kpis(store.query, store.centre, DAY + timedelta(1), DAY + timedelta(1), "bank")
        (day,) = kpis(store.query, store.centre, DAY, DAY, "bank")
    assert other["disputed"] == 0 and other["satisfaction_rate_adjusted"] is None
    assert day["disputed"] == 1 and day["satisfaction_rate_adjusted"] == 1.0


# -- the command line ------------------------------------------------------------------------------


def test_the_command_line_lists_assigns_notes_disputes_and_closes(
    tmp_path: Path, centre_db, capsys
) -> None:
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, rated())
        item = ids(store)
    db = ["--db", centre_db]
    two, eight = str(item["tx-2"]), str(item["tx-8"])

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["followup", *args, *db])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = run("list", "--format", "json", "--today", "2026-11-26")
    assert code == 0 and sorted(r["transaction_id"] for r in json.loads(out)) == BAD
    start = datetime.now(UTC)
    assert run("assign", two, "--to", "张三", "--by", "李主任")[:2] == (
        0,
        f"follow-up item {two}: assigned to 张三\n",
    )
    assert run("note", two, "--text", "called back", "--by", "张三")[0] == 0
    assert run("dispute", two, "--reason", "customer at fault", "--by", "李主任")[0] == 0
    assert run("dispute", two, "--reason", "not confirmed", "--by", "赵行长", "--lift")[0] == 0
    assert run("close", two, "--verdict", "apologised", "--by", "张三")[0] == 0
    end = datetime.now(UTC)
    code, out, _ = run("history", two, "--format", "json")
    trail = json.loads(out)
    assert [(e["who"], e["action"]) for e in trail] == [
        ("centre", "opened"), ("李主任", "assigned"), ("张三", "note"), ("李主任", "disputed"),
        ("赵行长", "lifted"), ("张三", "closed"),
    ]  # fmt: skip
    assert all(start <= datetime.fromisoformat(e["logged_at"]) <= end for e in trail[1:])
    code, out, _ = run("history", two)
    assert (
        code == 0
        and out.startswith(f"follow-up item {two}: b1 1号窗口 1001")
        and "apologised" in out
    )
    code, out, _ = run("list", "--overdue", "--today", "2026-12-17")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["id", "branch", "day"]
    assert [line.split()[0] for line in lines[2:]] == sorted([str(item["tx-4"]), eight])
    assert all("OVERDUE" in line for line in lines[2:])
    code, out, _ = run("list", "--closed", "--format", "csv", "--today", "2026-12-17")
    assert (
        out.splitlines()[0].startswith("id,transaction_id,day,branch,")
        and len(out.splitlines()) == 2
    )
    # refusals: a clear message and exit 1 (that they change nothing: tested above)
    assert run("close", two, "--verdict", "again", "--by", "张三")[::2] == (
        1, f"counterside centre followup: follow-up item {two} is closed (by 张三 at "
        f"{trail[-1]['logged_at']}: apologised) and cannot be closed again\n",
    )  # fmt: skip
    assert run("assign", "999", "--to", "x", "--by", "y")[::2] == (
        1, "counterside centre followup: there is no follow-up item 999\n",
    )  # fmt: skip
    assert run("dispute", eight, "--reason", "r", "--by", "y", "--lift")[0] == 1
    code, out, _ = run("redate", "--by", "管理员")
    assert code == 0 and out == "0 deadline(s) changed\n"
    assert cli.main(["followup", "list", "--db", str(tmp_path / "none.sqlite")]) == 3
    assert "no central store here" in capsys.readouterr().err


def test_the_kpi_table_shows_the_adjusted_rate(tmp_path: Path, centre_db, capsys) -> None:
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, rated([5, 5, 5, 1]))
        change(store, followup.dispute, ids(store)["tx-4"], "customer at fault", "李主任")
    args = ["kpi", "--db", centre_db, "--from", "2026-11-25", "--to", "2026-11-25"]
    assert cli.main([*args, "--by", "bank"]) == 0
    header, _, row = capsys.readouterr().out.splitlines()
    assert "adjusted" in header and "75.0%" in row and "100.0% (-1)" in row


def test_the_counterside_command_runs_followup_list(tmp_path: Path, centre_db) -> None:
    """Through the installed entry point's module, in a process of its own."""
    with open_centre(tmp_path, centre_db) as store:
        deliver(store, rated())
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "centre", "followup", "list", "--open",
         "--today", "2026-11-26", "--format", "json", "--db", centre_db],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
        env={"PATH": "/usr/bin:/bin", "COUNTERSIDE_CONFIG": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["deadline"] for r in rows] == [DUE] * 3 and all(r["status"] == "open" for r in rows)
