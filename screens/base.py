"""What every screen shares: a cached static layer, touch targets, recorded text boxes.

A screen draws in two passes. ``draw_static`` draws everything that does not change from frame
to frame; its result (surface, touch targets, named regions) is cached per surface size and per
view with the ``DYNAMIC`` fields blanked, the last two only (a layer is a whole panel: 8 MB at
1080p). ``draw_dynamic`` then draws the count-downs, timers, clocks and tickers on top of a copy
of that layer. A repeated frame costs one blit plus the
dynamic text, which comes from the text cache.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import pygame

from screens.paint import Painter
from screens.text import LRU, Fonts, default_fonts

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Action = str | tuple[str, Any]
V = TypeVar("V", bound="DataclassInstance")  # a view: a dataclass of screens.views


@dataclass
class Layer:
    """A drawn static layer and what was learnt while drawing it."""

    surface: pygame.Surface
    text_boxes: list[pygame.Rect]
    texts: list[str]
    hits: list[tuple[pygame.Rect, Action]] = field(default_factory=list)
    regions: dict[str, pygame.Rect] = field(default_factory=dict)


class Screen(Generic[V]):
    """Base of the four screens: ``render(surface, view)`` and ``hit_test(pos)``.

    After a render, ``hits``, ``regions`` (named areas such as ``"timer"``), ``text_boxes`` and
    ``texts`` describe the frame just drawn.
    """

    DYNAMIC: ClassVar[tuple[str, ...]] = ()
    BLANK: ClassVar[dict[str, Any]] = {}

    def __init__(self, fonts: Fonts | None = None, cache_size: int = 2) -> None:
        self.fonts = fonts if fonts is not None else default_fonts()
        self._layers = LRU(cache_size)
        self.hits: list[tuple[pygame.Rect, Action]] = []
        self.regions: dict[str, pygame.Rect] = {}
        self.text_boxes: list[pygame.Rect] = []
        self.texts: list[str] = []

    def render(self, surface: pygame.Surface, view: V) -> None:
        """Draw ``view`` onto ``surface`` (any size; laid out from the size)."""
        static_view = dataclasses.replace(view, **{n: self.BLANK.get(n) for n in self.DYNAMIC})
        key = (surface.get_size(), surface.get_bitsize(), static_view)
        layer = self._layers.get(key)
        if layer is None:
            canvas = pygame.Surface(surface.get_size(), 0, surface)
            painter = Painter(canvas, self.fonts)
            layer = Layer(canvas, painter.text_boxes, painter.texts)
            self.draw_static(painter, view, layer)
            self._layers.put(key, layer)
        surface.blit(layer.surface, (0, 0))
        painter = Painter(surface, self.fonts)
        self.draw_dynamic(painter, view, layer)
        self.hits = layer.hits
        self.regions = layer.regions
        self.text_boxes = layer.text_boxes + painter.text_boxes
        self.texts = layer.texts + painter.texts

    def hit_test(self, pos: tuple[int, int]) -> Action | None:
        """The action under a touch or click at ``pos`` in the last rendered frame."""
        for rect, action in self.hits:
            if rect.collidepoint(pos):
                return action
        return None

    def draw_static(self, p: Painter, view: V, layer: Layer) -> None:
        raise NotImplementedError

    def draw_dynamic(self, p: Painter, view: V, layer: Layer) -> None:
        """Nothing by default."""
