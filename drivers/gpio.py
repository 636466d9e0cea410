"""Keys, key lights and a buzzer wired to the Pi's GPIO header (gpiozero, BCM numbering).

Every key is a push button between its pin and ground (internal pull-up). Debouncing is done
twice: gpiozero's ``bounce_time`` where the pin driver supports it (lgpio on Pi 4/5), and here,
for every driver (the mock pins of the tests included): an edge within ``bounce_time`` of the
previous edge on the same pin is contact bounce and ignored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial

from gpiozero import LED, Button
from gpiozero import Buzzer as _GpioBuzzer
from gpiozero.pins import Factory

from drivers.keys import KeyDriver, KeySpec, OnPress, key_spec


def _pins_by_spec(mapping: Mapping[KeySpec, int]) -> dict[tuple[str, object | None], int]:
    out: dict[tuple[str, object | None], int] = {}
    used: dict[int, KeySpec] = {}
    for spec, pin in mapping.items():
        if pin in used:
            raise ValueError(f"pin {pin} is given to both {used[pin]!r} and {spec!r}")
        used[pin] = spec
        out[key_spec(spec)] = pin
    return out


class GpioKeys(KeyDriver):
    """Buttons on GPIO pins; ``mapping`` gives each key its BCM pin.

    >>> GpioKeys({"call_next": 5, "recall": 6, ("rate", 5): 17}, queue.put)  # doctest: +SKIP

    Presses are delivered from gpiozero's callback thread.
    """

    def __init__(
        self,
        mapping: Mapping[KeySpec, int],
        on_press: OnPress,
        bounce_time: float | None = 0.05,
        pin_factory: Factory | None = None,
        *,
        source: str = "gpio",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(on_press, source, clock)
        self.pins = _pins_by_spec(mapping)
        self.bounce_time = bounce_time or 0.0
        self.pin_factory = pin_factory
        self.ignored_bounces = 0
        self._buttons: list[Button] = []
        self._last_edge: dict[int, float] = {}
        self._edge_lock = threading.Lock()

    def _start(self) -> None:
        for (key, arg), pin in self.pins.items():
            button = Button(
                pin,
                pull_up=True,
                bounce_time=self.bounce_time or None,
                pin_factory=self.pin_factory,
            )
            self._buttons.append(button)
            button.when_pressed = partial(self._edge, pin, key, arg, True)
            button.when_released = partial(self._edge, pin, key, arg, False)

    def _close(self) -> None:
        for button in self._buttons:
            button.close()
        self._buttons.clear()

    def _edge(self, pin: int, key: str, arg: object | None, pressed: bool) -> None:
        with self._edge_lock:
            now = self._clock()
            last = self._last_edge.get(pin)
            self._last_edge[pin] = now
            if last is not None and now - last < self.bounce_time:
                self.ignored_bounces += 1
                return
        if pressed:
            self._emit(key, arg, at=now)


class KeyLeds:
    """Lights in or beside keys, e.g. the rating keys lit while a rating is invited.

    >>> leds = KeyLeds({("rate", n): pin for n, pin in ((5, 12), (4, 16))})  # doctest: +SKIP
    >>> leds.set_lit([("rate", 5), ("rate", 4)])                              # doctest: +SKIP
    """

    def __init__(self, mapping: Mapping[KeySpec, int], pin_factory: Factory | None = None) -> None:
        self.pins = _pins_by_spec(mapping)
        self._leds: dict[tuple[str, object | None], LED] = {}
        self._closed = False
        try:
            for spec, pin in self.pins.items():
                self._leds[spec] = LED(pin, initial_value=False, pin_factory=pin_factory)
        except BaseException:
            self.close()
            raise

    @property
    def lit(self) -> frozenset[tuple[str, object | None]]:
        return frozenset(spec for spec, led in self._leds.items() if led.is_lit)

    def set_lit(self, keys: Iterable[KeySpec]) -> None:
        """Light exactly the LEDs of ``keys`` (keys without an LED are ignored)."""
        wanted = {key_spec(spec) for spec in keys}
        for spec, led in self._leds.items():
            if spec in wanted:
                led.on()
            else:
                led.off()

    def close(self) -> None:
        """Turn the lights off and release the pins; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        for led in self._leds.values():
            led.close()
        self._leds.clear()

    def __enter__(self) -> KeyLeds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Buzzer:
    """An active buzzer on one pin: ``beep()`` returns at once, the beeping runs in the
    background."""

    def __init__(self, pin: int, pin_factory: Factory | None = None) -> None:
        self.pin = pin
        self._buzzer: _GpioBuzzer | None = _GpioBuzzer(pin, pin_factory=pin_factory)

    def beep(self, duration_s: float = 0.1, count: int = 1, pause_s: float = 0.1) -> None:
        if self._buzzer is not None:
            self._buzzer.beep(on_time=duration_s, off_time=pause_s, n=count, background=True)

    def close(self) -> None:
        """Silence and release the pin; safe to call more than once."""
        if self._buzzer is not None:
            self._buzzer.close()
            self._buzzer = None

    def __enter__(self) -> Buzzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
