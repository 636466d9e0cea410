"""A serial port that keeps itself open: the reconnect cycle under every serial driver.

:class:`SerialPort` opens a device path or pyserial URL, runs the driver's protocol on its own
I/O thread while the port is open, and when the port goes away (a USB-RS485 adapter unplugged,
a read or write error) closes it and opens it again after 0.5 s, 1 s, 2 s ... up to 10 s between
attempts (:class:`support.backoff.Backoff`); it waits the same way for a port that does not exist
yet. Each outage is logged once at WARNING (further failed attempts at DEBUG) and its end at INFO.

Wiring: a USB-RS485 adapter in a USB port of the Pi, its A and B terminals on the bus pair to
the keypads and the display (120 ohm at both ends of a long bus; same baud rate everywhere); or
an RS-232 cable; or an Ethernet serial server (``socket://10.0.0.9:4001``). Name a USB adapter by
its stable link, ``/dev/serial/by-id/usb-FTDI_...-if00-port0``, so it comes back under the same
name when it is plugged in again. Example, a hex dump of whatever arrives::

    from drivers.serial_port import SerialPort

    def dump(port: SerialPort) -> None:
        if data := port.read():  # up to read_timeout for the first byte
            print(data.hex(" "))

    with SerialPort("/dev/ttyUSB0", 9600, serve=dump, name="bus"):
        input("Enter stops\\n")

States (:class:`PortState`)::

    IDLE --start()--> OPENING --opened--> OPEN --read or write error--> OPENING ...
    (any) --close()--> CLOSED

Threads:

- The **I/O thread** (one per port, a daemon named ``name``) opens the port, calls
  ``on_open(port)`` once after every open and then ``serve(port)`` over and over while the port
  is open, and waits the backoff between attempts. ``on_open`` and ``serve`` run on this thread
  only, so they may call :meth:`SerialPort.read` and keep unlocked state of their own. An error
  of the port ends the call and starts the reconnect cycle; any other exception is logged,
  counted in ``stats.errors``, and serving goes on.
- :meth:`SerialPort.write` may be called from any thread (one lock). It never raises for a lost
  port: it returns False, and the I/O thread reopens the port after the call to ``serve``.
- :meth:`SerialPort.start` and :meth:`SerialPort.close` belong to the owner. ``close`` wakes the
  I/O thread in a backoff wait or a read and joins it. A ``serve`` that waits on something of its
  own (the display waits for a new state) passes ``wake``: ``close`` calls it on the owner's
  thread once the state is CLOSED, and ``serve`` returns when it sees that state.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Self

import serial

from support.backoff import Backoff

log = logging.getLogger(__name__)

#: A device path or pyserial URL (``/dev/ttyUSB0``, ``socket://host:4001``), or a pyserial object.
#: (Typed ``serial.Serial`` as pyserial's stubs type what ``serial_for_url`` returns: every port
#: class has its ``open`` and ``in_waiting``, which ``SerialBase`` leaves to them.)
Port = str | serial.Serial
#: Reopen after 0.5 s, 1 s, 2 s ... 10 s: a port comes back when a person plugs it in again.
RECONNECT = Backoff(initial_s=0.5, max_s=10.0, jitter=0.0)
READ_TIMEOUT_S = 0.1
WRITE_TIMEOUT_S = 0.5
ERROR_PAUSE_S = 0.1  # after an unexpected exception, so that a bug cannot spin the I/O thread
JOIN_TIMEOUT_S = 5.0


def port_name(port: Port) -> str:
    return port if isinstance(port, str) else str(getattr(port, "port", None) or port)


def open_port(
    port: Port,
    baudrate: int,
    read_timeout: float = READ_TIMEOUT_S,
    write_timeout: float = WRITE_TIMEOUT_S,
) -> serial.Serial:
    """Open a device path or pyserial URL, or reopen a given pyserial object; raises
    ``serial.SerialException`` / ``OSError`` (``ValueError`` for a malformed URL)."""
    if isinstance(port, str):
        return serial.serial_for_url(
            port, baudrate=baudrate, timeout=read_timeout, write_timeout=write_timeout
        )
    if not port.is_open:
        port.open()
    return port


def close_port(ser: serial.Serial | None) -> None:
    if ser is None:
        return
    try:
        ser.close()
    except Exception:  # closing a vanished device may fail; it is gone either way
        log.debug("closing %s failed", port_name(ser), exc_info=True)


class PortState(enum.Enum):
    IDLE = "idle"  # created, not started
    OPENING = "opening"  # started: trying to open, waiting the backoff between attempts
    OPEN = "open"  # open: ``serve`` runs over and over
    CLOSED = "closed"  # ``close()`` was called: for good


@dataclass
class PortStats:
    """What the port went through (all only ever increase)."""

    opens: int = 0
    open_failures: int = 0
    disconnects: int = 0
    errors: int = 0  # unexpected exceptions on the I/O thread, each logged

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: ``serve`` and ``on_open``: called on the I/O thread with the port (what they return is ignored).
PortHook = Callable[["SerialPort"], object]


class SerialPort:
    """A serial line (device path or pyserial URL) kept open by its own I/O thread.

    ``serve(port)``: one step of the driver's protocol, called over and over while the port is
    open (read a little, or wait for something to write, then write it). ``on_open(port)``:
    called after every open, before ``serve``. ``wake()``: called by :meth:`close` to end a
    ``serve`` that waits on something of its own. ``stats``: where to count (a driver may pass a
    subclass of :class:`PortStats` holding its own counters too).
    """

    def __init__(
        self,
        port: Port,
        baudrate: int = 9600,
        *,
        serve: PortHook,
        on_open: PortHook | None = None,
        wake: Callable[[], None] | None = None,
        name: str | None = None,
        reconnect: Backoff = RECONNECT,
        stats: PortStats | None = None,
        read_timeout: float = READ_TIMEOUT_S,
        write_timeout: float = WRITE_TIMEOUT_S,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.name = name or f"serial {port_name(port)}"
        self.stats = stats if stats is not None else PortStats()
        self.read_timeout, self.write_timeout = read_timeout, write_timeout
        self._serve = serve
        self._on_open = on_open
        self._wake = wake
        self._retry = reconnect.retry()
        self._lock = threading.Lock()  # guards _state, _ser, _failed; serialises writes
        self._state = PortState.IDLE
        self._ser: serial.Serial | None = None
        self._failed: BaseException | None = None  # a write error the I/O thread must act on
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outage_logged = False  # this outage has had its one WARNING
        self._outage_failures = 0  # failed attempts to open since the port was last open

    @property
    def state(self) -> PortState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is PortState.OPEN

    # -- the owner ----------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the I/O thread (a second call does nothing)."""
        with self._lock:
            if self._state is PortState.CLOSED:
                raise RuntimeError(f"{self.name}: the port is closed")
            if self._thread is not None:
                return self
            self._state = PortState.OPENING
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the I/O thread and close the port for good; safe to call more than once."""
        with self._lock:
            if self._state is PortState.CLOSED:
                return
            self._state = PortState.CLOSED
            self._stop.set()
            ser, thread = self._ser, self._thread
        if self._wake is not None:
            self._wake()
        cancel = getattr(ser, "cancel_read", None)
        if cancel is not None:
            try:
                cancel()  # a read in progress returns at once
            except Exception:
                log.debug("%s: cancel_read failed", self.name, exc_info=True)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=JOIN_TIMEOUT_S)
        with self._lock:
            ser, self._ser = self._ser, None
        close_port(ser)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- input and output -----------------------------------------------------------------------

    def read(self) -> bytes:
        """What has arrived, waiting up to ``read_timeout`` for a first byte (``b""``: nothing).

        I/O thread only (``serve``, ``on_open``); an error of the port propagates to the I/O
        thread's loop, which reopens the port.
        """
        ser = self._ser
        if ser is None:
            return b""
        return ser.read(max(1, ser.in_waiting))

    def write(self, data: bytes) -> bool:
        """Send ``data`` (any thread); False if the port is not open or the write failed."""
        with self._lock:
            ser = self._ser
            if ser is None or self._state is not PortState.OPEN:
                return False
            try:
                ser.write(data)
            except (serial.SerialException, OSError) as exc:
                log.debug("%s: write failed: %s", self.name, exc)
                self._failed = self._failed or exc
                return False
        return True

    # -- the I/O thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._ser is None:
                    self._open()
                else:
                    self._serve(self)
                    if self._failed is not None:
                        self._lose(self._failed)
            except (serial.SerialException, OSError) as exc:
                self._lose(exc)
            except Exception:
                self.stats.errors += 1
                log.exception("%s: error on the I/O thread; going on", self.name)
                self._stop.wait(ERROR_PAUSE_S)
        log.debug("%s: I/O thread stopped", self.name)

    def _open(self) -> None:
        """One attempt; after a failure, wait the backoff (or until closed)."""
        try:
            ser = open_port(self.port, self.baudrate, self.read_timeout, self.write_timeout)
        except Exception as exc:  # missing device, permission, bad URL: all retried
            self.stats.open_failures += 1
            self._outage_failures += 1
            self._log_outage(f"cannot open port ({exc}); retrying")
            self._stop.wait(self._retry.next_delay())
            return
        with self._lock:
            if self._state is PortState.CLOSED:
                close_port(ser)
                return
            self._ser, self._failed, self._state = ser, None, PortState.OPEN
        failures, self._outage_failures, self._outage_logged = self._outage_failures, 0, False
        self._retry.reset()
        self.stats.opens += 1
        after = f" after {failures} failed attempts" if failures else ""
        log.info("%s: port open%s", self.name, after)
        if self._on_open is not None:
            self._on_open(self)

    def _lose(self, exc: BaseException) -> None:
        """The port went away: close it, and wait the backoff before opening it again."""
        with self._lock:
            ser, self._ser, self._failed = self._ser, None, None
            closing = self._state is PortState.CLOSED
            if not closing:
                self._state = PortState.OPENING
        close_port(ser)  # a given pyserial object is reopened by open_port()
        if closing:
            return
        self.stats.disconnects += 1
        self._log_outage(f"port lost ({exc}); reopening")
        self._stop.wait(self._retry.next_delay())

    def _log_outage(self, what: str) -> None:
        level = logging.DEBUG if self._outage_logged else logging.WARNING
        self._outage_logged = True
        log.log(level, "%s: %s", self.name, what)
