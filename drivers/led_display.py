"""The counter LED display (窗口屏) over RS-485: the called ticket and counter, text, paused, blank.

:class:`CounterDisplay` is the interface (and :class:`drivers.simulated.SimulatedLedDisplay` its
simulated twin). :class:`LedDisplay` sends frames (``drivers.framing``, commands
``DISPLAY_*``) from a background writer thread (the I/O thread of its ``drivers.serial_port``)
that always sends the *latest* state only, so ``show_*`` never blocks the caller. After the port
is reopened (a write error, an unplugged adapter) it sends the current state again; it also
repeats the state every ``refresh_s`` seconds, so a display that was power-cycled or re-cabled
shows the right thing again.

Text goes out as ASCII when it is pure ASCII, otherwise as GB2312 (the font most LED
controllers carry); with ``charset="ascii"`` (a module without Chinese font) other characters
become ``?``. Texts are cut to 63 bytes at a character boundary.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from drivers.framing import MAX_PAYLOAD, Command, encode
from drivers.serial_port import RECONNECT, Port, PortState, PortStats, SerialPort, port_name
from support.backoff import Backoff

log = logging.getLogger(__name__)

CHARSETS = ("gb2312", "ascii")
#: How ``show_call`` writes the called ticket and counter, per charset.
CALL_FORMATS = {"gb2312": "{ticket} {counter}号窗口", "ascii": "{ticket}-{counter}"}
PAUSED_TEXTS = {"gb2312": "暂停服务", "ascii": "PAUSED"}

FLAG_GB2312 = 0x01  # text bytes are GB2312 (else ASCII)
FLAG_ATTENTION = 0x80  # a new call: flash the text for a moment
MAX_TEXT_BYTES = MAX_PAYLOAD - 1


@dataclass(frozen=True)
class DisplayState:
    """What the display shows; ``kind`` is ``blank``, ``text``, ``call`` or ``paused``."""

    kind: str
    text: str = ""
    ticket: str | None = None
    counter: int | str | None = None


BLANK = DisplayState("blank")


def encode_text(text: str, charset: str = "gb2312") -> tuple[int, bytes]:
    """``(flags, bytes)`` for a DISPLAY_TEXT payload, cut to :data:`MAX_TEXT_BYTES`."""
    if charset not in CHARSETS:
        raise ValueError(f"charset must be one of {', '.join(CHARSETS)}, got {charset!r}")
    if charset == "ascii":
        text = unicodedata.normalize("NFKC", text)
    wide = charset == "gb2312" and not text.isascii()
    codec = "gb2312" if wide else "ascii"
    out = bytearray()
    for char in text:
        try:
            data = char.encode(codec)
        except UnicodeEncodeError:
            data = b"?"
        if len(out) + len(data) > MAX_TEXT_BYTES:
            break
        out += data
    return (FLAG_GB2312 if wide else 0), bytes(out)


def decode_text(payload: bytes) -> tuple[int, str]:
    """``(flags, text)`` of a DISPLAY_TEXT payload (the display's side; used by tests)."""
    flags = payload[0]
    return flags, payload[1:].decode("gb2312" if flags & FLAG_GB2312 else "ascii")


def state_frame(state: DisplayState, address: int, charset: str, attention: bool = False) -> bytes:
    """The frame that puts ``state`` on the display at ``address``."""
    if state.kind == "blank":
        return encode(address, Command.DISPLAY_BLANK)
    flags, data = encode_text(state.text, charset)
    if attention:
        flags |= FLAG_ATTENTION
    return encode(address, Command.DISPLAY_TEXT, bytes((flags,)) + data)


def brightness_frame(percent: int, address: int) -> bytes:
    return encode(address, Command.DISPLAY_BRIGHTNESS, bytes((percent,)))


class CounterDisplay:
    """What every counter display offers; the state is kept, the sending is the subclass's.

    ``show_*`` only record the new state and return at once; they are thread-safe.
    """

    def __init__(
        self,
        charset: str = "gb2312",
        call_format: str | None = None,
        paused_text: str | None = None,
    ) -> None:
        if charset not in CHARSETS:
            raise ValueError(f"charset must be one of {', '.join(CHARSETS)}, got {charset!r}")
        self.charset = charset
        self.call_format = call_format or CALL_FORMATS[charset]
        self.paused_text = paused_text or PAUSED_TEXTS[charset]
        self._cond = threading.Condition()
        self._state = BLANK
        self._brightness: int | None = None
        self._version = 0

    @property
    def state(self) -> DisplayState:
        return self._state

    @property
    def brightness(self) -> int | None:
        return self._brightness

    def show_call(self, ticket: str, counter: int | str) -> None:
        """Show the called ticket and the counter, e.g. ``A012 3号窗口``; flashes once."""
        text = self.call_format.format(ticket=ticket, counter=counter)
        self._set(DisplayState("call", text, str(ticket), counter))

    def show_text(self, text: str) -> None:
        self._set(DisplayState("text", text))

    def show_paused(self) -> None:
        """Show 暂停服务 (or the configured paused text)."""
        self._set(DisplayState("paused", self.paused_text))

    def clear(self) -> None:
        self._set(BLANK)

    def set_brightness(self, percent: int) -> None:
        """Brightness 0..100 % (the display maps it to its own steps)."""
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ValueError(f"brightness must be an integer 0..100, got {percent!r}")
        with self._cond:
            self._brightness = percent
            self._version += 1
            self._cond.notify_all()

    def _set(self, state: DisplayState) -> None:
        with self._cond:
            self._state = state
            self._version += 1
            self._cond.notify_all()

    def start(self) -> Self:
        return self

    def close(self) -> None:
        """Release the display; safe to call more than once."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class DisplayStats(PortStats):
    writes: int = 0


class LedDisplay(CounterDisplay):
    """An LED display on a serial line (device path or pyserial URL) at bus ``address``.

    ``reconnect``: the first and the longest wait before reopening a lost port, in seconds.
    """

    def __init__(
        self,
        port: Port,
        address: int = 1,
        baudrate: int = 9600,
        *,
        charset: str = "gb2312",
        call_format: str | None = None,
        paused_text: str | None = None,
        refresh_s: float | None = 10.0,
        reconnect: tuple[float, float] = (RECONNECT.initial_s, RECONNECT.max_s),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(charset, call_format, paused_text)
        self.port = port
        self.address = address
        self.baudrate = baudrate
        self.refresh_s = refresh_s
        self.stats = DisplayStats()
        self.name = f"led display {port_name(port)}#{address}"
        self._clock = clock
        self._line = SerialPort(
            port,
            baudrate,
            serve=self._write_latest,
            on_open=self._opened,
            wake=self._wake,
            name=self.name,
            reconnect=Backoff(*reconnect, jitter=0.0),
            stats=self.stats,
        )
        # The writer thread's own state:
        self._sent = -1  # the version written on the current connection
        self._flashed: DisplayState | None = None  # the last call shown with the attention flag
        self._due = math.inf  # when to repeat the state

    @property
    def connected(self) -> bool:
        return self._line.connected

    def start(self) -> Self:
        self._line.start()
        return self

    def close(self) -> None:
        self._line.close()

    # -- the writer thread (the port's I/O thread) ---------------------------------------------

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()  # the port is closing: stop waiting for a new state

    def _opened(self, port: SerialPort) -> None:
        self._sent = -1  # whatever the display shows now, send the state again

    def _write_latest(self, port: SerialPort) -> None:
        """Wait for a new state or the refresh, then write the latest state in one write."""
        with self._cond:
            while port.state is not PortState.CLOSED and self._version == self._sent:
                left = self._due - self._clock()
                if left <= 0:
                    break
                self._cond.wait(None if left == math.inf else left)
            if port.state is PortState.CLOSED:
                return
            version, state, brightness = self._version, self._state, self._brightness
        attention = state.kind == "call" and state is not self._flashed
        data = state_frame(state, self.address, self.charset, attention)
        if brightness is not None:
            data = brightness_frame(brightness, self.address) + data
        if not port.write(data):
            return  # the port reopens, then the state goes out again
        self.stats.writes += 1
        self._sent = version
        if attention:
            self._flashed = state
        self._due = self._clock() + self.refresh_s if self.refresh_s else math.inf
