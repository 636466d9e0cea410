"""The pygame screens, rendered headless: real content, real Chinese glyphs, touch targets."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import dataclasses
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pygame
import pygame.freetype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.loader import load_config
from config.scales import PRESET_SCALES
from screens import build, samples, text, theme
from screens.board import BoardScreen, ticker_x
from screens.console import ConsoleScreen, mmss, timer_colour
from screens.gallery import SCREENS, SIZES
from screens.kiosk import KioskScreen
from screens.pad import PadScreen
from screens.views import (
    BoardView,
    Call,
    ConsoleView,
    IssuedTicket,
    KioskView,
    PadView,
    QueueLine,
    RatingKey,
    field_names,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = load_config()
CASES = [(key, mode) for key, (_, _, make) in SCREENS.items() for mode in make(SHIPPED)]


@pytest.fixture(scope="module")
def fonts() -> text.Fonts:
    return text.default_fonts()


def render(screen, view, size=(800, 480)) -> pygame.Surface:
    surface = pygame.Surface(size)
    screen.render(surface, view)
    return surface


def differing(surface: pygame.Surface, colour) -> int:
    """Pixels of ``surface`` not exactly ``colour``."""
    same = pygame.mask.from_threshold(surface, colour, (1, 1, 1, 255)).count()
    return surface.get_width() * surface.get_height() - same


def raw(surface: pygame.Surface) -> bytes:
    return pygame.image.tobytes(surface.copy(), "RGB")


def exact(surface: pygame.Surface, colour) -> int:
    return pygame.mask.from_threshold(surface, colour, (1, 1, 1, 255)).count()


# -- fonts -----------------------------------------------------------------------------------
def glyph_mask(fonts: text.Fonts, char: str) -> pygame.mask.Mask:
    return pygame.mask.from_surface(fonts.render(char, 48, (0, 0, 0)), 127)


def test_chinese_glyphs_really_render(fonts):
    zhong, guo = glyph_mask(fonts, "中"), glyph_mask(fonts, "国")
    missing = glyph_mask(fonts, "\ue000")  # private use: the font's missing-glyph box, if any
    assert zhong.count() > 100 and guo.count() > 100
    assert zhong.get_bounding_rects() and guo.get_bounding_rects()
    assert zhong.overlap_area(guo, (0, 0)) < min(zhong.count(), guo.count())
    assert zhong.count() != missing.count() or zhong.overlap_area(missing, (0, 0)) < zhong.count()
    assert fonts.missing("中国评价暂停服务谢谢") == ""
    assert fonts.missing("\ue000") == "\ue000"


def test_font_override_must_exist_and_cover_chinese(tmp_path, fonts):
    with pytest.raises(text.FontNotFound, match=r"no-such-font\.ttf: no such font file"):
        text.find_cjk_font(tmp_path / "no-such-font.ttf")
    not_a_font = tmp_path / "fake.ttf"
    not_a_font.write_bytes(b"not a font")
    with pytest.raises(text.FontNotFound, match="no Chinese glyphs"):
        text.find_cjk_font(not_a_font)
    assert text.find_cjk_font(fonts.source.path).path == fonts.source.path


def test_font_from_environment(monkeypatch, fonts):
    monkeypatch.setenv(text.FONT_ENV, f"{fonts.source.path}:{fonts.source.index}")
    assert text.find_cjk_font() == fonts.source
    monkeypatch.setenv(text.FONT_ENV, "/nonexistent/font.ttc")
    with pytest.raises(text.FontNotFound, match=r"\$COUNTERSIDE_FONT: /nonexistent/font.ttc"):
        text.find_cjk_font()


def test_no_cjk_font_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.delenv(text.FONT_ENV, raising=False)
    monkeypatch.setattr(text, "KNOWN_FONTS", ((str(tmp_path / "missing.ttc"), 0),))
    monkeypatch.setattr(text, "_fc_match", lambda: None)
    with pytest.raises(text.FontNotFound, match="apt-get install -y fonts-wqy-zenhei"):
        text.find_cjk_font()


def bisected_fit(fonts: text.Fonts, line: str, max_w: int, max_h: int, size: int, min_size: int):
    """The largest size that fits, by plain bisection (what ``Fonts.fit`` must answer)."""
    if fonts.fits(line, max_w, max_h, size):
        return line, size
    lo, hi = max(1, min(min_size, size)), size
    if not fonts.fits(line, max_w, max_h, lo):
        return fonts._shorten(line, max_w, max_h, lo, False), lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fonts.fits(line, max_w, max_h, mid) else (lo, mid)
    return line, lo


@settings(max_examples=150, deadline=None)
@given(
    line=st.sampled_from(["A012 → 3号窗口", "请选择您要办理的业务", "Please choose", "—"]),
    max_w=st.integers(1, 1200),
    max_h=st.integers(1, 300),
    size=st.integers(1, 240),
    min_size=st.integers(1, 60),
)
def test_fit_finds_the_size_bisection_finds(fonts, line, max_w, max_h, size, min_size):
    fitted = fonts._fit(line, max_w, max_h, size, min_size, False)
    assert fitted == bisected_fit(fonts, line, max_w, max_h, size, min_size)


def test_rendered_text_is_in_the_display_layout(fonts):
    surf = fonts.render("中文 A012", 40, (250, 200, 0), strong=True)
    assert surf.get_masks() == pygame.Surface((1, 1), pygame.SRCALPHA, 32).get_masks()
    font = fonts.font(40)
    reference, _ = font.render("中文 A012", (250, 200, 0), style=pygame.freetype.STYLE_STRONG)
    assert pygame.image.tobytes(surf, "RGBA") == pygame.image.tobytes(reference, "RGBA")


def test_the_text_cache_grows_only(fonts):
    own = text.Fonts(fonts.source, text_cache_bytes=4 << 20)
    own.grow_text_cache(16 << 20)
    own.grow_text_cache(1 << 20)
    assert own._rendered.budget == 16 << 20


def test_fit_shrinks_then_shortens(fonts):
    long = "对公及转账业务" * 4
    fitted, size = fonts.fit(long, 300, 60, 40, min_size=20)
    assert (fitted == long and size < 40) or fitted.endswith(text.ELLIPSIS)
    assert fonts.size_of(fitted, size)[0] <= 300
    assert fonts.fit("A012", 1000, 1000, 40) == ("A012", 40)


# -- every screen, every mode, both sizes ----------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("key", "mode"), CASES, ids=[f"{k}-{m}" for k, m in CASES])
def test_screen_renders_real_content(key, mode, size, tmp_path, fonts):
    _, cls, make = SCREENS[key]
    screen = cls(fonts)
    surface = render(screen, make(SHIPPED)[mode], size)
    path = tmp_path / f"{key}-{mode}.png"
    pygame.image.save(surface, str(path))
    assert pygame.image.load(str(path)).get_size() == size

    background = surface.get_at((size[0] // 2, size[1] - 2))[:3]
    assert differing(surface, background) > 0.03 * size[0] * size[1]

    # The largest text (the main words) has ink in its box.
    main = max(screen.text_boxes, key=lambda r: r.w * r.h)
    box = surface.subsurface(main)
    assert differing(box, box.get_at((0, 0))[:3]) > 0.05 * main.w * main.h

    # Every text box is on screen, none overlaps another, nothing is shortened, no boxes.
    bounds = surface.get_rect()
    for i, a in enumerate(screen.text_boxes):
        assert bounds.contains(a), f"text box {a} leaves the {size} screen"
        for b in screen.text_boxes[i + 1 :]:
            assert not a.colliderect(b), f"text boxes {a} and {b} overlap"
    drawn = "".join(screen.texts)
    assert text.ELLIPSIS not in drawn
    assert fonts.missing(drawn) == ""


@pytest.mark.parametrize("size", [(1024, 600), (1280, 720), (480, 800)])
def test_other_sizes_lay_out_without_overlap(size, fonts):
    for key, (_, cls, make) in SCREENS.items():
        screen = cls(fonts)
        for mode, view in make(SHIPPED).items():
            surface = render(screen, view, size)
            boxes = screen.text_boxes
            assert all(surface.get_rect().contains(b) for b in boxes), (key, mode)
            assert not [
                (a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.colliderect(b)
            ], (key, mode)


def with_dynamic(cls, view, k: int):
    """``view`` with its per-frame fields moved on by ``k`` steps (times, clocks)."""
    changes: dict[str, object] = {}
    for name in cls.DYNAMIC:
        value = getattr(view, name)
        if isinstance(value, float | int) and not isinstance(value, bool):
            changes[name] = value + 3.7 * k
        elif isinstance(value, str):
            changes[name] = f"1{k}:5{k}"
    return replace(view, **changes)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("key", list(SCREENS))
def test_frames_drawn_over_the_last_match_full_redraws(key, size, fonts):
    """On the surface that holds its last frame a screen redraws only what changed: the
    dynamic regions for a new time, everything for a new view (over a reused layer surface);
    pixel for pixel what a new screen draws on a new surface."""
    _, cls, make = SCREENS[key]
    views = list(make(SHIPPED).values())
    screen, target = cls(fonts), pygame.Surface(size)
    assert screen.render(target, views[0]) == [target.get_rect()]
    frames = [with_dynamic(cls, v, k) for v in views + views[::-1] for k in (1, 2)]
    last = views[0]
    surfaces = set()
    for view in frames:
        dirty = screen.render(target, view)
        surfaces |= {id(layer.surface) for layer in screen._layers._data.values()}
        assert raw(target) == raw(render(cls(fonts), view, size)), view
        if view == last:
            assert dirty == []
        elif all(
            getattr(view, f.name) == getattr(last, f.name)
            for f in dataclasses.fields(view)
            if f.name not in cls.DYNAMIC
        ):
            assert dirty == [screen.regions[n] for n in cls.DYNAMIC_REGIONS if n in screen.regions]
        else:
            assert dirty == [target.get_rect()]
        last = view
    assert len(surfaces) <= cls.LAYERS  # a new layer is drawn on the surface of one pushed out
    assert screen.render(target, frames[-1]) == []  # the same view again: nothing to draw
    screen.invalidate()
    assert screen.render(target, frames[-1]) == [target.get_rect()]


def frame_record(screen) -> tuple:
    """What a screen learnt drawing its last frame: text, text boxes, targets, regions."""
    return (
        list(screen.texts),
        [tuple(r) for r in screen.text_boxes],
        [(tuple(r), action) for r, action in screen.hits],
        {name: tuple(r) for name, r in screen.regions.items()},
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("key", ["console", "pad", "kiosk"])
def test_layers_made_of_parts_drawn_before_match_a_new_screen(key, size, fonts):
    """New layers copy the parts (headers, keys, prompts) drawn for earlier views: the very
    pixels, texts, text boxes, touch targets and regions a new screen draws."""
    _, cls, make = SCREENS[key]
    views = list(make(SHIPPED).values())
    # the views again for other customers: the same parts, a new layer for each
    customers = [
        replace(v, ticket=f"X{i:03d}") if getattr(v, "ticket", None) else v
        for i in range(2)
        for v in views
    ]
    screen = cls(fonts)
    for view in views + customers:
        target = render(screen, view, size)
        fresh = cls(fonts)
        assert raw(target) == raw(render(fresh, view, size)), view
        assert frame_record(screen) == frame_record(fresh), view
    assert screen.parts_copied > 0


@pytest.mark.parametrize("key", ["console", "board", "pad"])
def test_a_new_time_redraws_only_the_dynamic_regions(key, fonts):
    _, cls, make = SCREENS[key]
    view = make(SHIPPED)[{"console": "serving", "board": "call", "pad": "rate"}[key]]
    screen, target = cls(fonts), pygame.Surface((1920, 1080))
    screen.render(target, view)
    dirty = screen.render(target, with_dynamic(cls, view, 1))
    assert dirty == [screen.regions[n] for n in cls.DYNAMIC_REGIONS]
    assert sum(r.w * r.h for r in dirty) < 0.2 * 1920 * 1080


def test_repeated_frames_reuse_the_static_layer(fonts):
    screen = BoardScreen(fonts)
    view = samples.board_views(SHIPPED)["call"]
    for t in range(5):
        render(screen, replace(view, notice_time_s=float(t), clock_text=f"10:4{t}"))
    assert len(screen._layers) == 1


# -- pad --------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", ["five", "four", "three"])
@pytest.mark.parametrize("size", SIZES)
def test_pad_has_one_key_per_level(scale, size, fonts):
    levels = tuple(RatingKey.coerce(level) for level in PRESET_SCALES[scale].build())
    view = PadView("rate", counter_name="1号窗口", levels=levels, seconds_left=5, window_s=10)
    screen = PadScreen(fonts)
    surface = render(screen, view, size)
    assert len(screen.hits) == len(levels)
    for (rect, action), level in zip(screen.hits, levels, strict=True):
        assert screen.hit_test(rect.center) == ("rate", level.value) == action
        assert rect.w >= 0.1 * size[0] and rect.h >= 0.3 * size[1]  # big keys
    rated = [rect for (rect, _), lv in zip(screen.hits, levels, strict=True) if not lv.neutral]
    best, worst = rated[0], rated[-1]
    best_colour = surface.get_at((best.centerx, best.bottom - 3))
    assert best_colour.g > best_colour.r  # the best level is green
    worst_colour = surface.get_at((worst.centerx, worst.bottom - 3))
    assert worst_colour.r > worst_colour.g  # the worst level is red
    for (rect, _), lv in zip(screen.hits, levels, strict=True):
        if lv.neutral:
            assert tuple(surface.get_at((rect.centerx, rect.bottom - 3)))[:3] == theme.NEUTRAL_GREY
    assert screen.hit_test((1, 1)) is None


def test_pad_reason_buttons(fonts):
    view = samples.pad_views(SHIPPED)["reason"]
    screen = PadScreen(fonts)
    render(screen, view)
    assert [a for _, a in screen.hits] == [("reason", i) for i in range(len(view.reasons))]
    for rect, action in screen.hits:
        assert screen.hit_test(rect.center) == action


@pytest.mark.parametrize("mode", ["idle", "welcome", "thanks", "paused", "signed_out"])
def test_pad_modes_without_keys_have_no_targets(mode, fonts):
    screen = PadScreen(fonts)
    render(screen, samples.pad_views(SHIPPED)[mode])
    assert screen.hits == []


def test_pad_never_carries_service_time():
    names = field_names(PadView)
    assert not [n for n in names if "limit" in n or "elapsed" in n or "service" in n]
    with pytest.raises(TypeError):
        PadView("rate", service_limit_s=300)  # type: ignore[call-arg]


def test_pad_countdown_changes_only_the_countdown(fonts):
    screen = PadScreen(fonts)
    view = samples.pad_views(SHIPPED)["rate"]
    a = render(screen, replace(view, seconds_left=9.5))
    b = render(screen, replace(view, seconds_left=2.5))
    row = screen.regions["countdown"]
    outside = a.copy()
    outside.blit(b.subsurface(row), row)
    assert raw(outside) == raw(b)
    assert raw(a.subsurface(row)) != raw(b.subsurface(row))


def test_pad_photo_is_shown_and_a_bad_one_falls_back(tmp_path, fonts):
    for depth in (32, 8):  # true colour and palette images
        photo = pygame.Surface((60, 80), 0, depth)
        if depth == 8:
            photo.set_palette_at(0, (200, 30, 160))
        photo.fill((200, 30, 160))
        path = tmp_path / f"teller-{depth}.png"
        pygame.image.save(photo, str(path))
        view = replace(samples.pad_views(SHIPPED)["idle"], photo_path=str(path))
        surface = render(PadScreen(fonts), view)
        assert exact(surface, (200, 30, 160)) > 10_000
    broken = replace(view, photo_path=str(tmp_path / "missing.png"))
    surface = render(PadScreen(fonts), broken)
    assert exact(surface, (200, 30, 160)) == 0
    assert exact(surface, theme.SILHOUETTE) > 5_000


# -- console ----------------------------------------------------------------------------------
def test_timer_colour_thresholds():
    assert timer_colour(0, 300) == theme.OK_GREEN
    assert timer_colour(239.9, 300) == theme.OK_GREEN
    assert timer_colour(240, 300) == theme.AMBER
    assert timer_colour(300, 300) == theme.AMBER
    assert timer_colour(300.5, 300) == theme.ALARM_RED
    assert timer_colour(100, 300, near_ratio=0.3) == theme.AMBER
    assert timer_colour(10_000, None) == theme.OK_GREEN
    assert mmss(0) == "00:00" and mmss(372.9) == "06:12" and mmss(6000) == "100:00"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(60, theme.OK_GREEN), (262, theme.AMBER), (372, theme.ALARM_RED)],
)
def test_console_timer_pixels(elapsed, expected, size, fonts):
    view = replace(samples.console_views(SHIPPED)["serving"], service_elapsed_s=elapsed)
    screen = ConsoleScreen(fonts)
    surface = render(screen, view, size)
    timer = surface.subsurface(screen.regions["timer"])
    assert exact(timer, expected) > 200 * (size[0] / 800) ** 2
    for other in {theme.OK_GREEN, theme.AMBER, theme.ALARM_RED} - {expected}:
        assert exact(timer, other) == 0
    assert "限时 05:00" in screen.texts  # the limit is shown to the teller


@pytest.mark.parametrize(
    ("state", "enabled"),
    [
        ("idle", {"call_next", "pause"}),
        ("called", {"recall", "start", "finish", "skip"}),
        ("serving", {"finish"}),
        ("awaiting_rating", {"call_next"}),
        ("paused", {"resume"}),
        ("signed_out", {"sign_in"}),
    ],
)
def test_console_keys_follow_the_state(state, enabled, fonts):
    screen = ConsoleScreen(fonts)
    render(screen, ConsoleView("1号窗口", state))
    assert {action for _, action in screen.hits} == enabled
    for rect, action in screen.hits:
        assert screen.hit_test(rect.center) == action


def test_console_without_queue_offers_ticketless(fonts):
    screen = ConsoleScreen(fonts)
    render(screen, ConsoleView("1号窗口", "idle", queue_available=False))
    assert "ticketless" in {a for _, a in screen.hits}
    assert "call_next" not in {a for _, a in screen.hits}


# -- board ------------------------------------------------------------------------------------
def test_ticker_position():
    assert ticker_x(123.0, 100, 10, 500, 60) == 10 + 200  # fits: centred, still
    assert ticker_x(0.0, 1000, 10, 500, 60) == 10  # starts at the left edge
    assert ticker_x(1.0, 1000, 10, 500, 60) == 10 - 60
    period = (1000 + 500) / 60
    assert ticker_x(1.0 + period, 1000, 10, 500, 60) == ticker_x(1.0, 1000, 10, 500, 60)


def test_board_notice_scrolls_with_time_only_in_its_band(fonts):
    screen = BoardScreen(fonts)
    view = samples.board_views(SHIPPED)["call"]
    a = render(screen, replace(view, notice_time_s=0.0))
    b = render(screen, replace(view, notice_time_s=2.0))
    band = screen.regions["ticker"]
    assert raw(a.subsurface(band)) != raw(b.subsurface(band))
    patched = a.copy()
    patched.blit(b.subsurface(band), band)
    assert raw(patched) == raw(b)


def test_board_call_is_very_large(fonts):
    screen = BoardScreen(fonts)
    surface = render(screen, samples.board_views(SHIPPED)["call"], (1920, 1080))
    assert exact(surface.subsurface(screen.regions["call"]), theme.CALL_YELLOW) > 20_000
    assert {"A012", "3号窗口"} <= set(screen.texts)
    assert screen.hits == []


# -- kiosk ------------------------------------------------------------------------------------
def test_kiosk_targets(fonts):
    screen = KioskScreen(fonts)
    view = samples.kiosk_views(SHIPPED)["choose"]
    render(screen, view)
    actions = [a for _, a in screen.hits]
    assert actions == [("issue", line.code) for line in view.business_types] + [
        ("priority", p.code) for p in view.priority_classes
    ]
    for rect, action in screen.hits:
        assert screen.hit_test(rect.center) == action


def test_kiosk_confirmation_blocks_the_keys(fonts):
    screen = KioskScreen(fonts)
    render(screen, samples.kiosk_views(SHIPPED)["issued"])
    assert [a for _, a in screen.hits] == ["dismiss"]
    assert "A019" in screen.texts
    assert "您前面还有6人，预计等候12分钟" in screen.texts


# -- views and builders -----------------------------------------------------------------------
def test_views_accept_plain_tuples_and_stay_hashable():
    # The fields are typed as the views hold them; the plain values given here (what this test
    # checks) are outside those types, hence the ignores.
    pad = PadView("rate", levels=[(3, "满意", "Satisfied"), (1, "不满意")], reasons=["其他"])  # type: ignore[arg-type]
    assert pad.levels == (RatingKey(3, "满意", "Satisfied"), RatingKey(1, "不满意"))
    assert pad.reasons == (("其他", ""),)
    board = BoardView(current_call=("A012", 3), waiting=[("现金业务", 5)])  # type: ignore[arg-type]
    assert board.current_call == Call("A012", "3号窗口", "Window 3")
    assert board.waiting == (QueueLine("现金业务", "现金业务", "", 5),)
    kiosk = KioskView(business_types=[("cash", "现金", "Cash", 2, 6)], last_ticket=("A001", 2))  # type: ignore[arg-type]
    assert kiosk.last_ticket == IssuedTicket("A001", 2)
    assert len({pad, board, kiosk}) == 3
    with pytest.raises(ValueError, match=r"PadView\.mode"):
        PadView("dancing")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ConsoleView\.state"):
        ConsoleView("1号窗口", "lunch")  # type: ignore[arg-type]


def test_builders_read_the_configuration():
    keys = build.rating_keys(SHIPPED)
    assert [k.value for k in keys] == [5, 4, 3, 2, 1] and keys[0].zh == "非常满意"
    assert build.bad_reasons(SHIPPED)[0] == ("等候时间长", "Long wait")
    assert build.pad_words(SHIPPED, "thanks") == (
        ("谢谢您的评价", "Thank you for your rating"),
        ("请您多提宝贵意见，欢迎下次再来", "Your suggestions are welcome. See you next time"),
    )
    lines = build.queue_lines(SHIPPED, {"cash": 4}, {"cash": 9}, codes=("general", "cash"))
    assert lines == (
        QueueLine("general", "综合业务", "General services", 0, None),
        QueueLine("cash", "现金业务", "Cash", 4, 9),
    )


# -- gallery ----------------------------------------------------------------------------------
@pytest.mark.travel_free  # a child process, which --travel does not move
def test_gallery_command_writes_every_screen(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "screens.gallery", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == len(CASES) * len(SIZES)
    index = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert all(p.name in index for p in pngs)
    assert sum(p.stat().st_size for p in pngs) < 3_000_000


@pytest.mark.parametrize("size", [(800, 480), (1920, 1080), (1024, 600), (480, 800)])
def test_kiosk_dims_only_around_its_ticket_card_with_the_same_pixels(size, fonts):
    """Dimming around the card (and in its corners) gives the pixels of dimming it all."""
    from screens.kiosk import dim_around, shade

    view = samples.kiosk_views(SHIPPED)["choose"]
    under = render(KioskScreen(fonts), view, size)
    card = pygame.Rect(0, 0, size[0] * 2 // 3, size[1] * 3 // 4)
    card.center = under.get_rect().center
    radius = round(18 * min(size[0] / 800, size[1] / 480))
    whole, around = under.copy(), under.copy()
    whole.blit(shade(size), (0, 0))
    dim_around(around, card, radius)
    assert raw(around) != raw(under)
    for surface in (whole, around):
        pygame.draw.rect(surface, theme.CARD, card, border_radius=radius)
    assert raw(around) == raw(whole)
