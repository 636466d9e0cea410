"""The teller console: the current ticket, the service timer against its limit, the queue.

Internal screen (the only place where service-time limits appear). The timer is green, turns
amber from ``near_ratio`` of the limit and red past it. Touch targets are the teller keys, named
as ``domain.branch.Key`` values (``"call_next"``, ``"recall"``, ...); keys the counter's state
does not allow are drawn dimmed and give no target. While the console asks the teller to choose
(a pause reason, an amount band ...), numbered choices replace the keys: targets ``("choose", i)``.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

import pygame

from screens import theme
from screens.base import Layer, Screen
from screens.paint import Painter
from screens.theme import Colour
from screens.views import ConsoleView

STATES: dict[str, tuple[str, Colour]] = {
    "signed_out": ("未签到", theme.DISABLED),
    "idle": ("空闲", (64, 110, 170)),
    "called": ("已叫号", (40, 120, 220)),
    "serving": ("办理中", (30, 150, 84)),
    "awaiting_rating": ("等待评价", (120, 84, 196)),
    "paused": ("暂停服务", (200, 120, 0)),
}
KEYS: dict[str, tuple[str, frozenset[str]]] = {
    "call_next": ("叫号", frozenset({"idle", "awaiting_rating"})),
    "ticketless": ("无号业务", frozenset({"idle", "awaiting_rating"})),
    "recall": ("重呼", frozenset({"called"})),
    "start": ("开始办理", frozenset({"called"})),
    "finish": ("办结·评价", frozenset({"called", "serving"})),
    "skip": ("过号", frozenset({"called"})),
    "pause": ("暂停", frozenset({"idle"})),
    "resume": ("恢复服务", frozenset({"paused"})),
    "sign_in": ("签到", frozenset({"signed_out"})),
}
PRIMARY_KEYS = frozenset({"call_next", "ticketless", "finish", "resume", "sign_in"})
MESSAGE_COLOURS: dict[str, tuple[Colour, Colour]] = {
    "info": (theme.NIGHT_PANEL, theme.NIGHT_INK),
    "warn": (theme.AMBER, theme.INK),
    "error": (theme.ALARM_RED, theme.WHITE),
}


def timer_colour(elapsed_s: float, limit_s: float | None, near_ratio: float = 0.8) -> Colour:
    """Green within the limit, amber from ``near_ratio`` of it, red once past it."""
    if limit_s is None or limit_s <= 0:
        return theme.OK_GREEN
    if elapsed_s > limit_s:
        return theme.ALARM_RED
    if elapsed_s >= near_ratio * limit_s:
        return theme.AMBER
    return theme.OK_GREEN


def mmss(seconds: float) -> str:
    """``mm:ss`` (minutes keep counting past 59)."""
    total = max(0, int(seconds))
    return f"{total // 60:02d}:{total % 60:02d}"


def keys_for(view: ConsoleView) -> list[str]:
    """The six teller keys, in fixed places; the first and last change with the state."""
    first = "call_next" if view.queue_available else "ticketless"
    last = {"paused": "resume", "signed_out": "sign_in"}.get(view.state, "pause")
    return [first, "recall", "start", "finish", "skip", last]


class ConsoleScreen(Screen[ConsoleView]):
    """Draws a :class:`ConsoleView`; timers and the clock are the per-frame parts."""

    DYNAMIC = ("service_elapsed_s", "paused_elapsed_s", "clock_text")
    DYNAMIC_REGIONS = ("clock", "timer", "timer_info")
    BLANK: ClassVar[dict[str, Any]] = {"clock_text": ""}

    def draw_static(self, p: Painter, view: ConsoleView, layer: Layer) -> None:
        full = p.frame.rect
        p.surface.fill(theme.NIGHT)
        header = pygame.Rect(0, 0, full.w, p.px(50))
        self._header(p, view, header, layer)
        m = p.px(12)
        body = pygame.Rect(m, header.bottom + m, full.w - 2 * m, full.h - header.h - 2 * m)
        main, queue, message, keys = theme.rows(body, [0.44, 0.2, 0.11, 0.25], m)
        ticket_card, timer_card = theme.cols(main, [0.54, 0.46], m)
        self._ticket(p, view, ticket_card)  # these two change with every customer: drawn
        timer = (theme.NIGHT, view.state == "paused", view.paused_limit_s, view.service_limit_s)
        draw = partial(self._timer_frame, p, view, timer_card, layer)
        self.part(p, layer, ("timer", timer), timer_card, draw)
        self._queue(p, view, queue)
        if view.choices:
            self._choices(p, view, message, keys, layer)
            return
        said = (theme.NIGHT, view.message, view.message_level)
        self.part(p, layer, ("message", said), message, partial(self._message, p, view, message))
        self._keys(p, view, keys, layer)

    def _header(self, p: Painter, view: ConsoleView, rect: pygame.Rect, layer: Layer) -> None:
        inner = rect.inflate(-2 * p.px(14), -p.px(10))
        counter, teller, badge, clock = theme.cols(inner, [0.24, 0.38, 0.24, 0.14], p.px(10))

        def names() -> None:
            p.box(rect, theme.NIGHT_PANEL)
            p.text(view.counter_name, counter, p.px(28), theme.NIGHT_INK, align="left", strong=True)
            who = view.teller_name + (f"  工号 {view.staff_no}" if view.staff_no else "")
            p.text(who, teller, p.px(22), theme.NIGHT_MUTED, align="left")

        shown = (theme.NIGHT, view.counter_name, view.teller_name, view.staff_no)
        self.part(p, layer, ("header", shown), rect, names)
        label, colour = STATES[view.state]

        def state() -> None:
            p.box(badge, colour, radius=8)
            p.text(
                label,
                badge.inflate(-p.px(8), -p.px(4)),
                p.px(24),
                theme.text_on(colour),
                strong=True,
            )

        self.part(p, layer, ("badge", theme.NIGHT_PANEL, label, colour), badge, state)
        layer.regions["clock"] = clock

    def _ticket(self, p: Painter, view: ConsoleView, card: pygame.Rect) -> None:
        p.box(card, theme.NIGHT_PANEL, radius=12)
        inner = card.inflate(-2 * p.px(14), -2 * p.px(8))
        caption, big, info = theme.rows(inner, [0.18, 0.52, 0.3], p.px(4))
        if view.state == "paused":
            p.text("暂停原因", caption, p.px(20), theme.NIGHT_MUTED, align="left")
            p.text(view.paused_reason or "未填写", big, p.px(56), theme.AMBER, strong=True)
            p.text("恢复后请按「恢复服务」", info, p.px(20), theme.NIGHT_MUTED)
            return
        if view.state == "signed_out":
            p.text("请签到后开始服务", big, p.px(40), theme.NIGHT_MUTED, strong=True)
            return
        p.text("当前客户", caption, p.px(20), theme.NIGHT_MUTED, align="left")
        has_customer = view.state in ("called", "serving", "awaiting_rating")
        if not has_customer:
            p.text("—", big, p.px(80), theme.NIGHT_MUTED, strong=True)
            p.text("请按「叫号」呼叫下一位", info, p.px(22), theme.NIGHT_MUTED)
            return
        number = view.ticket or ("无号" if view.ticketless else "—")
        p.text(number, big, p.px(96), theme.CALL_YELLOW, strong=True)
        tags = []
        if view.priority_name:
            tags.append((view.priority_name, theme.PRIORITY_GREEN))
        if view.ticketless:
            tags.append(("无号业务", theme.DISABLED))
        if view.calls > 1:
            tags.append((f"第{view.calls}次呼叫", (40, 120, 220)))
        name_col, tag_col = theme.cols(info, [0.5, 0.5] if tags else [1, 0], p.px(8))
        p.text(
            view.business_type_name,
            name_col,
            p.px(26),
            theme.NIGHT_INK,
            align="left" if tags else "center",
        )
        if tags:
            for (text, colour), cell in zip(
                tags, theme.cols(tag_col, [1] * len(tags), p.px(6)), strict=True
            ):
                pill = cell.inflate(0, -round(cell.h * 0.25))
                p.box(pill, colour, radius=8)
                p.text(text, pill.inflate(-p.px(6), -p.px(2)), p.px(20), theme.text_on(colour))

    def _timer_frame(self, p: Painter, view: ConsoleView, card: pygame.Rect, layer: Layer):
        p.box(card, theme.NIGHT_PANEL, radius=12)
        inner = card.inflate(-2 * p.px(14), -2 * p.px(8))
        caption, big, info = theme.rows(inner, [0.18, 0.52, 0.3], p.px(4))
        paused = view.state == "paused"
        limit = view.paused_limit_s if paused else view.service_limit_s
        cap_left, cap_right = theme.cols(caption, [0.45, 0.55], p.px(6))
        p.text(
            "暂停时长" if paused else "服务计时",
            cap_left,
            p.px(20),
            theme.NIGHT_MUTED,
            align="left",
        )
        if limit:
            label = f"上限 {mmss(limit)}" if paused else f"限时 {mmss(limit)}"
            p.text(label, cap_right, p.px(22), theme.NIGHT_INK, align="right")
        layer.regions["timer"] = big
        layer.regions["timer_info"] = info

    def _queue(self, p: Painter, view: ConsoleView, rect: pygame.Rect) -> None:
        m = p.px(12)
        tiles_area, next_card = theme.cols(rect, [0.58, 0.42], m)
        lines = view.queues
        if lines:
            for line, tile in zip(
                lines, theme.cols(tiles_area, [1] * len(lines), p.px(8)), strict=True
            ):
                p.box(tile, theme.NIGHT_PANEL, radius=10)
                name, count = theme.rows(tile.inflate(-p.px(10), -p.px(8)), [0.4, 0.6])
                p.text(line.name_zh, name, p.px(18), theme.NIGHT_MUTED)
                colour = theme.NIGHT_INK if line.waiting else theme.NIGHT_MUTED
                p.text(f"{line.waiting} 人", count, p.px(30), colour, strong=True)
        else:
            p.box(tiles_area, theme.NIGHT_PANEL, radius=10)
            p.text("无排队信息", tiles_area.inflate(-m, -m), p.px(22), theme.NIGHT_MUTED)
        p.box(next_card, theme.NIGHT_PANEL, radius=10)
        cap, tickets = theme.rows(next_card.inflate(-p.px(12), -p.px(8)), [0.4, 0.6])
        p.text("下一位", cap, p.px(18), theme.NIGHT_MUTED, align="left")
        upcoming = "  ".join(view.next_tickets[:4]) if view.next_tickets else "—"
        p.text(upcoming, tickets, p.px(28), theme.NIGHT_INK, align="left", strong=True)

    def _message(self, p: Painter, view: ConsoleView, rect: pygame.Rect) -> None:
        if not view.message:
            return
        bg, ink = MESSAGE_COLOURS.get(view.message_level, MESSAGE_COLOURS["info"])
        p.box(rect, bg, radius=8)
        p.text(
            view.message,
            rect.inflate(-2 * p.px(12), -p.px(4)),
            p.px(24),
            ink,
            align="left",
            strong=view.message_level != "info",
        )

    def _choices(
        self, p: Painter, view: ConsoleView, title: pygame.Rect, rect: pygame.Rect, layer: Layer
    ) -> None:
        p.box(title, theme.AMBER, radius=8)
        prompt = f"{view.choice_title or '请选择'}（按数字键或点选）"
        p.text(prompt, title.inflate(-2 * p.px(12), -p.px(4)), p.px(24), theme.INK, strong=True)
        for i, (label, cell) in enumerate(
            zip(view.choices, theme.cols(rect, [1] * len(view.choices), p.px(8)), strict=True)
        ):
            blue = (40, 104, 196)
            p.box(cell, blue, radius=12)
            number, name = theme.cols(cell.inflate(-p.px(10), -p.px(8)), [0.22, 0.78], p.px(4))
            p.box(number.inflate(-p.px(2), -round(number.h * 0.3)), theme.WHITE, radius=8)
            p.text(str(i + 1), number, p.px(24), blue, strong=True)
            p.text(label, name, p.px(26), theme.WHITE, strong=True)
            layer.hits.append((cell, ("choose", i)))

    def _keys(self, p: Painter, view: ConsoleView, rect: pygame.Rect, layer: Layer) -> None:
        names = keys_for(view)
        for name, cell in zip(names, theme.cols(rect, [1] * len(names), p.px(8)), strict=True):
            enabled = view.state in KEYS[name][1]
            draw = partial(self._key, p, name, cell, enabled, layer)
            self.part(p, layer, ("key", theme.NIGHT, name, enabled), cell, draw)

    def _key(self, p: Painter, name: str, cell: pygame.Rect, enabled: bool, layer: Layer) -> None:
        label = KEYS[name][0]
        if enabled:
            bg = (40, 104, 196) if name in PRIMARY_KEYS else theme.NIGHT_EDGE
            p.box(cell, bg, radius=12)
            ink = theme.WHITE
            layer.hits.append((cell, name))
        else:
            p.box(cell, theme.NIGHT, radius=12, edge=theme.NIGHT_PANEL, edge_width=2)
            ink = theme.DISABLED
        p.text(label, cell.inflate(-p.px(10), -p.px(8)), p.px(28), ink, strong=enabled)

    # -- per frame ----------------------------------------------------------------------------
    def draw_dynamic(self, p: Painter, view: ConsoleView, layer: Layer) -> None:
        clock = layer.regions["clock"]
        p.text(view.clock_text, clock, p.px(26), theme.NIGHT_INK, align="right")
        big, info = layer.regions["timer"], layer.regions["timer_info"]
        if view.state == "paused":
            elapsed, limit = view.paused_elapsed_s, view.paused_limit_s
        else:
            elapsed, limit = view.service_elapsed_s, view.service_limit_s
        if elapsed is None:
            idle = "等候客户" if view.state == "called" else "—"
            p.text(idle, big, p.px(48), theme.NIGHT_MUTED)
            return
        colour = timer_colour(elapsed, limit, view.near_ratio)
        estimate = "" if view.timer_exact or view.state == "paused" else "~"
        p.text(estimate + mmss(elapsed), big, p.px(88), colour, strong=True)
        if not limit:
            return
        bar_row, note_row = theme.rows(info, [0.4, 0.6], p.px(4))
        bar = bar_row.inflate(0, -round(bar_row.h * 0.3))
        p.bar(bar, elapsed / limit, colour, theme.NIGHT_EDGE)
        if elapsed > limit:
            note = f"已超时 +{mmss(elapsed - limit)}"
        else:
            note = f"剩余 {mmss(limit - elapsed)}"
        p.text(note, note_row, p.px(22), colour, strong=elapsed > limit)
