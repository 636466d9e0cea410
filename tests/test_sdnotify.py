"""systemd's notify protocol: ready, stopping, and a watchdog pinged only while a main loop turns.

A real datagram socket stands in for systemd's (``NOTIFY_SOCKET``); the apps are the real ones
(a board with SDL's dummy driver, the centre's ingest on a real broker).
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from support.sdnotify import Notifier, Service, Watchdog, watchdog_interval
from tests.factories import make_config
from tests.mqtt_broker import broker as broker  # pytest fixture
from tests.sync_harness import CENTRE, connection_settings


class FakeSystemd:
    """The receiving end of ``NOTIFY_SOCKET``: every datagram, as received."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.address = path
        self.messages: list[tuple[float, str]] = []

    def environ(self, watchdog_s: float | None = None) -> dict[str, str]:
        env = {"NOTIFY_SOCKET": self.address}
        if watchdog_s is not None:
            env["WATCHDOG_USEC"] = str(int(watchdog_s * 1_000_000))
            env["WATCHDOG_PID"] = str(os.getpid())
        return env

    def collect(self, seconds: float) -> list[str]:
        """What arrives within ``seconds``."""
        got = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data))
            got.append(data)
        return got

    def wait_for(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(text in m for m in self.collect(0.1)):
                return True
        return False


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(str(tmp_path / "notify"))
    yield fake
    fake.sock.close()


def test_outside_systemd_nothing_is_sent():
    service = Service(environ={})
    assert not service.notifier.enabled and not service.watchdog.enabled
    service.ready()
    service.progress()
    assert service.notifier.send("READY=1") is False


def test_ready_status_and_stopping_arrive(systemd):
    notifier = Notifier(systemd.address)
    assert notifier.ready("serving") and notifier.stopping()
    assert systemd.collect(0.2) == ["READY=1\nSTATUS=serving", "STOPPING=1"]


def test_an_abstract_socket_is_reached():
    name = f"counterside-test-{uuid.uuid4().hex}"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind("\0" + name)
    receiver.settimeout(2)
    try:
        assert Notifier("@" + name).send("WATCHDOG=1")
        assert receiver.recv(100) == b"WATCHDOG=1"
    finally:
        receiver.close()


def test_a_missing_socket_is_said_once_and_does_not_raise(tmp_path, caplog):
    notifier = Notifier(str(tmp_path / "gone"))
    assert not notifier.send("WATCHDOG=1") and not notifier.send("WATCHDOG=1")
    assert len([r for r in caplog.records if "notify socket" in r.getMessage()]) == 1


def test_the_watchdog_interval_is_for_this_process_only():
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({}) is None


def test_pings_go_out_once_a_second_however_fast_the_loop_turns(systemd):
    now = [0.0]
    dog = Watchdog(Notifier(systemd.address), 60.0, clock=lambda: now[0])
    for _ in range(100):  # a loop turning 100 times within a second: one ping
        dog.progress()
        now[0] += 0.0099
    assert dog.pings == 1
    now[0] = 1.0
    dog.progress()
    dog.progress()
    assert dog.pings == 2
    assert systemd.collect(0.2) == ["WATCHDOG=1", "WATCHDOG=1"]


def test_a_loop_never_stalled_for_the_interval_is_never_left_without_a_ping(systemd):
    """Turns at 0, 29 and 61 s with WatchdogSec=60: the longest stall is 32 s, so the pings must
    not be 61 s apart (with a ping only every half interval they were)."""
    now = [0.0]
    sent: list[float] = []
    dog = Watchdog(Notifier(systemd.address), 60.0, clock=lambda: now[0])
    for t in (0.0, 29.0, 61.0):
        now[0] = t
        before = dog.pings
        dog.progress()
        if dog.pings > before:
            sent.append(t)
    assert max(b - a for a, b in itertools.pairwise(sent)) <= 32.0


@pytest.mark.parametrize("stuck", ["frame loop", "queue service"])
def test_a_frozen_frame_loop_stops_pinging_and_a_turning_one_pings(systemd, tmp_path, stuck):
    """The hall board's real frame loop: pings while frames are drawn, none while one frame
    hangs (other threads still run), or while the queue service it runs is stuck (frames still
    drawn), pings again once it turns."""
    from device.launch import launch
    from domain.counter import Teller

    frozen = threading.Event()
    thawed = threading.Event()
    stop = threading.Event()
    failed: list[BaseException] = []
    service = Service(environ=systemd.environ(watchdog_s=0.2))

    def board() -> None:  # pygame and the store belong to the thread that opens them
        try:
            launched = launch(
                make_config(), db=tmp_path / "board.sqlite", panels=["board"], counter=None,
                teller=Teller("", ""), silent=True,
            )  # fmt: skip
        except BaseException as exc:
            failed.append(exc)
            raise
        app = launched.app
        render = app.render

        def render_or_hang():
            if frozen.is_set() and stuck == "frame loop":
                thawed.wait(10)
                frozen.clear()
            if stop.is_set():
                app.running = False
            return render()

        app.render = render_or_hang  # type: ignore[method-assign]
        if stuck == "queue service":  # as launch() asks a controller's app
            app.healthy = lambda: not frozen.is_set()
        try:
            app.run(fps=30, service=service)
        finally:
            launched.close()

    loop = threading.Thread(target=board, daemon=True)
    loop.start()
    try:
        assert systemd.wait_for("READY=1", 20), failed
        assert systemd.collect(1.0).count("WATCHDOG=1") >= 3  # one per 0.1 s while frames are drawn
        frozen.set()
        systemd.collect(0.2)  # a frame already under way may still ping
        assert systemd.collect(1.0) == []  # frozen: no ping for 5 watchdog periods
        thawed.set()
        frozen.clear()
        assert systemd.collect(1.0).count("WATCHDOG=1") >= 3
    finally:
        thawed.set()
        stop.set()
        loop.join(10)
    assert not loop.is_alive()
    assert systemd.collect(0.2)[-1:] == ["STOPPING=1"]


def test_a_stuck_ingest_stops_pinging(systemd, tmp_path, broker):
    """The centre's store thread pings each time round; stuck in the database, it does not."""
    from central.ingest import CentralIngest
    from sync.settings import IngestSettings

    service = Service(environ=systemd.environ(watchdog_s=0.2))
    settings = connection_settings(broker, CENTRE)
    turning = IngestSettings(resend_interval_s=0.1)  # idle, the store thread turns every 0.1 s
    ingest = CentralIngest(
        tmp_path / "centre.sqlite", settings, turning, on_progress=service.progress
    )
    stuck = threading.Event()
    free = threading.Event()
    step = ingest._step

    def step_or_hang(store):
        if stuck.is_set():
            free.wait(10)
        return step(store)

    ingest._step = step_or_hang  # type: ignore[method-assign]
    ingest.start()
    try:
        assert systemd.collect(1.0).count("WATCHDOG=1") >= 3
        stuck.set()
        systemd.collect(0.3)  # the step under way ends, then the next hangs
        assert systemd.collect(1.0) == []
        stuck.clear()
        free.set()
        assert systemd.collect(1.0).count("WATCHDOG=1") >= 3
    finally:
        free.set()
        ingest.stop()
