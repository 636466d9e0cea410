"""The test-broker library itself: fixtures, restart, kill, failures reported with the log."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sync import topics
from tests.mqtt_broker import BrokerError, MosquittoBroker, ProbeClient, free_port
from tests.mqtt_broker import broker as broker  # pytest fixture ("as": a re-export for ruff)
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture

RETAINED = topics.config("b1")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_broker_fixture_serves_tls_and_password_clients(broker: MosquittoBroker) -> None:
    assert broker.port not in (1883, broker.tls_port) and broker.host == "127.0.0.1"
    broker.add_user("tool", "pw")
    with ProbeClient(broker, "pad-1") as tls, ProbeClient(broker, "tool", password="pw", tls=False):
        assert tls.subscribe("#") == [1]  # no ACL: anything goes
        assert tls.publish("any/topic", b"x") == 0


def test_restart_keeps_ports_and_retained_messages_kill_loses_unsaved_ones(
    mqtt_broker: Callable[..., MosquittoBroker],
) -> None:
    b = mqtt_broker()
    ports, pid = (b.port, b.tls_port), b.pid
    with ProbeClient(b, "centre") as centre:
        assert centre.publish(RETAINED, b"v1", retain=True) in (0, 0x10)
    b.restart()
    assert (b.port, b.tls_port) == ports and b.pid != pid and pid is not None and not alive(pid)
    with ProbeClient(b, "pad-1") as pad:
        pad.subscribe(RETAINED)
        assert pad.wait_for_message(RETAINED).payload == b"v1"  # saved on SIGTERM
        assert pad.publish(RETAINED, b"v2", retain=True) in (0, 0x10)
    b.restart(kill=True)  # SIGKILL: nothing saved since the last save
    with ProbeClient(b, "pad-1") as pad:
        pad.subscribe(RETAINED)
        assert pad.wait_for_message(RETAINED).payload == b"v1"


def test_a_broker_that_cannot_start_raises_with_its_log(tmp_path: Path) -> None:
    b = MosquittoBroker(tmp_path, extra_config="no_such_option 1\n")
    with pytest.raises(BrokerError, match="no_such_option"):
        b.start()
    assert not b.running


def test_a_taken_port_is_replaced_on_first_start(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        b = MosquittoBroker(tmp_path, tls=False)
        b._ports = (taken.getsockname()[1], 0)
        try:
            b.start()
            assert b.port != taken.getsockname()[1]
        finally:
            b.stop()


def test_stop_is_idempotent_and_leaves_no_process(tmp_path: Path) -> None:
    b = MosquittoBroker(tmp_path, password_listener=False, persistence=False)
    b.start()
    pid = b.pid
    assert pid is not None and alive(pid)
    b.stop()
    b.stop()
    b.kill()
    assert not alive(pid) and not b.running
    with pytest.raises(BrokerError, match="no password listener"):
        _ = b.port
    assert free_port() > 0
