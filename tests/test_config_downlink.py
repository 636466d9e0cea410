"""Configuration downlink through a real Mosquitto (TLS client certificates, the production ACL):
the centre's retained, versioned configuration is validated, applied atomically and reported.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.model import Config
from sync import topics
from sync.acl import Identity, Role
from sync.config_downlink import (
    STATE_FILE,
    ConfigDownlink,
    encode_message,
    load_effective,
    parse_message,
    parse_result,
    read_applied,
)
from sync.connection import DeviceConnection, MqttConnection
from sync.settings import Backoff, ConnectionSettings, TlsSettings
from sync.wire import MAX_MESSAGE_BYTES, SchemaError
from tests.mqtt_broker import MosquittoBroker, ProbeClient
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture

BRANCH, PUBLISHER = "b1", "config-publisher"
ROSTER = [
    Identity(None, PUBLISHER, Role.PUBLISHER),
    Identity(BRANCH, "w1", Role.COUNTER),
    Identity(BRANCH, "w2", Role.COUNTER),
]
LOCAL = """\
[device]
branch_id = "b1"
device_id = "{device}"
roles = ["counter"]
counter = 1
"""
GOOD = """\
[queue]
recall_limit = 4

[texts.zh-CN]
welcome = "欢迎光临城关支行"
"""
BAD = """\
[queue]
recall_limit = -1
escalate_overdue = "yes"
"""
BAD_SYNTAX = """\
[queue]
recall_limit = 3
number_digits =
"""


class Applied:
    """``on_applied`` recorder that a test can wait on."""

    def __init__(self) -> None:
        self.calls: list[tuple[Config, int]] = []
        self._cv = threading.Condition()

    def __call__(self, config: Config, version: int) -> None:
        with self._cv:
            self.calls.append((config, version))
            self._cv.notify_all()

    def wait(self, n: int, timeout: float = 10) -> list[tuple[Config, int]]:
        with self._cv:
            assert self._cv.wait_for(lambda: len(self.calls) >= n, timeout), self.calls
            return list(self.calls)


def settings(broker: MosquittoBroker, name: str) -> ConnectionSettings:
    cert, key = broker.client_cert(name)
    return ConnectionSettings(
        broker.host,
        broker.tls_port,
        client_id=name,
        tls=TlsSettings(broker.ca_path, cert, key),
        keepalive_s=2,
        reconnect=Backoff(0.1, 0.5, 0.5),
    )


def wait_until(predicate, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def recorder(downlink: ConfigDownlink) -> Applied:
    """The :class:`Applied` that :func:`device` gave ``downlink``."""
    assert isinstance(downlink.on_applied, Applied)
    return downlink.on_applied


def local_file(tmp_path: Path, device: str) -> Path:
    path = tmp_path / f"{device}.toml"
    path.write_text(LOCAL.format(device=device), encoding="utf-8")
    return path


@contextlib.contextmanager
def device(broker: MosquittoBroker, tmp_path: Path, name: str) -> Iterator[ConfigDownlink]:
    """A device with its downlink, connected; ``downlink.on_applied`` is an :class:`Applied`."""
    conn = DeviceConnection(settings(broker, name), BRANCH, name)
    downlink = ConfigDownlink(
        conn, BRANCH, name, [local_file(tmp_path, name)], tmp_path / f"{name}-state", Applied()
    )
    downlink.start()
    conn.start()
    try:
        assert conn.wait_connected(10)
        yield downlink
    finally:
        downlink.stop()
        conn.stop()


@pytest.fixture
def centre(mqtt_broker) -> Iterator[ProbeClient]:
    """The centre's configuration publisher, subscribed to every device's result."""
    broker = mqtt_broker(acl=ROSTER)
    with ProbeClient(broker, PUBLISHER) as probe:
        assert probe.subscribe(topics.topic_filter(topics.Kind.CONFIG_RESULT, BRANCH)) == [1]
        yield probe


def publish(centre: ProbeClient, version: int, toml: str) -> None:
    payload = encode_message(version, toml, issued_at="2026-11-25T08:00:00+08:00")
    assert centre.publish(topics.config(BRANCH), payload, retain=True) in (0, 0x10)


def result(centre: ProbeClient, device: str, version: int):
    """The device's result for ``version`` (waits for it)."""
    topic = topics.config_result(BRANCH, device)
    message = centre.wait_for_message(
        lambda m: m.topic == topic and json.loads(m.payload)["version"] == version, timeout=10
    )
    return parse_result(bytes(message.payload))


def test_retained_config_applied_persisted_and_reported(centre, tmp_path: Path) -> None:
    publish(centre, 1, GOOD)  # before any device is connected: retained delivery
    with device(centre.broker, tmp_path, "w1") as w1:
        assert w1.version is None and w1.config.queue.recall_limit == 2
        (config, version), *_ = recorder(w1).wait(1)
        assert version == 1 and config.queue.recall_limit == 4
        assert config.texts.get("welcome", "zh-CN") == "欢迎光临城关支行"
        assert config.device.device_id == "w1"  # the device's own file still counts
        res = result(centre, "w1", 1)
        assert (res.status, res.problems, res.applied_version) == ("applied", (), 1)
        saved = w1.state_dir / STATE_FILE
        assert saved.read_text(encoding="utf-8").startswith(GOOD)
        persisted = read_applied(saved)
        assert persisted is not None and persisted.version == 1
        assert w1.config is config and str(saved) in config.sources

    # a device that connects later gets the retained version too
    with device(centre.broker, tmp_path, "w2") as w2:
        assert recorder(w2).wait(1)[0][1] == 1
        assert result(centre, "w2", 1).status == "applied"


def test_invalid_config_refused_with_problem_lines_old_config_kept(centre, tmp_path) -> None:
    publish(centre, 1, GOOD)
    with device(centre.broker, tmp_path, "w1") as w1:
        recorder(w1).wait(1)
        saved = w1.state_dir / STATE_FILE
        before = saved.read_bytes()

        publish(centre, 2, BAD)
        res = result(centre, "w1", 2)
        assert res.status == "refused" and res.applied_version == 1
        assert res.problems == (
            "config v2: queue.recall_limit: must be between 0 and 10, got -1",
            'config v2: queue.escalate_overdue: expected true or false, got string "yes"',
        )

        publish(centre, 3, BAD_SYNTAX)  # line numbers are the centre's
        assert result(centre, "w1", 3).problems == (
            "config v3: TOML syntax error at line 3, column 16: Invalid value in 'number_digits ='",
        )

        publish(centre, 4, '[device]\ncounter = 2\ntimezone = "Asia/Shanghai"\n')
        assert result(centre, "w1", 4).problems == (
            "config v4: device.counter: set on each device, not by the branch",
        )

        assert saved.read_bytes() == before
        assert w1.version == 1 and w1.config.queue.recall_limit == 4
        assert len(recorder(w1).calls) == 1
        assert sorted(p.name for p in w1.state_dir.iterdir()) == [STATE_FILE]  # no temp left


def test_older_version_ignored_same_version_idempotent(centre, tmp_path: Path) -> None:
    publish(centre, 5, GOOD)
    with device(centre.broker, tmp_path, "w1") as w1:
        recorder(w1).wait(1)
        publish(centre, 4, "[queue]\nrecall_limit = 1\n")
        res = result(centre, "w1", 4)
        assert res.status == "refused" and "older than the applied version 5" in res.problems[0]

        publish(centre, 5, GOOD)  # the same message again, e.g. after a reconnect
        wait_until(lambda: len(centre.received()) >= 3, "the third result")
        results = [parse_result(m.payload) for m in centre.received()]
        assert [(r.version, r.status) for r in results] == [
            (5, "applied"),
            (4, "refused"),
            (5, "applied"),
        ]
        assert len(recorder(w1).calls) == 1  # applied once
        assert w1.version == 5 and w1.config.queue.recall_limit == 4


def test_restart_without_network_keeps_the_applied_config(centre, tmp_path: Path) -> None:
    publish(centre, 7, GOOD)
    with device(centre.broker, tmp_path, "w1") as w1:
        recorder(w1).wait(1)
        state_dir, base = w1.state_dir, w1.base_files

    # the device reboots; the broker is gone
    centre.broker.stop()
    offline = MqttConnection(settings(centre.broker, "w1"))  # never started
    again = ConfigDownlink(offline, BRANCH, "w1", base, state_dir, Applied())
    assert again.version == 7 and again.config.queue.recall_limit == 4

    # a damaged file is not trusted: the device's own files only, the centre's version next time
    saved = state_dir / STATE_FILE
    saved.write_text(saved.read_text(encoding="utf-8").replace("4", "5"), encoding="utf-8")
    config, applied = load_effective(base, state_dir)
    assert applied is None and config.queue.recall_limit == 2


def test_a_config_message_naming_a_key_twice_is_refused() -> None:
    twice = b'{"v":1,"kind":"config","version":2,"version":9,"issued_at":"x","toml":""}'
    with pytest.raises(SchemaError, match="duplicate key 'version'"):
        parse_message(twice)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"v": 2}, "unsupported version 2 (this software speaks v1)"),
        ({"kind": "config_result"}, "kind 'config_result' where 'config' was expected"),
        ({"version": 0}, "Expected `int` >= 1 - at `$.version`"),
        ({"version": True}, "Expected `int`, got `bool` - at `$.version`"),
        ({"issued_at": ""}, "Expected `str` of length >= 1 - at `$.issued_at`"),
        ({"toml": None}, "Expected `str`, got `null` - at `$.toml`"),
    ],
)
def test_a_config_message_that_does_not_parse_is_refused_saying_why(change, reason) -> None:
    body = json.loads(encode_message(2, GOOD, issued_at="2026-11-25T08:00:00+08:00"))
    with pytest.raises(SchemaError) as err:
        parse_message(json.dumps({**body, **change}))
    assert err.value.reason == reason


def test_a_config_message_may_leave_out_its_kind_but_not_grow_past_the_limit() -> None:
    body = json.loads(encode_message(2, GOOD, issued_at="2026-11-25T08:00:00+08:00"))
    del body["kind"]
    assert parse_message(json.dumps(body)).toml == GOOD
    huge = encode_message(2, "# " + "x" * MAX_MESSAGE_BYTES + "\n")
    with pytest.raises(SchemaError) as err:
        parse_message(huge)
    assert err.value.reason == f"message too large: {len(huge)} bytes > {MAX_MESSAGE_BYTES}"
