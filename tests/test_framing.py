"""The frame codec: CRC, stuffing, round trips and the streaming decoder's handling of damage."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.framing import (
    DLE,
    ETX,
    MAX_PAYLOAD,
    STX,
    Command,
    Frame,
    FrameDecoder,
    crc16_modbus,
    encode,
)

frames = st.builds(
    Frame,
    address=st.integers(0, 255),
    command=st.integers(0, 255),
    payload=st.binary(max_size=MAX_PAYLOAD),
)


def decode_all(data: bytes, chunks: list[int] | None = None) -> tuple[list[Frame], FrameDecoder]:
    decoder = FrameDecoder()
    out: list[Frame] = []
    if chunks is None:
        out += decoder.feed(data)
    else:
        pos = 0
        for size in chunks:
            out += decoder.feed(data[pos : pos + size])
            pos += size
        out += decoder.feed(data[pos:])
    return out, decoder


def test_crc16_modbus_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37
    assert crc16_modbus(b"") == 0xFFFF


def test_documented_examples() -> None:
    # Hex examples of docs/serial-protocol.md, produced by the codec.
    assert encode(1, Command.HEARTBEAT).hex(" ") == "02 01 48 00 16 03"
    assert encode(1, Command.KEY, b"\x11\x21").hex(" ") == "02 01 4b 11 21 bd 86 03"
    assert encode(1, Command.KEY, b"\x23\x30\x03").hex(" ") == "02 01 4b 23 30 10 23 ab ef 03"


def test_every_hex_frame_in_the_protocol_document_is_a_valid_canonical_frame() -> None:
    doc = Path(__file__).resolve().parent.parent / "docs" / "serial-protocol.md"
    examples = re.findall(
        r"`(02(?: [0-9A-F]{2})+ 03)`|^(02(?: [0-9A-F]{2})+ 03)\b", doc.read_text(), re.M
    )
    wire = [bytes.fromhex(a or b) for a, b in examples]
    assert len(wire) >= 30
    for data in wire:
        decoded, decoder = decode_all(data)
        assert len(decoded) == 1 and decoder.stats.dropped() == 0, data.hex(" ")
        assert decoded[0].encode() == data


def test_special_bytes_never_appear_inside_a_frame() -> None:
    data = encode(STX, ETX, bytes([STX, ETX, DLE, 0x22, 0x23, 0x30]))
    assert data[0] == STX and data[-1] == ETX
    assert STX not in data[1:-1] and ETX not in data[1:-1]
    assert decode_all(data)[0] == [Frame(STX, ETX, bytes([STX, ETX, DLE, 0x22, 0x23, 0x30]))]


def test_encode_refuses_what_cannot_be_sent() -> None:
    with pytest.raises(ValueError):
        encode(1, Command.KEY, bytes(MAX_PAYLOAD + 1))
    with pytest.raises(ValueError):
        encode(256, Command.KEY)


@given(frames)
def test_round_trip(frame: Frame) -> None:
    assert decode_all(frame.encode())[0] == [frame]


@given(st.lists(frames, max_size=8), st.data())
def test_stream_in_random_chunks(items: list[Frame], data: st.DataObject) -> None:
    stream = b"".join(f.encode() for f in items)
    chunks = data.draw(st.lists(st.integers(1, 20), max_size=len(stream)))
    decoded, decoder = decode_all(stream, chunks)
    assert decoded == items
    assert decoder.stats.frames_ok == len(items)
    assert decoder.stats.dropped() == 0 and not decoder.in_frame


def test_byte_by_byte() -> None:
    items = [Frame(1, Command.KEY, bytes((n, 0x20, n % 6))) for n in range(40)]
    decoder = FrameDecoder()
    out: list[Frame] = []
    for byte in b"".join(f.encode() for f in items):
        out += decoder.feed(bytes((byte,)))
    assert out == items


@settings(max_examples=300)
@given(st.binary(max_size=300), frames)
def test_any_garbage_then_a_frame_resynchronises(garbage: bytes, frame: Frame) -> None:
    decoded, _ = decode_all(garbage + frame.encode())
    assert decoded[-1] == frame


@settings(max_examples=300)
@given(st.binary(max_size=500))
def test_random_bytes_never_raise_and_stay_bounded(garbage: bytes) -> None:
    decoded, decoder = decode_all(garbage)
    assert all(len(f.payload) <= MAX_PAYLOAD for f in decoded)
    assert len(decoder._body) <= decoder.max_body


def test_each_kind_of_damage_is_counted_and_the_next_frame_survives() -> None:
    good = Frame(7, Command.KEY, b"\x01\x01")
    bad_crc = bytearray(good.encode())
    bad_crc[-2] ^= 0x01
    truncated = good.encode()[:-3]
    too_short = bytes((STX, 7, ETX))
    oversized = encode(7, 0x41, bytes(MAX_PAYLOAD))[:-1] + b"\x55" * 10 + bytes((ETX,))
    garbled = bytes((STX, 7, DLE, 0x41, 1, 4, ETX))
    stream = [b"noise", bytes(bad_crc), truncated, too_short, oversized, garbled, b"\x10\x03"]
    decoded, decoder = decode_all(b"".join(part + good.encode() for part in stream))
    assert decoded == [good] * len(stream)
    s = decoder.stats
    assert (s.bad_checksum, s.truncated, s.oversized, s.garbled) == (1, 2, 1, 1)
    assert s.noise_bytes == len(b"noise") + 2
    assert s.frames_ok == len(stream)


def test_silence_mid_frame_expires_as_truncated() -> None:
    decoder = FrameDecoder()
    frame = encode(1, Command.HEARTBEAT)
    assert decoder.feed(frame[:4]) == []
    assert decoder.in_frame
    assert decoder.expire() is True
    assert decoder.stats.truncated == 1
    assert decoder.feed(frame[4:]) == []  # the rest is noise now
    assert decoder.feed(frame) == [Frame(1, Command.HEARTBEAT)]
    assert decoder.expire() is False


def test_drops_are_reported_with_their_kind() -> None:
    seen: list[str] = []
    decoder = FrameDecoder(on_drop=lambda kind, raw: seen.append(kind))
    decoder.feed(bytes((STX, 1, 4, 5, 6, 7, ETX)) + bytes((STX, 1)) + bytes((STX, 1, 4, ETX)))
    assert seen == ["bad_checksum", "truncated", "truncated"]


def _intact_and_damaged(rng: random.Random, n: int) -> tuple[bytes, list[Frame], int]:
    """A stream of ``n`` pieces: intact frames, frames damaged so that no decoder could accept
    them, and garbage free of ETX (so garbage can never complete a frame)."""
    stream = bytearray()
    intact: list[Frame] = []
    bad_crc = 0
    garbage_bytes = [b for b in range(256) if b != ETX]
    for _ in range(n):
        frame = Frame(rng.randrange(256), rng.randrange(256), rng.randbytes(rng.randrange(20)))
        wire = bytearray(frame.encode())
        kind = rng.choice(("intact", "intact", "cut", "flip", "garbage"))
        if kind == "intact":
            intact.append(frame)
        elif kind == "cut":
            wire = wire[: rng.randrange(1, len(wire) - 1)]
        elif kind == "flip":
            # Change one plain byte into another plain byte: framing is unchanged and the CRC
            # catches every single-byte error.
            plain = [i for i in range(1, len(wire) - 1) if wire[i] not in (STX, ETX, DLE)]
            plain = [i for i in plain if wire[i - 1] != DLE]
            if not plain:
                continue
            i = rng.choice(plain)
            wire[i] = rng.choice([b for b in range(256) if b not in (STX, ETX, DLE, wire[i])])
            bad_crc += 1
        else:
            wire = bytearray(rng.choice(garbage_bytes) for _ in range(rng.randrange(1, 40)))
        stream += wire
    return bytes(stream), intact, bad_crc


@pytest.mark.parametrize("seed", range(20))
def test_fuzz_exactly_the_intact_frames_come_through(seed: int) -> None:
    rng = random.Random(seed)
    stream, intact, bad_crc = _intact_and_damaged(rng, 300)
    chunks = [rng.randrange(1, 64) for _ in range(len(stream) // 16)]
    decoded, decoder = decode_all(stream, chunks)
    assert decoded == intact
    assert decoder.stats.bad_checksum == bad_crc
