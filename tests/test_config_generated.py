"""Settings are declared once: the shipped defaults and the documented key tables are generated
from the declarations, and cannot drift from them."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from config import generate
from config.checker import Checker
from config.declare import Key, Table, read_table, setting
from config.errors import ConfigError
from config.kinds import INVALID, Integer, String
from config.layers import Layers
from config.layout import ROOT
from config.loader import default_config_path, load_config, load_config_text
from config.model import (
    GpioConfig,
    HardwareConfig,
    MqttConfig,
    PrinterSettings,
    QueueConfig,
    ScreenConfig,
    VoiceSettings,
)
from config.render_docs import fill, key_tables, marked
from config.render_toml import defaults_toml

REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_defaults_are_the_generated_ones() -> None:
    assert default_config_path().read_text(encoding="utf-8") == defaults_toml(), (
        "config/defaults.toml is out of date: run python -m config.generate"
    )


def test_the_documented_key_tables_are_the_generated_ones() -> None:
    assert generate.problems(default_config_path(), generate.DOCS) == []


def test_every_declared_table_is_documented() -> None:
    document = marked(generate.DOCS.read_text(encoding="utf-8"))
    assert set(document) == set(key_tables())
    for path in ("voice", "hardware.gpio", "business_types.bands", "texts.en", "rating.presets"):
        assert path in document


def test_the_check_command_passes_on_this_tree() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "config.generate", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_the_check_names_a_stale_file_and_a_missing_marker(tmp_path: Path) -> None:
    defaults, docs = tmp_path / "defaults.toml", tmp_path / "configuration.md"
    shutil.copy(default_config_path(), defaults)
    shutil.copy(generate.DOCS, docs)
    assert generate.problems(defaults, docs) == []
    defaults.write_text(defaults.read_text(encoding="utf-8").replace("pitch = 50", "pitch = 51"))
    document = docs.read_text(encoding="utf-8")
    voices = document.index("<!-- keys voice.voices -->")
    end = document.index("<!-- end keys -->", voices) + len("<!-- end keys -->")
    docs.write_text(document[:voices] + document[end:], encoding="utf-8")
    assert generate.problems(defaults, docs) == [
        f"{defaults}: out of date",
        f"{docs}: no <!-- keys voice.voices --> marker",
    ]


def test_fill_rewrites_only_what_stands_between_markers() -> None:
    document = "Intro.\n<!-- keys screen -->\nold table\n<!-- end keys -->\nOutro.\n"
    filled = fill(document, key_tables())
    assert filled.startswith("Intro.\n<!-- keys screen -->\n| key | type |")
    assert filled.endswith("<!-- end keys -->\nOutro.\n")
    assert "| `near_ratio` | *number* | `0.8` | 0.5–0.99: " in filled
    assert fill(filled, key_tables()) == filled


def test_every_model_setting_has_help() -> None:
    for model in (VoiceSettings, PrinterSettings, ScreenConfig, MqttConfig, GpioConfig):
        for f in dataclasses.fields(model):
            assert f.metadata["setting"].help, f"{model.__name__}.{f.name}"


def test_the_generated_defaults_give_the_models_defaults() -> None:
    shipped = tomllib.loads(defaults_toml())
    cfg = load_config()
    assert (cfg.voice, cfg.printer, cfg.screen) == (
        VoiceSettings(),
        PrinterSettings(),
        ScreenConfig(),
    )
    assert (cfg.hardware, cfg.mqtt) == (HardwareConfig(), MqttConfig())
    assert shipped["hardware"]["gpio"]["bounce_ms"] == 50 and cfg.hardware.gpio.bounce_s == 0.05
    assert cfg.queue.long_queue_alert == QueueConfig.long_queue_alert


def test_every_shipped_key_is_commented_out_or_given() -> None:
    text = defaults_toml()
    assert '# host = "mqtt.branch.example"' in text and "\nhost = " not in text.split("[mqtt]")[1]
    assert "# buzzer = 18" in text
    assert "# [[roster]]" in text and "\n[[roster]]" not in text


def test_a_declared_default_outside_its_own_range_fails_at_import() -> None:
    with pytest.raises(ValueError, match=r"must be between 1 and 5, got 9"):

        @dataclasses.dataclass(frozen=True)
        class Broken:
            repeat: int = setting(Integer(1, 5), 9, help="times")


def test_hand_built_settings_name_every_bad_key_at_once() -> None:
    with pytest.raises(ValueError) as caught:
        PrinterSettings(cut="half", port=0, connection="network")
    assert str(caught.value).split("; ") == [
        "printer.port: must be between 1 and 65535, got 0",
        'printer.cut: must be one of "FULL", "PART", got "half"',
        'printer.connection: "network" needs printer.host, the printer\'s IP address or host name',
    ]


def test_a_table_reads_every_key_reports_every_problem_and_builds_only_when_all_are_good() -> None:
    table = Table(
        (
            Key("name", String()),
            Key("size", Integer(1, 9), optional=True, default=3),
            Key("code", String(), unique="code"),
        )
    )
    c = Checker(Layers())
    good = read_table(c, table, {"name": "a", "code": "x"}, ("t",))
    assert (good.model, c.problems) == ({"name": "a", "size": 3, "code": "x"}, [])
    bad = read_table(c, table, {"name": 1, "size": 10, "cod": "x"}, ("t",))
    assert bad.model is INVALID and bad.values["size"] is INVALID
    assert [(p.key, p.message) for p in c.problems] == [
        ("t.cod", 'unknown key "cod" (did you mean "code"?)'),
        ("t.name", "expected a string, got integer 1"),
        ("t.size", "must be between 1 and 9, got 10"),
        ("t.code", "required key is missing"),
    ]


def test_the_layout_lists_every_top_level_table_once() -> None:
    names = [key.name for key in ROOT.keys]
    assert len(names) == len(set(names))
    shipped = tomllib.loads(default_config_path().read_text(encoding="utf-8"))
    assert set(shipped) == set(names) - {"roster"}


def test_the_same_duplicate_message_everywhere() -> None:
    text = (
        '[device]\nroles = ["counter", "counter"]\n[screen]\npanels = ["pad", "pad"]\n'
        "[hardware.gpio]\nkeys = { call_next = 5, recall = 5 }\n"
        '[priority]\nclasses = [{ code = "a", name = { zh = "甲" } }, '
        '{ code = "a", name = { zh = "乙" } }]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    assert [p.message for p in caught.value.problems] == [
        'duplicate role "counter" (already used by device.roles[0])',
        'duplicate priority class "a" (already used by priority.classes[0])',
        "duplicate pin 5 (already used by hardware.gpio.keys.call_next)",
        'duplicate panel "pad" (already used by screen.panels[0])',
    ]
