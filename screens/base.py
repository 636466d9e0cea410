"""What every screen shares: a cached static layer, touch targets, recorded text boxes.

A screen draws in two passes. ``draw_static`` draws everything that does not change from frame
to frame; its result (surface, touch targets, named regions) is cached per surface size and per
view with the ``DYNAMIC`` fields blanked, the last two only (a layer is a whole panel: 8 MB at
1080p; a new one is drawn on the surface of the one it pushes out). ``draw_dynamic`` then
draws the count-downs, timers, clocks and tickers on top, inside the layer's regions named in
``DYNAMIC_REGIONS``.

``render`` returns the areas of the surface it changed, for ``pygame.display.update``. Drawn
again on the same surface over the same layer, a frame only puts those regions back from the
layer and draws the dynamic parts there (nothing at all when the view is the same), which gives
the very pixels of a full redraw; any other frame is drawn whole.

A new layer is mostly made of parts drawn before: headers, the teller keys, the kiosk's keys,
prompts. ``part`` draws such a part once per key (the view's fields it shows) and
later copies its pixels, with the text boxes, touch targets and regions it made (a 1080p
console's header and keys: about 1.5 ms drawn, 0.2 ms copied). The parts of a screen are
bounded in bytes (as many as a layer of the surface it draws on).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import pygame

from screens.paint import Painter
from screens.text import LRU, Fonts, default_fonts, surface_bytes

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


@dataclass
class Part:
    """A drawn part of a layer: its pixels and what drawing it recorded."""

    pixels: pygame.Surface
    text_boxes: list[pygame.Rect]
    texts: list[str]
    hits: list[tuple[pygame.Rect, Action]]
    regions: dict[str, pygame.Rect]


def _part_bytes(part: Part) -> int:
    return surface_bytes(part.pixels)


class Screen(Generic[V]):
    """Base of the four screens: ``render(surface, view)`` and ``hit_test(pos)``.

    After a render, ``hits``, ``regions`` (named areas such as ``"timer"``), ``text_boxes`` and
    ``texts`` describe the frame just drawn.
    """

    DYNAMIC: ClassVar[tuple[str, ...]] = ()
    BLANK: ClassVar[dict[str, Any]] = {}
    DYNAMIC_REGIONS: ClassVar[tuple[str, ...]] = ()
    """The layer's regions ``draw_dynamic`` draws in (and nowhere else)."""
    LAYERS: ClassVar[int] = 2
    """How many static layers are kept (the modes a screen goes round in, at most)."""

    def __init__(self, fonts: Fonts | None = None, cache_size: int | None = None) -> None:
        self.fonts = fonts if fonts is not None else default_fonts()
        self._layers = LRU(cache_size or self.LAYERS)
        self._parts = LRU(256, 0, _part_bytes)  # budget: one layer's bytes, set by render
        self.parts_copied = 0  # parts not drawn but copied from an earlier layer
        self._shown: tuple[pygame.Surface, Layer, V] | None = None  # target, layer, view
        self.hits: list[tuple[pygame.Rect, Action]] = []
        self.regions: dict[str, pygame.Rect] = {}
        self.text_boxes: list[pygame.Rect] = []
        self.texts: list[str] = []

    def render(self, surface: pygame.Surface, view: V) -> list[pygame.Rect]:
        """Draw ``view`` onto ``surface`` (any size; laid out from the size); returns the areas
        of ``surface`` that changed (all of it, unless the surface still holds this screen's
        last frame: see the module docstring)."""
        self._parts.budget = max(self._parts.budget or 0, surface_bytes(surface))
        static_view = dataclasses.replace(view, **{n: self.BLANK.get(n) for n in self.DYNAMIC})
        key = (surface.get_size(), surface.get_bitsize(), static_view)
        layer = self._layers.get(key)
        if layer is None:
            old = self._layers.pop_oldest() if len(self._layers) >= self._layers.maxsize else None
            layer = self._draw_layer(surface, view, old.surface if old is not None else None)
            self._layers.put(key, layer)
        shown = self._shown
        if shown is not None and shown[0] is surface and shown[1] is layer:
            if shown[2] == view:
                return []
            dirty = [layer.regions[n] for n in self.DYNAMIC_REGIONS if n in layer.regions]
            for rect in dirty:
                surface.blit(layer.surface, rect, rect)
        else:
            surface.blit(layer.surface, (0, 0))
            dirty = [surface.get_rect()]
        painter = Painter(surface, self.fonts)
        self.draw_dynamic(painter, view, layer)
        self._shown = (surface, layer, view)
        self.hits = layer.hits
        self.regions = layer.regions
        self.text_boxes = layer.text_boxes + painter.text_boxes
        self.texts = layer.texts + painter.texts
        return dirty

    def invalidate(self) -> None:
        """Draw the next frame whole (something else drew on the surface)."""
        self._shown = None

    def kept_layer(self, surface: pygame.Surface, view: V) -> Layer | None:
        """The kept static layer of ``view`` for a surface like ``surface``, if there is one."""
        static_view = dataclasses.replace(view, **{n: self.BLANK.get(n) for n in self.DYNAMIC})
        return self._layers.get((surface.get_size(), surface.get_bitsize(), static_view))

    def _draw_layer(self, surface: pygame.Surface, view: V, spare: pygame.Surface | None) -> Layer:
        size, depth = surface.get_size(), surface.get_bitsize()
        if spare is not None and spare.get_size() == size and spare.get_bitsize() == depth:
            canvas = spare  # draw_static paints every pixel: nothing of the old layer shows
        else:
            canvas = pygame.Surface(size, 0, surface)
        painter = Painter(canvas, self.fonts)
        layer = Layer(canvas, painter.text_boxes, painter.texts)
        self.draw_static(painter, view, layer)
        return layer

    def part(
        self,
        p: Painter,
        layer: Layer,
        key: Hashable,
        rect: pygame.Rect,
        draw: Callable[[], object],
    ) -> None:
        """Draw a part of the static layer inside ``rect`` by ``draw()``, or copy it from the last
        time it was drawn with the same ``key``.

        ``key`` holds everything the part's pixels depend on besides the surface's size and
        ``rect``: the view's fields it shows and the colour it is drawn over (a part draws over
        the layer's plain background, and only inside ``rect``: it is clipped to it). Its text
        boxes, texts, touch targets and regions are recorded with it and given back on a copy.
        """
        surface = p.surface
        full_key = (key, surface.get_size(), surface.get_bitsize(), tuple(rect))
        inside = rect.clip(surface.get_rect())
        done: Part | None = self._parts.get(full_key)
        if done is not None:
            surface.blit(done.pixels, inside)
            self.parts_copied += 1
        else:
            marks = len(p.text_boxes), len(p.texts), len(layer.hits), dict(layer.regions)
            clip = surface.get_clip()
            surface.set_clip(rect.clip(clip))
            try:
                draw()
            finally:
                surface.set_clip(clip)
            regions = {k: r.copy() for k, r in layer.regions.items() if marks[3].get(k) != r}
            done = Part(
                surface.subsurface(inside).copy(),
                [r.copy() for r in p.text_boxes[marks[0] :]],
                p.texts[marks[1] :],
                [(r.copy(), a) for r, a in layer.hits[marks[2] :]],
                regions,
            )
            self._parts.put(full_key, done)
            return
        p.text_boxes.extend(r.copy() for r in done.text_boxes)
        p.texts.extend(done.texts)
        layer.hits.extend((r.copy(), a) for r, a in done.hits)
        layer.regions.update((k, r.copy()) for k, r in done.regions.items())

    def hit_test(self, pos: tuple[int, int]) -> Action | None:
        """The action under a touch or click at ``pos`` in the last rendered frame."""
        for rect, action in self.hits:
            if rect.collidepoint(pos):
                return action
        return None

    def draw_static(self, p: Painter, view: V, layer: Layer) -> None:
        """Draw every pixel of the layer (it may be the surface of an older one)."""
        raise NotImplementedError

    def draw_dynamic(self, p: Painter, view: V, layer: Layer) -> None:
        """Nothing by default."""
