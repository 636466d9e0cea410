"""How simulated people reach a branch's devices: through the apps' control sockets (the demo's
separate processes) or a device app in this process (``counterside simulate``). Both answer as
``device.control`` does."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Protocol

from device.app import DeviceApp
from device.control import pressed, session
from domain.counter import Teller
from domain.queue import QueueUnavailable


class Port(Protocol):
    """A branch's kiosk and counters as the people there use them."""

    def issue(self, business_type: str) -> str | None: ...
    def press(self, counter: int, key: str, arg: Any = None) -> dict[str, Any]: ...
    def state(self, counter: int) -> dict[str, Any]: ...


class LocalPort:
    """A one-box branch: the queue and every counter in one device app."""

    def __init__(self, device: DeviceApp) -> None:
        self.device = device

    def issue(self, business_type: str) -> str | None:
        try:
            ticket, _ = self.device.issue(business_type)
        except QueueUnavailable:
            return None
        return ticket.number

    def press(self, counter: int, key: str, arg: Any = None) -> dict[str, Any]:
        if key == "sign_in" and isinstance(arg, dict):
            arg = Teller(str(arg["staff_no"]), str(arg["name"]), arg.get("stars"))
        return pressed(self.device.press(counter, key, arg), session(self.device, counter))

    def state(self, counter: int) -> dict[str, Any]:
        return {"ok": True, "session": session(self.device, counter)}


class ControlClient:
    """One app's control socket (``device.control``): a JSON line out, a JSON line back."""

    def __init__(self, path: Path, timeout: float = 15.0) -> None:
        self.path, self.timeout = path, timeout
        self._sock: socket.socket | None = None
        self._file: Any = None

    def ask(self, **body: Any) -> dict[str, Any]:
        """Send one request and read its answer. A request that may have reached the app is
        never sent again (a press must not happen twice): only one whose sending failed on a
        connection left from before (the app was restarted) goes once more, on a fresh one."""
        for attempt in (1, 2):
            fresh = self._sock is None
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self._sock.settimeout(self.timeout)
                    self._sock.connect(str(self.path))
                    self._file = self._sock.makefile("rwb")
                self._file.write(json.dumps(body).encode() + b"\n")
                self._file.flush()
            except OSError as exc:  # not sent
                self.close()
                if attempt == 2 or fresh:
                    return {"ok": False, "reason": f"control socket: {exc}", "unreachable": True}
                continue
            try:
                line = self._file.readline()
                if not line:
                    raise ConnectionError("the app closed its control socket")
                return dict(json.loads(line))
            except OSError as exc:  # sent: it may have been carried out
                self.close()
                return {"ok": False, "reason": f"control socket: {exc}", "unknown": True}
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None


class ControlPort:
    """The demo's branch: a kiosk process and one process per counter, each with its socket."""

    def __init__(self, kiosk: Path, counters: dict[int, Path]) -> None:
        self.kiosk = ControlClient(kiosk)
        self.counters = {n: ControlClient(p) for n, p in counters.items()}

    def issue(self, business_type: str) -> str | None:
        answer = self.kiosk.ask(op="issue", business_type=business_type)
        return answer.get("ticket") if answer.get("ok") else None

    def press(self, counter: int, key: str, arg: Any = None) -> dict[str, Any]:
        return self.counters[counter].ask(op="press", key=key, arg=arg)

    def state(self, counter: int) -> dict[str, Any]:
        return self.counters[counter].ask(op="state")

    def close(self) -> None:
        for client in [self.kiosk, *self.counters.values()]:
            client.close()
