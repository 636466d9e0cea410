"""Retention: acknowledged events older than ``[mqtt] keep_acked_days`` leave the device's
store, once a day; what is not acknowledged stays, and a restart afterwards rebuilds the same
branch (from the checkpoint, and by replaying what is kept)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_config
from config.model import MqttConfig
from device.app import DeviceApp, restore_branch
from device.link import Link, open_link
from device.retention import RetentionThread, prune_old
from device.store import EventStore
from domain.branch import Key
from domain.clock import ManualClock
from domain.counter import Teller
from domain.events import DeviceHeartbeat, event
from tests.mqtt_broker import free_port

DEVICE = "dev-1"
TELLER = Teller("1001", "张三", 4)
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai


def beat(clock: ManualClock):
    return event(clock.now(), DeviceHeartbeat(minute=clock.now().wall.isoformat()))


def test_only_acknowledged_events_older_than_the_days_kept_are_deleted(tmp_path: Path) -> None:
    clock = ManualClock(wall=START)
    with EventStore(tmp_path / "d.sqlite", DEVICE) as store:
        for _ in range(50):  # one event a day, days 0..49
            store.append(beat(clock))
            clock.advance(86400)
        store.ack(45)  # 46..50 not acknowledged
        # now is day 50: the days 20..49 (seqs 21..50) are within 30 days, 0..19 are older
        assert prune_old(store, clock, 30) == 20  # day 20 is exactly 30 days old and stays
        assert [e.seq for e in store.events()][:2] == [21, 22]
        assert store.pruned_seq() == 20
        assert prune_old(store, clock, 30) == 0  # a second prune the same day finds nothing

        clock.advance(100 * 86400)  # everything is old now, but 46..50 are not acknowledged
        assert prune_old(store, clock, 30) == 25
        assert [e.seq for e in store.events()] == [46, 47, 48, 49, 50]
        assert store.pruned_seq() == 45 and store.last_seq() == 50
        assert store.verify().ok


def test_the_thread_prunes_after_its_delay_and_then_each_period(tmp_path: Path) -> None:
    clock, path = ManualClock(wall=START), tmp_path / "d.sqlite"
    with EventStore(path, DEVICE) as store:
        for _ in range(40):
            store.append(beat(clock))
            clock.advance(86400)
        store.ack(40)
    counts: list[int] = []
    pruned = threading.Event()

    def on_pruned(n: int) -> None:
        counts.append(n)
        if len(counts) == 2:
            pruned.set()

    thread = RetentionThread(path, DEVICE, clock, 30, first_s=0.01, every_s=0.05,
                             on_pruned=on_pruned)  # fmt: skip
    thread.start()
    try:
        assert pruned.wait(10), counts
    finally:
        thread.stop()
    assert counts[:2] == [10, 0]  # days 0..9 (seq 1..10) are over 30 days old; then nothing new
    with EventStore(path, DEVICE) as store:
        assert store.events()[0].seq == 11


def _serve_a_day(app: DeviceApp, clock: ManualClock, sign_out: bool = True) -> None:
    app.press(1, Key.SIGN_IN, TELLER)
    for _ in range(2):
        app.issue("cash")
        app.press(1, Key.CALL_NEXT)
        app.press(1, Key.START)
        clock.advance(120)
        app.press(1, Key.FINISH)
        app.press(1, Key.RATE, 5)
        clock.advance(30)
        app.tick()
    if sign_out:
        app.press(1, Key.SIGN_OUT)


def test_a_restart_after_pruning_rebuilds_the_same_branch(config, tmp_path: Path) -> None:
    clock, path = ManualClock(wall=START), tmp_path / "d.sqlite"
    store = EventStore(path, DEVICE)
    app = DeviceApp(config, store, clock)
    for _ in range(45):
        _serve_a_day(app, clock)
        clock.advance(86400 - 2 * 150)
        app.tick()
    _serve_a_day(app, clock, sign_out=False)  # today: the teller is still at the counter
    app.issue("cash")  # and a customer waits
    before = app.branch.to_state()
    snapshot = app.branch.snapshot()
    store.ack(store.last_seq())
    kept_from = store.events()[0].seq
    assert prune_old(store, clock, 30) > 0
    assert min(e.at.wall for e in store.events()) >= clock.now().wall - timedelta(days=30)
    assert store.events()[0].seq > kept_from
    store.close()

    store = EventStore(path, DEVICE)  # from the checkpoint
    app = DeviceApp(config, store, clock)
    assert app.branch.to_state()["queue"] == before["queue"]
    assert app.branch.to_state()["sessions"] == before["sessions"]
    store.close()

    with closing(sqlite3.connect(path)) as conn:  # a checkpoint this version cannot read
        conn.execute("DELETE FROM checkpoint_items")
        conn.execute("DELETE FROM checkpoints")
        conn.commit()
    with EventStore(path, DEVICE) as store:
        branch, how = restore_branch(config, store, clock.now().boot)
        assert how["checkpoint_seq"] is None and how["replayed"] == len(store.events())
        # the same queue in the same order; ``pos`` counts arrivals since the first event kept,
        # so a replay of a pruned log numbers them from lower (only their order matters)
        assert _positions_dropped(branch.snapshot()) == _positions_dropped(snapshot)


def _positions_dropped(snapshot: dict) -> dict:
    queue = dict(snapshot["queue"], next_pos=None)
    queue["entries"] = [dict(e, pos=None) for e in queue["entries"]]
    return dict(snapshot, queue=queue)


@pytest.mark.parametrize(
    ("days", "problem"),
    [
        (7, "must be 0 (keep every event) or at least 30, got 7"),
        (-1, "must be between 0 and 3650, got -1"),
        (4000, "must be between 0 and 3650, got 4000"),
    ],
)
def test_the_days_kept_are_none_or_at_least_thirty(tmp_path: Path, days: int, problem) -> None:
    path = tmp_path / "counterside.toml"
    path.write_text(f"[mqtt]\nkeep_acked_days = {days}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: mqtt.keep_acked_days: {problem}"
    path.write_text("[mqtt]\nkeep_acked_days = 30\n", encoding="utf-8")
    assert load_config(path).mqtt.keep_acked_days == 30
    assert load_config().mqtt.keep_acked_days == 0  # shipped: keep every event


def _link(tmp_path: Path, keep_acked_days: int = 0) -> Link:
    """A device's link to a broker that is not there (it keeps trying)."""
    settings = MqttConfig(
        enabled=True, host="127.0.0.1", port=free_port(), tls=False,
        keep_acked_days=keep_acked_days,
    )  # fmt: skip
    link = open_link(
        replace(load_config(), mqtt=settings), db=tmp_path / "d.sqlite", clock=ManualClock(),
        base_files=[], state_dir=tmp_path, client=False,
    )  # fmt: skip
    assert link is not None
    return link


def test_the_link_prunes_with_the_configured_days(tmp_path: Path) -> None:
    link = _link(tmp_path, keep_acked_days=45)
    try:
        assert link.retention is not None and link.retention.keep_days == 45
        assert link.retention._thread.is_alive()
    finally:
        link.stop()
    assert not link.retention._thread.is_alive()


def test_the_link_deletes_nothing_unless_asked(tmp_path: Path) -> None:
    link = _link(tmp_path)
    try:
        assert link.retention is None
        assert not any(t.name.startswith("retention-") for t in threading.enumerate())
    finally:
        link.stop()
