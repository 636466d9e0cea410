"""``counterside centre config publish``: the branch configuration goes out retained, with the
publisher's own identity, while the ingest stays connected with its session; a version is
published once, an older one or a local-only key is refused with the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from central.publish import PublishError, publish_config
from sync import topics
from sync.acl import Identity, Role
from sync.config_downlink import parse_message
from sync.settings import ConnectionSettings
from tests.mqtt_broker import ProbeClient
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture
from tests.sync_harness import BRANCH, roster, start_centre

REPO = Path(__file__).resolve().parents[1]
PUBLISHER = "config-publisher"
BRANCH_TOML = "[queue]\nrecall_limit = 2\n"


def publish(broker, *args: str) -> subprocess.CompletedProcess:
    cert, key = broker.client_cert(PUBLISHER)
    command = [sys.executable, "-m", "device.cli", "centre", "config", "publish"]
    command += ["--branch", BRANCH, "--host", broker.host, "--port", str(broker.tls_port)]
    command += ["--ca", str(broker.ca_path), "--cert", str(cert), "--key", str(key), *args]
    return subprocess.run(
        command,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "COUNTERSIDE_CONFIG": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_publish_with_its_own_identity_while_the_ingest_runs(mqtt_broker, tmp_path) -> None:
    broker = mqtt_broker(acl=[*roster("w1"), Identity(None, PUBLISHER, Role.PUBLISHER)])
    centre = start_centre(broker, tmp_path / "centre.sqlite")
    branch_file = tmp_path / "branch.toml"
    branch_file.write_text(BRANCH_TOML, encoding="utf-8")
    try:
        first = publish(broker, "--version", "3", "--file", str(branch_file))
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith(f"configuration version 3 published on cs/v1/{BRANCH}")
        again = publish(broker, "--version", "3", "--file", str(branch_file))
        assert (again.returncode, again.stdout.split()[3]) == (0, "already")
        branch_file.write_text("[queue]\nrecall_limit = 1\n", encoding="utf-8")
        older = publish(broker, "--version", "2", "--file", str(branch_file))
        assert older.returncode == 2
        assert "version 2 is not newer than the published version 3" in older.stderr
        assert centre.connection.connects == 1  # never pushed off the broker
    finally:
        centre.stop()
    with ProbeClient(broker, "w1") as device:
        device.subscribe(topics.config(BRANCH))
        held = parse_message(bytes(device.wait_for_message(topics.config(BRANCH)).payload))
    assert (held.version, held.toml) == (3, BRANCH_TOML)


def test_a_configuration_a_device_would_refuse_is_not_published() -> None:
    nowhere = ConnectionSettings("127.0.0.1", 9)  # checked before any connection
    toml = '[device]\ndevice_id = "w9"\n[queue]\nrecall_limit = -1\n'
    with pytest.raises(PublishError) as err:
        publish_config(nowhere, BRANCH, 4, toml)
    lines = str(err.value).splitlines()
    assert lines[0] == "config v4: device.device_id: set on each device, not by the branch"
    assert any("queue.recall_limit" in line for line in lines[1:])


def test_a_configuration_too_large_for_the_broker_is_not_published() -> None:
    """A device's reader refuses a message over 256 KiB (as the broker does): said at once."""
    nowhere = ConnectionSettings("127.0.0.1", 9)  # checked before any connection
    toml = "# " + "x" * 300_000 + "\n"
    with pytest.raises(PublishError, match=r"configuration message is too large: \d+ bytes > "):
        publish_config(nowhere, BRANCH, 5, toml, check=False)
