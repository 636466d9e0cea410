"""Finding a CJK font, rendering text through caches, and fitting text into boxes.

Chinese must never render as boxes, so the font is checked for real CJK glyphs when it is
loaded, and start-up fails with the Debian package to install when no such font exists.
Font objects are cached by size, rendered text surfaces (bounded in bytes: a running timer
renders a new string every second) and fitted sizes in LRU caches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pygame
import pygame.freetype

from screens.theme import Colour

FONT_ENV = "COUNTERSIDE_FONT"
DEBIAN_PACKAGES = "fonts-wqy-zenhei (or fonts-noto-cjk)"
KNOWN_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # face 2 = Simplified Chinese
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
CJK_PROBE = "中文评价窗口号满意暂停服务"
ELLIPSIS = "…"


class FontNotFound(RuntimeError):
    """No usable CJK font; the message says what to install or which override is wrong."""


@dataclass(frozen=True)
class FontSource:
    path: str
    index: int = 0


def covers_cjk(source: FontSource, probe: str = CJK_PROBE) -> bool:
    """True if the font has a real glyph for every character of ``probe``."""
    try:
        font = pygame.freetype.Font(source.path, 24, font_index=source.index)
    except (OSError, pygame.error):
        return False
    metrics = font.get_metrics(probe)
    return bool(metrics) and all(m is not None for m in metrics)


def _fc_match() -> FontSource | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}|%{index}", "sans:lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, index = out.partition("|")
    return FontSource(path, int(index or 0)) if path else None


def find_cjk_font(override: str | os.PathLike[str] | None = None) -> FontSource:
    """The font to draw with: ``override`` or ``$COUNTERSIDE_FONT``, else fontconfig's choice
    for zh-cn, else a known Debian path; each candidate must really cover Chinese.

    An override may be ``path`` or ``path:index`` (face in a .ttc).
    """
    _init()
    chosen = override if override is not None else os.environ.get(FONT_ENV)
    if chosen:
        text = os.fspath(chosen)
        path, sep, index = text.rpartition(":")
        if not (sep and index.isdigit()):
            path, index = text, "0"
        source = FontSource(path, int(index))
        origin = "font override" if override is not None else f"${FONT_ENV}"
        if not Path(source.path).is_file():
            raise FontNotFound(f"{origin}: {source.path}: no such font file")
        if not covers_cjk(source):
            raise FontNotFound(f"{origin}: {source.path}: font has no Chinese glyphs")
        return source
    candidates = [m for m in [_fc_match()] if m] + [FontSource(p, i) for p, i in KNOWN_FONTS]
    for source in candidates:
        if Path(source.path).is_file() and covers_cjk(source):
            return source
    raise FontNotFound(
        "no Chinese (CJK) font found; install one: sudo apt-get install -y "
        f"{DEBIAN_PACKAGES}, or set ${FONT_ENV} to a font file"
    )


def _init() -> None:
    if not pygame.freetype.get_init():
        pygame.freetype.init()


class LRU:
    """A least-recently-used mapping bounded by entry count and, optionally, total weight."""

    def __init__(
        self, maxsize: int, budget: float | None = None, weigh: Callable[[Any], float] | None = None
    ) -> None:
        self.maxsize = maxsize
        self.budget = budget
        self._weigh = weigh or (lambda _: 1.0)
        self._data: OrderedDict = OrderedDict()
        self.weight = 0.0

    def get(self, key):
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key, value) -> list:
        """Keep ``value`` under ``key``; returns the values that fell out to make room."""
        if key in self._data:
            self.weight -= self._weigh(self._data.pop(key))
        self._data[key] = value
        self.weight += self._weigh(value)
        evicted = []
        while len(self._data) > 1 and (
            len(self._data) > self.maxsize
            or (self.budget is not None and self.weight > self.budget)
        ):
            _, old = self._data.popitem(last=False)
            self.weight -= self._weigh(old)
            evicted.append(old)
        return evicted

    def pop_oldest(self):
        """Take out the least recently used value (``None`` when empty)."""
        if not self._data:
            return None
        _, old = self._data.popitem(last=False)
        self.weight -= self._weigh(old)
        return old

    def __len__(self) -> int:
        return len(self._data)


def surface_bytes(surface: pygame.Surface) -> int:
    return surface.get_width() * surface.get_height() * surface.get_bytesize()


class Fonts:
    """One CJK font at any size, with caches for fonts, rendered text and fitted sizes."""

    def __init__(
        self, source: FontSource, text_cache: int = 1024, text_cache_bytes: int = 4 << 20
    ) -> None:
        _init()
        self.source = source
        self._rendered = LRU(text_cache, text_cache_bytes, surface_bytes)
        self._fitted = LRU(1024)
        self._fonts: dict[int, pygame.freetype.Font] = {}
        self._heights: dict[int, int] = {}

    def grow_text_cache(self, budget: int) -> None:
        """Let the rendered text take up to ``budget`` bytes, if that is more than it may now."""
        current = self._rendered.budget
        self._rendered.budget = budget if current is None else max(current, budget)

    @property
    def text_cache_use(self) -> tuple[int, int]:
        """(entries, bytes) the rendered text holds now."""
        return len(self._rendered), int(self._rendered.weight)

    @property
    def fit_cache_use(self) -> int:
        """Entries the fitted sizes (:meth:`fit`) hold now."""
        return len(self._fitted)

    def font(self, size: int) -> pygame.freetype.Font:
        """The font at ``size`` pixels (loaded once per size)."""
        font = self._fonts.get(size)
        if font is None:
            font = pygame.freetype.Font(self.source.path, size, font_index=self.source.index)
            font.pad = True  # boxes as tall as the line, so mixed strings align
            font.antialiased = True
            self._fonts[size] = font
        return font

    def size_of(self, text: str, size: int, strong: bool = False) -> tuple[int, int]:
        style = pygame.freetype.STYLE_STRONG if strong else pygame.freetype.STYLE_DEFAULT
        rect = self.font(size).get_rect(text, style=style)
        return rect.w, self.line_height(size)

    def missing(self, text: str) -> str:
        """The characters of ``text`` this font has no glyph for (they would draw as boxes)."""
        metrics = self.font(16).get_metrics(text) or []
        return "".join(sorted({c for c, m in zip(text, metrics, strict=False) if m is None}))

    def line_height(self, size: int) -> int:
        """Height of any rendered line at ``size`` (boxes are padded to the font's height)."""
        height = self._heights.get(size)
        if height is None:
            height = self._heights[size] = self.font(size).get_rect("中").h
        return height

    def render(self, text: str, size: int, colour: Colour, strong: bool = False) -> pygame.Surface:
        """The text as a per-pixel-alpha surface, from the cache when drawn before.

        Drawn onto a surface of pygame's own 32-bit layout, the display's (ARGB, red mask
        ``0xff0000``): ``Font.render`` makes one with red in the lowest byte, and blitting that
        onto the screen takes SDL's per-pixel conversion, 10-20 times the time of a blit
        between equal layouts (a 1080p ticket number: 4 ms instead of 0.2). Same pixels.
        """
        key = (text, size, colour, strong)
        surf = self._rendered.get(key)
        if surf is None:
            style = pygame.freetype.STYLE_STRONG if strong else pygame.freetype.STYLE_DEFAULT
            font = self.font(size)
            surf = pygame.Surface(font.get_rect(text, style=style).size, pygame.SRCALPHA, 32)
            font.render_to(surf, (0, 0), text, colour, style=style)
            self._rendered.put(key, surf)
        return surf

    def fit(
        self, text: str, max_w: int, max_h: int, size: int, min_size: int = 8, strong=False
    ) -> tuple[str, int]:
        """The largest size <= ``size`` at which ``text`` fits; shortened with … if none does."""
        key = (text, max_w, max_h, size, min_size, strong)
        hit = self._fitted.get(key)
        if hit is None:
            hit = self._fit(text, max_w, max_h, size, min_size, strong)
            self._fitted.put(key, hit)
        return hit

    def fits(self, text: str, max_w: int, max_h: int, size: int, strong: bool = False) -> bool:
        """True if one line of ``text`` at ``size`` fits in ``max_w`` x ``max_h``."""
        w, h = self.size_of(text, size, strong)
        return w <= max_w and h <= max_h

    def _fit(self, text, max_w, max_h, size, min_size, strong) -> tuple[str, int]:
        min_size = max(1, min(min_size, size))
        w, h = self.size_of(text, size, strong)
        if w <= max_w and h <= max_h:
            return text, size
        # Text grows about in proportion to its size: the size that scales it into the box is
        # next to the answer, and the probes go there first (a measure of a 1080p line is
        # slow: 0.3-0.6 ms). The answer is the largest size that fits, as by bisection.
        scaled = int(size * min(max_w / w if w else 1.0, max_h / h if h else 1.0))
        lo, hi = min_size, size  # invariant: hi does not fit; lo fits once checked
        if lo == hi:
            return self._shorten(text, max_w, max_h, lo, strong), lo
        guess = min(max(scaled, lo), hi - 1)
        if self.fits(text, max_w, max_h, guess, strong):
            lo, probe = guess, guess + 1
        else:
            hi, probe = guess, guess - 1
            if not self.fits(text, max_w, max_h, lo, strong):
                return self._shorten(text, max_w, max_h, lo, strong), lo
        while hi - lo > 1:
            mid = probe if lo < probe < hi else (lo + hi) // 2
            probe = 0  # next to the first guess once, then halving
            if self.fits(text, max_w, max_h, mid, strong):
                lo = mid
            else:
                hi = mid
        return text, lo

    def _shorten(self, text: str, max_w: int, max_h: int, size: int, strong: bool) -> str:
        for end in range(len(text) - 1, 0, -1):
            candidate = text[:end].rstrip() + ELLIPSIS
            if self.fits(candidate, max_w, max_h, size, strong):
                return candidate
        return ""

    def wrap2(self, text: str) -> list[str]:
        """``text`` on two lines: at the middle space, or mid-way through Chinese."""
        if " " in text:
            words = text.split(" ")
            best = min(
                range(1, len(words)),
                key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))),
            )
            return [" ".join(words[:best]), " ".join(words[best:])]
        half = len(text) // 2
        return [text[:half], text[half:]] if half else [text]


@lru_cache(maxsize=1)
def default_fonts() -> Fonts:
    """The process-wide fonts (found once); raises :class:`FontNotFound` when there is none."""
    return Fonts(find_cjk_font())
