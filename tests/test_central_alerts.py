"""Alerts at the centre (issue 9, item 7): raised from events with their evidence, once, in any
order; the ones that depend on time passing against an injected clock; acknowledged; published
per branch, retained, through a real broker within seconds of the event arriving."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.store import CentralStore
from config.centre import load_centre_config
from domain.clock import Instant
from domain.events import (
    CounterIdleWithQueue,
    CounterSignedIn,
    CounterSignedOut,
    QueuedTicket,
    StoredEvent,
    TellerInfo,
    TicketWaitOverLimit,
)
from sync import schema, topics
from sync.schema import EventBatch, Status
from tests.mqtt_broker import ProbeClient
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture
from tests.sync_harness import BRANCH, MONITOR, roster, start_centre
from tests.test_central_analytics import DAY, OPENING, RECEIVED, centre_with, closed

STORE = "0193a9c0-0000-7000-8000-0000000000aa"
WED_10AM = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Wednesday


def kinds(store: CentralStore) -> list[str]:
    return sorted(a.kind for a in store.alerts())


def event(seq: int, kind: str, payload, minutes: float = 60.0) -> StoredEvent:
    eid = f"0193a9c0-0000-7000-8000-{900000 + seq:012d}"
    wall = OPENING + timedelta(minutes=minutes)
    return StoredEvent(seq, eid, "pad-1", "b", float(seq), wall, kind, payload)


def test_a_bad_rating_raises_one_alert_with_its_evidence(tmp_path, centre_db) -> None:
    bad = closed(1, rating=1)
    with centre_with(tmp_path, centre_db, [bad, closed(2, rating=5)]) as store:
        store.ingest("b1", EventBatch("pad-1", (replace(bad, seq=1),), "s"), RECEIVED)  # again
        (alert,) = store.alerts()
    assert (alert.kind, alert.branch, alert.subject, alert.evidence) == (
        "bad_rating",
        "b1",
        "1001",
        (bad.id,),
    )
    assert "差评" in alert.message and alert.acked_at is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_burst_of_bad_ratings_is_one_alert_in_any_order(tmp_path, centre_db, seed) -> None:
    """Half of four ratings within 15 minutes are bad: one burst alert, whatever the order."""
    ratings = [closed(1, rating=5), closed(3, rating=1), closed(6, rating=5), closed(9, rating=2)]
    ratings += [closed(40, rating=5), closed(80, rating=1)]  # far later: no second burst
    random.Random(seed).shuffle(ratings)
    with centre_with(tmp_path, centre_db, ratings) as store:
        found = kinds(store)
        burst = next(a for a in store.alerts() if a.kind == "bad_burst")
    assert found == ["bad_burst", "bad_rating", "bad_rating", "bad_rating"]
    assert sorted(burst.evidence) == sorted([ratings_id(3), ratings_id(9)])


def ratings_id(seq: int) -> str:
    return closed(seq).id


def test_no_burst_below_half_or_below_four(tmp_path, centre_db) -> None:
    ratings = [closed(1, rating=1), closed(2, rating=5), closed(3, rating=5), closed(4, rating=5)]
    with centre_with(tmp_path, centre_db, ratings) as store:
        assert kinds(store) == ["bad_rating"]


def test_waits_over_the_limit_and_idle_tellers_raise_alerts(tmp_path, centre_db) -> None:
    at = Instant(1.0, OPENING, "b")
    ticket = QueuedTicket(
        id="20261125-A007", number="A007", business_type="cash", business_day=DAY, serial=7,
        issued_at=at, queued_at=at,
    )  # fmt: skip
    waited = event(
        1,
        "ticket.wait_over_limit",
        TicketWaitOverLimit(ticket=ticket, waited_s=960.0, limit_s=900.0),
    )
    idle = event(
        2,
        "counter.idle_with_queue",
        CounterIdleWithQueue(counter=2, idle_s=300.0, waiting=4, teller="1002"),
    )
    with centre_with(tmp_path, centre_db, [waited, idle]) as store:
        by_kind = {a.kind: a for a in store.alerts()}
    assert set(by_kind) == {"wait_over_limit", "idle_with_queue"}
    assert (
        by_kind["wait_over_limit"].subject == "A007"
        and "16分钟（限15分钟）" in by_kind["wait_over_limit"].message
    )
    assert by_kind["idle_with_queue"].evidence == (idle.id,)


def test_an_idle_stretch_counts_whole_in_the_idle_minutes(tmp_path, centre_db) -> None:
    """5 minutes up to the alert, 7 more until a customer was called: 12 idle minutes (before,
    only the alert's 5 were counted, however long the customers waited)."""
    from central.kpi import kpis
    from domain.events import CounterIdleEnded

    alert = event(
        1,
        "counter.idle_with_queue",
        CounterIdleWithQueue(counter=2, idle_s=300.0, waiting=4, teller="1002"),
    )
    ended = event(2, "counter.idle_ended",
                  CounterIdleEnded(counter=2, idle_s=720.0, after_alert_s=420.0, teller="1002"),
                  minutes=67)  # fmt: skip
    with centre_with(tmp_path, centre_db, [ended, alert]) as store:  # the end arrived first
        (row,) = kpis(store.query, store.centre, DAY, DAY, "teller")
        assert [a.kind for a in store.alerts()] == ["idle_with_queue"]
    assert (row["teller"], row["idle_minutes"], row["idle_alerts"]) == ("1002", 12.0, 1)


def test_a_pad_offline_in_business_hours(tmp_path, centre_db) -> None:
    with centre_with(tmp_path, centre_db, [closed(1)]) as store:  # pad-1 served at counter 1
        store.set_status("b1", Status("pad-1", "offline", at="2026-11-25T01:50:00+00:00"), WED_10AM)
        assert store.evaluate_alerts(WED_10AM - timedelta(hours=3)) == set()  # 07:00: closed
        assert store.evaluate_alerts(WED_10AM) == {"b1"}
        assert store.evaluate_alerts(WED_10AM + timedelta(minutes=1)) == set()  # once
        (alert,) = [a for a in store.alerts() if a.kind == "device_offline"]
    assert alert.subject == "pad-1"


def test_below_target_over_the_month(tmp_path, centre_db) -> None:
    ratings = [closed(i, rating=5 if i % 4 else 3) for i in range(1, 13)]  # 9 of 12 satisfied
    toml = "[kpi]\nmin_sample = 10\n"
    with centre_with(tmp_path, centre_db, ratings, toml) as store:
        store.evaluate_alerts(WED_10AM, targets=False)  # the ingest's other minutes
        assert [a for a in store.alerts() if a.kind == "below_target"] == []
        store.evaluate_alerts(WED_10AM)
        store.evaluate_alerts(WED_10AM + timedelta(hours=1))
        below = [a for a in store.alerts() if a.kind == "below_target"]
    assert sorted(a.subject for a in below) == ["1001", "b1"]  # the teller and the branch, once
    assert all("满意率" in a.message and "75.0%" in a.message for a in below)


CENTRE = '[[branches]]\nid = "b1"\nname = "城关支行"\n'


def test_counters_opened_late_or_closed_early(tmp_path, centre_db) -> None:
    """满点服务 on 2026-11-25 (08:30-17:00): counter 1 opens at 09:00, counter 2 closes at
    16:00 and stays closed, counter 3 keeps the hours; checked the next morning."""
    teller = TellerInfo(staff_no="1001", name="王芳")
    moves = [
        event(1, "counter.signed_in", CounterSignedIn(counter=1, teller=teller), 30),
        event(2, "counter.signed_in", CounterSignedIn(counter=2, teller=teller), 0),
        event(3, "counter.signed_out", CounterSignedOut(counter=2, teller=teller), 7 * 60 + 30),
        event(4, "counter.signed_in", CounterSignedIn(counter=3, teller=teller), 1),
        event(5, "counter.signed_out", CounterSignedOut(counter=3, teller=teller), 8 * 60 + 31),
    ]
    with centre_with(tmp_path, centre_db, moves, CENTRE) as store:
        store.evaluate_alerts(WED_10AM + timedelta(days=1))
        found = sorted((a.kind, a.subject) for a in store.alerts())
    assert found == [("closed_early", "2"), ("opened_late", "1")]


def _move(seq: int, counter: int, signed_in: bool, minutes: float, day: int = 0) -> StoredEvent:
    teller = TellerInfo(staff_no="1001", name="王芳")
    if signed_in:
        return event(seq, "counter.signed_in", CounterSignedIn(counter=counter, teller=teller),
                     minutes + day * 24 * 60)  # fmt: skip
    return event(seq, "counter.signed_out", CounterSignedOut(counter=counter, teller=teller),
                 minutes + day * 24 * 60)  # fmt: skip


def _hours(store: CentralStore) -> list[tuple[str, str, str, bool]]:
    """(kind, subject, local time in the message, open) of the 满点服务 alerts."""
    return sorted(
        (a.kind, a.subject, a.message.rsplit(" ", 1)[-1], a.acked_at is None)
        for a in store.alerts()
        if a.kind in ("opened_late", "closed_early")
    )


def _arrive(store: CentralStore, moves: list[StoredEvent], at: datetime, first_seq: int) -> None:
    for i, e in enumerate(moves, first_seq):
        store.ingest("b1", EventBatch(e.device_id, (replace(e, seq=i),), "s"), at)


def test_opened_late_is_raised_as_the_sign_in_arrives_and_withdrawn_by_an_earlier_one(
    tmp_path, centre_db
) -> None:
    """No waiting for the next day: a sign-in at 09:00 (opening 08:30) raises opened_late when
    it arrives; an 08:31 sign-in of the same counter arriving later withdraws it."""
    (tmp_path / "centre.toml").write_text(CENTRE, encoding="utf-8")
    at_nine = OPENING + timedelta(minutes=31)
    with CentralStore(centre_db, centre=load_centre_config(tmp_path / "centre.toml")) as store:
        _arrive(store, [_move(1, 1, True, 30)], at_nine, 1)
        assert _hours(store) == [("opened_late", "1", "09:00", True)]
        _arrive(store, [_move(2, 1, True, 1)], at_nine + timedelta(minutes=5), 2)  # late to arrive
        ((kind, _, _, still_open),) = _hours(store)
        assert kind == "opened_late" and not still_open
        (withdrawn,) = [a for a in store.alerts() if a.kind == "opened_late"]
        assert withdrawn.acked_by is not None and "withdrawn" in withdrawn.acked_by


def test_closed_early_is_judged_at_closing_and_withdrawn_when_later_moves_arrive(
    tmp_path, centre_db
) -> None:
    """Counter 2 signs out at 16:00 (closing 17:00) and its pad goes offline: closed_early at
    17:05 the same day. Two days later its moves arrive: back at 16:10, out at 17:00: withdrawn."""
    (tmp_path / "centre.toml").write_text(CENTRE, encoding="utf-8")
    closing = OPENING + timedelta(hours=8, minutes=30)
    with CentralStore(centre_db, centre=load_centre_config(tmp_path / "centre.toml")) as store:
        _arrive(store, [_move(1, 2, True, 0), _move(2, 2, False, 7 * 60 + 30)], closing, 1)
        store.evaluate_alerts(closing + timedelta(minutes=4))
        assert _hours(store) == []  # not before closing + grace
        store.evaluate_alerts(closing + timedelta(minutes=6))
        assert _hours(store) == [("closed_early", "2", "16:00", True)]
        later = [_move(3, 2, True, 7 * 60 + 40), _move(4, 2, False, 8 * 60 + 30)]
        _arrive(store, later, closing + timedelta(days=2), 3)
        assert _hours(store) == [("closed_early", "2", "16:00", False)]


def test_a_person_s_acknowledgement_stands_and_the_day_is_not_judged_twice(
    tmp_path, centre_db
) -> None:
    (tmp_path / "centre.toml").write_text(CENTRE, encoding="utf-8")
    later = OPENING + timedelta(hours=1)
    with CentralStore(centre_db, centre=load_centre_config(tmp_path / "centre.toml")) as store:
        _arrive(store, [_move(1, 1, True, 40)], later, 1)
        (alert,) = store.alerts()
        store.acknowledge_alert(alert.id, "张主管", later)
        _arrive(store, [_move(2, 1, True, 2)], later, 2)  # in time after all: nothing to undo
        (same,) = store.alerts()
        assert same.acked_by == "张主管" and same.message == alert.message
        for minutes in range(0, 3 * 24 * 60, 60):
            store.evaluate_alerts(later + timedelta(minutes=minutes))
        assert len(store.alerts()) == 1


@pytest.mark.parametrize("seed", range(5))
def test_the_same_moves_in_any_order_leave_the_same_alerts_open(tmp_path, centre_db, seed):
    (tmp_path / "centre.toml").write_text(CENTRE, encoding="utf-8")
    moves = [
        _move(1, 1, True, 45), _move(2, 1, False, 200), _move(3, 1, True, 3),
        _move(4, 1, False, 8 * 60 + 29), _move(5, 2, True, 0), _move(6, 2, False, 6 * 60),
        _move(7, 3, True, 90), _move(8, 3, False, 7 * 60), _move(9, 3, True, 7 * 60 + 50),
    ]  # fmt: skip
    random.Random(seed).shuffle(moves)
    after_closing = OPENING + timedelta(hours=9)
    with CentralStore(centre_db, centre=load_centre_config(tmp_path / "centre.toml")) as store:
        _arrive(store, moves, after_closing, 1)
        store.evaluate_alerts(after_closing)
        still_open = [(k, s, t) for k, s, t, is_open in _hours(store) if is_open]
    assert still_open == [("closed_early", "2", "14:30"), ("opened_late", "3", "10:00")]


def test_acknowledging_an_alert(tmp_path, centre_db) -> None:
    with centre_with(tmp_path, centre_db, [closed(1, rating=1)]) as store:
        (alert,) = store.alerts(open_only=True)
        done = store.acknowledge_alert(alert.id, "张主管", WED_10AM)
        assert done.acked_by == "张主管" and store.alerts(open_only=True) == []
        assert store.alert_state("b1", WED_10AM).open == 0
        with pytest.raises(ValueError, match="acknowledged by 张主管"):
            store.acknowledge_alert(alert.id, "李", WED_10AM)
        with pytest.raises(LookupError):
            store.acknowledge_alert(999, "李", WED_10AM)


def test_alerts_are_published_retained_within_seconds(mqtt_broker, tmp_path: Path) -> None:
    broker = mqtt_broker(acl=roster("pad-1"))
    centre = start_centre(broker, tmp_path / "centre.sqlite")
    alerts_topic = topics.topic(topics.Kind.ALERTS, BRANCH)
    try:
        with ProbeClient(broker, "pad-1") as pad:
            bad = replace(closed(1, rating=1), wall=datetime.now(UTC))
            sent = time.monotonic()
            pad.publish(
                topics.events(BRANCH, "pad-1"), schema.encode_batch("pad-1", [bad], store=STORE)
            )
            with ProbeClient(broker, MONITOR) as watcher:
                watcher.subscribe(alerts_topic)
                message = watcher.wait_for_message(alerts_topic, timeout=5)
            latency = time.monotonic() - sent
    finally:
        centre.stop()
    state = schema.parse_alerts(bytes(message.payload))
    assert (state.branch, state.open, [a.kind for a in state.alerts]) == (BRANCH, 1, ["bad_rating"])
    assert message.retain and latency < 5


def test_the_same_ticket_number_waits_too_long_in_two_branches(tmp_path, centre_db) -> None:
    at = Instant(1.0, OPENING, "b")
    ticket = QueuedTicket(
        id="20261125-A007", number="A007", business_type="cash", business_day=DAY, serial=7,
        issued_at=at, queued_at=at,
    )  # fmt: skip
    waited = event(1, "ticket.wait_over_limit", TicketWaitOverLimit(ticket=ticket, waited_s=960.0))
    with centre_with(tmp_path, centre_db, [waited]) as store:
        other = replace(waited, id="0193a9c0-0000-7000-8000-000000777777", device_id="ctl-2")
        store.ingest("b2", EventBatch("ctl-2", (other,), "s"), RECEIVED)
        found = sorted((a.branch, a.subject) for a in store.alerts())
    assert found == [("b1", "A007"), ("b2", "A007")]


def test_a_retained_offline_status_delivered_again_is_one_alert(tmp_path, centre_db) -> None:
    """The last will carries no time: each redelivery (a reconnect) looks like a new status."""
    with centre_with(tmp_path, centre_db, [closed(1)]) as store:
        for minutes in (0, 30):
            seen = WED_10AM + timedelta(minutes=minutes)
            store.set_status("b1", Status("pad-1", "offline"), seen)
            store.evaluate_alerts(seen)
        assert [a.kind for a in store.alerts()].count("device_offline") == 1


def test_a_burst_closed_by_good_ratings_is_raised(tmp_path, centre_db) -> None:
    """Two bad then two good ratings within three minutes: half of four are bad."""
    ratings = [closed(1, rating=1), closed(2, rating=2), closed(3, rating=5), closed(4, rating=5)]
    with centre_with(tmp_path, centre_db, ratings) as store:
        assert kinds(store) == ["bad_burst", "bad_rating", "bad_rating"]


def test_each_closing_is_judged_once_not_every_minute(tmp_path) -> None:
    """The minute-by-minute evaluation reads a counter-day only when its closing has just passed
    (before, every counter-day of the last days was read again each minute, under the lock)."""
    (tmp_path / "centre.toml").write_text(CENTRE, encoding="utf-8")
    closing = OPENING + timedelta(hours=8, minutes=30)
    db = str(tmp_path / "centre.sqlite")
    with CentralStore(db, centre=load_centre_config(tmp_path / "centre.toml")) as store:
        _arrive(store, [_move(1, 2, True, 0), _move(2, 2, False, 7 * 60)], OPENING, 1)
        reads: list[str] = []
        store._conn._conn.set_trace_callback(  # type: ignore[attr-defined]
            lambda sql: (
                reads.append(sql) if "FROM counter_days" in sql and str(DAY) in sql else None
            )
        )
        for minute in range(0, 3 * 60):
            store.evaluate_alerts(closing + timedelta(minutes=minute), targets=False)
        assert len(reads) == 1 and [a.kind for a in store.alerts()] == ["closed_early"]


def test_the_ingest_keeps_no_index_of_every_event_s_time(centre_db) -> None:
    """It updated it for each event stored, at random places, and nothing reads events by time:
    the 满点服务 check reads counter_days (central/opening.py)."""
    with CentralStore(centre_db) as store:
        if store.dialect == "sqlite":
            indexes = {
                r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'index'")
            }
        else:
            indexes = {r[0] for r in store.query("SELECT indexname FROM pg_indexes")}
    assert "events_wall" not in indexes and "alerts_open" in indexes


def test_the_burst_rule_reads_only_its_window_by_index(centre_db) -> None:
    """The burst rule runs for every rating stored: it seeks the ratings of its window by the
    index of ratings by time (schema 11), on both databases, not every transaction of the day;
    a version 10 database gets the index when opened."""
    from central.alerts import BURST_RATINGS
    from central.store import SCHEMA_VERSION

    def plan(store: CentralStore) -> str:
        if store._conn.dialect == "postgresql":
            store._conn.execute("SET enable_seqscan = off")  # an empty table: no scan chosen
            sql = "EXPLAIN "
        else:
            sql = "EXPLAIN QUERY PLAN "
        params = ("b1", "2026-11-25", "2026-11-25T10:00", "2026-11-25T10:30")
        return " ".join(str(cell) for row in store.query(sql + BURST_RATINGS, params)
                        for cell in row)  # fmt: skip

    with CentralStore(centre_db) as store:
        assert "transactions_rated" in plan(store)
        store._conn.execute("DROP INDEX transactions_rated")
        store._conn.execute("UPDATE meta SET schema_version = 10")
    with CentralStore(centre_db) as store:
        assert store.query("SELECT schema_version FROM meta") == [(SCHEMA_VERSION,)]
        assert "transactions_rated" in plan(store)
