"""The rating scales built into counterside (``rating.scale`` other than ``"custom"``)."""

from __future__ import annotations

from dataclasses import dataclass

from config.model import RatingLevel, Text


@dataclass(frozen=True)
class PresetScale:
    """Levels as ``(value, zh, en, neutral)``, highest first, and the default satisfied values."""

    levels: tuple[tuple[int, str, str, bool], ...]
    satisfied: frozenset[int]

    def build(self, satisfied: frozenset[int] | None = None) -> tuple[RatingLevel, ...]:
        chosen = self.satisfied if satisfied is None else satisfied
        return tuple(
            RatingLevel(value, Text(zh, en), value in chosen, neutral)
            for value, zh, en, neutral in self.levels
        )

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(level[0] for level in self.levels)


PRESET_SCALES: dict[str, PresetScale] = {
    # Government 好差评 style: 非常满意 … 非常不满意.
    "five": PresetScale(
        levels=(
            (5, "非常满意", "Very satisfied", False),
            (4, "满意", "Satisfied", False),
            (3, "基本满意", "Fairly satisfied", False),
            (2, "不满意", "Dissatisfied", False),
            (1, "非常不满意", "Very dissatisfied", False),
        ),
        satisfied=frozenset({5, 4}),
    ),
    # Bank counter evaluator with a 不了解 key that is left out of 满意率.
    "four": PresetScale(
        levels=(
            (3, "满意", "Satisfied", False),
            (2, "基本满意", "Fairly satisfied", False),
            (1, "不满意", "Dissatisfied", False),
            (0, "不了解", "Don't know", True),
        ),
        satisfied=frozenset({3}),
    ),
    "three": PresetScale(
        levels=(
            (3, "满意", "Satisfied", False),
            (2, "基本满意", "Fairly satisfied", False),
            (1, "不满意", "Dissatisfied", False),
        ),
        satisfied=frozenset({3}),
    ),
}

SCALES: tuple[str, ...] = (*PRESET_SCALES, "custom")
