"""The control channel (``device.control``): a simulator acts as the people at a running
``counterside counter`` process through its socket, and the app stores what they did."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from device.store import EventStore
from sim.ports import ControlClient

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.travel_free  # a fixed day, and the work is done by child processes
def test_a_customer_and_a_teller_act_through_the_socket_of_a_running_counter(
    tmp_path: Path,
) -> None:
    sock, db = tmp_path / "w1.sock", tmp_path / "w1.sqlite"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "COUNTERSIDE_CONFIG": ""}
    env.pop("COUNTERSIDE_CLOCK", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "counter", "--counter", "1", "--silent",
         "--db", str(db), "--control", str(sock)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = ControlClient(sock, timeout=10)
    try:
        deadline = time.monotonic() + 60
        while not client.ask(op="state").get("ok"):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the counter's socket never answered"
            time.sleep(0.2)
        assert client.ask(op="state")["session"]["state"] == "signed_out"
        for bad in ({"staff_no": "1", "name": "x", "stars": "lots"},
                    {"staff_no": "1", "name": "x", "stars": 99}, {"name": "x"}):  # fmt: skip
            refused_teller = client.ask(op="press", key="sign_in", arg=bad)
            assert refused_teller["ok"] is False and "teller" in refused_teller["reason"]
        assert client.ask(op="state")["session"]["state"] == "signed_out"  # stored nothing
        teller = {"staff_no": "1001", "name": "王芳", "stars": 5}
        assert client.ask(op="press", key="sign_in", arg=teller)["ok"]
        issued = client.ask(op="issue", business_type="cash")
        assert issued == {"ok": True, "ticket": "A001", "ahead": 0}
        called = client.ask(op="press", key="call_next")
        assert called["session"]["state"] == "called" and called["session"]["ticket"] == "A001"
        refused = client.ask(op="press", key="resume")
        assert refused["ok"] is False and refused["reason"]
        for key in ("start", "finish"):
            assert client.ask(op="press", key=key)["ok"], key
        rated = client.ask(op="press", key="rate", arg=4)
        last = rated["session"]["last"]
        assert last == {"id": called["session"]["transaction"], "outcome": "served", "rating": 4}
        assert client.ask(op="nonsense")["ok"] is False
    finally:
        client.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    assert not sock.exists()  # the app removed its socket on the way out
    with EventStore(db, "demo-counter-1") as store:
        closed = [e for e in store.events() if e.type == "transaction.closed"]
    assert [(e.payload["ticket"], e.payload["rating"]) for e in closed] == [("A001", 4)]
