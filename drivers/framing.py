"""The frame codec shared by the serial keypads and the counter LED display.

A frame on the wire (see ``docs/serial-protocol.md``)::

    STX | stuffed( ADDR | CMD | PAYLOAD (0..64 bytes) | CRC16 lo | CRC16 hi ) | ETX

The CRC is CRC-16/MODBUS over ``ADDR CMD PAYLOAD``. Between STX and ETX every STX, ETX or DLE
byte is sent as ``DLE, byte ^ 0x20``, so STX and ETX never occur inside a frame: a receiver
resynchronises on the next STX whatever garbage came before, and a frame cut short is noticed
when the next one starts. :class:`FrameDecoder` is a streaming decoder that counts and drops
every damaged frame instead of raising.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import IntEnum

log = logging.getLogger(__name__)

STX = 0x02
ETX = 0x03
DLE = 0x10
ESCAPE_XOR = 0x20
SPECIAL = frozenset({STX, ETX, DLE})
ESCAPED = frozenset({b ^ ESCAPE_XOR for b in SPECIAL})

MAX_PAYLOAD = 64
BROADCAST = 0  # host to every device on the bus
MAX_ADDRESS = 247


class Command(IntEnum):
    """Every command byte of the protocol (ASCII letters, readable in a hex dump)."""

    HEARTBEAT = 0x48  # "H" device -> host, every second: "I am here"
    KEY = 0x4B  # "K" keypad -> host: seq, key code [, argument]
    ACK = 0x41  # "A" host -> keypad: seq of the KEY frame received
    KEY_LEDS = 0x4C  # "L" host -> keypad: bit mask of the rating levels whose key is lit
    BEEP = 0x42  # "B" host -> keypad: duration in 10 ms units
    DISPLAY_BLANK = 0x43  # "C" host -> display: clear
    DISPLAY_TEXT = 0x54  # "T" host -> display: flags, text
    DISPLAY_BRIGHTNESS = 0x49  # "I" host -> display: intensity, percent 0..100


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16_modbus(data: bytes | bytearray) -> int:
    """CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF); ``b"123456789"`` gives 0x4B37."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    address: int
    command: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return encode(self.address, self.command, self.payload)


def stuff(body: bytes | bytearray) -> bytes:
    """Escape every STX, ETX and DLE of ``body``."""
    out = bytearray()
    for byte in body:
        if byte in SPECIAL:
            out += bytes((DLE, byte ^ ESCAPE_XOR))
        else:
            out.append(byte)
    return bytes(out)


def encode(address: int, command: int, payload: bytes = b"") -> bytes:
    """The bytes on the wire for one frame; raises ``ValueError`` for out-of-range fields."""
    if not 0 <= address <= 0xFF or not 0 <= command <= 0xFF:
        raise ValueError(f"address and command must be bytes, got {address}, {command}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes((address, command)) + bytes(payload)
    body += crc16_modbus(body).to_bytes(2, "little")
    return bytes((STX,)) + stuff(body) + bytes((ETX,))


@dataclass
class FrameStats:
    """What a decoder saw; every damaged frame lands in exactly one counter."""

    frames_ok: int = 0
    bad_checksum: int = 0  # complete frame, CRC mismatch
    oversized: int = 0  # longer than the maximum: dropped up to the next STX or ETX
    truncated: int = 0  # cut short: a new STX, an ETX too early, or silence mid-frame
    garbled: int = 0  # DLE followed by a byte that is not an escape
    noise_bytes: int = 0  # bytes outside any frame

    def dropped(self) -> int:
        return self.bad_checksum + self.oversized + self.truncated + self.garbled

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# Decoder states.
_IDLE, _FRAME, _ESCAPE, _DISCARD = range(4)

#: Called for every dropped frame with the counter's name and the bytes gathered so far.
OnDrop = Callable[[str, bytes], None]


class FrameDecoder:
    """Streaming decoder: :meth:`feed` it bytes in any chunks, get back complete good frames.

    Never raises on input; damaged frames are counted in :attr:`stats` (and reported to
    ``on_drop``). Memory is bounded by ``max_payload``.
    """

    def __init__(
        self,
        max_payload: int = MAX_PAYLOAD,
        stats: FrameStats | None = None,
        on_drop: OnDrop | None = None,
    ) -> None:
        self.max_body = max_payload + 4
        self.stats = stats if stats is not None else FrameStats()
        self._on_drop = on_drop
        self._state = _IDLE
        self._body = bytearray()

    @property
    def in_frame(self) -> bool:
        """True while part of a frame has been received."""
        return self._state in (_FRAME, _ESCAPE)

    def feed(self, data: bytes | bytearray) -> list[Frame]:
        out: list[Frame] = []
        for byte in data:
            if byte == STX:
                if self.in_frame:
                    self._drop("truncated")
                self._body.clear()
                self._state = _FRAME
            elif self._state == _IDLE:
                self.stats.noise_bytes += 1
            elif self._state == _DISCARD:
                if byte == ETX:
                    self._state = _IDLE
            elif byte == ETX:
                if self._state == _ESCAPE:
                    self._drop("garbled")
                else:
                    frame = self._finish()
                    if frame is not None:
                        out.append(frame)
                self._state = _IDLE
            elif self._state == _ESCAPE:
                if byte not in ESCAPED:
                    self._drop("garbled")
                    self._state = _DISCARD
                else:
                    self._state = _FRAME
                    self._append(byte ^ ESCAPE_XOR)
            elif byte == DLE:
                self._state = _ESCAPE
            else:
                self._append(byte)
        return out

    def expire(self) -> bool:
        """Drop a partly received frame (the line went quiet mid-frame); True if there was one."""
        if not self.in_frame:
            self._state = _IDLE
            return False
        self._drop("truncated")
        self._state = _IDLE
        return True

    def reset(self) -> None:
        """Forget any partial frame without counting it (e.g. after reopening the port)."""
        self._body.clear()
        self._state = _IDLE

    def _append(self, byte: int) -> None:
        if len(self._body) >= self.max_body:
            self._drop("oversized")
            self._state = _DISCARD
            return
        self._body.append(byte)

    def _finish(self) -> Frame | None:
        body = self._body
        if len(body) < 4:
            self._drop("truncated")
            return None
        if crc16_modbus(body[:-2]) != int.from_bytes(body[-2:], "little"):
            self._drop("bad_checksum")
            return None
        self.stats.frames_ok += 1
        frame = Frame(body[0], body[1], bytes(body[2:-2]))
        body.clear()
        return frame

    def _drop(self, kind: str) -> None:
        setattr(self.stats, kind, getattr(self.stats, kind) + 1)
        raw = bytes(self._body)
        self._body.clear()
        if self._on_drop is not None:
            try:
                self._on_drop(kind, raw)
            except Exception:  # a reporting hook must never break decoding
                log.exception("frame decoder: on_drop failed")
