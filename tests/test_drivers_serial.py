"""The serial keypad over a real pseudo-terminal pair: presses, damaged frames, fuzz, reconnection.

The test plays the keypad on the pty master; the driver opens the slave like a USB-RS485 adapter.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import drivers.serial_keypad as serial_keypad
from drivers.framing import DLE, ETX, MAX_PAYLOAD, STX, Command, Frame, encode
from drivers.keys import KeyPress, KeyQueue
from drivers.serial_keypad import (
    KEY_CODES,
    PayloadError,
    SerialKeypad,
    UnknownKeyCode,
    decode_key,
    encode_key,
    heartbeat_frame,
    key_frame,
)
from tests.serial_pty import WAIT_S, PtyPair, point, wait_until


def next_press(presses: KeyQueue) -> KeyPress:
    press = presses.get(timeout=WAIT_S)
    if press is None:
        pytest.fail("no key press arrived")
    return press


def keypad(port: str, presses: KeyQueue, **kw) -> SerialKeypad:
    kp = SerialKeypad(port, presses.put, **{"address": 1, **kw}).start()
    wait_until(lambda: kp.connected, "the keypad port to open")
    return kp


# -- the payload codec --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "arg"),
    [(k, None) for k in KEY_CODES if k not in ("rate", "reason", "call_ticket", "band", "extend")]
    + [("rate", 0), ("rate", 5), ("reason", 2), ("call_ticket", "A012"), ("transfer", 3)]
    + [("sign_in", "T07"), ("pause", 0), ("pause", 3), ("band", 2), ("extend", 0)],
)
def test_key_payload_round_trip(key: str, arg: object) -> None:
    assert decode_key(encode_key(42, key, arg)) == (42, key, arg)


@pytest.mark.parametrize(
    "payload",
    [
        *(b"", b"\x01", b"\x01\x30", b"\x01\x30\x01\x02", b"\x01\x21\x00", b"\x01\x2c"),
        *(b"\x01\x2ca b", b"\x01\x28\x01\x02", b"\x01\x32", b"\x01\x33\x01\x02"),
    ],
)
def test_bad_key_payloads(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        decode_key(payload)


def test_unknown_key_code() -> None:
    with pytest.raises(UnknownKeyCode):
        decode_key(b"\x01\x7f")


# -- over a pseudo-terminal ---------------------------------------------------------------------


def test_presses_arrive_with_their_arguments_and_are_acknowledged(pty_pair: PtyPair) -> None:
    presses = KeyQueue()
    sent = [("call_next", None), ("skip", None), ("rate", 5), ("call_ticket", "B007")]
    sent += [("transfer", 2), ("invite_rating", None), ("rate", 3)]
    with keypad(pty_pair.path, presses) as kp:
        for seq, (key, arg) in enumerate(sent):
            pty_pair.write(key_frame(1, seq, key, arg))
        got = [next_press(presses) for _ in sent]
        assert [(p.key, p.arg) for p in got] == sent
        assert {p.source for p in got} == {f"serial:{pty_pair.path}#1"}
        assert kp.stats.presses == len(sent)
        acks = pty_pair.wait_frames(len(sent))
        assert acks == [Frame(1, Command.ACK, bytes((seq,))) for seq in range(len(sent))]
    assert kp.closed and not kp.connected


def test_damaged_and_foreign_frames_are_counted_and_later_frames_arrive(pty_pair: PtyPair) -> None:
    presses = KeyQueue()
    good = key_frame(1, 1, "call_next")
    bad_crc = bytearray(key_frame(1, 2, "recall"))
    bad_crc[-2] ^= 0x40
    damaged = [
        b"\x00\xff line noise \x10",
        bytes(bad_crc),
        key_frame(1, 3, "finish")[:-4],  # truncated: the next STX cuts it
        bytes((STX,)) + bytes(range(0x40, 0x40 + MAX_PAYLOAD + 10)) + bytes((ETX,)),  # oversized
        bytes((STX, 1, DLE, 0x99, ETX)),  # garbled escape
        encode(1, Command.KEY, b"\x04\x7e"),  # unknown key code
        encode(1, Command.KEY, b"\x05\x30"),  # rate without level
        key_frame(9, 6, "pause"),  # another keypad's address
        encode(1, 0x7A, b"?"),  # unknown command
        heartbeat_frame(1),
    ]
    with keypad(pty_pair.path, presses) as kp:
        assert not kp.online()
        for seq, junk in enumerate(damaged, start=10):
            pty_pair.write(junk)
            pty_pair.write(key_frame(1, seq, "rate", seq % 5 + 1))
        pty_pair.write(good)
        got = [next_press(presses) for _ in range(len(damaged) + 1)]
        assert [(p.key, p.arg) for p in got[:-1]] == [
            ("rate", seq % 5 + 1) for seq in range(10, 10 + len(damaged))
        ]
        assert got[-1].key == "call_next"
        s = kp.stats
        counts = (s.bad_checksum, s.truncated, s.oversized, s.garbled, s.unknown_key)
        assert counts == (1, 1, 1, 1, 1)
        assert (s.bad_payload, s.other_address, s.unknown_command, s.heartbeats) == (1, 1, 1, 1)
        assert s.noise_bytes >= len(damaged[0])
        assert s.frames_ok == len(damaged) + 1 + 5  # the presses, plus the 5 well-formed extras
        assert 1 in kp.last_seen and 9 not in kp.last_seen
        assert kp.online() and not kp.online(within_s=-1.0)
        assert presses.get_nowait() is None


def test_a_repeated_frame_is_acknowledged_again_but_delivered_once(pty_pair: PtyPair) -> None:
    presses = KeyQueue()
    with keypad(pty_pair.path, presses) as kp:
        frame = key_frame(1, 77, "rate", 4)
        pty_pair.write(frame + frame + key_frame(1, 78, "rate", 4))
        assert (next_press(presses).arg, next_press(presses).arg) == (4, 4)
        assert kp.stats.duplicates == 1
        assert [f.payload for f in pty_pair.wait_frames(3)] == [b"\x4d", b"\x4d", b"\x4e"]
        assert presses.get_nowait() is None


def test_a_frame_left_unfinished_expires_as_truncated(pty_pair: PtyPair) -> None:
    presses = KeyQueue()
    with keypad(pty_pair.path, presses, frame_timeout=0.05) as kp:
        pty_pair.write(key_frame(1, 1, "pause")[:5])
        wait_until(lambda: kp.stats.truncated == 1, "the partial frame to expire")
        pty_pair.write(key_frame(1, 2, "resume"))
        assert next_press(presses).key == "resume"


def test_callback_and_handler_failures_do_not_stop_the_reader(
    pty_pair: PtyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    presses = KeyQueue()
    calls = {"n": 0}

    def flaky(press: KeyPress) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the app's callback failed")
        presses.put(press)

    real_decode = serial_keypad.decode_key

    def broken_once(payload: bytes):
        if payload[0] == 1:  # the "recall" frame
            raise RuntimeError("unexpected bug")
        return real_decode(payload)

    monkeypatch.setattr(serial_keypad, "decode_key", broken_once)
    kp = SerialKeypad(pty_pair.path, flaky, address=1).start()
    try:
        wait_until(lambda: kp.connected, "the keypad port to open")
        for seq, key in enumerate(("call_next", "recall", "skip", "start")):
            pty_pair.write(key_frame(1, seq, key))
        assert next_press(presses).key == "skip"
        assert next_press(presses).key == "start"
        assert kp.stats.errors == 1
        assert calls["n"] == 3
    finally:
        kp.close()
        kp.close()  # idempotent


def test_lights_and_beep_reach_the_keypad_and_lights_are_restored_on_reconnect(
    tmp_path: Path,
) -> None:
    first, second = PtyPair(), None
    link = tmp_path / "keypad"
    point(link, first.path)
    presses = KeyQueue()
    try:
        with keypad(str(link), presses, reconnect=(0.02, 0.1)) as kp:
            kp.set_lit([("rate", n) for n in (1, 2, 3, 4, 5)] + ["call_next"])
            kp.beep(0.2)
            assert first.wait_frames(2) == [
                Frame(1, Command.KEY_LEDS, (0b111110).to_bytes(2, "little")),
                Frame(1, Command.BEEP, bytes((20,))),
            ]
            first.unplug()
            wait_until(lambda: kp.stats.disconnects >= 1, "the keypad to notice the unplug")
            second = PtyPair()
            point(link, second.path)
            assert second.wait_frames(1) == [
                Frame(1, Command.KEY_LEDS, (0b111110).to_bytes(2, "little"))
            ]
    finally:
        first.close()
        if second is not None:
            second.close()


def test_reopens_the_port_after_the_adapter_is_unplugged(tmp_path: Path) -> None:
    link = tmp_path / "ttyKEYPAD"
    presses = KeyQueue()
    first = PtyPair()
    second = None
    point(link, first.path)
    try:
        with keypad(str(link), presses, reconnect=(0.02, 0.1)) as kp:
            first.write(key_frame(1, 1, "call_next"))
            assert next_press(presses).key == "call_next"
            first.unplug()
            wait_until(lambda: kp.stats.disconnects >= 1, "the keypad to notice the unplug")
            second = PtyPair()
            point(link, second.path)
            wait_until(lambda: kp.stats.opens >= 2 and kp.connected, "the port to reopen")
            second.write(key_frame(1, 2, "recall"))
            assert next_press(presses).key == "recall"
            assert presses.get_nowait() is None
    finally:
        first.close()
        if second is not None:
            second.close()


def test_waits_for_a_port_that_does_not_exist_yet(tmp_path: Path, pty_pair: PtyPair) -> None:
    link = tmp_path / "later"
    presses = KeyQueue()
    with SerialKeypad(str(link), presses.put, reconnect=(0.02, 0.1)) as kp:
        assert not kp.connected
        point(link, pty_pair.path)
        wait_until(lambda: kp.connected, "the port to appear")
        pty_pair.write(key_frame(4, 1, "rate", 2))
        press = next_press(presses)
        assert (press.key, press.arg, press.source) == ("rate", 2, f"serial:{link}#4")
        assert kp.stats.opens == 1


def _fuzz_stream(rng: random.Random, pieces: int) -> tuple[list[bytes], list[tuple[str, object]]]:
    """Chunks of intact KEY frames for address 1, frames for other addresses, damaged frames
    (cut, or one plain byte changed: the CRC catches every such change) and garbage without
    ETX (so garbage alone can never complete a frame). Returns the chunks and the presses
    that must arrive, in order."""
    numbered = ("rate", "reason", "band", "extend")
    skip = (*numbered, "call_ticket", "transfer", "sign_in", "sign_out")
    keys = [k for k in KEY_CODES if k not in skip]
    garbage = [b for b in range(256) if b != ETX]
    chunks: list[bytes] = []
    expected: list[tuple[str, object]] = []
    seq = 0
    for _ in range(pieces):
        if rng.random() < 0.5:
            key = rng.choice([*keys, *numbered, "call_ticket"])
            arg: object = rng.randrange(6) if key in numbered else f"A{rng.randrange(1000):03d}"
            arg = arg if key in (*numbered, "call_ticket") else None
            address = 1 if rng.random() < 0.85 else rng.randrange(2, 248)
            wire = bytearray(key_frame(address, seq % 256, key, arg))
            kind = rng.choice(("intact", "intact", "intact", "cut", "flip"))
            if kind == "intact":
                if address == 1:
                    expected.append((key, arg))
                    seq += 1
            elif kind == "cut":
                wire = wire[: rng.randrange(1, len(wire) - 1)]
            else:
                plain = [
                    i
                    for i in range(1, len(wire) - 1)
                    if wire[i] not in (STX, ETX, DLE) and wire[i - 1] != DLE
                ]
                i = rng.choice(plain)
                wire[i] = rng.choice([b for b in garbage if b not in (STX, DLE, wire[i])])
            chunks.append(bytes(wire))
        else:
            chunks.append(bytes(rng.choice(garbage) for _ in range(rng.randrange(1, 50))))
    return chunks, expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzz_exactly_the_intact_frames_arrive(pty_pair: PtyPair, seed: int) -> None:
    rng = random.Random(seed)
    chunks, expected = _fuzz_stream(rng, 1500)
    stream = b"".join(chunks) + key_frame(1, 255, "sign_out")  # the sentinel
    presses = KeyQueue()
    with keypad(pty_pair.path, presses, frame_timeout=60.0) as kp:
        pos = 0
        while pos < len(stream):  # random write sizes, splitting frames anywhere
            size = rng.randrange(1, 200)
            pty_pair.write(stream[pos : pos + size])
            pos += size
        got: list[tuple[str, object]] = []
        while not got or got[-1] != ("sign_out", None):
            press = next_press(presses)
            got.append((press.key, press.arg))
        assert got[:-1] == expected
        assert kp.stats.errors == 0
        assert kp.stats.bad_checksum + kp.stats.truncated > 0
