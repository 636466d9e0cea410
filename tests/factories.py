"""Small, explicit configurations for domain tests (independent of the shipped TOML defaults)."""

from __future__ import annotations

from datetime import time

from config.model import (
    BusinessType,
    Config,
    Counter,
    DeviceConfig,
    ExtensionReason,
    OpeningSpan,
    PriorityClass,
    QueueConfig,
    RatingConfig,
    RatingLevel,
    ServiceBand,
    Text,
    TextsConfig,
)


def _default_texts() -> TextsConfig:
    from config.loader import load_config

    return load_config().texts


FIVE_LEVELS = (
    RatingLevel(5, Text("非常满意", "Very satisfied"), True),
    RatingLevel(4, Text("满意", "Satisfied"), True),
    RatingLevel(3, Text("基本满意", "Fairly satisfied"), False),
    RatingLevel(2, Text("不满意", "Dissatisfied"), False),
    RatingLevel(1, Text("非常不满意", "Very dissatisfied"), False),
)


def make_config(
    *,
    priority_ratio: float = 0.5,
    recall_limit: int = 2,
    window_s: float = 10.0,
    escalate_overdue: bool = True,
    bands: bool = False,
    counters: tuple[tuple[int, tuple[str, ...]], ...] = (
        (1, ("cash", "general")),
        (2, ("general", "cash")),
        (3, ("corporate",)),
    ),
) -> Config:
    cash_bands = (
        (
            ServiceBand(Text("5万元以下", "up to 50k"), 50_000, 5 * 60),
            ServiceBand(Text("5万至10万元", "50k to 100k"), 100_000, 10 * 60),
            ServiceBand(Text("10万元以上", "over 100k"), None, 20 * 60),
        )
        if bands
        else ()
    )
    extensions = (
        (
            ExtensionReason(Text("残损券", "Damaged notes"), 5 * 60),
            ExtensionReason(Text("系统故障", "System fault"), 0),
        )
        if bands
        else ()
    )
    types = (
        BusinessType("cash", "A", Text("现金业务", "Cash"), 15 * 60, 5 * 60, cash_bands),
        BusinessType("general", "B", Text("综合业务", "General"), 20 * 60, 10 * 60),
        BusinessType("corporate", "C", Text("对公业务", "Corporate"), 30 * 60, 20 * 60),
    )
    return Config(
        device=DeviceConfig(
            "test-branch", "test-device", ("counter", "controller"), 1, "Asia/Shanghai", "zh-CN"
        ),
        branch_name=Text("测试支行", "Test Branch"),
        business_types=types,
        counters=tuple(
            Counter(n, Text(f"{n}号窗口", f"Window {n}"), serves) for n, serves in counters
        ),
        priority_classes=(
            PriorityClass("elderly", Text("老年人", "Elderly")),
            PriorityClass("vip", Text("贵宾", "VIP")),
        ),
        queue=QueueConfig(
            3, recall_limit, priority_ratio, escalate_overdue, extension_reasons=extensions
        ),
        rating=RatingConfig("five", FIVE_LEVELS, window_s, (Text("其他", "Other"),)),
        hours={d: (OpeningSpan(time(8, 30), time(17, 0)),) for d in ("mon", "tue", "wed")},
        texts=_default_texts(),
    )
