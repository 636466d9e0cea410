"""systemd's notify protocol (``sd_notify(3)``), spoken directly over its datagram socket.

A unit with ``Type=notify`` waits for ``READY=1`` before it counts the service as started; with
``WatchdogSec=`` it restarts the service when ``WATCHDOG=1`` does not come often enough. The
watchdog is only honest when the ping comes from the loop that does the work: a helper thread
that pings on a timer keeps a frozen frame loop or a stuck ingest alive for ever. So
:class:`Watchdog` has no thread; each main loop calls :meth:`Watchdog.progress` once per turn,
and the ping goes out (at most every half interval) only while the loop turns.

Outside systemd (``NOTIFY_SOCKET`` unset) everything here does nothing, at the cost of one
attribute test per call.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)
PING_EVERY_S = 1.0


class Notifier:
    """Sends notify messages to the socket systemd named in ``NOTIFY_SOCKET`` (if any)."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        self._failed = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram; True when it went out."""
        if self.address is None:
            return False
        target = self.address
        if target.startswith("@"):  # an abstract socket: its name begins with a NUL byte
            target = "\0" + target[1:]
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(fields).encode("utf-8"), target)
        except OSError as exc:
            if not self._failed:  # said once: a lost ping must not flood the journal
                log.warning("systemd notify socket %s: %s", self.address, exc)
                self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """``WatchdogSec=`` in seconds, as systemd passes it to this process; None when off.

    ``WATCHDOG_PID``, when set, must name this process (the variable was meant for another one,
    e.g. inherited by a child)."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number: no watchdog pings", usec)
        return None
    return seconds if seconds > 0 else None


class Watchdog:
    """Pings systemd's watchdog from a main loop's progress.

    Call :meth:`progress` once per turn of the loop that must not freeze (a frame drawn, a group
    of messages stored, a tick handled). The ping goes out when :data:`PING_EVERY_S` (or a
    quarter of a shorter interval) has passed since the last one: a loop turning at any rate
    costs one clock read per turn, and the time between two pings is at most the loop's longest
    stall plus that, so a loop never stalled for ``WatchdogSec`` is never killed.
    """

    def __init__(
        self,
        notifier: Notifier,
        interval_s: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifier = notifier
        self.interval_s = interval_s if notifier.enabled else None
        self.clock = clock
        self._last: float | None = None
        self.pings = 0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Watchdog:
        return cls(Notifier.from_environment(environ), watchdog_interval(environ))

    @property
    def enabled(self) -> bool:
        return self.interval_s is not None

    def progress(self) -> None:
        if self.interval_s is None:
            return
        now = self.clock()
        if self._last is None or now - self._last >= min(PING_EVERY_S, self.interval_s / 4):
            self._last = now
            if self.notifier.send("WATCHDOG=1"):
                self.pings += 1


class Service:
    """One process's part in systemd: ready, its watchdog, stopping. Off outside systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.notifier = Notifier.from_environment(environ)
        self.watchdog = Watchdog(self.notifier, watchdog_interval(environ))

    def ready(self, status: str | None = None) -> None:
        self.notifier.ready(status)
        self.watchdog.progress()

    def progress(self) -> None:
        self.watchdog.progress()

    def stopping(self) -> None:
        self.notifier.stopping()
