"""Drawing primitives shared by the screens; every text box drawn is recorded.

The record (:attr:`Painter.text_boxes`) lets tests check that no text leaves the screen or
overlaps other text, at any resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pygame
import pygame.gfxdraw

from screens import theme
from screens.text import Fonts
from screens.theme import Colour, Frame


@dataclass(frozen=True)
class Line:
    """One line of a text stack; ``size`` in pixels."""

    text: str
    size: int
    colour: Colour
    strong: bool = False


class Painter:
    """Draws on one surface with one set of fonts, remembering where text went."""

    def __init__(self, surface: pygame.Surface, fonts: Fonts) -> None:
        self.surface = surface
        self.fonts = fonts
        self.frame = Frame.of(surface)
        self.text_boxes: list[pygame.Rect] = []
        self.texts: list[str] = []

    def px(self, value: float) -> int:
        return self.frame.px(value)

    # -- shapes ------------------------------------------------------------------------------
    def box(
        self,
        rect: pygame.Rect,
        colour: Colour,
        radius: float = 0,
        edge: Colour | None = None,
        edge_width: float = 2,
    ) -> None:
        """A filled rectangle, rounded by ``radius`` (800x480 pixels), with an optional edge."""
        r = self.px(radius) if radius else 0
        pygame.draw.rect(self.surface, colour, rect, border_radius=r)
        if edge is not None:
            pygame.draw.rect(self.surface, edge, rect, self.px(edge_width), border_radius=r)

    def bar(self, rect: pygame.Rect, fraction: float, fg: Colour, bg: Colour) -> None:
        """A horizontal progress bar filled to ``fraction``."""
        radius = rect.h // 2
        pygame.draw.rect(self.surface, bg, rect, border_radius=radius)
        filled = rect.copy()
        filled.w = round(rect.w * min(1.0, max(0.0, fraction)))
        if filled.w > 0:
            pygame.draw.rect(self.surface, fg, filled, border_radius=radius)

    def star(self, centre: tuple[float, float], radius: float, colour: Colour) -> None:
        """A filled five-pointed star with smooth edges."""
        cx, cy = centre
        cy += radius * 0.1  # a star's visual centre sits above its geometric one
        points = []
        for i in range(10):
            r = radius if i % 2 == 0 else radius * 0.45
            a = -math.pi / 2 + i * math.pi / 5
            points.append((round(cx + r * math.cos(a)), round(cy + r * math.sin(a))))
        pygame.gfxdraw.filled_polygon(self.surface, points, colour)
        pygame.gfxdraw.aapolygon(self.surface, points, colour)

    def stars(self, rect: pygame.Rect, count: int, total: int = 5, colour=theme.GOLD) -> None:
        """``count`` gold stars of ``total``, centred in ``rect``."""
        step = min(rect.h, rect.w / total)
        x0 = rect.centerx - step * total / 2
        for i in range(total):
            tint = colour if i < count else theme.STAR_EMPTY
            self.star((x0 + step * (i + 0.5), rect.centery), step * 0.46, tint)

    def silhouette(self, rect: pygame.Rect) -> None:
        """A neutral head-and-shoulders placeholder for a missing teller photo."""
        radius = self.px(10)
        pygame.draw.rect(self.surface, theme.SILHOUETTE_BG, rect, border_radius=radius)
        clip = self.surface.get_clip()
        self.surface.set_clip(rect.inflate(-2, -2).clip(clip) if clip else rect)
        head_r = rect.w * 0.2
        cx, cy = rect.centerx, rect.y + rect.h * 0.4
        pygame.gfxdraw.filled_circle(self.surface, cx, round(cy), round(head_r), theme.SILHOUETTE)
        pygame.gfxdraw.aacircle(self.surface, cx, round(cy), round(head_r), theme.SILHOUETTE)
        shoulders = pygame.Rect(0, 0, round(rect.w * 0.78), round(rect.h * 0.5))
        shoulders.midtop = (cx, round(cy + head_r * 1.25))
        pygame.draw.ellipse(self.surface, theme.SILHOUETTE, shoulders)
        self.surface.set_clip(clip)

    def face(self, centre: tuple[int, int], radius: int, mood: float | None, colour: Colour):
        """A line-drawn face: ``mood`` 1 smiles, -1 frowns, ``None`` is a question mark."""
        cx, cy = centre
        width = max(2, round(radius / 8))
        self.ring(centre, radius, width, colour)
        if mood is None:
            box = pygame.Rect(cx - radius, cy - radius, 2 * radius, 2 * radius)
            self.text("?", box, round(radius * 1.3), colour, strong=True, record=False)
            return
        eye_r = max(2, round(radius / 7))
        for dx in (-0.36, 0.36):
            ex, ey = round(cx + dx * radius), round(cy - 0.25 * radius)
            pygame.gfxdraw.filled_circle(self.surface, ex, ey, eye_r, colour)
            pygame.gfxdraw.aacircle(self.surface, ex, ey, eye_r, colour)
        points = []
        for i in range(13):
            x = -1 + i / 6
            y = 0.3 + 0.22 * mood * (1 - x * x) - 0.08 * mood
            points.append((cx + x * radius * 0.5, cy + y * radius))
        pygame.draw.lines(self.surface, colour, False, points, width)

    def ring(self, centre: tuple[int, int], radius: int, width: int, colour: Colour) -> None:
        """A circle outline ``width`` thick with smooth edges."""
        cx, cy = centre
        pygame.draw.circle(self.surface, colour, centre, radius, width)
        pygame.gfxdraw.aacircle(self.surface, cx, cy, radius, colour)
        pygame.gfxdraw.aacircle(self.surface, cx, cy, radius - width + 1, colour)

    def check(self, centre: tuple[int, int], radius: int, colour: Colour, mark: Colour) -> None:
        """A filled circle with a tick: the confirmation mark."""
        cx, cy = centre
        pygame.gfxdraw.filled_circle(self.surface, cx, cy, radius, colour)
        pygame.gfxdraw.aacircle(self.surface, cx, cy, radius, colour)
        r = radius
        points = [
            (cx - 0.45 * r, cy + 0.02 * r),
            (cx - 0.12 * r, cy + 0.35 * r),
            (cx + 0.48 * r, cy - 0.3 * r),
        ]
        pygame.draw.lines(self.surface, mark, False, points, max(3, round(r / 6)))

    # -- text --------------------------------------------------------------------------------
    def text(
        self,
        text: str,
        rect: pygame.Rect,
        size: int,
        colour: Colour,
        *,
        align: str = "center",
        valign: str = "center",
        strong: bool = False,
        min_size: int | None = None,
        record: bool = True,
    ) -> pygame.Rect:
        """One line fitted into ``rect`` (shrunk, then shortened with …); returns its box."""
        if not text:
            return pygame.Rect(rect.x, rect.y, 0, 0)
        fitted, fsize = self.fonts.fit(
            text, rect.w, rect.h, size, min_size or max(8, size // 3), strong
        )
        surf = self.fonts.render(fitted, fsize, colour, strong)
        box = surf.get_rect()
        box.x = {
            "left": rect.x,
            "right": rect.right - box.w,
        }.get(align, rect.centerx - box.w // 2)
        box.y = {"top": rect.y, "bottom": rect.bottom - box.h}.get(
            valign, rect.centery - box.h // 2
        )
        self.surface.blit(surf, box)
        self.texts.append(fitted)
        if record:
            self.text_boxes.append(box)
        return box

    def runs(
        self, parts: list[tuple[str, Colour]], rect: pygame.Rect, size: int, strong: bool = False
    ) -> list[pygame.Rect]:
        """Differently coloured pieces on one line, one size, centred in ``rect``."""
        _, size = self.fonts.fit("".join(t for t, _ in parts), rect.w, rect.h, size, 6, strong)
        while True:
            surfs = [self.fonts.render(t, size, c, strong) for t, c in parts]
            width = sum(s.get_width() for s in surfs)
            if width <= rect.w or size <= 6:
                break
            size -= 1
        x, boxes = rect.centerx - width // 2, []
        for (text, _), surf in zip(parts, surfs, strict=True):
            box = surf.get_rect(x=x, centery=rect.centery)
            self.surface.blit(surf, box)
            self.texts.append(text)
            self.text_boxes.append(box)
            boxes.append(box)
            x += box.w
        return boxes

    def stack(
        self,
        lines: list[Line],
        rect: pygame.Rect,
        *,
        align: str = "center",
        valign: str = "center",
        gap: float = 0.1,
    ) -> list[pygame.Rect]:
        """Lines one under another, scaled down together until they fit ``rect``."""
        lines = [ln for ln in lines if ln.text]
        if not lines:
            return []
        heights = [self.fonts.line_height(ln.size) for ln in lines]
        gap_px = round(gap * min(heights))
        total = sum(heights) + gap_px * (len(lines) - 1)
        factor = min(1.0, rect.h / total) if total else 1.0
        sizes = [max(6, int(ln.size * factor)) for ln in lines]
        heights = [self.fonts.line_height(s) for s in sizes]
        gap_px = int(gap_px * factor)
        total = sum(heights) + gap_px * (len(lines) - 1)
        y = {"top": rect.y, "bottom": rect.bottom - total}.get(
            valign, rect.y + (rect.h - total) // 2
        )
        boxes = []
        for ln, size, h in zip(lines, sizes, heights, strict=True):
            slot = pygame.Rect(rect.x, y, rect.w, h)
            boxes.append(self.text(ln.text, slot, size, ln.colour, align=align, strong=ln.strong))
            y += h + gap_px
        return boxes

    def bilingual(
        self,
        zh: str,
        en: str,
        rect: pygame.Rect,
        size: int,
        colour: Colour,
        en_colour: Colour | None = None,
        *,
        show_en: bool = True,
        en_ratio: float = 0.42,
        strong: bool = False,
        align: str = "center",
        valign: str = "center",
    ) -> list[pygame.Rect]:
        """Chinese first, English smaller beneath (when given and shown)."""
        lines = [Line(zh, size, colour, strong)]
        if show_en and en:
            lines.append(Line(en, max(8, round(size * en_ratio)), en_colour or colour))
        return self.stack(lines, rect, align=align, valign=valign)

    def wrapped(
        self, text: str, rect: pygame.Rect, size: int, colour: Colour, strong: bool = False
    ) -> list[pygame.Rect]:
        """``text`` at ``size`` on one line if it fits, else on two."""
        lines = [text]
        if not self.fonts.fits(text, rect.w, rect.h, size, strong):
            lines = self.fonts.wrap2(text)
        return self.stack([Line(t, size, colour, strong) for t in lines], rect, gap=0)

    def wrap_choice(
        self, text: str, rect: pygame.Rect, size: int, strong: bool = False
    ) -> tuple[list[str], int]:
        """(lines, size) for ``text`` in ``rect``: one line, or two if that is larger."""
        _, one = self.fonts.fit(text, rect.w, rect.h, size, 6, strong)
        halves = self.fonts.wrap2(text)
        if len(halves) < 2:
            return [text], one
        line_h = rect.h * 0.5
        two = min(self.fonts.fit(t, rect.w, int(line_h), size, 6, strong)[1] for t in halves)
        return (halves, two) if two > one * 1.15 else ([text], one)
