"""The hall board: the current call very large, recent calls, waiting counts, a notice ticker.

No touch targets. The notice scrolls right to left at a speed proportional to the screen size;
its position is :func:`ticker_x` of the view's ``notice_time_s``, so a frame is reproducible.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pygame

from screens import theme
from screens.base import Layer, Screen
from screens.paint import Painter
from screens.views import BoardView, Call

TICKER_SPEED = 70  # pixels per second at 800x480


def ticker_x(time_s: float, text_w: int, band_x: int, band_w: int, speed: float) -> int:
    """Left edge of the notice text: centred if it fits, else scrolling and wrapping around.

    At ``time_s == 0`` the text starts at the band's left edge; it moves left at ``speed``
    pixels per second and comes back in from the right edge once it has left.
    """
    if text_w <= band_w:
        return band_x + (band_w - text_w) // 2
    period = text_w + band_w
    travelled = (time_s * speed + band_w) % period
    return round(band_x + band_w - travelled)


def call_words(call: Call) -> tuple[str, str]:
    """The spoken-style sentence of a call, in Chinese and English."""
    zh = f"请 {call.ticket} 号到 {call.counter_zh} 办理"
    en = f"Ticket {call.ticket}, please go to {call.counter_en}" if call.counter_en else ""
    return zh, en


class BoardScreen(Screen[BoardView]):
    """Draws a :class:`BoardView`; the clock and the notice ticker are per frame."""

    DYNAMIC = ("clock_text", "notice_time_s")
    DYNAMIC_REGIONS = ("clock", "ticker")
    BLANK: ClassVar[dict[str, Any]] = {"clock_text": "", "notice_time_s": 0.0}

    def draw_static(self, p: Painter, view: BoardView, layer: Layer) -> None:
        full = p.frame.rect
        p.surface.fill(theme.NIGHT)
        header = pygame.Rect(0, 0, full.w, p.px(46))
        p.box(header, theme.NIGHT_PANEL)
        inner = header.inflate(-2 * p.px(16), -p.px(8))
        name, title, clock = theme.cols(inner, [0.4, 0.3, 0.3], p.px(10))
        p.text(view.branch_name, name, p.px(28), theme.NIGHT_INK, align="left", strong=True)
        words = "叫号信息" + ("  Calling" if view.bilingual else "")
        p.text(words, title, p.px(24), theme.NIGHT_MUTED)
        layer.regions["clock"] = clock
        ticker = pygame.Rect(0, full.h - p.px(44), full.w, p.px(44))
        p.box(ticker, theme.NIGHT_PANEL)
        layer.regions["ticker"] = ticker.inflate(-2 * p.px(16), 0)
        m = p.px(12)
        body = pygame.Rect(m, header.bottom + m, full.w - 2 * m, ticker.y - header.bottom - 2 * m)
        left, right = theme.cols(body, [0.66, 0.34], m)
        call_area, waiting_area = theme.rows(left, [0.62, 0.38], m)
        layer.regions["call"] = call_area
        self._call(p, view, call_area)
        self._waiting(p, view, waiting_area)
        self._recent(p, view, right)

    def _caption(self, p: Painter, view: BoardView, rect: pygame.Rect, zh: str, en: str):
        p.text(
            zh + (f"  {en}" if view.bilingual else ""),
            rect,
            p.px(22),
            theme.NIGHT_MUTED,
            align="left",
        )

    def _call(self, p: Painter, view: BoardView, rect: pygame.Rect) -> None:
        p.box(rect, theme.NIGHT_PANEL, radius=14, edge=theme.CALL_YELLOW, edge_width=3)
        inner = rect.inflate(-2 * p.px(20), -2 * p.px(10))
        caption, big, sentence = theme.rows(inner, [0.14, 0.62, 0.24], p.px(4))
        self._caption(p, view, caption, "正在叫号", "Now calling")
        call = view.current_call
        if call is None:
            p.bilingual(
                "请留意叫号",
                "Please wait for your number",
                big.union(sentence),
                p.px(64),
                theme.NIGHT_MUTED,
                show_en=view.bilingual,
                strong=True,
            )
            return
        self._call_line(p, call, big)
        zh, en = call_words(call)
        p.bilingual(
            zh,
            en,
            sentence,
            p.px(30),
            theme.NIGHT_INK,
            theme.NIGHT_MUTED,
            show_en=view.bilingual,
            en_ratio=0.7,
        )

    def _call_line(self, p: Painter, call: Call, rect: pygame.Rect) -> None:
        """``A012 → 3号窗口`` in one size: the ticket in yellow, the counter in white."""
        parts = [
            (call.ticket, theme.CALL_YELLOW),
            (" → ", theme.NIGHT_MUTED),
            (call.counter_zh, theme.NIGHT_INK),
        ]
        p.runs(parts, rect, p.px(150), strong=True)

    def _waiting(self, p: Painter, view: BoardView, rect: pygame.Rect) -> None:
        p.box(rect, theme.NIGHT_PANEL, radius=14)
        inner = rect.inflate(-2 * p.px(16), -2 * p.px(8))
        caption, tiles = theme.rows(inner, [0.22, 0.78], p.px(4))
        self._caption(p, view, caption, "等候人数", "Waiting")
        if not view.waiting:
            p.text(
                "暂无排队" + ("  No queue" if view.bilingual else ""),
                tiles,
                p.px(28),
                theme.NIGHT_MUTED,
            )
            return
        cells = theme.cols(tiles, [1] * len(view.waiting), p.px(10))
        for line, cell in zip(view.waiting, cells, strict=True):
            p.box(cell, theme.NIGHT, radius=10)
            name, count, wait = theme.rows(cell.inflate(-p.px(8), -p.px(6)), [0.3, 0.42, 0.28])
            p.text(line.name_zh, name, p.px(22), theme.NIGHT_MUTED)
            p.text(f"{line.waiting} 人", count, p.px(40), theme.NIGHT_INK, strong=True)
            if line.expected_wait_min is not None and line.waiting:
                p.text(f"约 {line.expected_wait_min} 分钟", wait, p.px(20), theme.NIGHT_MUTED)

    def _recent(self, p: Painter, view: BoardView, rect: pygame.Rect) -> None:
        p.box(rect, theme.NIGHT_PANEL, radius=14)
        inner = rect.inflate(-2 * p.px(16), -2 * p.px(10))
        caption = pygame.Rect(inner.x, inner.y, inner.w, p.px(30))
        self._caption(p, view, caption, "最近叫号", "Recent")
        list_area = pygame.Rect(
            inner.x, caption.bottom + p.px(6), inner.w, inner.bottom - caption.bottom - p.px(6)
        )
        row_h = p.px(52)
        count = min(len(view.recent_calls), max(0, list_area.h // row_h))
        for i, call in enumerate(view.recent_calls[:count]):
            row = pygame.Rect(list_area.x, list_area.y + i * row_h, list_area.w, row_h)
            if i % 2 == 0:
                p.box(row, theme.NIGHT, radius=8)
            ticket, counter = theme.cols(row.inflate(-p.px(12), -p.px(8)), [0.42, 0.58], p.px(6))
            p.text(call.ticket, ticket, p.px(34), theme.CALL_YELLOW, align="left", strong=True)
            p.text(call.counter_zh, counter, p.px(28), theme.NIGHT_INK, align="right")

    # -- per frame ----------------------------------------------------------------------------
    def draw_dynamic(self, p: Painter, view: BoardView, layer: Layer) -> None:
        p.text(view.clock_text, layer.regions["clock"], p.px(26), theme.NIGHT_INK, align="right")
        band = layer.regions["ticker"]
        if not view.notice:
            return
        size = min(p.px(26), round(band.h * 0.6))
        surf = self.fonts.render(view.notice, size, theme.NIGHT_INK)
        x = ticker_x(view.notice_time_s, surf.get_width(), band.x, band.w, p.px(TICKER_SPEED))
        box = surf.get_rect(x=x, centery=band.centery)
        clip = p.surface.get_clip()
        p.surface.set_clip(band)
        p.surface.blit(surf, box)
        p.surface.set_clip(clip)
        p.text_boxes.append(box.clip(band))
        p.texts.append(view.notice)
        layer.regions["notice"] = box
