"""GPIO keys, key lights and buzzer on gpiozero's mock pins; the simulated keys; the key queue."""

from __future__ import annotations

import os
import threading
import time

import pytest
from gpiozero import Button
from gpiozero.pins.mock import MockFactory

from drivers.gpio import Buzzer, GpioKeys, KeyLeds
from drivers.keys import KeyPress, KeyQueue, KeySpec, key_spec
from drivers.simulated import DEFAULT_KEYBOARD_MAP, InputMap, SimulatedKeys, keyboard_map

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def factory():
    pins = MockFactory()
    yield pins
    pins.reset()


def pressed(presses: KeyQueue) -> list[tuple[str, object]]:
    return [(p.key, p.arg) for p in presses.drain()]


# -- GPIO keys ----------------------------------------------------------------------------------


def test_a_press_arrives_once(factory: MockFactory) -> None:
    presses, clock = KeyQueue(), FakeClock()
    with GpioKeys({"call_next": 5, ("rate", 5): 17}, presses.put, pin_factory=factory, clock=clock):
        pin = factory.pin(5)
        pin.drive_low()
        clock.now += 0.2
        pin.drive_high()
        got = presses.drain()
        assert [(p.source, p.key, p.arg, p.at_mono) for p in got] == [
            ("gpio", "call_next", None, 100.0)
        ]
        clock.now += 0.2
        factory.pin(17).drive_low()
        assert pressed(presses) == [("rate", 5)]


def test_contact_bounce_within_bounce_time_is_one_press(factory: MockFactory) -> None:
    presses, clock = KeyQueue(), FakeClock()
    keys = GpioKeys({"skip": 6}, presses.put, bounce_time=0.05, pin_factory=factory, clock=clock)
    with keys:
        pin = factory.pin(6)
        for _ in range(4):  # press with chatter: low/high/low/high/... 5 ms apart
            pin.drive_low()
            clock.now += 0.005
            pin.drive_high()
            clock.now += 0.005
        pin.drive_low()  # settles pressed
        assert pressed(presses) == [("skip", None)]
        clock.now += 0.3
        pin.drive_high()  # released
        clock.now += 0.003
        pin.drive_low()  # release bounce
        clock.now += 0.003
        pin.drive_high()
        assert pressed(presses) == []
        clock.now += 0.2
        pin.drive_low()  # the next real press
        assert pressed(presses) == [("skip", None)]
        assert keys.ignored_bounces == 10


def test_close_releases_the_pins_and_stops_presses(factory: MockFactory) -> None:
    presses = KeyQueue()
    keys = GpioKeys({"pause": 12, "resume": 13}, presses.put, pin_factory=factory).start()
    keys.close()
    keys.close()  # idempotent
    Button(12, pin_factory=factory).close()  # the pin is free again
    factory.pin(13).drive_low()
    assert pressed(presses) == []
    with pytest.raises(RuntimeError):
        keys.start()


def test_a_failing_callback_does_not_break_the_keys(factory: MockFactory) -> None:
    presses, clock = KeyQueue(), FakeClock()

    def callback(press: KeyPress) -> None:
        if press.key == "finish":
            raise RuntimeError("app bug")
        presses.put(press)

    with GpioKeys({"finish": 20, "start": 21}, callback, pin_factory=factory, clock=clock):
        factory.pin(20).drive_low()
        factory.pin(21).drive_low()
        assert pressed(presses) == [("start", None)]


def test_bad_mappings_are_refused(factory: MockFactory) -> None:
    with pytest.raises(ValueError, match="pin 5"):
        GpioKeys({"call_next": 5, "recall": 5}, print, pin_factory=factory)
    with pytest.raises(ValueError, match="unknown key 'call'"):
        GpioKeys({"call": 5}, print, pin_factory=factory)
    with pytest.raises(ValueError, match="integer argument"):
        GpioKeys({"rate": 5}, print, pin_factory=factory)


# -- lights and buzzer --------------------------------------------------------------------------


def test_rating_key_lights(factory: MockFactory) -> None:
    pins: dict[KeySpec, int] = {
        ("rate", level): pin
        for level, pin in zip(range(5, 0, -1), (22, 23, 24, 25, 26), strict=True)
    }
    leds = KeyLeds({**pins, "call_next": 27}, pin_factory=factory)
    with leds:
        assert not any(factory.pin(p).state for p in (22, 23, 24, 25, 26, 27))
        leds.set_lit([("rate", n) for n in range(1, 6)] + [("rate", 9)])  # no LED for 9
        assert [factory.pin(p).state for p in (22, 23, 24, 25, 26, 27)] == [1] * 5 + [0]
        assert leds.lit == {("rate", n) for n in range(1, 6)}
        leds.set_lit(["call_next"])
        assert [factory.pin(p).state for p in (22, 23, 24, 25, 26, 27)] == [0] * 5 + [1]
    leds.close()  # idempotent
    Button(27, pin_factory=factory).close()  # released


def test_buzzer_beeps_in_the_background(factory: MockFactory) -> None:
    with Buzzer(18, pin_factory=factory) as buzzer:
        pin = factory.pin(18)
        buzzer.beep(0.01, count=2, pause_s=0.01)
        deadline = time.monotonic() + 5
        while len(pin.states) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [s.state for s in pin.states] == [False, True, False, True, False]
    buzzer.beep()  # after close: nothing, no error
    Button(18, pin_factory=factory).close()


# -- simulated keys and the pygame input map ----------------------------------------------------


def test_a_wake_ends_the_wait_for_a_press_once() -> None:
    presses = KeyQueue()
    assert presses.wait(0.01) is False
    presses.wake()  # before the wait: not lost
    assert presses.wait(30) is True
    assert presses.wait(0.01) is False  # and only once
    waited: list[bool] = []
    waiter = threading.Thread(target=lambda: waited.append(presses.wait(30)))
    waiter.start()
    time.sleep(0.05)
    presses.wake()  # during the wait
    waiter.join(30)
    assert waited == [True] and len(presses) == 0


def test_simulated_presses() -> None:
    presses = KeyQueue()
    with SimulatedKeys(presses.put) as keys:
        assert keys.press("call_next") is not None
        keys.press("rate", 4)
        keys.press("call_ticket", "A012")
        with pytest.raises(ValueError):
            keys.press("next")
        with pytest.raises(ValueError):
            keys.press("rate")
        assert [(p.source, p.key, p.arg) for p in presses.drain()] == [
            ("simulated", "call_next", None),
            ("simulated", "rate", 4),
            ("simulated", "call_ticket", "A012"),
        ]
    assert keys.press("call_next") is None  # closed


def test_keyboard_and_clicks_map_to_keys() -> None:
    presses = KeyQueue()
    keys = SimulatedKeys(presses.put)
    events = [
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F1),
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F3),
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_5),
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_KP1),
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a),  # not mapped
        pygame.event.Event(pygame.KEYUP, key=pygame.K_F1),  # only KEYDOWN counts
    ]
    results = [keys.handle_event(e) for e in events]
    assert [r is None for r in results] == [False] * 4 + [True] * 2
    keys.input_map.set_regions(
        [((0, 0, 100, 50), ("rate", 5)), (pygame.Rect(0, 50, 100, 50), "finish")]
    )
    click = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(10, 60), button=1)
    right_click = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(10, 10), button=3)
    outside = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(200, 10), button=1)
    assert keys.handle_event(click) is not None
    assert keys.handle_event(right_click) is None and keys.handle_event(outside) is None
    assert pressed(presses) == [
        ("call_next", None),
        ("skip", None),
        ("rate", 5),
        ("rate", 1),
        ("finish", None),
    ]


def test_default_keyboard_map_covers_the_teller_keys_and_ratings() -> None:
    specs = {key_spec(s) for s in keyboard_map().values()}
    for key in ("call_next", "recall", "skip", "transfer", "finish", "invite_rating", "pause"):
        assert (key, None) in specs
    assert {("rate", n) for n in range(1, 6)} <= specs
    custom = InputMap({pygame.K_SPACE: "call_next"})
    assert custom.lookup(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE)) == (
        "call_next",
        None,
    )
    assert len(DEFAULT_KEYBOARD_MAP) == len(keyboard_map())


# -- the key queue ------------------------------------------------------------------------------


def test_key_queue_is_bounded_and_drains_in_order() -> None:
    presses = KeyQueue(maxsize=3)
    for n in range(5):
        presses(KeyPress("test", "rate", n, float(n)))
    assert presses.dropped == 2
    assert len(presses) == 3
    assert [p.arg for p in presses.drain(timeout=0.01)] == [0, 1, 2]
    assert presses.drain() == [] and presses.get(timeout=0.01) is None


def test_key_queue_wait_wakes_on_a_press_from_another_thread_and_leaves_it_queued() -> None:
    presses = KeyQueue()
    assert presses.wait(0) is False
    driver = threading.Thread(target=presses.put, args=(KeyPress("gpio", "call_next", None, 1.0),))
    driver.start()
    assert presses.wait(10)  # returns as soon as the press is queued
    driver.join()
    assert presses.wait(0) and len(presses) == 1  # waiting took nothing
    assert [p.key for p in presses.drain()] == ["call_next"]
    assert presses.wait(0) is False
