"""A branch as deployed: a controller Pi owns the queue, a counter Pi with its pad, console and
kiosk asks it over the broker, and the centre ingests both; all real processes' parts, real TLS.

The counter issues at its kiosk, calls, serves and gets a rating; the centre ends up holding
both devices' events exactly once. Then the controller goes away: the counter's call is
refused with ``queue_unavailable``, the console says so, and a ticketless service still rates.
"""

import os
import threading

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from dataclasses import replace

import pygame
import pytest

from central.store import CentralStore
from config.loader import load_config
from config.model import MqttConfig
from device.app import DeviceApp
from device.link import open_link
from device.runtime import PanelApp
from device.store import EventStore
from drivers.keys import KeyQueue
from drivers.voice import RecordingAnnouncer
from sync.acl import Identity, Role
from tests.clocks import DaytimeClock
from tests.mqtt_broker import mqtt_broker as mqtt_broker
from tests.sync_harness import CENTRE, start_centre, wait_until

BRANCH = "demo-branch"
CONTROLLER, COUNTER, BOARD = "ctl-1", "pad-1", "board-1"


def device_config(broker, name: str, roles: tuple[str, ...]):
    base = load_config()
    cert, key = broker.client_cert(name)
    mqtt = MqttConfig(
        enabled=True,
        host=broker.host,
        port=broker.tls_port,
        ca=str(broker.ca_path),
        cert=str(cert),
        key=str(key),
        keepalive_s=5,
        queue_timeout_s=1.0,
    )
    device = replace(base.device, branch_id=BRANCH, device_id=name, roles=roles, counter=1)
    return replace(base, device=device, mqtt=mqtt)


@pytest.fixture
def branch(mqtt_broker, tmp_path):
    broker = mqtt_broker(
        acl=[
            Identity(None, CENTRE, Role.CENTRAL),
            Identity(BRANCH, CONTROLLER, Role.CONTROLLER),
            Identity(BRANCH, COUNTER, Role.COUNTER),
            Identity(BRANCH, BOARD, Role.COUNTER),
        ]
    )
    clock = DaytimeClock()  # real time, on a day that cannot end during the test
    centre = start_centre(broker, tmp_path / "centre.sqlite")
    ctl_config = device_config(broker, CONTROLLER, ("controller",))
    controller = open_link(
        ctl_config,
        db=tmp_path / "ctl.sqlite",
        clock=clock,
        base_files=[],
        state_dir=tmp_path / "ctl",
        client=False,
    )
    pad_config = device_config(broker, COUNTER, ("counter",))
    link = open_link(
        pad_config,
        db=tmp_path / "pad.sqlite",
        clock=clock,
        base_files=[],
        state_dir=tmp_path / "pad",
        counters=[1],
    )
    assert controller is not None and link is not None and link.queue is not None
    queue = link.queue
    store = EventStore(tmp_path / "pad.sqlite", COUNTER)
    device = DeviceApp(pad_config, store, clock, queue=queue)
    device.subscribe(link.notify)
    pygame.display.init()
    pygame.font.init()
    app = PanelApp(
        pad_config,
        device,
        pygame.Surface((1200, 240)),
        panels=["kiosk", "pad", "console"],
        counter=1,
        announcer=RecordingAnnouncer(texts=pad_config.texts),
    )
    wait_until(lambda: queue.state is not None, 15, "the queue state from the controller")
    app.broker = broker  # type: ignore[attr-defined]  # for a test that adds a hall board
    yield app, controller, link, store, tmp_path
    link.stop()
    controller.stop()
    centre.stop()
    store.close()  # pygame stays initialised: the screens' font cache outlives a test


def events_at_centre(path, device):
    with CentralStore(path) as central:
        return central.contiguous(device), central.event_count(device)


def test_issue_call_serve_rate_across_the_branch_and_the_centre_holds_it_all(branch):
    app, _controller, link, store, tmp = branch
    app.press("test", "sign_in")
    app.step()
    issued = app.issue("cash")
    assert issued is not None and issued.number == "A001"
    app.press("test", "call_next")
    app.step()
    session = app.device.branch.sessions[1]
    assert session.state == "called" and session.current.ticket.number == "A001"
    for key, arg in (("start", None), ("finish", None), ("rate", 5)):
        app.press("test", key, arg)
        app.step()
    assert session.state == "idle" and session.last_closed.rating == 5
    assert link.queue.flush(5), "served was not delivered to the queue service"

    last_pad = store.last_seq()
    wait_until(
        lambda: events_at_centre(tmp / "centre.sqlite", COUNTER)[0] >= last_pad,
        20,
        "the counter's events at the centre",
    )
    wait_until(
        lambda: events_at_centre(tmp / "centre.sqlite", CONTROLLER)[0] >= 3,
        20,
        "the controller's queue events at the centre",
    )
    with CentralStore(tmp / "centre.sqlite") as central:
        contiguous, count = central.contiguous(COUNTER), central.event_count(COUNTER)
        assert contiguous == count  # exactly once, no gaps
        ctl = central.event_count(CONTROLLER)
    print(f"centre holds {count} counter events and {ctl} controller events")


def test_without_the_controller_the_counter_serves_ticketless_and_says_so(branch):
    app, controller, _link, store, _tmp = branch
    app.press("test", "sign_in")
    app.step()
    controller.stop()
    app.press("test", "call_next")
    app.step()
    assert app.queue_available is False
    assert "without a ticket" in app.message or "unreachable" in app.message
    rejected = [e for e in store.events() if e.type == "action.rejected"]
    assert rejected[-1].payload["queue_unavailable"] is True
    for key, arg in (("ticketless", None), ("finish", None), ("rate", 4)):
        app.press("test", key, arg)
        app.step()
    closed = [e for e in store.events() if e.type == "transaction.closed"]
    assert closed[-1].payload["ticket"] is None and closed[-1].payload["rating"] == 4


def test_a_call_wakes_the_hall_board_at_once(branch):
    app, _controller, _link, _store, tmp = branch
    config = device_config(app.broker, BOARD, ("counter",))
    board = open_link(config, db=tmp / "board.sqlite", clock=DaytimeClock(), base_files=[],
                      state_dir=tmp / "board")  # fmt: skip
    assert board is not None
    keys = KeyQueue()
    try:
        board.watch_calls(wake=keys.wake)
        # calls are not kept for a board that subscribes late (it shows what comes after)
        assert board.connection.wait_subscribed(10)
        app.press("test", "sign_in")
        app.step()
        app.issue("cash")
        waited: list[float] = []
        waiter = threading.Thread(target=lambda: waited.append(keys.wait(30)))
        waiter.start()
        app.press("test", "call_next")
        app.step()
        waiter.join(30)
        assert waited == [True]  # woken by the call, long before the 30 s were up
        assert board.calls.get(timeout=1) == ("A001", 1) and len(keys) == 0
    finally:
        board.stop()
