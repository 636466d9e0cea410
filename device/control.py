"""The control channel: a local socket through which a simulator acts as the people at a device.

``counterside counter|kiosk|board --control PATH`` listens on a Unix socket at ``PATH`` (mode
600: only the app's own user). Each request is one JSON object on one line; each answer is one
JSON line. The requests go through the app's main loop exactly as the keys and touches do:

* ``{"op": "press", "key": "call_next", "arg": null}``: a teller key or the pad's rating
  (``"rate"`` with the level); ``sign_in`` takes ``{"staff_no", "name", "stars"}``, ``transfer``
  a business type code, ``pause`` the reason's number. Answer: ``ok``, ``reason`` (when refused),
  ``events`` (the stored events' types), and the counter's ``session``;
* ``{"op": "issue", "business_type": "cash", "priority": null}``: a customer touches the kiosk.
  Answer: ``ok`` and ``ticket``;
* ``{"op": "state"}``: the counter's ``session`` and the store's ``outbox`` (events the centre
  has not acknowledged yet).

``session`` is ``{"state", "waiting", "ticket", "business_type", "transaction", "last"}``:
``waiting`` the tickets waiting per business type as the console shows them, ``last`` the last
closed transaction (``id``, ``outcome``, ``rating``). A request the loop has not taken up
within ``ANSWER_S`` gets ``{"ok": false, "reason": "no answer", "done": false}`` and is dropped:
it is never carried out later (one the loop took up in time is answered when done). A client
must not send a request again after it was sent (``sim.ports.ControlClient`` resends only one
that never left: a fresh connection after the app restarted).
"""

from __future__ import annotations

import json
import logging
import os
import socketserver
import threading
import time
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any

import msgspec

from domain import events as ev
from domain.counter import Teller
from domain.events import StoredEvent
from drivers.keys import KeyPress

if TYPE_CHECKING:
    from device.app import DeviceApp
    from device.runtime import PanelApp

log = logging.getLogger(__name__)

ANSWER_S = 10.0


class _Request:
    """One request: waiting, then taken up by the loop or dropped by its asker (never both)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.answer: dict[str, Any] = {"ok": False, "reason": "no answer", "done": False}
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._state = "waiting"  # -> "taken" (by the loop) or "dropped" (by the asker)

    def take(self) -> bool:
        """The loop takes it up, unless its asker gave up on it."""
        with self._lock:
            if self._state == "waiting":
                self._state = "taken"
            return self._state == "taken"

    def drop(self) -> bool:
        """The asker gives up, unless the loop took it up already."""
        with self._lock:
            if self._state == "waiting":
                self._state = "dropped"
            return self._state == "dropped"


class ControlChannel:
    """Requests from the socket, answered by the app's loop (:meth:`answer_waiting`)."""

    def __init__(self, path: Path, wake) -> None:
        self.path = path
        self.wake = wake
        self.inbox: SimpleQueue[_Request] = SimpleQueue()
        channel = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    try:
                        body = json.loads(line)
                        if not isinstance(body, dict):
                            raise ValueError("a request is a JSON object")
                    except ValueError as exc:
                        answer: dict[str, Any] = {"ok": False, "reason": f"bad request: {exc}"}
                    else:
                        answer = channel.ask(body)
                    self.wfile.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
                    self.wfile.flush()

        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        old = os.umask(0o177)
        try:
            self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        finally:
            os.umask(old)
        self.server.daemon_threads = True
        serve = self.server.serve_forever
        self._thread = threading.Thread(target=serve, name="control", daemon=True)
        self._thread.start()

    def ask(self, body: dict[str, Any], answer_s: float | None = None) -> dict[str, Any]:
        request = _Request(body)
        self.inbox.put(request)
        self.wake()
        if not request.done.wait(ANSWER_S if answer_s is None else answer_s) and not request.drop():
            request.done.wait()  # taken up in time: its answer says what was done
        return request.answer

    def waiting(self) -> bool:
        return not self.inbox.empty()

    def answer_waiting(self, app: PanelApp) -> int:
        """Answer every request waiting (called from the app's main loop); returns how many."""
        return sum(self.answer_one(app, request) for request in self.take_waiting())

    def take_waiting(self) -> list[_Request]:
        """The requests waiting, for the app to answer each in its turn (:meth:`answer_one`)."""
        out = []
        while True:
            try:
                out.append(self.inbox.get_nowait())
            except Empty:
                return out

    @staticmethod
    def answer_one(app: PanelApp, request: _Request) -> bool:
        """Carry out ``request`` and answer it, unless its asker gave up meanwhile (then it is
        never carried out); returns whether it was."""
        if not request.take():
            return False  # its asker was told "no answer": never carried out now
        try:
            request.answer = answer(app, request.body)
        except Exception as exc:  # a bad request never stops the app
            log.exception("control request %r failed", request.body)
            request.answer = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
        request.done.set()
        return True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.path.unlink(missing_ok=True)


def answer(app: PanelApp, body: dict[str, Any]) -> dict[str, Any]:
    """What the app does with one request, and what it says back."""
    op = body.get("op")
    if op == "issue":
        issued = app.issue(str(body["business_type"]), body.get("priority"))
        if issued is None:
            return {"ok": False, "reason": app.message or "not issued"}
        return {"ok": True, "ticket": issued.number, "ahead": issued.ahead}
    if op == "state":
        state = session(app.device, app.counter)
        return {"ok": True, "session": state, "outbox": app.device.store.outbox_size()}
    if op != "press":
        return {"ok": False, "reason": f"unknown op {op!r}"}
    key, arg = str(body["key"]), body.get("arg")
    if key == "sign_in" and isinstance(arg, dict):
        arg = teller_of(arg)
    stored = app.apply(KeyPress("control", key, arg, time.monotonic()))
    return pressed(stored, session(app.device, app.counter))


MAX_STARS = 5


def teller_of(arg: dict[str, Any]) -> Teller:
    """A teller as the event contract has one (text, and stars 0..5 or none); ValueError for
    anything else, so nothing that breaks the contract reaches the store (and, restored, the
    screens at every start)."""
    try:
        info = msgspec.convert(arg, ev.TellerInfo)
    except msgspec.ValidationError as exc:
        raise ValueError(f"teller: {exc}") from exc
    if info.stars is not None and not 0 <= info.stars <= MAX_STARS:
        raise ValueError(f"teller: stars {info.stars} outside 0..{MAX_STARS}")
    return Teller(info.staff_no, info.name, info.stars)


def pressed(stored: list[StoredEvent], state: dict[str, Any] | None) -> dict[str, Any]:
    """The answer to a press that stored ``stored``, the counter then in ``state``."""
    rejected = [e.payload for e in stored if isinstance(e.payload, ev.ActionRejected)]
    out: dict[str, Any] = {
        "ok": not rejected and bool(stored),
        "events": [e.type for e in stored],
        "session": state,
    }
    if rejected:
        out["reason"] = rejected[-1].reason
        out["queue_unavailable"] = rejected[-1].queue_unavailable
    elif not stored:
        out["reason"] = "nothing happened"
    return out


def session(device: DeviceApp, counter: int | None) -> dict[str, Any] | None:
    """The counter's state as plain data (None for a kiosk or a board)."""
    if counter is None:
        return None
    s = device.branch.sessions[counter]
    tx, last = s.current, s.last_closed
    return {
        "state": str(s.state),
        "waiting": device.branch.queue.waiting_counts(),  # as the console shows them
        "ticket": tx.ticket.number if tx is not None and tx.ticket is not None else None,
        "business_type": tx.business_type if tx is not None else None,
        "transaction": tx.id if tx is not None else None,
        "last": None
        if last is None
        else {"id": last.id, "outcome": last.outcome, "rating": last.rating},
    }
