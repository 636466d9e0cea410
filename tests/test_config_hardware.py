"""The [hardware] configuration: defaults, pin maps and serial ports, and precise error reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from config.loader import load_config
from config.model import GPIO_TELLER_KEYS, HardwareConfig
from domain.branch import Key
from drivers.gpio import GpioKeys, KeyLeds
from drivers.keys import KeyQueue
from tests.config_support import assert_one_problem, problems_of, write

GPIO_PAD = """
[hardware]
keys = "gpio"
[hardware.gpio]
bounce_ms = 30
keys = { call_next = 5, recall = 6, skip = 13, finish = 19, invite_rating = 26 }
rating_keys = { 5 = 17, 4 = 27, 3 = 22, 2 = 23, 1 = 24 }
rating_leds = { 5 = 12, 4 = 16, 3 = 20, 2 = 21, 1 = 25 }
buzzer = 18
"""


def test_defaults_are_simulated_keys_and_no_led_display() -> None:
    hw = load_config().hardware
    assert hw == HardwareConfig()
    assert hw.keys == "simulated"
    assert not hw.led_display.enabled
    assert (hw.serial_keypad.baudrate, hw.serial_keypad.address) == (9600, 1)
    assert hw.gpio.bounce_s == 0.05 and hw.gpio.key_pins() == {}


def test_gpio_pin_maps_feed_the_gpio_drivers(tmp_path: Path) -> None:
    gpio = load_config(write(tmp_path, GPIO_PAD)).hardware.gpio
    assert gpio.bounce_s == 0.03
    assert gpio.keys["call_next"] == 5
    assert gpio.rating_keys == {5: 17, 4: 27, 3: 22, 2: 23, 1: 24}
    assert gpio.buzzer == 18
    factory, presses = MockFactory(), KeyQueue()
    with (
        GpioKeys(gpio.key_pins(), presses.put, gpio.bounce_s, pin_factory=factory),
        KeyLeds(gpio.led_pins(), pin_factory=factory) as leds,
    ):
        factory.pin(22).drive_low()
        factory.pin(19).drive_low()
        assert [(p.key, p.arg) for p in presses.drain()] == [("rate", 3), ("finish", None)]
        leds.set_lit([("rate", 5), ("rate", 4)])
        assert [factory.pin(p).state for p in (12, 16, 20)] == [1, 1, 0]


def test_serial_keypad_and_led_display_may_share_a_bus(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[hardware]\nkeys = "serial"\n'
        '[hardware.serial_keypad]\nport = "/dev/serial/by-id/usb-FTDI-if00"\naddress = 3\n'
        '[hardware.led_display]\nenabled = true\nport = "/dev/serial/by-id/usb-FTDI-if00"\n'
        'address = 4\ncharset = "ascii"\n',
    )
    hw = load_config(path).hardware
    assert (hw.keys, hw.serial_keypad.address, hw.led_display.address) == ("serial", 3, 4)
    assert hw.led_display.enabled and hw.led_display.charset == "ascii"
    assert load_config(
        write(tmp_path, '[hardware.serial_keypad]\nport = "socket://10.0.0.9:4001"\n')
    )


def test_rating_keys_follow_the_configured_scale(tmp_path: Path) -> None:
    four = '[rating]\nscale = "four"\n[hardware.gpio]\n'
    four += "rating_keys = { 3 = 17, 2 = 27, 1 = 22, 0 = 23 }\n"
    assert load_config(write(tmp_path, four)).hardware.gpio.rating_keys[0] == 23


def test_every_teller_key_is_either_bindable_or_needs_an_argument() -> None:
    assert set(GPIO_TELLER_KEYS) <= {k.value for k in Key}
    rest = {k.value for k in Key} - set(GPIO_TELLER_KEYS)
    assert rest == {"sign_in", "call_ticket", "rate", "reason", "band", "extend"}


BAD = [
    pytest.param(
        '[hardware]\nkeys = "usb"\n',
        "hardware.keys",
        'must be one of "simulated", "gpio", "serial", got "usb"',
        id="unknown-key-source",
    ),
    pytest.param(
        "[hardware.gpio]\nkeys = { call_next = 5, recall = 5 }\n",
        "hardware.gpio.keys.recall",
        "duplicate pin 5 (already used by hardware.gpio.keys.call_next)",
        id="duplicate-pin",
    ),
    pytest.param(
        "[hardware.gpio]\nkeys = { pause = 17 }\nrating_keys = { 5 = 17 }\n",
        "hardware.gpio.rating_keys.5",
        "duplicate pin 17 (already used by hardware.gpio.keys.pause)",
        id="duplicate-pin-across-tables",
    ),
    pytest.param(
        "[hardware.gpio]\nrating_leds = { 5 = 12 }\nbuzzer = 12\n",
        "hardware.gpio.buzzer",
        "duplicate pin 12 (already used by hardware.gpio.rating_leds.5)",
        id="buzzer-on-a-used-pin",
    ),
    pytest.param(
        "[hardware.gpio]\nkeys = { call_next = 28 }\n",
        "hardware.gpio.keys.call_next",
        "must be a BCM GPIO number from 2 to 27, got 28",
        id="pin-out-of-range",
    ),
    pytest.param(
        "[hardware.gpio]\nbuzzer = 1\n",
        "hardware.gpio.buzzer",
        "must be a BCM GPIO number from 2 to 27, got 1",
        id="eeprom-pin",
    ),
    pytest.param(
        '[hardware.gpio]\nkeys = { call_next = "5" }\n',
        "hardware.gpio.keys.call_next",
        'expected an integer, got string "5"',
        id="pin-as-string",
    ),
    pytest.param(
        "[hardware.gpio]\nkeys = { call_nxt = 5 }\n",
        "hardware.gpio.keys.call_nxt",
        'unknown key "call_nxt" (did you mean "call_next"?)',
        id="unknown-key-name-in-pin-map",
    ),
    pytest.param(
        "[hardware.gpio]\nkeys = { rate = 5 }\n",
        "hardware.gpio.keys.rate",
        "rating keys go in hardware.gpio.rating_keys",
        id="rate-in-teller-keys",
    ),
    pytest.param(
        "[hardware.gpio]\nkeys = { call_ticket = 5 }\n",
        "hardware.gpio.keys.call_ticket",
        '"call_ticket" needs an argument that a button cannot give',
        id="key-needing-an-argument",
    ),
    pytest.param(
        "[hardware.gpio]\nkeys = [5, 6]\n",
        "hardware.gpio.keys",
        "expected a table like { call_next = 5, recall = 6 }, got array [5, 6]",
        id="pin-map-not-a-table",
    ),
    pytest.param(
        "[hardware.gpio]\nrating_keys = { 6 = 17 }\n",
        "hardware.gpio.rating_keys.6",
        'no level 6 in rating scale "five" (levels: 5, 4, 3, 2, 1)',
        id="rating-level-not-in-scale",
    ),
    pytest.param(
        "[hardware.gpio]\nrating_leds = { best = 17 }\n",
        "hardware.gpio.rating_leds.best",
        'expected a rating level as key, like { 5 = 17 }, got "best"',
        id="rating-level-not-a-number",
    ),
    pytest.param(
        "[hardware.gpio]\nbounce_ms = -5\n",
        "hardware.gpio.bounce_ms",
        "must be between 0 and 1000, got -5",
        id="negative-bounce",
    ),
    pytest.param(
        '[hardware]\nkeys = "gpio"\n',
        "hardware.keys",
        '"gpio" needs at least one pin in hardware.gpio.keys or hardware.gpio.rating_keys',
        id="gpio-without-pins",
    ),
    pytest.param(
        "[hardware.serial_keypad]\nbaudrate = 9601\n",
        "hardware.serial_keypad.baudrate",
        "must be one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, got 9601",
        id="bad-baudrate",
    ),
    pytest.param(
        "[hardware.led_display]\nbaudrate = true\n",
        "hardware.led_display.baudrate",
        "expected an integer, got boolean true",
        id="bool-baudrate",
    ),
    pytest.param(
        "[hardware.serial_keypad]\naddress = 248\n",
        "hardware.serial_keypad.address",
        "must be between 1 and 247, got 248",
        id="address-out-of-range",
    ),
    pytest.param(
        '[hardware.serial_keypad]\nport = "COM3"\n',
        "hardware.serial_keypad.port",
        'must be a device path like "/dev/ttyUSB0" or a pyserial URL like '
        '"socket://10.0.0.9:4001", got "COM3"',
        id="bad-port",
    ),
    pytest.param(
        '[hardware.led_display]\ncharset = "big5"\n',
        "hardware.led_display.charset",
        'must be one of "gb2312", "ascii", got "big5"',
        id="bad-charset",
    ),
    pytest.param(
        "[hardware.led_display]\nbrightness = 80\n",
        "hardware.led_display.brightness",
        'unknown key "brightness"',
        id="unknown-led-key",
    ),
    pytest.param(
        '[hardware]\nkeys = "serial"\n[hardware.led_display]\nenabled = true\n'
        'port = "/dev/ttyUSB0"\n',
        "hardware.led_display.port",
        "is hardware.serial_keypad.port too, so hardware.led_display.address must differ from "
        "the keypad's 1",
        id="shared-port-same-address",
    ),
    pytest.param(
        '[hardware]\nkeys = "serial"\n[hardware.led_display]\nenabled = true\n'
        'port = "/dev/ttyUSB0"\naddress = 2\nbaudrate = 19200\n',
        "hardware.led_display.port",
        "so hardware.led_display.baudrate must be the keypad's 9600, got 19200",
        id="shared-port-other-baudrate",
    ),
    pytest.param(
        "[hardware.gpio]\nbuzzer = 14\n"
        '[hardware.led_display]\nenabled = true\nport = "/dev/serial0"\n',
        "hardware.gpio.buzzer",
        'GPIO 14 is the UART\'s TXD, in use by hardware.led_display.port = "/dev/serial0"',
        id="uart-pin-while-uart-in-use",
    ),
]


@pytest.mark.parametrize(("override", "key", "fragment"), BAD)
def test_bad_hardware_value_is_reported_with_file_key_and_message(
    tmp_path: Path, override: str, key: str, fragment: str
) -> None:
    assert_one_problem(tmp_path, override, key, fragment)


def test_pin_maps_merge_across_files_and_the_clash_names_the_later_file(tmp_path: Path) -> None:
    site = write(tmp_path, "[hardware.gpio]\nkeys = { call_next = 5, recall = 6 }\n", "site.toml")
    device = write(tmp_path, "[hardware.gpio.keys]\nskip = 6\n", "device.toml")
    problems = problems_of(site, device)
    assert [(p.file, p.key) for p in problems] == [(str(device), "hardware.gpio.keys.skip")]
    assert "already used by hardware.gpio.keys.recall" in problems[0].message
    fixed = write(tmp_path, "[hardware.gpio.keys]\nskip = 13\n", "fixed.toml")
    assert load_config(site, fixed).hardware.gpio.keys == {"call_next": 5, "recall": 6, "skip": 13}


def test_all_hardware_problems_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[hardware]\nkeys = "gpio"\n[hardware.gpio]\nkeys = { call_next = 40, recall = 6 }\n'
        "rating_keys = { 5 = 6 }\n[hardware.serial_keypad]\nbaudrate = 1000\naddress = 0\n",
    )
    keys = [p.key for p in problems_of(path)]
    assert keys == [
        "hardware.gpio.keys.call_next",
        "hardware.gpio.rating_keys.5",
        "hardware.serial_keypad.baudrate",
        "hardware.serial_keypad.address",
    ]


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    example = next(b for b in blocks if "[hardware]" in b)
    hw = load_config(write(tmp_path, example)).hardware
    assert hw.keys == "gpio" and hw.led_display.enabled and hw.led_display.address == 2
    assert hw.gpio.key_pins()[("rate", 1)] == 24
