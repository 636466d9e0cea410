"""The device app with a real store: a restart (or power cut) rebuilds everything from events."""

from device.app import DeviceApp
from device.simulation import Simulation
from device.store import EventStore
from domain.branch import Key
from domain.clock import ManualClock
from domain.counter import State, Teller


def test_a_restart_rebuilds_queue_and_counters_and_numbering_carries_on(config, tmp_path):
    clock = ManualClock()
    path = tmp_path / "device.sqlite"
    with EventStore(path, "dev-1") as store:
        app = DeviceApp(config, store, clock)
        app.press(1, Key.SIGN_IN, Teller("1001", "张三"))
        app.press(2, Key.SIGN_IN, Teller("1002", "李四"))
        for code in ("cash", "cash", "general", "cash"):
            app.issue(code)
        app.press(1, Key.CALL_NEXT)
        app.press(1, Key.START)
        app.press(2, Key.CALL_NEXT)
        app.press(2, Key.FINISH)  # counter 2 waits for its rating when the power goes
        before = app.branch.snapshot()

    clock.reboot("boot-2", downtime_s=30)
    with EventStore(path, "dev-1") as store:
        app = DeviceApp(config, store, clock)
        assert app.branch.snapshot() == before
        assert app.branch.sessions[1].state is State.SERVING
        assert store.events()[-1].type == "device.started"
        ticket, _ = app.issue("cash")
        assert ticket.number == "A004"  # not A001 again
        clock.advance(3)
        (press,) = [e for e in app.press(2, Key.RATE, 5) if e.type == "rating.press"]
        assert press.payload["outcome"] == "out_of_window"  # 30 s of power cut > 10 s window


def test_a_simulated_morning_survives_a_restart_midway(config, tmp_path):
    clock = ManualClock()
    path = tmp_path / "device.sqlite"
    with EventStore(path, "dev-1") as store:
        app = DeviceApp(config, store, clock)
        sim = Simulation(app, clock, customers=30, seed=7)
        sim.sign_in()
        for _ in range(900):
            sim.step()
        before = app.branch.snapshot()
    with EventStore(path, "dev-1") as store:
        assert DeviceApp(config, store, clock).branch.snapshot() == before


def test_a_failing_listener_does_not_stop_the_counter(config, tmp_path):
    clock = ManualClock()
    with EventStore(tmp_path / "d.sqlite", "dev-1") as store:
        app = DeviceApp(config, store, clock)
        app.subscribe(lambda event: 1 / 0)
        _, events = app.issue("cash")
        assert [e.type for e in events] == ["ticket.issued"]
        assert store.last_seq() == 2  # device.started + ticket.issued


def test_a_restart_days_later_and_a_removed_business_type_still_works(config, tmp_path):
    """Signed in three days ago, a ticket of a business type the new configuration dropped:
    the device starts as it was (the teller's name too), shows and ticks instead of crashing."""
    from dataclasses import replace

    clock = ManualClock()
    path = tmp_path / "device.sqlite"
    with EventStore(path, "dev-1") as store:
        app = DeviceApp(config, store, clock)
        app.press(1, Key.SIGN_IN, Teller("1001", "张三"))
        clock.advance(3 * 86400)
        app.issue("corporate")
        app.issue("cash")
        app.press(1, Key.CALL_NEXT)
    fewer = replace(config, business_types=tuple(b for b in config.business_types
                                                 if b.code != "corporate"))  # fmt: skip
    with EventStore(path, "dev-1") as store:
        app = DeviceApp(fewer, store, clock)
        session = app.branch.sessions[1]
        assert (session.state, session.teller) == (State.CALLED, Teller("1001", "张三"))
        assert app.branch.queue.waiting_counts()["corporate"] == 1
        clock.advance(3600)
        app.tick()  # no KeyError for the dropped type
        app.press(1, Key.FINISH)
        assert session.state is State.AWAITING_RATING


def test_a_second_process_on_the_same_store_is_refused_with_a_clear_message(config, tmp_path):
    """Kiosk and counter as two processes on one store without MQTT: the second would never see
    the first one's tickets (both would call A001), so it is refused (issue 7, item 6)."""
    import subprocess
    import sys

    import pytest

    from device.store import StoreError

    path = tmp_path / "shared.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from device.store import EventStore\n"
            f"s = EventStore({str(path)!r}, 'dev-1'); s.claim('branch')\n"
            "print('held', flush=True); sys.stdin.read(); s.close()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        with EventStore(path, "dev-1") as store, pytest.raises(StoreError) as refused:
            DeviceApp(config, store, ManualClock())
        message = str(refused.value)
        assert (
            f"process {holder.pid}" in message and "already in use as the branch store" in message
        )
        assert "in one process" in message
    finally:
        holder.communicate("", timeout=30)
    with EventStore(path, "dev-1") as store:  # the first one is gone: the store is free again
        DeviceApp(config, store, ManualClock()).issue("cash")
        assert store.events()[-1].type == "ticket.issued"
