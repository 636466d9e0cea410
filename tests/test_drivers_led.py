"""The counter LED display over a pseudo-terminal pair, its text encoding, its simulated twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.framing import Command, Frame
from drivers.led_display import (
    FLAG_ATTENTION,
    FLAG_GB2312,
    MAX_TEXT_BYTES,
    DisplayState,
    LedDisplay,
    decode_text,
    encode_text,
    state_frame,
)
from drivers.simulated import SimulatedLedDisplay
from tests.serial_pty import PtyPair, point, wait_until


def text_frame(text: str, flags: int, address: int = 1) -> Frame:
    return Frame(address, Command.DISPLAY_TEXT, bytes((flags,)) + text.encode("gb2312"))


# -- text encoding ------------------------------------------------------------------------------


def test_ascii_text_goes_out_as_ascii_and_chinese_as_gb2312() -> None:
    assert encode_text("A012-3") == (0, b"A012-3")
    assert encode_text("暂停服务") == (FLAG_GB2312, "暂停服务".encode("gb2312"))
    assert decode_text(bytes((FLAG_GB2312,)) + "A012→3".encode("gb2312")) == (1, "A012→3")


def test_characters_the_charset_lacks_become_question_marks() -> None:
    assert encode_text("窗口😀") == (FLAG_GB2312, "窗口?".encode("gb2312"))
    assert encode_text("暂停 ok", "ascii") == (0, b"?? ok")
    assert encode_text("Ａ０１２", "ascii") == (0, b"A012")  # full-width forms folded
    with pytest.raises(ValueError):
        encode_text("x", "big5")


def test_long_text_is_cut_at_a_character_boundary() -> None:
    _, data = encode_text("号" * 40)
    assert len(data) == MAX_TEXT_BYTES - 1  # 31 two-byte characters, not half of the 32nd
    assert data.decode("gb2312") == "号" * 31
    assert encode_text("x" * 100)[1] == b"x" * MAX_TEXT_BYTES


# -- over a pseudo-terminal ---------------------------------------------------------------------


def test_each_state_arrives_as_its_documented_frame(pty_pair: PtyPair) -> None:
    with LedDisplay(pty_pair.path, address=3) as display:
        wait_until(lambda: display.connected, "the display port to open")
        assert pty_pair.wait_frames(1) == [Frame(3, Command.DISPLAY_BLANK)]  # initial state
        display.show_call("A012", 3)
        assert pty_pair.wait_frames(2)[1] == text_frame(
            "A012 3号窗口", FLAG_GB2312 | FLAG_ATTENTION, 3
        )
        display.show_paused()
        assert pty_pair.wait_frames(3)[2] == text_frame("暂停服务", FLAG_GB2312, 3)
        display.show_text("Welcome")
        assert pty_pair.wait_frames(4)[3] == text_frame("Welcome", 0, 3)
        display.set_brightness(40)
        assert pty_pair.wait_frames(6)[4:] == [
            Frame(3, Command.DISPLAY_BRIGHTNESS, bytes((40,))),
            text_frame("Welcome", 0, 3),
        ]
        display.clear()
        assert pty_pair.wait_frames(8)[6:] == [
            Frame(3, Command.DISPLAY_BRIGHTNESS, bytes((40,))),
            Frame(3, Command.DISPLAY_BLANK),
        ]
        assert display.state == DisplayState("blank")
    assert not display.connected
    display.close()  # idempotent


def test_ascii_display_gets_the_ascii_call_format(pty_pair: PtyPair) -> None:
    with LedDisplay(pty_pair.path, charset="ascii") as display:
        pty_pair.wait_frames(1)  # the initial blank
        display.show_call("B107", 12)
        assert pty_pair.wait_frames(2)[1] == text_frame("B107-12", FLAG_ATTENTION)
        display.show_paused()
        assert pty_pair.wait_frames(3)[2] == text_frame("PAUSED", 0)


def test_only_the_latest_state_is_sent_when_the_port_appears(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    link = tmp_path / "ttyLED"
    with LedDisplay(str(link), reconnect=(0.02, 0.1)) as display:
        for n in range(50):  # the port is missing: none of this can block or be queued up
            display.show_call(f"A{n:03d}", 2)
        display.set_brightness(70)
        assert display.stats.writes == 0
        point(link, pty_pair.path)
        frames = pty_pair.wait_frames(2)
        assert frames == [
            Frame(1, Command.DISPLAY_BRIGHTNESS, bytes((70,))),
            text_frame("A049 2号窗口", FLAG_GB2312 | FLAG_ATTENTION),
        ]
        wait_until(lambda: display.stats.writes == 1, "the write to be counted")
        assert len(pty_pair.frames()) == 2


def test_current_state_is_sent_again_when_the_cable_comes_back(tmp_path: Path) -> None:
    link = tmp_path / "ttyLED"
    first, second = PtyPair(), None
    point(link, first.path)
    try:
        with LedDisplay(str(link), refresh_s=0.05, reconnect=(0.02, 0.1)) as display:
            display.show_call("C003", 5)
            wait_until(
                lambda: text_frame("C003 5号窗口", FLAG_GB2312 | FLAG_ATTENTION) in first.frames(),
                "the call on the first port",
            )
            first.unplug()
            wait_until(lambda: display.stats.disconnects >= 1, "the display to notice")
            second = PtyPair()
            point(link, second.path)
            # The state goes out again, without the attention flash it already had.
            assert second.wait_frames(1) == [text_frame("C003 5号窗口", FLAG_GB2312)]
            display.show_paused()
            wait_until(
                lambda: text_frame("暂停服务", FLAG_GB2312) in second.frames(),
                "the paused state on the new port",
            )
            assert display.stats.opens == 2
    finally:
        first.close()
        if second is not None:
            second.close()


def test_the_state_is_repeated_every_refresh_period(pty_pair: PtyPair) -> None:
    with LedDisplay(pty_pair.path, refresh_s=0.02) as display:
        display.show_text("Hi")
        wait_until(lambda: pty_pair.frames().count(text_frame("Hi", 0)) >= 3, "three refreshes")


# -- the simulated twin -------------------------------------------------------------------------


def test_simulated_display_records_what_the_real_one_would_show() -> None:
    sim = SimulatedLedDisplay()
    sim.show_call("A012", 3)
    sim.show_paused()
    sim.show_text("欢迎")
    sim.clear()
    sim.set_brightness(30)
    assert [s.kind for s in sim.states] == ["call", "paused", "text", "blank"]
    assert [s.text for s in sim.states] == ["A012 3号窗口", "暂停服务", "欢迎", ""]
    assert sim.states[0].ticket == "A012" and sim.states[0].counter == 3
    assert sim.brightnesses == [30]
    assert sim.state == DisplayState("blank")
    expected = text_frame("A012 3号窗口", FLAG_GB2312)
    assert state_frame(sim.states[0], 1, sim.charset) == expected.encode()
    with pytest.raises(ValueError):
        sim.set_brightness(101)
    with sim:
        pass
    assert sim.closed


def test_simulated_display_uses_the_given_texts() -> None:
    sim = SimulatedLedDisplay(charset="ascii", call_format="{ticket}>{counter}", paused_text="OFF")
    sim.show_call("D001", 4)
    sim.show_paused()
    assert [s.text for s in sim.states] == ["D001>4", "OFF"]


def test_a_call_flashes_once_and_again_when_called_again(pty_pair: PtyPair) -> None:
    call, flashing = (
        text_frame("A007 1号窗口", FLAG_GB2312),
        text_frame("A007 1号窗口", FLAG_GB2312 | FLAG_ATTENTION),
    )
    brightness = Frame(1, Command.DISPLAY_BRIGHTNESS, bytes((10,)))
    with LedDisplay(pty_pair.path) as display:
        pty_pair.wait_frames(1)  # the initial blank
        display.show_call("A007", 1)
        pty_pair.wait_frames(2)
        display.set_brightness(10)
        pty_pair.wait_frames(4)
        display.show_call("A007", 1)  # recalled
        assert pty_pair.wait_frames(6)[1:] == [flashing, brightness, call, brightness, flashing]
