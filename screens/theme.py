"""Colours, the green-to-red rating scale and size-independent layout helpers.

Every screen lays itself out from the surface size: :class:`Frame` gives the scale unit ``u``
(1.0 on the official 7" 800x480 display, 2.25 at 1920x1080) and the rect helpers split areas by
weight, so no screen hard-codes one resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

Colour = tuple[int, int, int]

WHITE: Colour = (255, 255, 255)
INK: Colour = (22, 30, 42)  # text on light backgrounds
MUTED: Colour = (88, 98, 112)  # secondary text on light backgrounds
PAPER: Colour = (246, 244, 238)  # light background (pad, kiosk)
CARD: Colour = (255, 255, 255)
CARD_EDGE: Colour = (214, 209, 198)
NAVY: Colour = (18, 56, 100)  # header bars
NAVY_SOFT: Colour = (210, 224, 240)
GOLD: Colour = (232, 166, 0)  # stars
STAR_EMPTY: Colour = (216, 210, 196)
SILHOUETTE_BG: Colour = (214, 221, 230)
SILHOUETTE: Colour = (150, 162, 178)

NIGHT: Colour = (12, 20, 32)  # dark background (console, hall board)
NIGHT_PANEL: Colour = (26, 38, 56)
NIGHT_EDGE: Colour = (52, 70, 96)
NIGHT_INK: Colour = (238, 242, 247)
NIGHT_MUTED: Colour = (150, 166, 188)
CALL_YELLOW: Colour = (255, 212, 0)

OK_GREEN: Colour = (46, 184, 104)
AMBER: Colour = (255, 170, 0)
ALARM_RED: Colour = (232, 56, 48)
PAUSE_RED: Colour = (176, 32, 36)
DISABLED: Colour = (70, 82, 100)
NEUTRAL_GREY: Colour = (112, 120, 132)
PRIORITY_GREEN: Colour = (20, 128, 72)

# Best level first; the scale is spread over however many levels are configured.
RATING_SCALE: tuple[Colour, ...] = (
    (22, 128, 64),  # green
    (104, 160, 36),  # yellow-green
    (236, 170, 0),  # amber
    (226, 104, 28),  # orange
    (190, 36, 40),  # red
)


def mix(a: Colour, b: Colour, t: float) -> Colour:
    """Linear blend from ``a`` (t=0) to ``b`` (t=1)."""
    t = min(1.0, max(0.0, t))
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def scale_colour(rank: int, count: int) -> Colour:
    """Colour of the ``rank``-th best of ``count`` levels: green (best) to red (worst)."""
    if count <= 1:
        return RATING_SCALE[0]
    pos = rank / (count - 1) * (len(RATING_SCALE) - 1)
    i = min(int(pos), len(RATING_SCALE) - 2)
    return mix(RATING_SCALE[i], RATING_SCALE[i + 1], pos - i)


def _luminance(c: Colour) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in c)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Colour, b: Colour) -> float:
    """WCAG contrast ratio (1..21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(bg: Colour) -> Colour:
    """White or ink, whichever reads better on ``bg``."""
    return WHITE if contrast(WHITE, bg) >= contrast(INK, bg) else INK


@dataclass(frozen=True)
class Frame:
    """The drawing area: its size and the scale unit relative to 800x480."""

    w: int
    h: int

    @classmethod
    def of(cls, surface: pygame.Surface) -> Frame:
        return cls(*surface.get_size())

    @property
    def u(self) -> float:
        return min(self.w / 800, self.h / 480)

    @property
    def rect(self) -> pygame.Rect:
        return pygame.Rect(0, 0, self.w, self.h)

    def px(self, value: float) -> int:
        """A length given for 800x480, scaled to this frame (at least 1 pixel)."""
        return max(1, round(value * self.u))


def rows(rect: pygame.Rect, weights: list[float], gap: int = 0) -> list[pygame.Rect]:
    """Split ``rect`` top to bottom in proportion to ``weights``."""
    return [pygame.Rect(rect.x, y, rect.w, h) for y, h in _split(rect.y, rect.h, weights, gap)]


def cols(rect: pygame.Rect, weights: list[float], gap: int = 0) -> list[pygame.Rect]:
    """Split ``rect`` left to right in proportion to ``weights``."""
    return [pygame.Rect(x, rect.y, w, rect.h) for x, w in _split(rect.x, rect.w, weights, gap)]


def grid(rect: pygame.Rect, count: int, columns: int, gap: int = 0) -> list[pygame.Rect]:
    """``count`` equal cells filling ``rect`` row by row, ``columns`` per row."""
    columns = max(1, min(columns, count))
    n_rows = -(-count // columns)
    cells = []
    for row in rows(rect, [1] * n_rows, gap):
        cells += cols(row, [1] * columns, gap)
    return cells[:count]


def _split(start: int, length: int, weights: list[float], gap: int) -> list[tuple[int, int]]:
    total = sum(weights) or 1
    free = length - gap * (len(weights) - 1)
    out, acc = [], 0.0
    for w in weights:
        a = start + round(acc)
        acc += free * w / total
        out.append((a, start + round(acc) - a))
        acc += gap
    return out
