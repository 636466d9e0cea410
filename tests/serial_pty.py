"""A real pseudo-terminal pair standing in for a USB-RS485 adapter, for serial driver tests."""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.framing import Frame, FrameDecoder

WAIT_S = 5.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds (a bound, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


class PtyPair:
    """A pseudo-terminal: the test holds the master, a driver opens :attr:`path` (the slave).

    A thread collects everything the driver writes (so its writes never block) and
    :meth:`unplug` makes the slave vanish the way an unplugged USB adapter does.
    """

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._received = bytearray()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()
        self.open = True

    def _collect(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                data = b""
            if not data:
                time.sleep(0.01)  # no slave open right now
                continue
            with self._cond:
                self._received += data
                self._cond.notify_all()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def received(self) -> bytes:
        """Everything the driver wrote so far."""
        with self._cond:
            return bytes(self._received)

    def frames(self) -> list[Frame]:
        return FrameDecoder().feed(self.received())

    def wait_frames(self, count: int) -> list[Frame]:
        """The first ``count`` frames the driver wrote, waiting for them."""
        wait_until(lambda: len(self.frames()) >= count, f"{count} frames from the driver")
        return self.frames()[:count]

    def unplug(self) -> None:
        if not self.open:
            return
        self.open = False
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)

    close = unplug


def point(link: Path, target: str) -> None:
    """Make ``link`` point at ``target`` atomically (a udev rule re-creating /dev/keypad)."""
    tmp = link.with_name(link.name + ".new")
    tmp.symlink_to(target)
    os.replace(tmp, link)


class ByIdLink:
    """A stable device name (``/dev/serial/by-id/...``) under which adapters are plugged in and
    out: each :meth:`plug` is a new :class:`PtyPair` the link points at; all closed on exit."""

    def __init__(self, link: Path) -> None:
        self.path = link
        self.pairs: list[PtyPair] = []

    def plug(self) -> PtyPair:
        pair = PtyPair()
        point(self.path, pair.path)
        self.pairs.append(pair)
        return pair

    def __enter__(self) -> ByIdLink:
        return self

    def __exit__(self, *exc: object) -> None:
        for pair in self.pairs:
            pair.close()
