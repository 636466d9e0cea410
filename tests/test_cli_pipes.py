"""Signals and pipes: a long-running command never dies of SIGPIPE, and a command whose reader
went away (``counterside centre devices | head``) ends quietly, without a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from central.store import CentralStore
from sync.schema import Status
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture
from tests.sync_harness import CENTRE, now, roster

REPO = Path(__file__).resolve().parents[1]
ENV = {"PATH": "/usr/bin:/bin", "COUNTERSIDE_CONFIG": ""}
ENTRY_POINTS = (("device.cli", "centre"), ("central",))


def test_centre_run_survives_sigpipe_and_stops_on_sigterm(mqtt_broker, tmp_path: Path) -> None:
    """SIGPIPE is what a write to a socket whose peer vanished raises (a broker killed mid-drain):
    it must become an error the MQTT client handles, never the end of the process."""
    broker = mqtt_broker(acl=roster())
    cert, key = broker.client_cert(CENTRE)
    args = ["run", "--db", str(tmp_path / "c.sqlite"), "--host", broker.host]
    args += ["--port", str(broker.tls_port), "--ca", str(broker.ca_path)]
    args += ["--cert", str(cert), "--key", str(key), "--client-id", CENTRE]
    proc = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "centre", *args],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("centre: ingesting")
        assert proc.stdout.readline().startswith("centre: connected")
        proc.send_signal(signal.SIGPIPE)
        proc.send_signal(signal.SIGTERM)  # delivered after SIGPIPE (lower numbers go first)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"exit {proc.returncode}: {err}"
    assert "centre: stopped" in out


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=" ".join)
def test_devices_into_a_closed_pipe_ends_quietly(entry: tuple[str, ...], tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    with CentralStore(db) as store:
        store.set_status("b1", Status("pad-1", "online"), now())
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already exited
    try:
        result = subprocess.run(
            [sys.executable, "-m", *entry, "devices", "--db", str(db)],
            cwd=REPO,
            env=ENV,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141  # as a shell reports a writer whose reader went away


def test_a_broken_pipe_that_is_not_standard_output_stays_an_error() -> None:
    """Only the end of the output ends a command quietly: a socket or pipe of the command's own
    work breaking is an error its caller sees."""
    import os

    import pytest

    from support.pipes import quiet_on_broken_pipe

    def writes_to_a_closed_pipe() -> int:
        read, write = os.pipe()
        os.close(read)
        try:
            os.write(write, b"x")
        finally:
            os.close(write)
        return 0

    with pytest.raises(BrokenPipeError):
        quiet_on_broken_pipe(writes_to_a_closed_pipe)
