"""The ticket kiosk: one big key per business type, the priority choice, the issued ticket.

Touch targets: ``("issue", code)`` on a business type, ``("priority", code)`` on a priority
class (the app toggles ``selected_priority``), ``"dismiss"`` on the confirmation's OK key.
While a ticket confirmation is shown, only its OK key is a target.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, ClassVar

import pygame

from screens import theme
from screens.base import Layer, Screen
from screens.paint import Line, Painter
from screens.text import LRU
from screens.views import IssuedTicket, KioskView, QueueLine

KEY_BLUE = (24, 82, 150)
SHADE = (10, 20, 34, 190)
_shades = LRU(2)  # size -> the dimmed backdrop of the issued ticket (18 ms to make at 1080p)


def wait_words(ticket: IssuedTicket) -> tuple[str, str]:
    """``您前面还有 6 人，预计等候 12 分钟`` (or the ticket's own note)."""
    if ticket.note:
        return ticket.note
    if ticket.expected_wait_min is None:
        return f"您前面还有 {ticket.ahead} 人", f"{ticket.ahead} people ahead of you"
    minutes = ticket.expected_wait_min
    return (
        f"您前面还有 {ticket.ahead} 人，预计等候 {minutes} 分钟",
        f"{ticket.ahead} people ahead of you, expected wait about {minutes} minutes",
    )


def queue_words(line: QueueLine) -> str:
    """``等候 6 人 · 约 12 分钟``."""
    text = f"等候 {line.waiting} 人"
    if line.expected_wait_min is not None and line.waiting:
        text += f" · 约 {line.expected_wait_min} 分钟"
    return text


def shade(size: tuple[int, int]) -> pygame.Surface:
    """A surface of ``size`` in the translucent ``SHADE`` (made once per size)."""
    surface = _shades.get(size)
    if surface is None:
        surface = pygame.Surface(size, pygame.SRCALPHA)
        surface.fill(SHADE)
        _shades.put(size, surface)
    return surface


def dim_around(surface: pygame.Surface, card: pygame.Rect, radius: int) -> None:
    """Dim ``surface`` with the ``SHADE`` wherever a card of ``card`` rounded by ``radius`` will
    not cover it: around the card and in its corners (the card covers the rest, so the pixels
    are those of dimming it all; at 1080p a third of the time)."""
    w, h = surface.get_size()
    corner = 2 * radius  # more than the rounding leaves bare: the card paints over the rest
    areas = [
        pygame.Rect(0, 0, w, card.top),
        pygame.Rect(0, card.bottom, w, h - card.bottom),
        pygame.Rect(0, card.top, card.left, card.h),
        pygame.Rect(card.right, card.top, w - card.right, card.h),
        pygame.Rect(card.left, card.top, corner, corner),
        pygame.Rect(card.right - corner, card.top, corner, corner),
        pygame.Rect(card.left, card.bottom - corner, corner, corner),
        pygame.Rect(card.right - corner, card.bottom - corner, corner, corner),
    ]
    dark = shade((w, h))
    for area in areas:
        area = area.clip(surface.get_rect())
        if area.w > 0 and area.h > 0:
            surface.blit(dark, area, area)


class KioskScreen(Screen[KioskView]):
    """Draws a :class:`KioskView`; the clock is the only per-frame part."""

    DYNAMIC = ("clock_text",)
    DYNAMIC_REGIONS = ("clock",)
    BLANK: ClassVar[dict[str, Any]] = {"clock_text": ""}

    def draw_static(self, p: Painter, view: KioskView, layer: Layer) -> None:
        if view.last_ticket is not None:
            # the ticket over the dimmed choice: the choice as last drawn, when still kept
            under = self.kept_layer(p.surface, dataclasses.replace(view, last_ticket=None))
            if under is not None:
                p.surface.blit(under.surface, (0, 0))
                layer.regions.update(under.regions)
            else:
                self._choose(p, view, layer)
            layer.hits.clear()
            self._issued(p, view, view.last_ticket, layer)
            return
        self._choose(p, view, layer)

    def _choose(self, p: Painter, view: KioskView, layer: Layer) -> None:
        full = p.frame.rect
        p.surface.fill(theme.PAPER)
        header = pygame.Rect(0, 0, full.w, p.px(54))
        inner = header.inflate(-2 * p.px(20), -p.px(10))
        name, clock = theme.cols(inner, [0.7, 0.3], p.px(10))

        def named() -> None:
            p.box(header, theme.NAVY)
            p.text(view.branch_name, name, p.px(28), theme.WHITE, align="left", strong=True)

        self.part(p, layer, ("header", theme.PAPER, view.branch_name), header, named)
        layer.regions["clock"] = clock
        m = p.px(16)
        body = pygame.Rect(m, header.bottom + p.px(8), full.w - 2 * m, full.h - header.h - p.px(20))
        title, keys, priority = theme.rows(body, [0.17, 0.56, 0.27], p.px(10))
        said = (theme.PAPER, view.message, view.bilingual)
        self.part(p, layer, ("title", said), title, partial(self._title, p, view, title))
        self._business_keys(p, view, keys, layer)
        chosen = (theme.PAPER, view.priority_classes, view.selected_priority, view.bilingual)
        draw = partial(self._priority, p, view, priority, layer)
        self.part(p, layer, ("priority", chosen), priority, draw)

    def _title(self, p: Painter, view: KioskView, title: pygame.Rect) -> None:
        if view.message:  # a problem replaces the title: it matters more
            self._message(p, view.message, title)
        else:
            p.bilingual(
                "请选择您要办理的业务",
                "Please choose a service",
                title,
                p.px(34),
                theme.NAVY,
                theme.MUTED,
                show_en=view.bilingual,
                strong=True,
                en_ratio=0.5,
            )

    def _business_keys(self, p: Painter, view: KioskView, rect: pygame.Rect, layer: Layer):
        n = len(view.business_types)
        if not n:
            return
        columns = n if n <= 2 else (2 if n == 4 else 3)
        if rect.h > rect.w:  # portrait kiosk: one key per row
            columns = 1 if n <= 6 else 2
        for line, cell in zip(
            view.business_types, theme.grid(rect, n, columns, p.px(12)), strict=True
        ):
            shown = (theme.PAPER, line, view.bilingual)
            draw = partial(self._key, p, view, line, cell, layer)
            self.part(p, layer, ("key", shown), cell, draw)

    def _key(self, p: Painter, view: KioskView, line: QueueLine, cell: pygame.Rect, layer: Layer):
        p.box(cell, KEY_BLUE, radius=14)
        inner = cell.inflate(-2 * p.px(14), -2 * p.px(6))
        lines = [Line(line.name_zh, p.px(40), theme.WHITE, True)]
        if view.bilingual and line.name_en:
            lines.append(Line(line.name_en, p.px(18), theme.NAVY_SOFT))
        lines.append(Line(queue_words(line), p.px(22), (255, 226, 140)))
        p.stack(lines, inner, gap=0.15)
        layer.hits.append((cell, ("issue", line.code)))

    def _priority(self, p: Painter, view: KioskView, rect: pygame.Rect, layer: Layer) -> None:
        if not view.priority_classes:
            return
        p.box(rect, theme.CARD, radius=14, edge=theme.CARD_EDGE)
        inner = rect.inflate(-2 * p.px(12), -2 * p.px(10))
        label, choices = theme.cols(inner, [0.26, 0.74], p.px(12))
        p.bilingual(
            "绿色通道",
            "Priority service",
            label,
            p.px(30),
            theme.PRIORITY_GREEN,
            theme.MUTED,
            show_en=view.bilingual,
            strong=True,
            en_ratio=0.55,
            align="left",
        )
        cells = theme.cols(choices, [1] * len(view.priority_classes), p.px(10))
        for choice, cell in zip(view.priority_classes, cells, strict=True):
            selected = choice.code == view.selected_priority
            if selected:
                p.box(cell, theme.PRIORITY_GREEN, radius=12)
                ink = theme.WHITE
            else:
                p.box(cell, theme.CARD, radius=12, edge=theme.PRIORITY_GREEN, edge_width=3)
                ink = theme.PRIORITY_GREEN
            zh = ("√ " if selected else "") + choice.zh
            p.bilingual(
                zh,
                choice.en,
                cell.inflate(-p.px(10), -p.px(8)),
                p.px(30),
                ink,
                show_en=view.bilingual,
                strong=True,
                en_ratio=0.55,
            )
            layer.hits.append((cell, ("priority", choice.code)))

    def _message(self, p: Painter, message: str, rect: pygame.Rect) -> None:
        p.box(rect, theme.AMBER, radius=10)
        p.text(message, rect.inflate(-2 * p.px(14), -p.px(4)), p.px(26), theme.INK, strong=True)

    def _issued(self, p: Painter, view: KioskView, ticket: IssuedTicket, layer: Layer) -> None:
        p.text_boxes.clear()  # what lies under the dimmed backdrop is no longer read
        p.texts.clear()
        full = p.frame.rect
        card = pygame.Rect(0, 0, min(full.w - 2 * p.px(30), p.px(600)), full.h - 2 * p.px(26))
        card.center = full.center
        dim_around(p.surface, card, p.px(18))
        p.box(card, theme.CARD, radius=18)
        inner = card.inflate(-2 * p.px(24), -2 * p.px(14))
        head, number, business, wait, ok_row = theme.rows(
            inner, [0.15, 0.3, 0.14, 0.2, 0.21], p.px(6)
        )
        p.bilingual(
            "取号成功，请取走号票",
            "Please take your ticket",
            head,
            p.px(32),
            theme.PRIORITY_GREEN,
            theme.MUTED,
            show_en=view.bilingual,
            strong=True,
            en_ratio=0.5,
        )
        p.text(ticket.number, number, p.px(120), theme.NAVY, strong=True)
        p.bilingual(
            ticket.business_zh,
            ticket.business_en,
            business,
            p.px(28),
            theme.INK,
            theme.MUTED,
            show_en=view.bilingual,
            en_ratio=0.6,
        )
        zh, en = wait_words(ticket)
        p.bilingual(
            zh, en, wait, p.px(28), theme.INK, theme.MUTED, show_en=view.bilingual, en_ratio=0.6
        )
        ok = pygame.Rect(0, 0, min(ok_row.w, p.px(240)), ok_row.h)
        ok.center = ok_row.center
        p.box(ok, KEY_BLUE, radius=12)
        p.bilingual(
            "好的",
            "OK",
            ok.inflate(-p.px(10), -p.px(6)),
            p.px(32),
            theme.WHITE,
            show_en=view.bilingual,
            strong=True,
            en_ratio=0.5,
        )
        layer.hits.append((ok, "dismiss"))

    def draw_dynamic(self, p: Painter, view: KioskView, layer: Layer) -> None:
        if view.last_ticket is None:
            p.text(view.clock_text, layer.regions["clock"], p.px(26), theme.WHITE, align="right")
