"""Key input: the :class:`KeyPress` a key driver delivers, the base class of key drivers and the
:class:`KeyQueue` the app drains.

Threads: a driver calls its ``on_press`` callback from its *own* thread (the gpiozero callback
thread, the serial reader thread, the pygame loop for the simulated keys), possibly from several
threads at once when several drivers run. The callback must therefore be thread-safe and quick;
the intended callback is :meth:`KeyQueue.put`, drained by the app's main loop::

    presses = KeyQueue()
    with SerialKeypad("/dev/ttyUSB0", presses.put, address=3):
        while running:
            for press in presses.drain(timeout=0.1):
                device_app.press(counter, press.key, press.arg)  # stored before shown

An exception raised by the callback is logged and swallowed: it never stops a driver.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

#: Every key name a driver may deliver: the values of ``domain.branch.Key`` (drivers take plain
#: names; ``tests/test_layout.py`` keeps the two lists equal).
KEY_NAMES: tuple[str, ...] = (
    "sign_in",
    "sign_out",
    "call_next",
    "call_ticket",
    "recall",
    "skip",
    "transfer",
    "start",
    "finish",
    "invite_rating",
    "ticketless",
    "pause",
    "resume",
    "rate",
    "reason",
    "band",
    "extend",
)

#: Keys whose argument is an integer: the rating level, the index of a bad-rating reason.
NUMBERED_KEYS = frozenset({"rate", "reason"})
#: Keys that take the number of a choice (a pause reason, an amount band, an extension reason,
#: from 0), or none: then the teller console asks for it.
CHOICE_KEYS = frozenset({"pause", "band", "extend"})

#: A key as drivers are configured with it: ``"call_next"``, or ``(key, arg)`` such as
#: ``("rate", 5)``.
KeySpec = str | tuple[str, object]


@dataclass(frozen=True)
class KeyPress:
    """One press of a key; ``at_mono`` is the driver's ``time.monotonic()`` reading."""

    source: str
    key: str
    arg: object | None
    at_mono: float


OnPress = Callable[[KeyPress], None]


def key_spec(spec: KeySpec) -> tuple[str, object | None]:
    """``spec`` as ``(key, arg)``; raises ``ValueError`` for an unknown key or a bad rating."""
    key, arg = spec if isinstance(spec, tuple) else (spec, None)
    if key not in KEY_NAMES:
        raise ValueError(f"unknown key {key!r} (known: {', '.join(KEY_NAMES)})")
    if key in NUMBERED_KEYS and (isinstance(arg, bool) or not isinstance(arg, int)):
        raise ValueError(f"the {key} key needs an integer argument, got {arg!r}")
    if (
        key in CHOICE_KEYS
        and arg is not None
        and (isinstance(arg, bool) or not isinstance(arg, int))
    ):
        raise ValueError(f"the {key} key takes the number of a choice or nothing, got {arg!r}")
    return str(key), arg


class KeyQueue:
    """A thread-safe queue of presses: drivers ``put``, the main loop ``get``s or ``drain``s.

    Bounded so that a stalled main loop cannot exhaust memory: when full, new presses are
    dropped, counted in :attr:`dropped` and logged.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self._queue: queue.Queue[KeyPress] = queue.Queue(maxsize)
        self._ready = threading.Event()
        self._woken = False
        self.dropped = 0

    def put(self, press: KeyPress) -> None:
        try:
            self._queue.put_nowait(press)
        except queue.Full:
            self.dropped += 1
            log.warning("key queue full: dropped %s from %s", press.key, press.source)
        self._ready.set()

    def wake(self) -> None:
        """End the current :meth:`wait`, or the next one, without a press (other input arrived:
        a call heard)."""
        self._woken = True
        self._ready.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until a press is queued, without taking it, or until
        :meth:`wake`; True if it did not time out."""
        if self._woken or not self._queue.empty():
            self._woken = False
            return True
        self._ready.clear()
        if self._woken or not self._queue.empty():  # put or woken between the check and clear
            self._woken = False
            return True
        ready = self._ready.wait(timeout)
        self._woken = False
        return ready

    __call__ = put

    def get(self, timeout: float | None = None) -> KeyPress | None:
        """The next press, waiting up to ``timeout`` seconds (``None``: forever)."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self, timeout: float = 0.0) -> list[KeyPress]:
        """Every press queued now, after waiting up to ``timeout`` seconds for the first."""
        first = self.get(timeout) if timeout > 0 else self.get_nowait()
        if first is None:
            return []
        out = [first]
        while (press := self.get_nowait()) is not None:
            out.append(press)
        return out

    def get_nowait(self) -> KeyPress | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def __len__(self) -> int:
        return self._queue.qsize()


class KeyDriver:
    """Base of the key drivers: ``start()``, idempotent ``close()``, context manager.

    Subclasses implement ``_start`` and ``_close`` and deliver presses with :meth:`_emit`.
    """

    def __init__(
        self, on_press: OnPress, source: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.source = source
        self._on_press = on_press
        self._clock = clock
        self._state_lock = threading.Lock()
        self._started = False
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> Self:
        """Begin delivering presses (a second call does nothing)."""
        with self._state_lock:
            if self._closed:
                raise RuntimeError(f"{type(self).__name__} is closed")
            if self._started:
                return self
            self._started = True
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop and release the hardware; safe to call more than once."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            started = self._started
        if started:
            self._close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        """Acquire the hardware and begin delivering presses."""

    def _close(self) -> None:
        """Release the hardware (called once, only after a ``start``)."""

    def _emit(
        self, key: str, arg: object | None = None, at: float | None = None, source: str = ""
    ) -> KeyPress | None:
        """Deliver one press to the callback, guarding the driver against its exceptions."""
        if self._closed:
            return None
        press = KeyPress(source or self.source, key, arg, self._clock() if at is None else at)
        try:
            self._on_press(press)
        except Exception:
            log.exception("%s: the key callback failed for %s", press.source, press.key)
        return press
