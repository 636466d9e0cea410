"""A branch for benchmarks: Mosquitto, the centre and the queue controller, each a real process.

``BranchRig`` starts a throw-away Mosquitto (TLS, client certificates; ``tests/mqtt_broker.py``,
never the system broker), ``python -m central run`` and ``counterside controller``, and writes a
configuration file for each device that joins it (``device_config``). ``python -m
bench.branch_rig --stock CONFIG N`` is a kiosk stand-in that keeps at least N tickets waiting,
issued over MQTT like a real kiosk, for a counter that calls them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

BRANCH = "bench-branch"
CENTRE, CONTROLLER, STOCK = "bench-centre", "bench-controller", "bench-stock"
ROOT = Path(__file__).resolve().parents[1]
BROKER_EXTRA = "set_tcp_nodelay true\n"  # as in deploy/mosquitto/*.conf


def _toml(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON strings, numbers and arrays are TOML


class _Child:
    """A child process whose stdout lines are collected; ``wait_for(text)`` blocks until one
    contains ``text``."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._log = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<eof>")
            self._cond.notify_all()

    def wait_for(self, text: str, timeout: float) -> None:
        def found() -> bool:
            return any(text in line or line == "<eof>" for line in self.lines)

        with self._cond:
            if not self._cond.wait_for(found, timeout):
                raise TimeoutError(f"{self.args[:2]}: no {text!r} in {timeout} s")
            if "<eof>" in self.lines:
                self._log.flush()
                tail = Path(self._log.name).read_text(encoding="utf-8")[-2000:]
                raise RuntimeError(f"{self.args[:2]} ended early:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class BranchRig:
    """Broker, centre and controller in ``workdir``; ``stop()`` ends them all."""

    def __init__(self, workdir: Path) -> None:
        from tests.mqtt_broker import MosquittoBroker  # the tests' broker, not a second copy

        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        # no ACL (any client with a certificate of the test CA may do anything); TCP as shipped
        self.broker = MosquittoBroker(
            workdir / "broker", password_listener=False, extra_config=BROKER_EXTRA
        )
        self.children: list[_Child] = []

    def start(self) -> BranchRig:
        try:
            self.broker.start()
            centre = self._spawn(
                "centre",
                ["-m", "central", "run", "--db", str(self.workdir / "centre.sqlite"),
                 "--host", self.broker.host, "--port", str(self.broker.tls_port),
                 "--client-id", CENTRE, *self._tls_args(CENTRE)],
            )  # fmt: skip
            centre.wait_for("connected", 30)
            config = self.device_config(CONTROLLER, roles=["controller"])
            controller = self._spawn(
                "controller",
                ["-m", "device.cli", "--config", str(config), "controller",
                 "--db", str(self.workdir / "controller.sqlite")],
            )  # fmt: skip
            controller.wait_for("queue service", 30)
        except BaseException:
            self.stop()
            raise
        return self

    def stock(self, waiting: int) -> None:
        """Keep at least ``waiting`` tickets in the queue (a kiosk stand-in, its own process)."""
        config = self.device_config(STOCK, roles=["counter"], counter=2)  # it serves cash
        args = ["-m", "bench.branch_rig", "--stock", str(config), str(waiting)]
        child = self._spawn("stock", args)
        child.wait_for("stocking", 60)

    def _spawn(self, name: str, args: list[str]) -> _Child:
        child = _Child(args, self.workdir / f"{name}.log")
        self.children.append(child)
        return child

    def _tls_args(self, name: str) -> list[str]:
        cert, key = self.broker.client_cert(name)
        return ["--ca", str(self.broker.ca_path), "--cert", str(cert), "--key", str(key)]

    def device_config(
        self, device_id: str, *, roles: list[str], counter: int = 1, extra: str = ""
    ) -> Path:
        """A configuration file for ``device_id`` on this branch's broker (TLS, its own cert)."""
        cert, key = self.broker.client_cert(device_id)
        path = self.workdir / f"{device_id}.toml"
        path.write_text(
            f"""[device]
branch_id = {_toml(BRANCH)}
device_id = {_toml(device_id)}
roles = {_toml(roles)}
counter = {counter}

[mqtt]
enabled = true
host = {_toml(self.broker.host)}
port = {self.broker.tls_port}
ca = {_toml(str(self.broker.ca_path))}
cert = {_toml(str(cert))}
key = {_toml(str(key))}
{extra}""",
            encoding="utf-8",
        )
        return path

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        self.broker.stop()


KEPT_AT_MOST = 20
"""The stand-in's counter calls tickets away (as no-shows) above this many waiting: a kiosk under
test issues a ticket every few dozen milliseconds, and a branch serves its customers."""


def stock(config_path: str, waiting: int) -> int:
    """Issue tickets over MQTT whenever fewer than ``waiting`` are in the queue, and call them
    away at its own counter when more than :data:`KEPT_AT_MOST` wait, until SIGTERM."""
    import signal

    from config.loader import load_config
    from device.app import DeviceApp
    from device.link import open_link
    from device.store import EventStore
    from domain.clock import SystemClock
    from domain.counter import Teller
    from domain.queue import QueueUnavailable

    config = load_config(config_path)
    db = Path(config_path).with_suffix(".sqlite")
    clock = SystemClock()
    link = open_link(config, db=db, clock=clock, base_files=[], state_dir=db.parent)
    assert link is not None and link.queue is not None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EventStore(db, config.device.device_id) as store:
        device = DeviceApp(config, store, clock, queue=link.queue)
        device.subscribe(link.notify)
        while link.queue.state is None and not stop.wait(0.1):
            pass
        counter = config.device.counter
        assert counter is not None  # its configuration names counter 2
        device.press(counter, "sign_in", Teller("9999", "stand-in"))
        print("stocking", flush=True)
        while not stop.is_set():
            state = link.queue.state
            queued = sum(state.waiting.values()) if state is not None else waiting
            try:
                if queued < waiting:
                    device.issue("cash")
                elif queued > KEPT_AT_MOST:
                    called = device.press(counter, "call_next")
                    if any(e.type == "counter.called" for e in called):
                        device.press(counter, "skip")
                    else:  # nothing it may call (yet): the state catches up
                        stop.wait(0.05)
                else:
                    stop.wait(0.05)
            except QueueUnavailable:
                stop.wait(0.5)
    link.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stock"]:
        sys.exit(stock(sys.argv[2], int(sys.argv[3])))
    sys.exit("usage: python -m bench.branch_rig --stock CONFIG N")
