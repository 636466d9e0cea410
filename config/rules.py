"""Rules that tie settings of different tables together; :mod:`config.layout` attaches each to
the table after which it runs. A rule reports the file, key and what is wrong, and marks the
values it refuses as :data:`~config.kinds.INVALID`."""

from __future__ import annotations

import ipaddress
from typing import Any

from config.checker import show, suggest
from config.declare import Scope
from config.kinds import INVALID
from config.layers import KeyPath, format_key
from config.model import MQTT_RESERVED_DEVICE_IDS
from config.peripherals import gpio_pins
from config.scales import PRESET_SCALES

# -- [[counters]] ---------------------------------------------------------------------------------


def business_types_known(s: Scope) -> None:
    """Each business type a counter serves is a ``[[business_types]]`` code."""
    types = s.c.layers.data.get("business_types")
    codes = [t.get("code") for t in types if isinstance(t, dict)] if isinstance(types, list) else []
    known = sorted({code for code in codes if isinstance(code, str)})
    served = s.raw.get("business_types")
    for i, code in enumerate(served if isinstance(served, list) else ()):
        if not isinstance(code, str) or not code.strip() or code in known:
            continue
        here = s.at("business_types", i)
        listed = ", ".join(known) or "none"
        s.c.bad(
            here,
            f'unknown business type "{code}"{suggest(code, known)} (known: {listed})'
            + _elsewhere(s, here),
        )
        s.values["business_types"] = INVALID


def _elsewhere(s: Scope, counter_path: KeyPath) -> str:
    """A hint when [[business_types]] and [[counters]] come from different files."""
    types_file = s.c.layers.origin(("business_types",))
    if types_file == s.c.layers.origin(counter_path):
        return ""
    return f"; the business types in use come from {types_file}"


def device_counter_configured(s: Scope) -> None:
    """``device.counter`` is one of the counters (checked when every number could be read)."""
    device = s.read(("device",))
    counter = device.values.get("counter") if device is not None else None
    numbers = [read.values.get("number", INVALID) for read in s.values]
    if not isinstance(counter, int) or not numbers or any(n is INVALID for n in numbers):
        return
    if counter not in numbers:
        listed = ", ".join(str(n) for n in sorted(set(numbers)))
        s.c.bad(
            ("device", "counter"),
            f"counter {counter} is not configured in [[counters]] (configured: {listed})",
        )


# -- [rating] -------------------------------------------------------------------------------------


def custom_scale(s: Scope) -> None:
    """``levels`` (at least 2) and ``satisfied`` come with ``scale = "custom"``; ``levels``
    only then."""
    scale, given = s.values["scale"], s.raw
    if scale == "custom":
        for key in ("levels", "satisfied"):
            if key not in given:
                s.c.missing(s.at(key), 'required with scale = "custom"')
                s.values[key] = INVALID
        levels = given.get("levels")
        if isinstance(levels, list) and len(levels) == 1:
            s.bad("levels", f"a rating scale needs at least 2 levels, got {show(levels)}")
            s.values["levels"] = INVALID
    elif scale is not INVALID and "levels" in given:
        s.bad(
            "levels",
            f'only allowed with scale = "custom", got scale = "{scale}" '
            '(remove levels or set scale = "custom")',
        )
        s.values["levels"] = INVALID


def satisfied_levels(s: Scope) -> None:
    """Each satisfied value is a level of the scale, and not a neutral one."""
    scale, chosen, custom = s.values["scale"], s.values["satisfied"], s.values["levels"]
    if scale is INVALID or not isinstance(chosen, tuple):
        return
    if scale == "custom" and not isinstance(custom, tuple):
        return
    levels = (
        [(lv.value, lv.label.zh, lv.neutral) for lv in custom]
        if scale == "custom"
        else [(value, zh, neutral) for value, zh, _, neutral in PRESET_SCALES[scale].levels]
    )
    values = [value for value, _, _ in levels]
    neutral = {value: zh for value, zh, is_neutral in levels if is_neutral}
    for i, value in enumerate(chosen):
        if value not in values:
            listed = ", ".join(str(v) for v in values)
            message = f'no level with value {value} in scale "{scale}" (levels: {listed})'
        elif value in neutral:
            message = f'level {value} ("{neutral[value]}") is neutral and cannot count as satisfied'
        else:
            continue
        s.c.bad(s.at("satisfied", i), message)
        s.values["satisfied"] = INVALID


# -- [hardware] and [printer] ---------------------------------------------------------------------

#: The Pi's own UART, on GPIO 14 (TXD) and 15 (RXD).
UART_PORTS = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")
UART_PINS = {14: "TXD", 15: "RXD"}


def rating_keys_in_scale(s: Scope) -> None:
    """Rating keys and their lights name levels of the ``[rating]`` scale."""
    rating, gpio = s.read(("rating",)), s.read(s.at("gpio"))
    if rating is None or rating.model is INVALID or gpio is None:
        return
    levels = [lv.value for lv in rating.model.levels]
    listed = ", ".join(str(v) for v in levels)
    for table in ("rating_keys", "rating_leds"):
        pins = gpio.values.get(table)
        for level in pins if isinstance(pins, dict) else ():
            if level not in levels:
                s.c.bad(
                    s.at("gpio", table, str(level)),
                    f'no level {level} in rating scale "{rating.model.scale}" (levels: {listed})',
                )


def gpio_has_pins(s: Scope) -> None:
    """``keys = "gpio"`` needs a button."""
    gpio = s.values["gpio"]
    if s.values["keys"] == "gpio" and gpio is not INVALID and not (gpio.keys or gpio.rating_keys):
        s.bad(
            "keys",
            '"gpio" needs at least one pin in hardware.gpio.keys or hardware.gpio.rating_keys',
        )


def serial_ports(s: Scope) -> None:
    """The keypad and the display may share one RS-485 bus (distinct addresses, one speed);
    GPIO 14 and 15 cannot be buttons while the Pi's own UART carries either."""
    keys, keypad, led = s.values["keys"], s.values["serial_keypad"], s.values["led_display"]
    ports: dict[str, KeyPath] = {}
    if keys == "serial" and keypad is not INVALID:
        ports[keypad.port] = s.at("serial_keypad", "port")
    if led is not INVALID and led.enabled:
        if keys == "serial" and keypad is not INVALID and led.port == keypad.port:
            _shared_bus(s, keypad, led)
        ports.setdefault(led.port, s.at("led_display", "port"))
    uart = next((port for port in ports if port in UART_PORTS), None)
    gpio = s.read(s.at("gpio"))
    if uart is None or gpio is None:
        return
    first: dict[int, KeyPath] = {}
    for pin, path in gpio_pins(s.at("gpio"), gpio.values):
        first.setdefault(pin, path)
    for pin, name in UART_PINS.items():
        if pin in first:
            s.c.bad(
                first[pin],
                f"GPIO {pin} is the UART's {name}, in use by "
                f"{format_key(ports[uart])} = {show(uart)}",
            )


def _shared_bus(s: Scope, keypad: Any, led: Any) -> None:
    here = s.at("led_display", "port")
    shared = "is hardware.serial_keypad.port too, so hardware.led_display"
    if led.address == keypad.address:
        s.c.bad(here, f"{shared}.address must differ from the keypad's {keypad.address}")
    if led.baudrate != keypad.baudrate:
        s.c.bad(
            here, f"{shared}.baudrate must be the keypad's {keypad.baudrate}, got {led.baudrate}"
        )


def printer_port(s: Scope) -> None:
    """A serial printer cannot share its port with the keypad or the LED display."""
    hardware, device = s.read(("hardware",)), s.values["device"]
    if s.values["connection"] != "serial" or device is INVALID:
        return
    if hardware is None or hardware.model is INVALID:
        return
    hw = hardware.model
    used: dict[str, str] = {}
    if hw.led_display.enabled:
        used[hw.led_display.port] = "hardware.led_display.port"
    if hw.keys == "serial":
        used[hw.serial_keypad.port] = "hardware.serial_keypad.port"
    if device in used:
        s.bad("device", f"{show(device)} is {used[device]} too; a printer needs a port of its own")


# -- [mqtt] ---------------------------------------------------------------------------------------

LOOPBACK_NAMES = ("localhost",)


def mqtt_complete(s: Scope) -> None:
    """With ``enabled = true``: a host, and either TLS files or (on this device only) a
    username and password; the device id cannot be a topic name."""
    v = s.values
    if v["enabled"] is not True:
        return

    def need(key: str, why: str) -> None:
        if key not in s.raw:
            s.c.missing(s.at(key), f"required {why}")
        elif s.raw[key] == "":  # a given bad value is reported already
            s.bad(key, f'required {why}, got ""')
        v[key] = INVALID

    if v["host"] is None:
        need("host", "when mqtt.enabled = true: the broker's host name or IP address")
    if v["tls"] is True:
        for key in ("ca", "cert", "key"):
            if v[key] is None:
                need(key, "when mqtt.enabled = true and mqtt.tls = true")
        for key in ("username", "password"):
            if isinstance(v[key], str):
                s.bad(
                    key,
                    "only used with mqtt.tls = false (the password listener); over TLS the "
                    "broker takes the certificate's CN, device.device_id, as the username",
                )
                v[key] = INVALID
    elif v["tls"] is False:
        host = v["host"]
        if isinstance(host, str) and not _loopback(host):
            s.bad(
                "tls",
                "false is only allowed for a broker on this device (host "
                f'"localhost", 127.x.x.x or ::1), got host {show(host)}: the password would '
                "cross the network unencrypted, and the broker's network listener needs TLS "
                "client certificates (docs/security.md)",
            )
            v["tls"] = INVALID
        for key in ("username", "password"):
            if v[key] is None:
                need(
                    key, "when mqtt.tls = false: the password listener admits no anonymous clients"
                )
    _device_id_not_a_topic(s)


def _device_id_not_a_topic(s: Scope) -> None:
    device = s.read(("device",))
    device_id = device.values.get("device_id") if device is not None else None
    if device_id in MQTT_RESERVED_DEVICE_IDS:
        s.c.bad(
            ("device", "device_id"),
            f"{show(device_id)} is an MQTT topic name and cannot be the device's MQTT "
            f"identity while mqtt.enabled = true (reserved: "
            f"{', '.join(MQTT_RESERVED_DEVICE_IDS)})",
        )


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
