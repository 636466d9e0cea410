"""Sample views of every screen and mode, filled from a configuration (gallery and tests)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from config.model import Config
from config.scales import PRESET_SCALES
from screens import build
from screens.views import (
    BoardView,
    Call,
    ConsoleView,
    IssuedTicket,
    KioskView,
    PadMode,
    PadView,
    RatingKey,
)

# Keyword arguments of the views, as plain dicts of mixed values (each view checks its fields).
TELLER: dict[str, Any] = {"teller_name": "张晓梅", "staff_no": "0123", "stars": 4}
NOTICE = (
    "温馨提示：请妥善保管您的号票，过号请重新取号。"
    "老年人、残障人士可走绿色通道，优先办理。"
    "Please keep your ticket; priority service for the elderly and disabled."
)


DESCRIPTIONS: dict[str, str] = {
    "pad.idle": "idle: teller photo (placeholder), name, 工号, star grade",
    "pad.welcome": "welcome: 您好，欢迎光临 and the called ticket",
    "pad.rate": "rate: one key per configured level (five), green to red, count-down",
    "pad.rate_four": "rate, `four` scale: 不了解 is neutral (grey)",
    "pad.thanks": "thanks: 谢谢您的评价 and the farewell",
    "pad.reason": "reason: one tap after a bad rating (configured reasons)",
    "pad.paused": "paused: 暂停服务",
    "pad.signed_out": "signed out: window not open",
    "console.signed_out": "signed out",
    "console.idle": "idle: queue lengths and next tickets, 叫号 enabled",
    "console.called": "called (second call): 重呼, 开始, 过号 enabled",
    "console.serving": "serving: timer green within the limit",
    "console.serving_near_limit": "serving, near the limit (≥ 80 %): amber; priority ticket",
    "console.serving_over_limit": "serving, past the limit: red, overrun and a warning",
    "console.awaiting_rating": "awaiting the customer's rating",
    "console.paused": "paused: reason and time away (flagged after 30 min)",
    "console.pause_reasons": "pause key pressed: the teller picks the reason (number or touch)",
    "console.choose_band": "serving: the teller picks the amount band, its limit applies",
    "console.ticketless": "queue system down: ticketless service (无号业务)",
    "board.call": "current call, recent calls, waiting counts and expected waits, notice",
    "board.no_call": "nothing called yet, no queue",
    "kiosk.choose": "business type keys with waiting count and expected wait",
    "kiosk.priority": "priority class chosen (绿色通道)",
    "kiosk.issued": "ticket issued: number, people ahead, expected wait",
    "kiosk.no_printer": "with a message line (printer out of paper)",
}


def pad_views(config: Config) -> dict[str, PadView]:
    counter_zh, _ = build.counter_name(config, 1)
    base = {"counter_name": counter_zh, "branch_name": config.branch_name.zh, **TELLER}
    views: dict[str, PadView] = {}
    modes: tuple[PadMode, ...] = (
        "idle",
        "welcome",
        "rate",
        "thanks",
        "reason",
        "paused",
        "signed_out",
    )
    for mode in modes:
        prompt, note = build.pad_words(config, mode)
        extra: dict[str, Any] = {}
        if mode in ("welcome", "rate", "thanks", "reason"):
            extra["ticket"] = "A012"
        if mode == "rate":
            extra |= {"levels": build.rating_keys(config), "seconds_left": 7.4}
        if mode == "reason":
            extra |= {"reasons": build.bad_reasons(config), "seconds_left": 12.0}
        if mode in ("rate", "reason"):
            extra["window_s"] = config.rating.window_s if mode == "rate" else 15.0
        if mode == "signed_out":
            base_out = {k: v for k, v in base.items() if k not in TELLER}
            views[mode] = PadView(mode, **base_out)
            continue
        views[mode] = PadView(mode, prompt=prompt, note=note, **base, **extra)
    four = tuple(RatingKey.coerce(level) for level in PRESET_SCALES["four"].build())
    views["rate_four"] = replace(views["rate"], levels=four, seconds_left=3.2)
    order = ("idle", "welcome", "rate", "rate_four", "thanks", "reason", "paused", "signed_out")
    return {mode: views[mode] for mode in order}


def console_views(config: Config) -> dict[str, ConsoleView]:
    counter = config.counter(1)
    waiting = {"cash": 6, "general": 3, "corporate": 1, "inquiry": 0}
    queues = build.queue_lines(config, waiting, codes=counter.business_types)
    base: dict[str, Any] = {
        "counter_name": counter.name.zh,
        "teller_name": TELLER["teller_name"],
        "staff_no": TELLER["staff_no"],
        "queues": queues,
        "next_tickets": ("A013", "A014", "B007", "A015"),
        "clock_text": "10:42",
    }
    cash = config.business_type("cash")
    serving: dict[str, Any] = {
        **base,
        "ticket": "A012",
        "business_type_name": cash.name.zh,
        "service_limit_s": cash.service_limit_s,
    }
    return {
        "signed_out": ConsoleView(counter.name.zh, "signed_out", clock_text="08:05"),
        "idle": ConsoleView(state="idle", **base),
        "called": ConsoleView(
            state="called", calls=2, service_elapsed_s=None, **{**serving, "ticket": "A012"}
        ),
        "serving": ConsoleView(state="serving", service_elapsed_s=95, **serving),
        "serving_near_limit": ConsoleView(
            state="serving", service_elapsed_s=262, priority_name="老年人", **serving
        ),
        "serving_over_limit": ConsoleView(
            state="serving",
            service_elapsed_s=372,
            message="已超过限时，如需延时请登记原因",
            message_level="warn",
            **serving,
        ),
        "awaiting_rating": ConsoleView(
            state="awaiting_rating",
            message="已邀请客户评价（10 秒）",
            **{**serving, "service_elapsed_s": 188},
        ),
        "paused": ConsoleView(
            state="paused", paused_reason="午间用餐", paused_elapsed_s=754, **base
        ),
        "pause_reasons": ConsoleView(
            state="idle",
            choice_title="暂停原因",
            choices=tuple(r.zh for r in config.queue.pause_reasons),
            **base,
        ),
        "choose_band": ConsoleView(
            state="serving",
            service_elapsed_s=95,
            choice_title="金额档次",
            choices=tuple(b.name.zh for b in cash.bands),
            **serving,
        ),
        "ticketless": ConsoleView(
            state="serving",
            ticketless=True,
            queue_available=False,
            service_elapsed_s=41,
            message="排队系统不可用，请办理无号业务",
            message_level="error",
            **{**serving, "ticket": None, "queues": (), "next_tickets": ()},
        ),
    }


def board_views(config: Config) -> dict[str, BoardView]:
    waiting = {"cash": 6, "general": 3, "corporate": 1, "inquiry": 0}
    expected = {"cash": 12, "general": 9, "corporate": 5, "inquiry": 0}
    calls = (
        Call("B006", "2号窗口", "Window 2"),
        Call("A011", "1号窗口", "Window 1"),
        Call("C003", "3号窗口", "Window 3"),
        Call("A010", "2号窗口", "Window 2"),
        Call("B005", "1号窗口", "Window 1"),
    )
    base: dict[str, Any] = {
        "branch_name": config.branch_name.zh,
        "clock_text": "10:42",
        "waiting": build.queue_lines(config, waiting, expected),
        "notice": NOTICE,
        "notice_time_s": 3.0,
    }
    return {
        "call": BoardView(
            current_call=Call("A012", "3号窗口", "Window 3"), recent_calls=calls, **base
        ),
        "no_call": BoardView(**{**base, "notice": "欢迎光临演示支行", "waiting": ()}),
    }


def kiosk_views(config: Config) -> dict[str, KioskView]:
    waiting = {"cash": 6, "general": 3, "corporate": 1, "inquiry": 0}
    expected = {"cash": 12, "general": 9, "corporate": 5, "inquiry": 0}
    base: dict[str, Any] = {
        "branch_name": config.branch_name.zh,
        "business_types": build.queue_lines(config, waiting, expected),
        "priority_classes": build.priority_choices(config),
        "clock_text": "10:42",
    }
    cash = config.business_type("cash")
    ticket = IssuedTicket(
        "A019",
        6,
        cash.name.zh,
        cash.name.en,
        12,
        build.words(config, "expected_wait", ahead=6, minutes=12),
    )
    return {
        "choose": KioskView(**base),
        "priority": KioskView(selected_priority="elderly", **base),
        "issued": KioskView(last_ticket=ticket, **base),
        "no_printer": KioskView(message="打印机缺纸，请到服务台取号", **base),
    }
