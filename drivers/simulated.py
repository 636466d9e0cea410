"""Simulated twins of the drivers, for the demo, development on a PC, and tests.

* :class:`SimulatedKeys` – presses injected by code (``press("call_next")``) or by the keyboard
  and mouse of the pygame screens (``handle_event(event)``).
* :class:`SimulatedLedDisplay` – records every state it was asked to show.
* :class:`InputMap` – pygame events to keys: the keyboard map below, plus screen regions (buttons
  drawn by the screens) that a mouse click or a touch presses.

Default keyboard map (:data:`DEFAULT_KEYBOARD_MAP`)::

    F1 call_next   F2 recall   F3 skip (过号)   F4 transfer   F5 start   F6 finish
    F7 invite_rating (请评价)   F8 pause   F9 resume   F10 sign_out   F11 ticketless
    B band (金额档次)   E extend (延时原因)
    1..5 and keypad 1..5: rate 1..5;   0 / keypad 0: rate 0 (不了解 on the "four" scale)

F8, B and E without a number open a choice on the teller console; a number key picks.

pygame is imported only when an event is handled or the keyboard map is built.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from drivers.keys import KeyDriver, KeyPress, KeySpec, OnPress, key_spec
from drivers.led_display import CounterDisplay, DisplayState

#: pygame key constant name -> key (or (key, arg)).
DEFAULT_KEYBOARD_MAP: dict[str, KeySpec] = {
    "K_F1": "call_next",
    "K_F2": "recall",
    "K_F3": "skip",
    "K_F4": "transfer",
    "K_F5": "start",
    "K_F6": "finish",
    "K_F7": "invite_rating",
    "K_F8": "pause",
    "K_F9": "resume",
    "K_F10": "sign_out",
    "K_F11": "ticketless",
    "K_b": "band",
    "K_e": "extend",
    **{f"K_{n}": ("rate", n) for n in range(10)},
    **{f"K_KP{n}": ("rate", n) for n in range(10)},
}


def _pygame() -> Any:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def keyboard_map(names: Mapping[str, KeySpec] = DEFAULT_KEYBOARD_MAP) -> dict[int, KeySpec]:
    """A map of pygame key codes to keys, from pygame constant names (``"K_F1"``)."""
    pygame = _pygame()
    out: dict[int, KeySpec] = {}
    for name, spec in names.items():
        key_spec(spec)  # validate
        out[getattr(pygame, name)] = spec
    return out


RectLike = Any  # a pygame.Rect or (x, y, width, height)


class InputMap:
    """Turns pygame KEYDOWN events and left clicks / touches on regions into ``(key, arg)``.

    The screens call :meth:`set_regions` whenever they draw their on-screen buttons, and
    :meth:`lookup` (or :meth:`SimulatedKeys.handle_event`) with each event.
    """

    def __init__(self, keys: Mapping[int, KeySpec] | None = None) -> None:
        self.keys = dict(keyboard_map() if keys is None else keys)
        self._regions: list[tuple[RectLike, tuple[str, object | None]]] = []

    def set_regions(self, regions: Iterable[tuple[RectLike, KeySpec]]) -> None:
        """Replace the clickable regions; the first region containing a click wins."""
        pygame = _pygame()
        self._regions = [(pygame.Rect(rect), key_spec(spec)) for rect, spec in regions]

    def lookup(self, event: Any) -> tuple[str, object | None] | None:
        pygame = _pygame()
        if event.type == pygame.KEYDOWN:
            spec = self.keys.get(event.key)
            return key_spec(spec) if spec is not None else None
        if event.type == pygame.MOUSEBUTTONDOWN and getattr(event, "button", 1) == 1:
            for rect, spec in self._regions:
                if rect.collidepoint(event.pos):
                    return spec
        return None


class SimulatedKeys(KeyDriver):
    """Keys pressed by code or by pygame events; presses are delivered on the caller's thread."""

    def __init__(
        self,
        on_press: OnPress,
        *,
        input_map: InputMap | None = None,
        source: str = "simulated",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(on_press, source, clock)
        self._input_map = input_map

    @property
    def input_map(self) -> InputMap:
        if self._input_map is None:
            self._input_map = InputMap()
        return self._input_map

    def press(self, key: str, arg: object | None = None) -> KeyPress | None:
        """Press ``key`` now; returns the press delivered (``None`` once closed)."""
        name, arg = key_spec((key, arg) if arg is not None else key)
        return self._emit(name, arg)

    def handle_event(self, event: Any) -> KeyPress | None:
        """Press the key mapped to a pygame event, if any."""
        spec = self.input_map.lookup(event)
        return self.press(*spec) if spec is not None else None


class SimulatedLedDisplay(CounterDisplay):
    """Records every state (:attr:`states`) and brightness (:attr:`brightnesses`) it was given,
    rendered exactly as :class:`~drivers.led_display.LedDisplay` would send them."""

    def __init__(
        self,
        address: int = 1,
        *,
        charset: str = "gb2312",
        call_format: str | None = None,
        paused_text: str | None = None,
    ) -> None:
        super().__init__(charset, call_format, paused_text)
        self.address = address
        self.states: list[DisplayState] = []
        self.brightnesses: list[int] = []
        self.closed = False

    def _set(self, state: DisplayState) -> None:
        super()._set(state)
        self.states.append(state)

    def set_brightness(self, percent: int) -> None:
        super().set_brightness(percent)
        self.brightnesses.append(percent)

    def close(self) -> None:
        self.closed = True
