"""The control channel (``device.control``): a simulator acts as the people at a running
``counterside counter`` process through its socket, and the app stores what they did."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

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


def test_a_request_answered_no_answer_is_never_carried_out_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The asker hears "no answer" when the loop is busy for too long: the request is dropped,
    not done behind its back when the loop comes round; one the loop took up in time is
    answered when done, however long it takes."""
    from device import control

    done: list[dict] = []

    def slow(app, body):
        time.sleep(0.3)
        done.append(body)
        return {"ok": True}

    monkeypatch.setattr(control, "answer", slow)
    no_app: Any = None  # ``answer`` is replaced: no app is asked
    channel = control.ControlChannel(tmp_path / "c.sock", wake=lambda: None)
    try:
        assert channel.ask({"op": "press", "key": "call_next"}, answer_s=0.05) == {
            "ok": False, "reason": "no answer", "done": False,
        }  # fmt: skip
        assert channel.answer_waiting(no_app) == 0 and done == []  # dropped, not done

        answers: list[dict] = []
        asker = threading.Thread(
            target=lambda: answers.append(channel.ask({"op": "state"}, answer_s=0.1))
        )
        asker.start()
        while not channel.waiting():
            time.sleep(0.005)
        assert channel.answer_waiting(no_app) == 1  # taken at once, done after 0.3 s
        asker.join(5)
        assert answers == [{"ok": True}] and done == [{"op": "state"}]
    finally:
        channel.close()


def _server(path: Path, answer: bool, received: list[bytes]) -> socket.socket:
    """A stand-in app on ``path``: reads one request per connection, answers it or hangs up."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as f:
                line = f.readline()
                received.append(line)
                if answer:
                    f.write(b'{"ok": true}\n')
                    f.flush()

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_the_control_client_never_sends_a_request_twice(tmp_path: Path) -> None:
    """A request whose answer never came may have been carried out: it is not sent again. One
    that could not be written to a connection left from before the app restarted is sent once
    on a fresh connection."""
    path = tmp_path / "app.sock"
    received: list[bytes] = []
    listener = _server(path, answer=False, received=received)
    client = ControlClient(path, timeout=2)
    try:
        answer = client.ask(op="press", key="call_next")
        assert answer["ok"] is False and answer.get("unknown") is True
        assert len(received) == 1  # sent once, never again

        assert client.ask(op="state")["ok"] is False  # a fresh connection; still no answer
        listener.close()
        path.unlink()
        received.clear()
        listener = _server(path, answer=True, received=received)  # the app restarted
        first = ControlClient(path, timeout=2)
        assert first.ask(op="state") == {"ok": True}
        listener.close()  # ... and restarted again: the kept connection is stale
        path.unlink()
        listener = _server(path, answer=True, received=received)
        time.sleep(0.1)
        assert first.ask(op="press", key="call_next") == {"ok": True}
        assert [json.loads(r)["op"] for r in received] == ["state", "press"]
        first.close()
    finally:
        client.close()
        listener.close()


@pytest.mark.travel_free  # the work is done by a child process
def test_a_counter_started_with_sigint_ignored_still_stops_on_sigint(tmp_path: Path) -> None:
    """A script's background job starts with SIGINT ignored (``counterside counter ... &``):
    the app takes SIGINT back, so the SIGINT that stops it (``counterside demo``, the tests)
    still ends it cleanly."""
    sock = tmp_path / "c.sock"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "COUNTERSIDE_CONFIG": ""}
    env.pop("COUNTERSIDE_CLOCK", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "counter", "--counter", "1", "--silent",
         "--db", str(tmp_path / "c.sqlite"), "--control", str(sock)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    client = ControlClient(sock, timeout=10)
    try:
        deadline = time.monotonic() + 60
        while not client.ask(op="state").get("ok"):
            assert proc.poll() is None and time.monotonic() < deadline, "never answered"
            time.sleep(0.2)
    finally:
        client.close()
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(30) == 0
        finally:
            proc.kill()
    assert not sock.exists()
