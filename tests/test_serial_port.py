"""The reconnecting serial port over a real pseudo-terminal pair: serving, a port that vanishes
and comes back, one warning per outage, close at any moment.

The test plays the device on the pty master; the port opens the slave (or a link to it, the way
``/dev/serial/by-id/...`` points at ``/dev/ttyUSB0``) like a USB-RS485 adapter.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from drivers.serial_port import PortState, SerialPort
from support.backoff import Backoff
from tests.serial_pty import ByIdLink, PtyPair, wait_until

FAST = Backoff(0.01, 0.05, jitter=0.0)


class Device:
    """What a driver would do: collect what arrives, count the opens; a bug at one call."""

    def __init__(self, bug_at_call: int = 0) -> None:
        self.received = bytearray()
        self.opened = self.calls = 0
        self.bug_at_call = bug_at_call
        self.lock = threading.Lock()

    def serve(self, port: SerialPort) -> None:
        self.calls += 1
        if self.calls == self.bug_at_call:
            raise RuntimeError("a bug in the protocol")
        data = port.read()
        with self.lock:
            self.received += data

    def on_open(self, port: SerialPort) -> None:
        self.opened += 1
        port.write(b"hello %d" % self.opened)

    def got(self, data: bytes) -> bool:
        with self.lock:
            return data in self.received


def port_for(path: str | Path, device: Device, **kw) -> SerialPort:
    return SerialPort(str(path), serve=device.serve, on_open=device.on_open, **kw)


def io_thread_alive(port: SerialPort) -> bool:
    return any(t.name == port.name and t.is_alive() for t in threading.enumerate())


def test_serves_an_open_port_and_writes_from_any_thread(pty_pair: PtyPair) -> None:
    device = Device()
    port = port_for(pty_pair.path, device, name="bus under test")
    assert (port.state, port.write(b"too early")) == (PortState.IDLE, False)
    with port:
        wait_until(lambda: port.connected, "the port to open")
        assert port.state is PortState.OPEN
        pty_pair.write(b"\x02 from the device \x03")
        wait_until(lambda: device.got(b"\x02 from the device \x03"), "the bytes to arrive")
        assert port.write(b"from the app")
        wait_until(lambda: b"hello 1from the app" in pty_pair.received(), "the writes")
    assert (port.state, port.connected) == (PortState.CLOSED, False)
    assert not port.write(b"too late")
    assert not io_thread_alive(port)
    assert (port.stats.opens, port.stats.disconnects, port.stats.errors) == (1, 0, 0)
    port.close()  # idempotent
    with pytest.raises(RuntimeError):
        port.start()


def test_a_vanished_port_is_reopened_when_it_comes_back(tmp_path: Path) -> None:
    device = Device()
    with ByIdLink(tmp_path / "ttyBUS") as link, port_for(link.path, device, reconnect=FAST) as port:
        first = link.plug()
        wait_until(lambda: port.connected, "the port to open")
        first.write(b"one")
        wait_until(lambda: device.got(b"one"), "bytes on the first port")
        failures = port.stats.open_failures  # while the link pointed nowhere yet
        first.unplug()
        wait_until(lambda: port.stats.disconnects == 1, "the port to notice the unplug")
        wait_until(lambda: port.stats.open_failures >= failures + 2, "attempts to reopen")
        assert port.state is PortState.OPENING and not port.write(b"lost")
        second = link.plug()
        wait_until(lambda: port.connected, "the port to reopen")
        second.write(b"two")
        wait_until(lambda: device.got(b"two"), "bytes on the second port")
        # on_open ran again; its greeting crosses the pty on the collector's own time
        wait_until(lambda: second.received().startswith(b"hello 2"), "the greeting on reopen")
        assert (port.stats.opens, device.opened, port.stats.errors) == (2, 2, 0)


def test_a_failed_write_reopens_a_port_that_is_never_read(tmp_path: Path) -> None:
    """A write-only driver (the LED display) notices a lost port by its writes alone."""
    idle = threading.Event()
    with ByIdLink(tmp_path / "ttyLED") as link:
        first = link.plug()
        with SerialPort(str(link.path), serve=lambda port: idle.wait(0.01), reconnect=FAST) as port:
            wait_until(lambda: port.connected, "the port to open")
            assert port.write(b"shown")
            first.unplug()
            second = link.plug()
            wait_until(lambda: not port.write(b"lost?"), "a write to fail")
            wait_until(lambda: port.stats.disconnects == 1, "the port to be dropped")
            wait_until(lambda: port.connected and port.write(b"again"), "the port to reopen")
            wait_until(lambda: b"again" in second.received(), "the write on the new port")
            assert port.stats.opens == 2


def test_each_outage_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="drivers.serial_port")

    def logged(low: int, high: int = logging.CRITICAL) -> list[str]:
        records = [r for r in caplog.records if r.name == "drivers.serial_port"]
        return [r.getMessage() for r in records if low <= r.levelno <= high]

    def warnings() -> list[str]:
        return logged(logging.WARNING)

    with ByIdLink(tmp_path / "ttyLATER") as link:
        with port_for(link.path, Device(), name="bus", reconnect=FAST) as port:
            wait_until(lambda: port.stats.open_failures >= 5, "five failed attempts")
            assert len(warnings()) == 1 and warnings()[0].startswith("bus: cannot open port")
            first = link.plug()
            wait_until(lambda: port.connected, "the port to open")
            opened = logged(logging.INFO, logging.INFO)
            assert len(opened) == 1 and opened[0].startswith("bus: port open after ")
            failures = port.stats.open_failures
            first.unplug()
            wait_until(lambda: port.stats.open_failures >= failures + 5, "five more failures")
            assert len(warnings()) == 2 and warnings()[1].startswith("bus: port lost")
            second = link.plug()
            wait_until(lambda: port.stats.opens == 2, "the port to reopen")
            failures = port.stats.open_failures
            second.unplug()  # a new outage, a new warning
            wait_until(lambda: port.stats.open_failures >= failures + 3, "failures again")
            assert len(warnings()) == 3 and warnings()[2].startswith("bus: port lost")
        assert len(warnings()) == 3  # closing is no outage


def test_close_while_waiting_to_reopen_returns_at_once(tmp_path: Path) -> None:
    patient = Backoff(600.0, 600.0, jitter=0.0)  # if close() did not wake it: ten minutes
    port = port_for(tmp_path / "missing", Device(), name="patient bus", reconnect=patient)
    port.start()
    wait_until(lambda: port.stats.open_failures == 1, "the first failed attempt")
    port.close()
    assert not io_thread_alive(port)
    assert port.state is PortState.CLOSED and port.stats.opens == 0


def test_close_while_reading_returns_at_once(pty_pair: PtyPair) -> None:
    port = SerialPort(pty_pair.path, serve=lambda port: port.read(), read_timeout=600.0)
    port.start()
    wait_until(lambda: port.connected, "the port to open")
    port.close()
    assert not io_thread_alive(port)


def test_close_wakes_a_serve_that_waits_for_something_of_its_own(pty_pair: PtyPair) -> None:
    news = threading.Event()  # the display waits for a new state like this
    port = SerialPort(pty_pair.path, serve=lambda port: news.wait(600.0), wake=news.set)
    port.start()
    wait_until(lambda: port.connected, "the port to open")
    port.close()
    assert not io_thread_alive(port)


def test_an_error_in_serve_is_logged_and_serving_goes_on(pty_pair: PtyPair) -> None:
    device = Device(bug_at_call=2)
    with SerialPort(pty_pair.path, serve=device.serve) as port:
        wait_until(lambda: port.stats.errors == 1, "the bug to be counted")
        pty_pair.write(b"still here")
        wait_until(lambda: device.got(b"still here"), "bytes after the bug")
        assert (port.stats.opens, port.stats.disconnects) == (1, 0)
