"""The evaluation pad (评价器): the teller's identity, the welcome, the rating keys, thanks.

Customer-facing: large Chinese text with English beneath, big keys coloured from green (best)
to red (worst), and never any service time. Touch targets: ``("rate", value)`` on a rating key,
``("reason", index)`` on a reason button (index into ``PadView.reasons``).
"""

from __future__ import annotations

import math
from functools import partial

import pygame

from screens import theme
from screens.base import Layer, Screen
from screens.paint import Painter
from screens.text import LRU
from screens.views import Bilingual, PadView, RatingKey

DEFAULT_WORDS: dict[str, tuple[Bilingual, Bilingual | None]] = {
    "idle": (("欢迎您对我的服务进行评价", "Your feedback is welcome"), None),
    "welcome": (("您好，欢迎光临", "Hello, welcome"), None),
    "rate": (("请您对我的服务做出评价", "Please rate my service"), None),
    "thanks": (
        ("谢谢您的评价", "Thank you for your rating"),
        ("请您多提宝贵意见，欢迎下次再来", "Your suggestions are welcome. See you next time"),
    ),
    "reason": (("请问哪方面需要改进？", "What should we improve?"), None),
    "paused": (("暂停服务", "Service paused"), ("请到其他窗口办理", "Please go to another window")),
    "signed_out": (
        ("本窗口暂未开放", "This window is not open"),
        ("请到其他窗口办理", "Please go to another window"),
    ),
}
MAX_STARS = 5
_photos = LRU(16)  # (path, w, h) -> surface, or False when unreadable


def words(view: PadView) -> tuple[Bilingual, Bilingual | None]:
    """The main line and the second line for the view's mode (the view's own, else default)."""
    prompt, note = DEFAULT_WORDS[view.mode]
    return view.prompt or prompt, view.note or note


def key_colours(levels: tuple[RatingKey, ...]) -> dict[int, theme.Colour]:
    """Green for the best level to red for the worst; neutral levels grey."""
    ranked = sorted((k.value for k in levels if not k.neutral), reverse=True)
    colours = {v: theme.scale_colour(i, len(ranked)) for i, v in enumerate(ranked)}
    colours.update({k.value: theme.NEUTRAL_GREY for k in levels if k.neutral})
    return colours


def key_mood(key: RatingKey, levels: tuple[RatingKey, ...]) -> float | None:
    """Face for a key: 1 (smile) for the best level to -1 (frown) for the worst."""
    if key.neutral:
        return None
    ranked = sorted((k.value for k in levels if not k.neutral), reverse=True)
    if len(ranked) < 2:
        return 1.0
    return 1 - 2 * ranked.index(key.value) / (len(ranked) - 1)


def load_photo(path: str, size: tuple[int, int]) -> pygame.Surface | None:
    """The photo cropped to fill ``size``, or ``None`` if it cannot be read."""
    key = (path, *size)
    photo = _photos.get(key)
    if photo is None:
        photo = _read_photo(path, size) or False
        _photos.put(key, photo)
    return photo or None


def _read_photo(path: str, size: tuple[int, int]) -> pygame.Surface | None:
    try:
        image = pygame.image.load(path)
    except (pygame.error, OSError):
        return None
    w, h = image.get_size()
    if not w or not h:
        return None
    if image.get_bitsize() not in (24, 32):  # smoothscale needs true colour
        rgb = pygame.Surface((w, h), 0, 32)
        rgb.blit(image, (0, 0))
        image = rgb
    scale = max(size[0] / w, size[1] / h)
    scaled = pygame.transform.smoothscale(image, (math.ceil(w * scale), math.ceil(h * scale)))
    crop = pygame.Rect(0, 0, *size)
    crop.center = scaled.get_rect().center
    return scaled.subsurface(crop).copy()


class PadScreen(Screen[PadView]):
    """Draws a :class:`PadView`; the count-down is the only per-frame part."""

    DYNAMIC = ("seconds_left",)
    DYNAMIC_REGIONS = ("countdown",)
    LAYERS = 4  # a counter's pad goes round welcome, rate, thanks and idle: three come back

    # -- static ------------------------------------------------------------------------------
    def draw_static(self, p: Painter, view: PadView, layer: Layer) -> None:
        full = p.frame.rect
        if view.mode == "paused":
            self._paused(p, view, full)
            return
        if view.mode == "signed_out":
            self._signed_out(p, view, full)
            return
        p.surface.fill(theme.PAPER)
        header = pygame.Rect(0, 0, full.w, p.px(54))
        names = (theme.PAPER, theme.NAVY, view.branch_name, view.counter_name)
        draw = partial(self._header, p, view, header, theme.NAVY)
        self.part(p, layer, ("header", names), header, draw)
        body = pygame.Rect(0, header.bottom, full.w, full.h - header.h)
        if view.mode != "idle":
            footer = pygame.Rect(0, full.h - p.px(46), full.w, p.px(46))
            who = (theme.PAPER, view.teller_name, view.staff_no, view.stars)
            self.part(p, layer, ("footer", who), footer, partial(self._footer, p, view, footer))
            body.h -= footer.h
        body = body.inflate(-2 * p.px(22), -2 * p.px(14))
        getattr(self, f"_{view.mode}")(p, view, body, layer)

    def _header(self, p: Painter, view: PadView, rect: pygame.Rect, colour) -> None:
        p.box(rect, colour)
        inner = rect.inflate(-2 * p.px(22), -p.px(10))
        left, right = theme.cols(inner, [0.58, 0.42], p.px(12))
        p.text(view.branch_name, left, p.px(24), theme.WHITE, align="left")
        p.text(view.counter_name, right, p.px(30), theme.WHITE, align="right", strong=True)

    def _footer(self, p: Painter, view: PadView, rect: pygame.Rect) -> None:
        p.box(rect, theme.NAVY_SOFT)
        inner = rect.inflate(-2 * p.px(22), -p.px(10))
        who = view.teller_name + (f"    工号 {view.staff_no}" if view.staff_no else "")
        if view.stars is None:
            p.text(who, inner, p.px(24), theme.INK, align="left")
            return
        left, right = theme.cols(inner, [0.7, 0.3], p.px(10))
        p.text(who, left, p.px(24), theme.INK, align="left")
        stars = pygame.Rect(0, 0, min(right.w, right.h * MAX_STARS), right.h)
        stars.midright = right.midright
        p.stars(stars, _stars(view.stars))

    def _idle(self, p: Painter, view: PadView, body: pygame.Rect, layer: Layer) -> None:
        main, note_row = theme.rows(body, [0.8, 0.2], p.px(10))
        left, right = theme.cols(main, [0.36, 0.64], p.px(28))
        photo = pygame.Rect(0, 0, min(left.w, round(left.h * 0.8)), left.h)
        photo.w = min(photo.w, round(photo.h * 0.8))
        photo.h = round(photo.w * 1.25)
        photo.center = left.center
        self._photo(p, view, photo)
        parts = [0.42, 0.22, 0.26] if view.stars is not None else [0.55, 0.3]
        slots = theme.rows(right, parts, p.px(6))
        p.text(view.teller_name, slots[0], p.px(76), theme.INK, align="left", strong=True)
        staff = f"工号  {view.staff_no}" if view.staff_no else ""
        p.text(staff, slots[1], p.px(34), theme.MUTED, align="left")
        if view.stars is not None:
            stars = slots[2].copy()
            stars.w = min(stars.w, stars.h * MAX_STARS)
            p.stars(stars, _stars(view.stars))
        prompt, _ = words(view)
        p.box(note_row, theme.NAVY_SOFT, radius=10)
        p.bilingual(
            *prompt,
            note_row.inflate(-p.px(16), -p.px(6)),
            p.px(28),
            theme.NAVY,
            theme.NAVY,
            show_en=view.bilingual,
            en_ratio=0.55,
        )

    def _photo(self, p: Painter, view: PadView, rect: pygame.Rect) -> None:
        image = load_photo(view.photo_path, rect.size) if view.photo_path else None
        if image is None:
            p.silhouette(rect)
        else:
            p.surface.blit(image, rect)
        pygame.draw.rect(p.surface, theme.CARD_EDGE, rect, p.px(3), border_radius=p.px(10))

    def _welcome(self, p: Painter, view: PadView, body: pygame.Rect, layer: Layer) -> None:
        prompt, _ = words(view)
        if not view.ticket:
            p.bilingual(
                *prompt,
                body,
                p.px(72),
                theme.NAVY,
                theme.MUTED,
                show_en=view.bilingual,
                strong=True,
            )
            return
        top, bottom = theme.rows(body, [0.5, 0.5], p.px(12))
        caption, pill_row = theme.cols(bottom, [0.42, 0.58], p.px(16))

        def words_drawn() -> None:
            p.bilingual(
                *prompt, top, p.px(64), theme.NAVY, theme.MUTED, show_en=view.bilingual, strong=True
            )
            p.bilingual(
                "您的号码",
                "Your number",
                caption,
                p.px(36),
                theme.MUTED,
                align="right",
                show_en=view.bilingual,
                en_ratio=0.6,
            )

        # the words are the same for every customer: one part over both rows, beside the number
        said = (theme.PAPER, prompt, view.bilingual)
        self.part(p, layer, ("welcome", said), top.union(caption), words_drawn)
        pill = pygame.Rect(0, 0, min(pill_row.w, p.px(300)), pill_row.h)
        pill.midleft = pill_row.midleft
        p.box(pill, theme.CARD, radius=18, edge=theme.NAVY, edge_width=4)
        p.text(view.ticket, pill.inflate(-p.px(24), -p.px(12)), p.px(100), theme.NAVY, strong=True)

    def _prompt_rows(
        self, p: Painter, view: PadView, body: pygame.Rect, layer: Layer
    ) -> pygame.Rect:
        """Draw the prompt title; mark the count-down row; return the row for the keys."""
        prompt, _ = words(view)
        title, keys_row, count_row = theme.rows(body, [0.2, 0.66, 0.14], p.px(10))
        p.bilingual(
            *prompt,
            title,
            p.px(40),
            theme.NAVY,
            theme.MUTED,
            show_en=view.bilingual,
            strong=True,
            en_ratio=0.5,
        )
        layer.regions["countdown"] = count_row
        return keys_row

    def _rate(self, p: Painter, view: PadView, body: pygame.Rect, layer: Layer) -> None:
        keys_row = self._prompt_rows(p, view, body, layer)
        if not view.levels:
            return
        colours = key_colours(view.levels)
        portrait = keys_row.h > keys_row.w
        split = theme.rows if portrait else theme.cols
        cells = split(keys_row, [1] * len(view.levels), p.px(12 if not portrait else 8))
        label_rects = [self._key_parts(p, cell, portrait, view.bilingual) for cell in cells]
        pairs = list(zip(view.levels, label_rects, strict=True))
        size = min(p.wrap_choice(k.zh, label, p.px(40), True)[1] for k, (_, label, _) in pairs)
        en_size = min(self.fonts.fit(k.en, en.w, en.h, p.px(17), 6)[1] for k, (_, _, en) in pairs)
        for key, cell, (face_row, label, en) in zip(view.levels, cells, label_rects, strict=True):
            colour = colours[key.value]
            ink = theme.text_on(colour)
            p.box(cell, colour, radius=14)
            radius = round(min(face_row.h, face_row.w) * 0.42)
            p.face(face_row.center, radius, key_mood(key, view.levels), ink)
            p.wrapped(key.zh, label, size, ink, strong=True)
            if view.bilingual:
                p.text(key.en, en, en_size, ink, min_size=en_size)
            layer.hits.append((cell, ("rate", key.value)))

    @staticmethod
    def _key_parts(p: Painter, cell: pygame.Rect, portrait: bool, bilingual: bool):
        """(face, label, english) areas of a rating key: stacked, or side by side in portrait."""
        inner = cell.inflate(-p.px(10), -p.px(12 if not portrait else 6))
        if portrait:
            face, text = theme.cols(inner, [0.25, 0.75], p.px(6))
            face.w = min(face.w, face.h)
            label, en = theme.rows(text, [0.65, 0.35] if bilingual else [1, 0])
            return face, label, en
        weights = [0.4, 0.42, 0.18] if bilingual else [0.4, 0.6, 0]
        face, label, en = theme.rows(inner, weights, p.px(2))
        return face, label, en

    def _reason(self, p: Painter, view: PadView, body: pygame.Rect, layer: Layer) -> None:
        grid_row = self._prompt_rows(p, view, body, layer)
        n = len(view.reasons)
        columns = 2 if n <= 4 else 3
        for i, (cell, (zh, en)) in enumerate(
            zip(theme.grid(grid_row, n, columns, p.px(12)), view.reasons, strict=True)
        ):
            p.box(cell, theme.CARD, radius=14, edge=theme.NAVY, edge_width=3)
            p.bilingual(
                zh,
                en,
                cell.inflate(-p.px(20), -p.px(10)),
                p.px(40),
                theme.NAVY,
                theme.MUTED,
                show_en=view.bilingual,
                strong=True,
                en_ratio=0.5,
            )
            layer.hits.append((cell, ("reason", i)))

    def _thanks(self, p: Painter, view: PadView, body: pygame.Rect, layer: Layer) -> None:
        prompt, note = words(view)
        icon_row, text_row, note_row = theme.rows(body, [0.34, 0.38, 0.28], p.px(8))
        radius = round(min(icon_row.h, icon_row.w) * 0.45)
        p.check(icon_row.center, radius, theme.RATING_SCALE[0], theme.WHITE)
        p.bilingual(
            *prompt,
            text_row,
            p.px(64),
            theme.NAVY,
            theme.MUTED,
            show_en=view.bilingual,
            strong=True,
        )
        if note:
            p.bilingual(
                *note,
                note_row,
                p.px(30),
                theme.INK,
                theme.MUTED,
                show_en=view.bilingual,
                en_ratio=0.6,
            )

    def _paused(self, p: Painter, view: PadView, full: pygame.Rect) -> None:
        p.surface.fill(theme.PAUSE_RED)
        header = pygame.Rect(0, 0, full.w, p.px(54))
        self._header(p, view, header, theme.mix(theme.PAUSE_RED, (0, 0, 0), 0.35))
        body = pygame.Rect(0, header.bottom, full.w, full.h - header.h).inflate(
            -2 * p.px(24), -2 * p.px(18)
        )
        frame = body.inflate(-p.px(4), -p.px(4))
        pygame.draw.rect(p.surface, theme.WHITE, frame, p.px(4), border_radius=p.px(18))
        inner = frame.inflate(-2 * p.px(26), -2 * p.px(18))
        icon_col, text_col = theme.cols(inner, [0.26, 0.74], p.px(20))
        self._pause_icon(p, icon_col)
        self._notice(p, view, text_col, 120, theme.WHITE, theme.WHITE)

    def _pause_icon(self, p: Painter, rect: pygame.Rect) -> None:
        radius = round(min(rect.w, rect.h) * 0.42)
        cx, cy = rect.center
        pygame.draw.circle(p.surface, theme.WHITE, (cx, cy), radius)
        bar = pygame.Rect(0, 0, round(radius * 0.26), round(radius * 0.95))
        for dx in (-0.28, 0.28):
            bar.center = (round(cx + dx * radius), cy)
            pygame.draw.rect(p.surface, theme.PAUSE_RED, bar, border_radius=p.px(3))

    def _signed_out(self, p: Painter, view: PadView, full: pygame.Rect) -> None:
        p.surface.fill(theme.NIGHT)
        header = pygame.Rect(0, 0, full.w, p.px(54))
        self._header(p, view, header, theme.NIGHT_PANEL)
        body = pygame.Rect(0, header.bottom, full.w, full.h - header.h).inflate(
            -2 * p.px(30), -2 * p.px(30)
        )
        self._notice(p, view, body, 80, theme.NIGHT_INK, theme.NIGHT_MUTED)

    def _notice(self, p: Painter, view: PadView, rect: pygame.Rect, size: int, ink, soft) -> None:
        """The main words very large, the second line (e.g. go elsewhere) below them."""
        prompt, note = words(view)
        main, second = theme.rows(rect, [0.64, 0.36], p.px(10)) if note else (rect, None)
        p.bilingual(
            *prompt,
            main,
            p.px(size),
            ink,
            soft,
            show_en=view.bilingual,
            strong=True,
            en_ratio=0.36,
            valign="bottom" if note else "center",
        )
        if note and second:
            p.bilingual(*note, second, p.px(34), ink, soft, show_en=view.bilingual, en_ratio=0.65)

    # -- per frame ----------------------------------------------------------------------------
    def draw_dynamic(self, p: Painter, view: PadView, layer: Layer) -> None:
        row = layer.regions.get("countdown")
        if row is None or view.seconds_left is None:
            return
        left = max(0.0, view.seconds_left)
        window = view.window_s or max(left, 1.0)
        text_col, bar_col = theme.cols(row, [0.3, 0.7], p.px(16))
        secs = math.ceil(left)
        label = f"剩余 {secs} 秒" + (f"  ·  {secs} s" if view.bilingual else "")
        p.text(label, text_col, p.px(26), theme.MUTED, align="left")
        bar = pygame.Rect(0, 0, bar_col.w, max(p.px(12), bar_col.h // 3))
        bar.midleft = bar_col.midleft
        p.bar(bar, left / window, theme.NAVY, theme.NAVY_SOFT)


def _stars(count: int | None) -> int:
    return max(0, min(MAX_STARS, count or 0))
