"""The [[roster]] and [mqtt] configuration: defaults, the example, overrides and precise errors."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from config.loader import default_config_path, example_config_path, load_config
from config.model import (
    MQTT_MAX_PAYLOAD_BYTES,
    MQTT_RESERVED_DEVICE_IDS,
    MqttConfig,
    StaffMember,
)
from sync import topics
from sync.settings import ConnectionSettings, TlsSettings, UplinkSettings
from tests.config_support import assert_one_problem, problems_of, write

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
OPTIONAL_MQTT_KEYS = {"host", "ca", "cert", "key", "username", "password"}
TLS_FILES = (
    'ca = "/etc/counterside/tls/ca.crt"\n'
    'cert = "/etc/counterside/tls/device.crt"\n'
    'key = "/etc/counterside/tls/device.key"\n'
)
ENABLED = '[mqtt]\nenabled = true\nhost = "10.20.0.5"\n' + TLS_FILES
LOCAL_PASSWORD = '[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = 1883\ntls = false\n'
ROSTER = (
    '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nstars = 5\nphoto = "1001.jpg"\n'
    '[[roster]]\nstaff_no = "1002"\nname = "李强"\n'
    '[[roster]]\nstaff_no = "1003"\nname = "张敏"\nstars = 3\n'
)


# -- defaults -------------------------------------------------------------------------------------


def test_defaults_have_no_roster_and_mqtt_disabled() -> None:
    cfg = load_config()
    assert cfg.roster == ()
    assert cfg.staff("1001") is None
    assert cfg.mqtt == MqttConfig()
    assert not cfg.mqtt.enabled and cfg.mqtt.tls and cfg.mqtt.host is None
    assert (cfg.mqtt.port, cfg.mqtt.batch_max_bytes, cfg.mqtt.queue_timeout_s) == (8883, 65536, 2.0)


def test_the_shipped_defaults_give_every_mqtt_key_with_a_value() -> None:
    shipped = tomllib.loads(default_config_path().read_text(encoding="utf-8"))
    assert "roster" not in shipped
    assert set(shipped["mqtt"]) == {f.name for f in fields(MqttConfig)} - OPTIONAL_MQTT_KEYS
    for key, value in shipped["mqtt"].items():
        assert value == getattr(MqttConfig(), key), key


def test_without_an_mqtt_section_the_device_runs_stand_alone(tmp_path: Path) -> None:
    text = default_config_path().read_text(encoding="utf-8").split("\n[mqtt]\n")[0]
    assert "[mqtt]" not in text
    cfg = load_config(write(tmp_path, text, "complete.toml"), use_defaults=False)
    assert cfg.mqtt == MqttConfig() and cfg.roster == ()


def test_every_key_is_documented() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    for heading, model in (("[[roster]]", StaffMember), ("[mqtt]", MqttConfig)):
        section = doc.split(f"### `{heading}`", 1)[1].split("\n### ", 1)[0]
        for f in fields(model):
            assert f"| `{f.name}` |" in section, f"{heading} {f.name}"


def test_config_and_sync_agree_on_the_broker_limits() -> None:
    assert MQTT_MAX_PAYLOAD_BYTES == topics.MAX_PAYLOAD_BYTES
    assert set(MQTT_RESERVED_DEVICE_IDS) == topics.RESERVED_DEVICE_IDS


# -- the example ----------------------------------------------------------------------------------


def test_the_example_has_three_tellers_and_tls_sync() -> None:
    cfg = load_config(example_config_path())
    assert [m.staff_no for m in cfg.roster] == ["CG1001", "CG1002", "CG1003"]
    assert cfg.staff("CG1001") == StaffMember("CG1001", "王芳", 5, "CG1001.jpg")
    assert cfg.staff("CG1003") == StaffMember("CG1003", "张敏", None, None)
    mqtt = cfg.mqtt
    assert mqtt.enabled and mqtt.tls and mqtt.host == "10.20.0.5" and mqtt.port == 8883
    assert mqtt.tls_files() == (
        "/etc/counterside/tls/ca.crt",
        "/etc/counterside/tls/device.crt",
        "/etc/counterside/tls/device.key",
    )
    assert mqtt.queue_timeout_s == 3.0 and mqtt.heartbeat_s == 60.0  # one changed, one default


def test_the_example_builds_the_sync_settings() -> None:
    cfg = load_config(example_config_path())
    files = cfg.mqtt.tls_files()
    assert files is not None
    ca, cert, key = files
    connection = ConnectionSettings(
        **cfg.mqtt.connection_kwargs(cfg.device.device_id),
        tls=TlsSettings(Path(ca), Path(cert), Path(key)),
    )
    assert (connection.host, connection.port) == ("10.20.0.5", 8883)
    assert connection.client_id == "chengguan-w3" and connection.username is None
    assert connection.tls is not None and connection.tls.key == Path(key)
    uplink = UplinkSettings(**cfg.mqtt.uplink_kwargs())
    assert (uplink.batch_max_events, uplink.batch_max_bytes, uplink.max_inflight) == (200, 65536, 8)


# -- overrides ------------------------------------------------------------------------------------


def test_roster_override(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            ROSTER
            + '[[roster]]\nstaff_no = "T-04_x"\nname = "Li Wei"\nphoto = "T-04_x.JPEG"\n'
            + '[[roster]]\nstaff_no = "2001"\nname = "欧阳　娜娜"\n',  # an ideographic space
        )
    )
    assert cfg.roster == (
        StaffMember("1001", "王芳", 5, "1001.jpg"),
        StaffMember("1002", "李强", None, None),
        StaffMember("1003", "张敏", 3, None),
        StaffMember("T-04_x", "Li Wei", None, "T-04_x.JPEG"),
        StaffMember("2001", "欧阳　娜娜"),
    )
    assert cfg.staff("1002") == StaffMember("1002", "李强") and cfg.staff("1004") is None


def test_a_teller_who_left_is_removed_by_the_later_roster(tmp_path: Path) -> None:
    site = write(tmp_path, ROSTER, "site.toml")
    later = ROSTER.split('[[roster]]\nstaff_no = "1002"')[0] + (
        '[[roster]]\nstaff_no = "1003"\nname = "张敏"\nstars = 4\n'
    )
    branch = write(tmp_path, later, "branch.toml")
    assert load_config(site).staff("1002") is not None
    cfg = load_config(site, branch)  # arrays replace whole: 1002 has left
    assert [m.staff_no for m in cfg.roster] == ["1001", "1003"]
    stays = cfg.staff("1003")
    assert cfg.staff("1002") is None and stays is not None and stays.stars == 4
    emptied = write(tmp_path, "roster = []\n", "emptied.toml")
    assert load_config(site, emptied).roster == ()


def test_mqtt_override_and_merging(tmp_path: Path) -> None:
    site = write(
        tmp_path,
        ENABLED + "port = 8884\nkeepalive_s = 60\nbatch_max_events = 500\n"
        "batch_max_bytes = 262144\nmax_inflight = 20\nheartbeat_s = 30\n",
        "site.toml",
    )
    device = write(tmp_path, '[mqtt]\nhost = "mqtt.branch.example"\nqueue_timeout_s = 1\n')
    mqtt = load_config(site, device).mqtt
    assert mqtt == MqttConfig(
        enabled=True,
        host="mqtt.branch.example",
        port=8884,
        tls=True,
        ca="/etc/counterside/tls/ca.crt",
        cert="/etc/counterside/tls/device.crt",
        key="/etc/counterside/tls/device.key",
        keepalive_s=60,
        batch_max_events=500,
        batch_max_bytes=262144,
        max_inflight=20,
        queue_timeout_s=1.0,
        heartbeat_s=30.0,
    )
    off = write(tmp_path, "[mqtt]\nenabled = false\n", "off.toml")
    assert not load_config(site, device, off).mqtt.enabled


def test_password_listener_on_this_device(tmp_path: Path) -> None:
    path = write(tmp_path, LOCAL_PASSWORD + 'username = "pad-1"\npassword = "s3cret-Pa55"\n')
    mqtt = load_config(path).mqtt
    assert (mqtt.tls, mqtt.username, mqtt.password) == (False, "pad-1", "s3cret-Pa55")
    assert mqtt.tls_files() is None
    assert "s3cret" not in repr(mqtt)
    connection = ConnectionSettings(**mqtt.connection_kwargs("pad-1"))
    assert (connection.host, connection.port) == ("127.0.0.1", 1883)
    assert connection.password == "s3cret-Pa55"
    # "" takes an earlier file's credentials away again, e.g. when a device switches to TLS.
    cleared = '[mqtt]\ntls = true\nusername = ""\npassword = ""\n' + TLS_FILES
    tls = write(tmp_path, cleared, "tls.toml")
    switched = load_config(path, tls).mqtt
    assert switched.tls and switched.username is None and switched.password is None


def test_disabled_mqtt_needs_no_host_but_its_values_are_still_checked(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, '[mqtt]\nca = "/etc/ca.crt"\n')).mqtt.ca == "/etc/ca.crt"
    path = write(tmp_path, '[mqtt]\nenabled = false\nca = "ca.crt"\n', "bad.toml")
    assert [p.key for p in problems_of(path)] == ["mqtt.ca"]


# -- bad values -----------------------------------------------------------------------------------

BAD = [
    pytest.param(
        ROSTER + '[[roster]]\nstaff_no = "1002"\nname = "李强强"\n',
        "roster[3].staff_no",
        'duplicate staff number "1002" (already used by roster[1])',
        id="duplicate-staff-no",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = 1001\nname = "王芳"\n',
        "roster[0].staff_no",
        'expected a string, in quotes like "1001" (leading zeros count), got integer 1001',
        id="staff-no-integer",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "10 01"\nname = "王芳"\n',
        "roster[0].staff_no",
        'must be 1-16 characters from A-Z, a-z, 0-9, _ and -, got "10 01"',
        id="staff-no-space",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "12345678901234567"\nname = "王芳"\n',
        "roster[0].staff_no",
        'must be 1-16 characters from A-Z, a-z, 0-9, _ and -, got "12345678901234567"',
        id="staff-no-too-long",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\n',
        "roster[0].name",
        "required key is missing",
        id="name-missing",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = ""\n',
        "roster[0].name",
        'must not be empty, got ""',
        id="name-empty",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "Wang Fang-Xiaomeiyu"\n',
        "roster[0].name",
        'must be at most 16 characters (the pad\'s name line), got "Wang Fang-Xiaomeiyu" '
        "(19 characters)",
        id="name-too-long",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王\\n芳"\n',
        "roster[0].name",
        'must be one line without control characters, got "王\\n芳"',
        id="name-two-lines",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nstars = 6\n',
        "roster[0].stars",
        "must be between 1 and 5, got 6",
        id="stars-six",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nstars = 0\n',
        "roster[0].stars",
        "must be between 1 and 5, got 0",
        id="stars-zero",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nstars = 4.5\n',
        "roster[0].stars",
        "expected an integer, got float 4.5",
        id="stars-float",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nstars = "*****"\n',
        "roster[0].stars",
        'expected an integer, got string "*****"',
        id="stars-string",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nphoto = "/var/lib/photos/1001.jpg"\n',
        "roster[0].photo",
        'must be a file name in screen.photos_dir, without a path, like "1001.jpg", '
        'got "/var/lib/photos/1001.jpg"',
        id="photo-with-path",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nphoto = "photos\\\\1001.png"\n',
        "roster[0].photo",
        'must be a file name in screen.photos_dir, without a path, like "1001.jpg", '
        'got "photos\\\\1001.png"',
        id="photo-with-backslash",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nphoto = "1001.gif"\n',
        "roster[0].photo",
        'must end in .png, .jpg or .jpeg, got "1001.gif"',
        id="photo-gif",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nphoto = ".jpg"\n',
        "roster[0].photo",
        'must end in .png, .jpg or .jpeg, got ".jpg"',
        id="photo-only-extension",
    ),
    pytest.param(
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\ngrade = 5\n',
        "roster[0].grade",
        'unknown key "grade" (allowed: staff_no, name, stars, photo)',
        id="roster-unknown-key",
    ),
    pytest.param(
        '[roster]\nstaff_no = "1001"\n',
        "roster",
        "expected an array, got a table",
        id="roster-not-an-array",
    ),
    pytest.param(
        '[mqtt]\nenabled = "yes"\n',
        "mqtt.enabled",
        'expected true or false, got string "yes"',
        id="enabled-string",
    ),
    pytest.param(
        "[mqtt]\nenabled = true\n" + TLS_FILES,
        "mqtt.host",
        "required key is missing (required when mqtt.enabled = true: the broker's host name or "
        "IP address)",
        id="enabled-without-host",
    ),
    pytest.param(
        '[mqtt]\nenabled = true\nhost = ""\n' + TLS_FILES,
        "mqtt.host",
        'required when mqtt.enabled = true: the broker\'s host name or IP address, got ""',
        id="enabled-with-empty-host",
    ),
    pytest.param(
        '[mqtt]\nhost = "mqtts://10.20.0.5:8883"\n',
        "mqtt.host",
        'must be an IP address or host name like "10.20.0.5" or "mqtt.bank.example", without '
        'scheme or port (that is mqtt.port), got "mqtts://10.20.0.5:8883"',
        id="host-url",
    ),
    pytest.param(
        "[mqtt]\nport = 0\n",
        "mqtt.port",
        "must be between 1 and 65535, got 0",
        id="port-zero",
    ),
    pytest.param(
        '[mqtt]\ntls = "on"\n',
        "mqtt.tls",
        'expected true or false, got string "on"',
        id="tls-string",
    ),
    pytest.param(
        ENABLED.replace('ca = "/etc/counterside/tls/ca.crt"\n', ""),
        "mqtt.ca",
        "required key is missing (required when mqtt.enabled = true and mqtt.tls = true)",
        id="enabled-without-ca",
    ),
    pytest.param(
        ENABLED.replace('"/etc/counterside/tls/ca.crt"', '"tls/ca.crt"'),
        "mqtt.ca",
        'must be an absolute file path starting with "/", like "/etc/counterside/tls/ca.crt", '
        'got "tls/ca.crt"',
        id="relative-ca",
    ),
    pytest.param(
        '[mqtt]\ncert = "/etc/counterside/tls/"\n',
        "mqtt.cert",
        'must be an absolute file path starting with "/", like "/etc/counterside/tls/ca.crt", '
        'got "/etc/counterside/tls/"',
        id="cert-is-a-folder",
    ),
    pytest.param(
        "[mqtt]\nkey = 600\n",
        "mqtt.key",
        "expected a string, got integer 600",
        id="key-integer",
    ),
    pytest.param(
        "[mqtt]\nkeepalive_s = 3\n",
        "mqtt.keepalive_s",
        "must be between 5 and 600, got 3",
        id="keepalive-short",
    ),
    pytest.param(
        "[mqtt]\nkeepalive_s = 30.5\n",
        "mqtt.keepalive_s",
        "expected an integer, got float 30.5",
        id="keepalive-float",
    ),
    pytest.param(
        "[mqtt]\nbatch_max_events = 5001\n",
        "mqtt.batch_max_events",
        "must be between 1 and 5000, got 5001",
        id="batch-events-large",
    ),
    pytest.param(
        "[mqtt]\nbatch_max_bytes = 262145\n",
        "mqtt.batch_max_bytes",
        "must be at most 262144, got 262145: 256 KiB is the broker's message_size_limit, a "
        "larger batch is refused",
        id="batch-bytes-over-256-kib",
    ),
    pytest.param(
        "[mqtt]\nbatch_max_bytes = 512\n",
        "mqtt.batch_max_bytes",
        "must be at least 1024, got 512",
        id="batch-bytes-small",
    ),
    pytest.param(
        "[mqtt]\nmax_inflight = 0\n",
        "mqtt.max_inflight",
        "must be between 1 and 100, got 0",
        id="max-inflight-zero",
    ),
    pytest.param(
        "[mqtt]\nqueue_timeout_s = 0.1\n",
        "mqtt.queue_timeout_s",
        "must be between 0.2 and 30, got 0.1",
        id="queue-timeout-short",
    ),
    pytest.param(
        '[mqtt]\nqueue_timeout_s = "2s"\n',
        "mqtt.queue_timeout_s",
        'expected a number, got string "2s"',
        id="queue-timeout-string",
    ),
    pytest.param(
        "[mqtt]\nheartbeat_s = 300\n",
        "mqtt.heartbeat_s",
        "must be at most 60, got 300: 开机率 (uptime) counts the minutes with a heartbeat",
        id="heartbeat-over-a-minute",
    ),
    pytest.param(
        "[mqtt]\nheartbeat_s = 5\n",
        "mqtt.heartbeat_s",
        "must be at least 10, got 5",
        id="heartbeat-short",
    ),
    pytest.param(
        '[mqtt]\nenabled = true\nhost = "10.20.0.5"\ntls = false\n'
        'username = "pad-1"\npassword = "pw"\n',
        "mqtt.tls",
        'false is only allowed for a broker on this device (host "localhost", 127.x.x.x or ::1), '
        'got host "10.20.0.5": the password would cross the network unencrypted',
        id="plain-password-over-the-network",
    ),
    pytest.param(
        LOCAL_PASSWORD + 'username = "pad-1"\n',
        "mqtt.password",
        "required key is missing (required when mqtt.tls = false: the password listener admits "
        "no anonymous clients)",
        id="password-listener-without-password",
    ),
    pytest.param(
        ENABLED + 'username = "pad-1"\n',
        "mqtt.username",
        "only used with mqtt.tls = false (the password listener); over TLS the broker takes the "
        "certificate's CN, device.device_id, as the username",
        id="username-with-tls",
    ),
    pytest.param(
        '[device]\ndevice_id = "queue"\n' + ENABLED,
        "device.device_id",
        '"queue" is an MQTT topic name and cannot be the device\'s MQTT identity while '
        "mqtt.enabled = true (reserved: bridge, config, queue)",
        id="device-id-reserved",
    ),
    pytest.param(
        '[mqtt]\nclient_id = "w3"\n',
        "mqtt.client_id",
        'unknown key "client_id"',
        id="mqtt-unknown-key",
    ),
    pytest.param(
        "mqtt = true\n",
        "mqtt",
        "expected a table, got boolean true",
        id="mqtt-not-a-table",
    ),
]


@pytest.mark.parametrize(("override", "key", "message"), BAD)
def test_bad_value_is_reported_with_file_key_and_message(
    tmp_path: Path, override: str, key: str, message: str
) -> None:
    assert_one_problem(tmp_path, override, key, message)


def test_a_password_is_never_shown_in_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "[mqtt]\npassword = 739215\n")
    (problem,) = problems_of(path)
    assert (problem.key, problem.message) == (
        "mqtt.password",
        "expected a string, got integer (value not shown)",
    )
    assert "739215" not in str(problem)


def test_the_bad_value_is_blamed_on_the_file_that_set_it(tmp_path: Path) -> None:
    site = write(
        tmp_path,
        ROSTER.replace('"1003"', '"1001"') + '[mqtt]\nenabled = true\nhost = "10.20.0.5"\n',
        "site.toml",
    )
    device = write(tmp_path, '[mqtt]\nca = "ca.crt"\nbatch_max_bytes = 300000\n', "device.toml")
    problems = problems_of(site, device)
    assert [(p.file, p.key) for p in problems] == [
        (str(site), "roster[2].staff_no"),
        (str(device), "mqtt.ca"),
        (str(device), "mqtt.batch_max_bytes"),
        (str(device), "mqtt.cert"),  # missing: the last file should complete [mqtt]
        (str(device), "mqtt.key"),
    ]


def test_all_problems_of_both_sections_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[roster]]\nstaff_no = "1001"\nname = "王芳"\nstars = 9\n'
        '[[roster]]\nstaff_no = "1001"\nphoto = "a/b.png"\n'
        "[mqtt]\nenabled = true\nport = 70000\nheartbeat_s = 61\n",
    )
    assert [p.key for p in problems_of(path)] == [
        "roster[0].stars",
        "roster[1].name",
        "roster[1].photo",
        "roster[1].staff_no",
        "mqtt.port",
        "mqtt.heartbeat_s",
        "mqtt.host",
        "mqtt.ca",
        "mqtt.cert",
        "mqtt.key",
    ]
