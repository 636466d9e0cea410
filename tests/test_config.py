"""Configuration: shipped defaults, the example branch, merging, and precise error reports."""

from __future__ import annotations

import math
from datetime import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import ConfigError
from config.loader import (
    ENV_VAR,
    default_config_path,
    example_config_path,
    find_config,
    load_config,
    load_config_text,
)
from config.model import WEEKDAYS
from tests.config_support import assert_one_problem, problems_of, write

REPO = Path(__file__).resolve().parent.parent
DEFAULTS_TEXT = default_config_path().read_text(encoding="utf-8")

ONE_TYPE = """
[[business_types]]
code = "cash"
prefix = "A"
name = { zh = "现金", en = "Cash" }
wait_limit_min = 15
service_limit_min = 5
"""
ONE_COUNTER = """
[[counters]]
number = 1
business_types = ["cash"]
"""


def without_line(text: str, line: str) -> str:
    assert line in text
    return text.replace(line + "\n", "", 1)


# -- good configurations ------------------------------------------------------------------------


def test_defaults_load_and_describe_a_demo_branch() -> None:
    cfg = load_config()
    assert cfg.sources == (str(default_config_path()),)
    assert cfg.device.device_id == "demo-counter-1"
    assert cfg.device.roles == ("counter", "controller")
    assert cfg.device.counter == 1
    assert cfg.device.timezone == "Asia/Shanghai"
    assert 3 <= len(cfg.business_types) <= 4
    cash = cfg.business_type("cash")
    assert (cash.prefix, cash.wait_limit_s, cash.service_limit_s) == ("A", 900.0, 300.0)
    assert cfg.business_type("inquiry").service_limit_s == 60.0
    assert len(cfg.counters) == 3
    assert len({c.business_types for c in cfg.counters}) == 3  # different ordered lists
    assert cfg.counter(1).name.get("en") == "Window 1"
    assert [p.code for p in cfg.priority_classes] == ["elderly", "disabled", "vip"]
    assert cfg.queue.priority_ratio == 0.5
    assert cfg.rating.scale == "five"
    assert [lv.value for lv in cfg.rating.levels if lv.satisfied] == [5, 4]
    level = cfg.rating.level(3)
    assert level is not None and level.label.zh == "基本满意"
    assert cfg.rating.window_s == 10.0
    assert len(cfg.rating.bad_reasons) == 4
    assert cfg.hours["sun"] == ()
    assert cfg.hours["mon"][0].start == time(8, 30)
    assert set(cfg.hours) == set(WEEKDAYS)
    assert (
        cfg.texts.get("call", "zh-CN").format(ticket="A012", counter=3) == "请A012号到3号窗口办理"
    )
    assert cfg.texts.get("paused", "en") == "Service paused"


def test_example_branch_loads_with_the_credit_union_limits() -> None:
    cfg = load_config(example_config_path())
    assert cfg.sources == (str(default_config_path()), str(example_config_path()))
    assert cfg.device.counter == 3
    assert cfg.device.roles == ("counter",)
    limits = {bt.code: bt.service_limit_s for bt in cfg.business_types}
    assert limits["deposit"] == 120.0
    assert limits["report_loss"] == 420.0
    assert limits["balance_inquiry"] == 60.0
    assert limits["wire_transfer"] == 600.0
    assert cfg.counter(3).name.zh == "3号窗口"  # default name
    assert cfg.counter(3).business_types == ("report_loss", "settlement", "deposit")
    assert cfg.rating.scale == "four"
    dont_know = cfg.rating.level(0)
    assert dont_know is not None and dont_know.neutral and not dont_know.satisfied
    assert len(cfg.hours["sat"]) == 2
    # Texts not in the example keep their defaults.
    assert cfg.texts.get("welcome", "zh-CN").endswith("请问您办理什么业务？")
    assert cfg.texts.get("call", "zh-CN") == "请{ticket}号到{counter}号窗口办理"


def test_override_of_one_key_keeps_the_rest(tmp_path: Path) -> None:
    base = load_config()
    path = write(tmp_path, "[queue]\nrecall_limit = 5\n[texts.en]\npaused = 'Closed'\n")
    cfg = load_config(path)
    assert cfg.queue.recall_limit == 5
    assert cfg.queue.number_digits == base.queue.number_digits
    assert cfg.queue.escalate_overdue == base.queue.escalate_overdue
    assert cfg.business_types == base.business_types
    assert cfg.texts.get("paused", "en") == "Closed"
    assert cfg.texts.get("thanks", "en") == base.texts.get("thanks", "en")
    assert cfg.sources == (str(default_config_path()), str(path))


def test_arrays_replace_whole(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_TYPE + ONE_COUNTER + "[hours]\nsat = []\n")
    cfg = load_config(path)
    assert [bt.code for bt in cfg.business_types] == ["cash"]
    assert [c.number for c in cfg.counters] == [1]
    assert cfg.hours["sat"] == ()
    assert cfg.hours["fri"] == load_config().hours["fri"]  # other days kept


def test_later_files_win_and_every_file_is_listed(tmp_path: Path) -> None:
    first = write(tmp_path, "[priority]\nratio = 0.2\n[queue]\nrecall_limit = 4\n", "a.toml")
    second = write(tmp_path, "[priority]\nratio = 0.3\n", "b.toml")
    cfg = load_config(first, second)
    assert cfg.queue.priority_ratio == 0.3
    assert cfg.queue.recall_limit == 4
    assert cfg.sources == (str(default_config_path()), str(first), str(second))


def test_english_text_falls_back_to_chinese(tmp_path: Path) -> None:
    text = without_line(DEFAULTS_TEXT, 'wait_please = "Please wait a moment"')
    cfg = load_config(write(tmp_path, text, "full.toml"), use_defaults=False)
    assert cfg.texts.get("wait_please", "en") == "请稍候"
    assert cfg.sources == (str(tmp_path / "full.toml"),)


def test_custom_scale(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[rating]
scale = "custom"
satisfied = [10, 8]
levels = [
  { value = 10, zh = "非常满意", en = "Very satisfied" },
  { value = 8, zh = "满意" },
  { value = 6, zh = "基本满意" },
  { value = 0, zh = "不了解", neutral = true },
]
""",
    )
    levels = load_config(path).rating.levels
    assert [(lv.value, lv.satisfied, lv.neutral) for lv in levels] == [
        (10, True, False),
        (8, True, False),
        (6, False, False),
        (0, False, True),
    ]
    assert levels[1].label.get("en") == "满意"  # en falls back to zh


def test_preset_satisfied_override(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[rating]\nscale = "three"\nsatisfied = [3, 2]\n'))
    assert [lv.value for lv in cfg.rating.levels if lv.satisfied] == [3, 2]
    assert [lv.label.zh for lv in cfg.rating.levels] == ["满意", "基本满意", "不满意"]


def test_load_config_text_and_byte_order_mark(tmp_path: Path) -> None:
    cfg = load_config_text("[queue]\nnumber_digits = 4\n", name="inline")
    assert cfg.queue.number_digits == 4
    assert cfg.sources[-1] == "inline"
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeff[queue]\nnumber_digits = 5\n".encode())
    assert load_config(path).queue.number_digits == 5


@settings(max_examples=50, deadline=None)
@given(minutes=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_limits_convert_minutes_to_seconds_or_report(minutes: float) -> None:
    text = "[[business_types]]\ncode = 'x'\nprefix = 'X'\nname = { zh = 'x' }\n"
    text += f"wait_limit_min = {minutes!r}\nservice_limit_min = 1\n"
    text += "[[counters]]\nnumber = 1\nbusiness_types = ['x']\n"
    if minutes > 0:
        cfg = load_config_text(text)
        assert math.isclose(cfg.business_types[0].wait_limit_s, minutes * 60)
    else:
        with pytest.raises(ConfigError) as caught:
            load_config_text(text)
        assert [p.key for p in caught.value.problems] == ["business_types[0].wait_limit_min"]


# -- bad configurations -------------------------------------------------------------------------

BAD = [
    pytest.param(
        "[queue]\nrecal_limit = 3\n",
        "queue.recal_limit",
        'unknown key "recal_limit" (did you mean "recall_limit"?)',
        id="unknown-key-with-suggestion",
    ),
    pytest.param(
        '[ratings]\nscale = "five"\n',
        "ratings",
        'did you mean "rating"?',
        id="unknown-section",
    ),
    pytest.param(
        ONE_COUNTER + '[[business_types]]\ncode = "cash"\nname = { zh = "现金" }\n'
        "wait_limit_min = 1\nservice_limit_min = 1\n",
        "business_types[0].prefix",
        "required key is missing",
        id="missing-required-key",
    ),
    pytest.param(
        ONE_COUNTER + ONE_TYPE.replace("wait_limit_min = 15", 'wait_limit_min = "15"'),
        "business_types[0].wait_limit_min",
        'expected a number, got string "15"',
        id="string-for-number",
    ),
    pytest.param(
        "[queue]\nnumber_digits = true\n",
        "queue.number_digits",
        "expected an integer, got boolean true",
        id="bool-for-int",
    ),
    pytest.param(
        ONE_COUNTER + ONE_TYPE.replace("service_limit_min = 5", "service_limit_min = 0"),
        "business_types[0].service_limit_min",
        "must be greater than 0, got 0",
        id="zero-limit",
    ),
    pytest.param(
        ONE_COUNTER + ONE_TYPE.replace("wait_limit_min = 15", "wait_limit_min = -2.5"),
        "business_types[0].wait_limit_min",
        "must be greater than 0, got -2.5",
        id="negative-limit",
    ),
    pytest.param(
        ONE_COUNTER + ONE_TYPE + ONE_TYPE.replace('"A"', '"B"'),
        "business_types[1].code",
        'duplicate business type code "cash" (already used by business_types[0])',
        id="duplicate-code",
    ),
    pytest.param(
        ONE_COUNTER + ONE_TYPE + ONE_TYPE.replace('"cash"', '"card"'),
        "business_types[1].prefix",
        'duplicate ticket prefix "A"',
        id="duplicate-prefix",
    ),
    pytest.param(
        ONE_COUNTER + ONE_TYPE.replace('"A"', '"A1"'),
        "business_types[0].prefix",
        'must be 1-2 upper-case ASCII letters (A-Z), got "A1"',
        id="bad-prefix",
    ),
    pytest.param(
        '[[counters]]\nnumber = 1\nbusiness_types = ["cash", "loans"]\n',
        "counters[0].business_types[1]",
        'unknown business type "loans"',
        id="counter-unknown-business-type",
    ),
    pytest.param(
        ONE_COUNTER + ONE_COUNTER,
        "counters[1].number",
        "duplicate counter number 1",
        id="duplicate-counter-number",
    ),
    pytest.param(
        "[device]\ncounter = 7\n",
        "device.counter",
        "counter 7 is not configured in [[counters]] (configured: 1, 2, 3)",
        id="device-counter-not-configured",
    ),
    pytest.param(
        '[device]\nroles = ["counter", "kiosk"]\n',
        "device.roles[1]",
        'must be one of "counter", "controller", "central", got "kiosk"',
        id="unknown-role",
    ),
    pytest.param(
        '[device]\nroles = ["counter", "counter"]\n',
        "device.roles[1]",
        'duplicate role "counter"',
        id="duplicate-role",
    ),
    pytest.param(
        '[device]\ndevice_id = "counter 1"\n',
        "device.device_id",
        'must be 1-32 characters from A-Z, a-z, 0-9, _ and -, got "counter 1"',
        id="bad-device-id",
    ),
    pytest.param(
        '[device]\nlanguage = "zh"\n',
        "device.language",
        'must be one of "zh-CN", "en", got "zh"',
        id="bad-language",
    ),
    pytest.param(
        "[priority]\nratio = 1.5\n",
        "priority.ratio",
        "must be between 0 and 1, got 1.5",
        id="priority-ratio-out-of-range",
    ),
    pytest.param(
        "[rating]\nwindow_s = 0\n",
        "rating.window_s",
        "must be greater than 0 and at most 600, got 0",
        id="rating-window-zero",
    ),
    pytest.param(
        "[rating]\nwindow_s = 601\n",
        "rating.window_s",
        "got 601",
        id="rating-window-too-long",
    ),
    pytest.param(
        '[rating]\nscale = "stars"\n',
        "rating.scale",
        'must be one of "five", "four", "three", "custom", got "stars"',
        id="unknown-scale",
    ),
    pytest.param(
        "[rating]\nsatisfied = [5, 6]\n",
        "rating.satisfied[1]",
        'no level with value 6 in scale "five" (levels: 5, 4, 3, 2, 1)',
        id="satisfied-level-missing",
    ),
    pytest.param(
        '[rating]\nscale = "four"\nsatisfied = [3, 0]\n',
        "rating.satisfied[1]",
        'level 0 ("不了解") is neutral and cannot count as satisfied',
        id="neutral-level-satisfied",
    ),
    pytest.param(
        '[rating]\nscale = "custom"\nsatisfied = [2]\n'
        'levels = [{ value = 2, zh = "好" }, { value = 2, zh = "差" }]\n',
        "rating.levels[1].value",
        "duplicate level value 2 (already used by rating.levels[0])",
        id="custom-duplicate-values",
    ),
    pytest.param(
        '[rating]\nscale = "custom"\nsatisfied = [2]\n',
        "rating.levels",
        'required key is missing (required with scale = "custom")',
        id="custom-without-levels",
    ),
    pytest.param(
        '[rating]\nlevels = [{ value = 2, zh = "好" }, { value = 1, zh = "差" }]\n',
        "rating.levels",
        'only allowed with scale = "custom", got scale = "five"',
        id="levels-with-preset",
    ),
    pytest.param(
        '[hours]\nmon = ["8:30-17:00"]\n',
        "hours.mon[0]",
        'expected "HH:MM-HH:MM" like "08:30-17:00", got "8:30-17:00"',
        id="bad-hours-format",
    ),
    pytest.param(
        '[hours]\ntue = ["17:00-08:30"]\n',
        "hours.tue[0]",
        'end must be after start, got "17:00-08:30"',
        id="hours-end-before-start",
    ),
    pytest.param(
        '[hours]\nwed = ["08:00-12:00", "13:00-14:00", "11:30-12:30"]\n',
        "hours.wed[2]",
        '"11:30-12:30" overlaps "08:00-12:00" (hours.wed[0])',
        id="overlapping-spans",
    ),
    pytest.param(
        '[hours]\nmonday = ["08:00-17:00"]\n',
        "hours.monday",
        'unknown key "monday" (did you mean "mon"?)',
        id="unknown-weekday",
    ),
    pytest.param(
        '[device]\ntimezone = "Asia/Shangai"\n',
        "device.timezone",
        'unknown time zone "Asia/Shangai" (did you mean "Asia/Shanghai"?)',
        id="bad-timezone",
    ),
    pytest.param(
        '[texts.zh-CN]\ncall = "请{ticket}号到{window}号窗口"\n',
        "texts.zh-CN.call",
        "unknown placeholder {window}",
        id="unknown-placeholder",
    ),
    pytest.param(
        '[texts.en]\nthanks = "Thanks, {name}"\n',
        "texts.en.thanks",
        'unknown placeholder {name} in "Thanks, {name}" (this text takes no placeholders)',
        id="placeholder-in-plain-text",
    ),
    pytest.param(
        '[texts.zh-CN]\nthanks = "谢谢{"\n',
        "texts.zh-CN.thanks",
        "not a valid template",
        id="broken-template",
    ),
    pytest.param(
        '[texts.en]\nwelcom = "Hi"\n',
        "texts.en.welcom",
        'did you mean "welcome"?',
        id="unknown-text-key",
    ),
    pytest.param(
        '[branch]\nname = "演示"\n',
        "branch.name",
        'expected a table like { zh = "...", en = "..." }, got string "演示"',
        id="text-not-a-table",
    ),
]


@pytest.mark.parametrize(("override", "key", "fragment"), BAD)
def test_bad_value_is_reported_with_file_key_and_message(
    tmp_path: Path, override: str, key: str, fragment: str
) -> None:
    assert_one_problem(tmp_path, override, key, fragment)


FULL_BAD = [
    pytest.param(
        without_line(DEFAULTS_TEXT, 'rate_prompt = "请您对我的服务做出评价"'),
        "texts.zh-CN.rate_prompt",
        "required key is missing",
        id="missing-zh-text",
    ),
    pytest.param(
        without_line(DEFAULTS_TEXT, "counter = 1"),
        "device.counter",
        'required key is missing (required because roles include "counter")',
        id="counter-role-without-counter",
    ),
    pytest.param(
        without_line(DEFAULTS_TEXT, "sun = []"),
        "hours.sun",
        "required key is missing (use [] for a closed day)",
        id="missing-weekday",
    ),
]


@pytest.mark.parametrize(("text", "key", "fragment"), FULL_BAD)
def test_missing_key_in_a_complete_file(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = write(tmp_path, text, "complete.toml")
    problems = problems_of(path, use_defaults=False)
    assert [(p.file, p.key) for p in problems] == [(str(path), key)]
    assert fragment in problems[0].message


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[queue]\nnumber_digits = 3\nrecall_limit = \n")
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].file == str(path)
    assert problems[0].line == 3
    assert "TOML syntax error at line 3" in problems[0].message
    assert "recall_limit =" in problems[0].message
    assert str(problems[0]).startswith(f"{path}: TOML syntax error at line 3")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "counterside.toml"
    problems = problems_of(missing)
    assert [(p.file, p.key) for p in problems] == [(str(missing), "")]
    assert "configuration file not found" in problems[0].message


def test_unreadable_files_are_all_reported_before_validation(tmp_path: Path) -> None:
    broken = write(tmp_path, "[queue\n", "broken.toml")
    bad_value = write(tmp_path, "[queue]\nnumber_digits = 9\n", "bad.toml")
    missing = tmp_path / "missing.toml"
    problems = problems_of(broken, bad_value, missing)
    assert [p.file for p in problems] == [str(broken), str(missing)]


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[device]\ntimezone = "Mars/Olympus"\n[queue]\nrecall_limit = -1\n'
        '[rating]\nwindow_s = "10"\n[hours]\nsun = ["10:00-09:00"]\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    keys = [p.key for p in caught.value.problems]
    assert keys == ["device.timezone", "queue.recall_limit", "rating.window_s", "hours.sun[0]"]
    lines = str(caught.value).splitlines()
    assert len(lines) == 4
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert lines[1] == f"{path}: queue.recall_limit: must be between 0 and 10, got -1"


def test_every_span_inside_a_long_span_overlaps_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[hours]\nthu = ["09:00-10:00", "08:00-18:00", "13:00-14:00"]\n')
    problems = problems_of(path)
    assert [p.key for p in problems] == ["hours.thu[0]", "hours.thu[2]"]
    assert all('overlaps "08:00-18:00" (hours.thu[1])' in p.message for p in problems)
    touching = write(tmp_path, '[hours]\nthu = ["13:00-17:00", "08:00-13:00"]\n', "ok.toml")
    assert [s.start for s in load_config(touching).hours["thu"]] == [time(8), time(13)]


def test_problem_is_attributed_to_the_file_that_supplied_the_value(tmp_path: Path) -> None:
    bad = write(tmp_path, "[priority]\nratio = -0.1\n", "site.toml")
    fine = write(tmp_path, "[queue]\nrecall_limit = 3\n", "device.toml")
    problems = problems_of(bad, fine)
    assert [(p.file, p.key) for p in problems] == [(str(bad), "priority.ratio")]
    assert problems[0].file != str(default_config_path())
    # A later file fixing the value makes the configuration valid again.
    fixed = write(tmp_path, "[priority]\nratio = 0.25\n", "fix.toml")
    assert load_config(bad, fixed).queue.priority_ratio == 0.25


def test_default_values_made_invalid_by_an_override_blame_the_defaults_with_a_hint(
    tmp_path: Path,
) -> None:
    # The override replaces business_types but keeps the default counters, which still
    # refer to the removed types: the bad references live in defaults.toml.
    path = write(tmp_path, ONE_TYPE)
    problems = problems_of(path)
    assert problems
    assert {p.file for p in problems} == {str(default_config_path())}
    assert all(p.key.startswith("counters[") for p in problems)
    assert all(f"the business types in use come from {path}" in p.message for p in problems)


def test_missing_key_in_array_element_blames_the_file_that_supplied_the_array(
    tmp_path: Path,
) -> None:
    types = write(tmp_path, ONE_COUNTER + ONE_TYPE.replace('prefix = "A"\n', ""), "types.toml")
    other = write(tmp_path, "[queue]\nrecall_limit = 1\n", "other.toml")
    problems = problems_of(types, other)
    assert [(p.file, p.key) for p in problems] == [(str(types), "business_types[0].prefix")]


def test_no_files_without_defaults() -> None:
    with pytest.raises(ConfigError, match="no configuration file given"):
        load_config(use_defaults=False)


# -- finding the file ---------------------------------------------------------------------------


def test_find_config_order(tmp_path: Path) -> None:
    system = tmp_path / "counterside.toml"
    assert find_config("x.toml", environ={ENV_VAR: "y.toml"}) == [Path("x.toml")]
    assert find_config(None, environ={ENV_VAR: "y.toml"}, system_path=system) == [Path("y.toml")]
    assert find_config(None, environ={}, system_path=system) == []
    system.write_text("", encoding="utf-8")
    assert find_config(None, environ={}, system_path=system) == [system]
    assert find_config(None, environ={ENV_VAR: ""}, system_path=system) == [system]


def test_find_config_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "a.toml"))
    assert find_config(None) == [tmp_path / "a.toml"]


# -- amount bands, pause and extension reasons, the long-queue alert (issue 7) --------------------


def test_bands_pause_and_extension_reasons_load_from_the_defaults() -> None:
    config = load_config()
    bands = config.business_type("cash").bands
    assert [(b.up_to, b.service_limit_s) for b in bands] == [
        (50000, 300),
        (100000, 600),
        (None, 1200),
    ]
    assert [r.zh for r in config.queue.pause_reasons] == [
        "暂时离开",
        "业务培训",
        "交接班",
        "现金清点",
    ]
    assert config.queue.extension_reasons[0].add_s == 300
    assert config.queue.long_queue_alert == 25


BAND = '{{ name = {{ zh = "{0}" }}, {1}service_limit_min = {2} }}'


@pytest.mark.parametrize(
    ("bands", "key", "fragment"),
    [
        (
            [
                BAND.format("小", "up_to = 100, ", 5),
                BAND.format("中", "up_to = 50, ", 9),
                BAND.format("大", "", 9),
            ],
            "business_types[0].bands[1].up_to",
            "must be above the previous band's 100",
        ),
        (
            [BAND.format("小", "up_to = 100, ", 5), BAND.format("大", "up_to = 200, ", 9)],
            "business_types[0].bands[1].up_to",
            "the last band is open: leave out up_to",
        ),
        (
            [BAND.format("小", "", 5), BAND.format("大", "", 9)],
            "business_types[0].bands[0].up_to",
            "every band but the last names its top amount",
        ),
        (
            [BAND.format("小", "up_to = 100, ", 0), BAND.format("大", "", 9)],
            "business_types[0].bands[0].service_limit_min",
            "",
        ),
    ],
)
def test_bad_bands_are_reported_with_their_key(tmp_path: Path, bands, key, fragment) -> None:
    text = ONE_TYPE + f"bands = [{', '.join(bands)}]\n" + ONE_COUNTER
    assert_one_problem(tmp_path, text, key, fragment)


@pytest.mark.parametrize(
    ("override", "key", "fragment"),
    [
        ("[queue]\npause_reasons = []\n", "queue.pause_reasons", "must not be empty"),
        (
            '[queue]\nextension_reasons = [{ zh = "慢", add_min = -1 }]\n',
            "queue.extension_reasons[0].add_min",
            "",
        ),
        ("[queue]\nlong_queue_alert = -3\n", "queue.long_queue_alert", ""),
    ],
)
def test_bad_queue_reasons_and_alert_are_reported(tmp_path: Path, override, key, fragment) -> None:
    assert_one_problem(tmp_path, override, key, fragment)


def test_the_defaults_are_parsed_once_and_every_load_gets_its_own(tmp_path) -> None:
    """A centre reads hundreds of branch files over the shipped defaults: parsed once, and no
    load can change what the next one starts from."""
    from config import loader

    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('[device]\nbranch_id = "a"\ndevice_id = "a1"\n[branch]\nname = { zh = "甲" }\n')
    b.write_text('[device]\nbranch_id = "b"\ndevice_id = "b1"\n')
    loader._parsed_defaults.cache_clear()
    first, second = loader.load_config(a), loader.load_config(b)
    assert loader._parsed_defaults.cache_info().misses == 1
    assert first.branch_name.zh == "甲" and second.branch_name.zh != "甲"
    assert loader.load_config(b) == second
