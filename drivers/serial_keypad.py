"""Teller caller keypads and wired rating keypads on RS-485 / RS-232.

:class:`SerialKeypad` reads frames (``drivers.framing``) in a thread, turns KEY frames into
:class:`~drivers.keys.KeyPress` es, acknowledges them, and counts, logs and drops everything
damaged or unexpected. The port under it (``drivers.serial_port``) runs the reader thread and
reopens a port that disappears (a USB-RS485 adapter unplugged). Protocol and key codes:
``docs/serial-protocol.md``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from drivers.framing import (
    BROADCAST,
    Command,
    Frame,
    FrameDecoder,
    FrameStats,
    encode,
)
from drivers.keys import KeyDriver, KeySpec, OnPress, key_spec
from drivers.serial_port import RECONNECT, Port, PortStats, SerialPort, port_name
from support.backoff import Backoff

log = logging.getLogger(__name__)

#: Key code (second payload byte of a KEY frame) of every key.
KEY_CODES: dict[str, int] = {
    "call_next": 0x21,
    "recall": 0x22,
    "skip": 0x23,
    "transfer": 0x24,
    "start": 0x25,
    "finish": 0x26,
    "invite_rating": 0x27,
    "pause": 0x28,
    "resume": 0x29,
    "sign_in": 0x2A,
    "sign_out": 0x2B,
    "call_ticket": 0x2C,
    "ticketless": 0x2D,
    "rate": 0x30,
    "reason": 0x31,
    "band": 0x32,
    "extend": 0x33,
}
#: Keys whose argument is exactly one number byte.
ONE_BYTE_KEYS = frozenset({"rate", "reason", "band", "extend"})
CODE_KEYS: dict[int, str] = {code: key for key, code in KEY_CODES.items()}

STANDARD_BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
DEDUP_WINDOW_S = 2.0  # a keypad repeats an unacknowledged KEY frame within this time
WARN_EVERY_S = 30.0


class PayloadError(ValueError):
    """A KEY frame whose payload does not follow the protocol."""


class UnknownKeyCode(PayloadError):
    """A KEY frame with a key code not in :data:`KEY_CODES`."""


# -- the KEY payload ----------------------------------------------------------------------------


def encode_key(seq: int, key: str, arg: object | None = None) -> bytes:
    """The payload of a KEY frame: ``seq, code`` and the key's argument bytes."""
    if not 0 <= seq <= 0xFF:
        raise ValueError(f"seq must be 0..255, got {seq}")
    head = bytes((seq, KEY_CODES[key]))
    if key in ONE_BYTE_KEYS:
        return head + bytes((int(arg),))  # type: ignore[call-overload]
    if key in ("transfer", "pause") and arg is not None:
        return head + bytes((int(arg),))  # type: ignore[call-overload]
    if key in ("call_ticket", "sign_in") and arg is not None:
        return head + str(arg).encode("ascii")
    if arg is not None:
        raise ValueError(f"key {key!r} takes no argument, got {arg!r}")
    return head


def decode_key(payload: bytes) -> tuple[int, str, object | None]:
    """``(seq, key, arg)`` of a KEY payload; raises :class:`PayloadError`."""
    if len(payload) < 2:
        raise PayloadError(f"KEY payload needs seq and code, got {payload.hex(' ')!r}")
    seq, code, rest = payload[0], payload[1], payload[2:]
    key = CODE_KEYS.get(code)
    if key is None:
        raise UnknownKeyCode(f"unknown key code 0x{code:02X}")
    if key in ONE_BYTE_KEYS:
        if len(rest) != 1:
            raise PayloadError(f"{key} needs exactly one number byte, got {len(rest)} bytes")
        return seq, key, rest[0]
    if key == "pause":
        if len(rest) > 1:
            raise PayloadError("pause takes at most one byte: the pause reason's number from 0")
        return seq, key, rest[0] if rest else None
    if key == "transfer":
        if len(rest) > 1 or rest == b"\x00":
            raise PayloadError("transfer takes at most one byte: a counter number 1..255")
        return seq, key, rest[0] if rest else None
    if key in ("call_ticket", "sign_in"):
        limit = 8 if key == "call_ticket" else 32
        text = _ascii_word(rest, limit)
        if key == "call_ticket" and text is None:
            raise PayloadError(f"call_ticket needs a ticket number of 1..{limit} ASCII characters")
        if rest and text is None:
            raise PayloadError(f"sign_in takes a teller id of 1..{limit} ASCII characters")
        return seq, key, text
    if rest:
        raise PayloadError(f"{key} takes no argument, got {rest.hex(' ')!r}")
    return seq, key, None


def _ascii_word(data: bytes, limit: int) -> str | None:
    if not 1 <= len(data) <= limit or not all(0x21 <= b <= 0x7E for b in data):
        return None
    return data.decode("ascii")


def key_frame(address: int, seq: int, key: str, arg: object | None = None) -> bytes:
    """The bytes a keypad at ``address`` sends for one press."""
    return encode(address, Command.KEY, encode_key(seq, key, arg))


def heartbeat_frame(address: int) -> bytes:
    return encode(address, Command.HEARTBEAT)


# -- the keypad ---------------------------------------------------------------------------------


@dataclass
class KeypadStats(FrameStats, PortStats):
    """Frame and port counters plus what the keypad layer saw (all only ever increase);
    ``errors`` also counts frames whose handling failed."""

    presses: int = 0
    heartbeats: int = 0
    unknown_key: int = 0
    bad_payload: int = 0
    unknown_command: int = 0
    other_address: int = 0
    duplicates: int = 0


class SerialKeypad(KeyDriver):
    """A keypad on a serial line; presses arrive on the reader thread.

    ``address``: accept only frames from this keypad address (``None``: from any address).
    Every well-formed KEY frame is acknowledged (``ack=True``); a repeated frame (same address
    and sequence number within :data:`DEDUP_WINDOW_S`) is acknowledged again but not delivered
    twice. A partly received frame is dropped after ``frame_timeout`` seconds of silence.
    ``reconnect``: the first and the longest wait before reopening a lost port, in seconds.
    """

    def __init__(
        self,
        port: Port,
        on_press: OnPress,
        address: int | None = None,
        baudrate: int = 9600,
        *,
        ack: bool = True,
        frame_timeout: float = 0.5,
        reconnect: tuple[float, float] = (RECONNECT.initial_s, RECONNECT.max_s),
        source: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(on_press, source or f"serial:{port_name(port)}", clock)
        self.port = port
        self.address = address
        self.baudrate = baudrate
        self.ack = ack
        self.frame_timeout = frame_timeout
        self.stats = KeypadStats()
        #: Monotonic time of the last good frame from each address (heartbeats included).
        self.last_seen: dict[int, float] = {}
        self._decoder = FrameDecoder(stats=self.stats, on_drop=self._dropped)
        self._line = SerialPort(
            port,
            baudrate,
            serve=self._poll,
            on_open=self._opened,
            name=self.source,
            reconnect=Backoff(*reconnect, jitter=0.0),
            stats=self.stats,
        )
        self._last_rx = 0.0
        self._last_seq: dict[int, tuple[int, float]] = {}
        self._lit_mask: int | None = None  # None: the app never set the lights
        self._warned_at = -WARN_EVERY_S
        self._warned_drops = 0

    @property
    def connected(self) -> bool:
        return self._line.connected

    def online(self, within_s: float = 3.0) -> bool:
        """Whether the keypad (any keypad if ``address`` is None) sent a good frame, such as
        its once-a-second heartbeat, within the last ``within_s`` seconds."""
        seen = dict(self.last_seen)  # a copy: the reader thread adds to it
        if self.address is not None:
            seen = {a: t for a, t in seen.items() if a == self.address}
        now = self._clock()
        return any(now - at <= within_s for at in seen.values())

    # -- host -> keypad ------------------------------------------------------------------------

    def set_lit(self, keys: Iterable[KeySpec]) -> None:
        """Light the keypad's rating keys among ``keys`` (levels 0..15), darken the others.

        Other keys are ignored (a serial keypad lights only rating keys). The state is sent
        again after every reconnection.
        """
        mask = 0
        for spec in keys:
            key, arg = key_spec(spec)
            if key == "rate" and 0 <= int(arg) <= 15:  # type: ignore[call-overload]
                mask |= 1 << int(arg)  # type: ignore[call-overload]
        self._lit_mask = mask
        self._send(Command.KEY_LEDS, mask.to_bytes(2, "little"))

    def beep(self, duration_s: float = 0.1) -> None:
        """Sound the keypad's buzzer (10 ms .. 2.55 s); nothing happens while disconnected."""
        units = max(1, min(255, round(duration_s * 100)))
        self._send(Command.BEEP, bytes((units,)))

    def _send(self, command: int, payload: bytes, address: int | None = None) -> bool:
        to = address if address is not None else self.address
        return self._line.write(encode(BROADCAST if to is None else to, command, payload))

    # -- life cycle ----------------------------------------------------------------------------

    def _start(self) -> None:
        self._line.start()

    def _close(self) -> None:
        self._line.close()

    # -- the reader thread (the port's I/O thread) ---------------------------------------------

    def _opened(self, port: SerialPort) -> None:
        self._decoder.reset()
        if self._lit_mask is not None:
            self._send(Command.KEY_LEDS, self._lit_mask.to_bytes(2, "little"))

    def _poll(self, port: SerialPort) -> None:
        data = port.read()
        now = self._clock()
        if not data:
            if self._decoder.in_frame and now - self._last_rx >= self.frame_timeout:
                self._decoder.expire()
            return
        self._last_rx = now
        for frame in self._decoder.feed(data):
            try:
                self._handle(frame, now)
            except Exception:
                self.stats.errors += 1
                log.exception("%s: failed to handle %s", self.source, frame)

    def _handle(self, frame: Frame, now: float) -> None:
        if self.address is not None and frame.address != self.address:
            self.stats.other_address += 1
            return
        self.last_seen[frame.address] = now
        if frame.command == Command.HEARTBEAT:
            self.stats.heartbeats += 1
            return
        if frame.command != Command.KEY:
            self.stats.unknown_command += 1
            log.debug("%s: ignored command 0x%02X", self.source, frame.command)
            return
        if self.ack and frame.payload:
            self._send(Command.ACK, frame.payload[:1], address=frame.address)
        try:
            seq, key, arg = decode_key(frame.payload)
        except UnknownKeyCode as exc:
            self.stats.unknown_key += 1
            self._dropped("unknown_key", frame.payload, str(exc))
            return
        except PayloadError as exc:
            self.stats.bad_payload += 1
            self._dropped("bad_payload", frame.payload, str(exc))
            return
        last = self._last_seq.get(frame.address)
        if last is not None and last[0] == seq and now - last[1] < DEDUP_WINDOW_S:
            self.stats.duplicates += 1
            return
        self._last_seq[frame.address] = (seq, now)
        self.stats.presses += 1
        self._emit(key, arg, at=now, source=f"{self.source}#{frame.address}")

    def _dropped(self, kind: str, raw: bytes, why: str = "") -> None:
        log.debug("%s: dropped %s frame %s %s", self.source, kind, raw.hex(" "), why)
        drops = self.stats.dropped() + self.stats.unknown_key + self.stats.bad_payload
        now = self._clock()
        if now - self._warned_at >= WARN_EVERY_S and drops > self._warned_drops:
            self._warned_at, self._warned_drops = now, drops
            counts = {k: v for k, v in self.stats.as_dict().items() if v}
            log.warning(
                "%s: dropping damaged frames (latest: %s); counts %s", self.source, kind, counts
            )
