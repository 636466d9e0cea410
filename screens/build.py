"""Filling views from the configuration: rating keys, reasons, words, queue lines.

Everything here is pure and reads only :mod:`config.model`; the app adds the live state.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.model import Config
from screens.views import Bilingual, PriorityChoice, QueueLine, RatingKey

# Pad mode -> (main text key, second line key) in the configured texts.
PAD_TEXT_KEYS: dict[str, tuple[str | None, str | None]] = {
    "welcome": ("welcome", None),
    "rate": ("rate_prompt", None),
    "thanks": ("thanks", "goodbye"),
    "paused": ("paused", None),
}


def words(config: Config, key: str, **values: object) -> Bilingual:
    """A configured text in Chinese and English, formatted with ``values``."""
    zh = config.texts.get(key, "zh-CN").format(**values)
    en = config.texts.get(key, "en").format(**values)
    return zh, en


def rating_keys(config: Config) -> tuple[RatingKey, ...]:
    """The pad's keys in the configured order (best first)."""
    return tuple(RatingKey.coerce(level) for level in config.rating.levels)


def bad_reasons(config: Config) -> tuple[Bilingual, ...]:
    return tuple((r.zh, r.en) for r in config.rating.bad_reasons)


def priority_choices(config: Config) -> tuple[PriorityChoice, ...]:
    return tuple(PriorityChoice.coerce(p) for p in config.priority_classes)


def counter_name(config: Config, number: int) -> Bilingual:
    name = config.counter(number).name
    return name.zh, name.en


def pad_words(config: Config, mode: str) -> tuple[Bilingual | None, Bilingual | None]:
    """(prompt, note) for a pad mode from the configured texts; ``None`` keeps the default."""
    main, second = PAD_TEXT_KEYS.get(mode, (None, None))
    return (
        words(config, main) if main else None,
        words(config, second) if second else None,
    )


def queue_lines(
    config: Config,
    waiting: Mapping[str, int],
    expected_wait_min: Mapping[str, int] | None = None,
    codes: tuple[str, ...] | None = None,
) -> tuple[QueueLine, ...]:
    """One line per business type (all, or ``codes`` in that order), in display order."""
    expected = expected_wait_min or {}
    chosen = codes if codes is not None else tuple(bt.code for bt in config.business_types)
    lines = []
    for code in chosen:
        bt = config.business_type(code)
        lines.append(
            QueueLine(code, bt.name.zh, bt.name.en, int(waiting.get(code, 0)), expected.get(code))
        )
    return tuple(lines)
