"""The running device: panels on a pygame surface, keys in, voice and LED out.

One :class:`PanelApp` runs any mix of panels over one :class:`~device.app.DeviceApp`:

* ``counterside counter``: the evaluation pad and the teller console of one counter
  (optionally a kiosk panel, to issue tickets in a simulation);
* ``counterside kiosk``: the ticket kiosk (with its printer);
* ``counterside board``: the hall call board (which also speaks the calls).

Every key press, from any driver, goes through one thread-safe :class:`~drivers.keys.KeyQueue`
that :meth:`PanelApp.step` drains; touches and clicks are hit-tested against the panel that was
touched. Each stored event is turned into speech and LED commands by :mod:`device.reactions`.

With ``input_thread=True`` (as launched) the input is applied by a
:class:`~device.input_worker.InputWorker`, in order, while the frame loop goes on drawing: a
press that waits for the queue controller's answer is shown at once as being worked on (正在叫号…)
and its result as soon as the answer comes. Without it (tests stepping the app by hand), each
input is applied within the :meth:`~PanelApp.step` that takes it.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from config.model import Config
from device.app import DeviceApp
from device.input_worker import InputWorker, Job
from device.presenter import (
    CallLog,
    board_view,
    console_view,
    kiosk_view,
    pad_view,
    ticket_info,
    upcoming,
)
from device.reactions import led_for, speech_for
from domain import events as ev
from domain.branch import Key
from domain.counter import State, Teller
from domain.estimate import WaitEstimator
from domain.events import StoredEvent
from domain.queue import QueueError, QueueUnavailable
from drivers.keys import KeyPress, KeyQueue
from drivers.led_display import CounterDisplay
from drivers.simulated import InputMap, keyboard_map
from screens.base import Screen
from screens.board import BoardScreen
from screens.console import ConsoleScreen
from screens.kiosk import KioskScreen
from screens.pad import PadScreen
from screens.text import default_fonts
from screens.views import BoardView, ConsoleView, IssuedTicket, KioskView, MessageLevel, PadView
from support.sdnotify import Service

if TYPE_CHECKING:  # the printer driver loads escpos and Pillow: only a kiosk needs them
    from device.control import ControlChannel
    from drivers.printer import PendingTickets, PrintResult, PrintSpool, TicketInfo, TicketPrinter

log = logging.getLogger(__name__)

PANELS = ("pad", "console", "kiosk", "board")
DEFAULT_TELLER = Teller("0000", "柜员")
TICK_S = 0.2
INPUT_POLL_S = 0.005
"""How often the loop looks for touches while it waits (keys and heard calls wake it at once)."""
INPUT_EVENTS = (pygame.QUIT, pygame.KEYDOWN, pygame.MOUSEBUTTONDOWN, pygame.FINGERDOWN)
ISSUED_SHOWN_S = 8.0
PRINT_FAILED = "出票失败，请联系大堂经理 · Printer problem, please ask staff"
CHOOSE_S = 8.0  # how long the console waits for the teller's choice
MAX_PENDING_INPUTS = 100
"""Inputs handed to the worker and not yet applied, at most: beyond, the keys wait in the key
queue, which is bounded (a stalled app never runs out of memory; no teller presses so fast)."""
WORKER_STUCK_S = 120.0
"""An input applied for longer than this (a queue request is bounded by its timeout) means a stuck
app: the frame loop stops pinging the watchdog."""
WAITING_LABELS = {
    Key.CALL_NEXT: "正在叫号…",
    Key.CALL_TICKET: "正在叫号…",
    Key.RECALL: "正在重呼…",
    Key.TRANSFER: "正在转移…",
}
"""What the console says while a key waits for the queue controller's answer."""
ISSUING = "正在取号，请稍候… · Issuing your ticket"
PAD_KEYS = (Key.RATE, Key.REASON)

View = Any  # PadView | ConsoleView | KioskView | BoardView


@dataclass(frozen=True)
class Choice:
    """The console asks the teller which one: a pause reason, an amount band, an extension.

    A key without its number (F8, a GPIO pause button) opens it; a number key or a touch picks
    (``choose`` with the index); the same key again closes it. When ``CHOOSE_S`` pass, the
    ``default`` is taken (a pause takes the first reason, so a single button still pauses), or
    nothing happens if there is none."""

    key: Key
    title: str
    options: tuple[str, ...]
    opened: float  # monotonic
    default: int | None = None


@dataclass
class Panel:
    kind: str
    rect: pygame.Rect
    screen: Screen[Any]  # the screen of its kind, which renders that kind's view
    target: pygame.Surface  # the panel's part of the app's surface


def _screen(kind: str):
    return {"pad": PadScreen, "console": ConsoleScreen, "kiosk": KioskScreen, "board": BoardScreen}[
        kind
    ]()


class PanelApp:
    """Panels side by side on one surface, driven by keys, touches and time."""

    def __init__(
        self,
        config: Config,
        device: DeviceApp,
        surface: pygame.Surface,
        *,
        panels: Sequence[str],
        counter: int | None = None,
        keys: KeyQueue | None = None,
        display: CounterDisplay | None = None,
        announcer=None,
        printer: TicketPrinter | None = None,
        teller: Teller = DEFAULT_TELLER,
        notice: str = "",
        photo_for: Callable[[str], str | None] | None = None,
        flip: Callable[[Sequence[pygame.Rect]], None] | None = None,
        remote_calls: SimpleQueue | None = None,
        input_thread: bool = False,
    ) -> None:
        unknown = [p for p in panels if p not in PANELS]
        if unknown or not panels:
            raise ValueError(f"panels must be some of {', '.join(PANELS)}, not {list(panels)}")
        if counter is None and {"pad", "console"} & set(panels):
            raise ValueError("the pad and the console need a counter number")
        self.config, self.device, self.surface = config, device, surface
        self.counter = counter
        self.keys = keys or KeyQueue()
        self.display, self.announcer, self.printer = display, announcer, printer
        self.teller, self.notice, self.photo_for = teller, notice, photo_for
        self._flip = flip
        self.remote_calls = remote_calls
        self.restart_flag: list = []  # non-empty: a new configuration waits for the next start
        self.healthy: Callable[[], bool] = lambda: True  # what else must turn for the watchdog
        self.keyboard = InputMap(keyboard_map()) if counter is not None else None
        width = surface.get_width() // len(panels)
        rects = [pygame.Rect(i * width, 0, width, surface.get_height()) for i in range(len(panels))]
        self.panels = [
            Panel(kind, rect, _screen(kind), surface.subsurface(rect))
            for kind, rect in zip(panels, rects, strict=True)
        ]
        # the rendered text of every panel stays cached while the screens change (at 1080p a
        # pad and a console draw some 10 MB of text): as many bytes as the surface has
        default_fonts().grow_text_cache(surface.get_width() * surface.get_height() * 4)
        self.message: str | None = None
        self.message_level: MessageLevel = "info"
        self.queue_available = True
        self.calls = CallLog()
        self.estimator = WaitEstimator(config)
        self.pending: PendingTickets | None = None  # once a kiosk prints
        self.spool: PrintSpool | None = None
        if printer is not None:  # printing never holds up the screen
            from drivers.printer import PrintSpool

            self.spool = PrintSpool(printer)
        self.selected_priority: str | None = None
        self.issued: IssuedTicket | None = None
        # the kiosk's waiting counts: behind an issued ticket (dimmed, a few seconds) they stay
        # as they were, so a queue that moves meanwhile does not draw the whole kiosk again
        self._kiosk_waiting: dict[str, int] | None = None
        self.choice: Choice | None = None
        self._issued_at = 0.0
        self._last_tick = float("-inf")
        self.running = True
        self.frames = 0
        self.control: ControlChannel | None = None  # a simulator's requests (device.control)
        self.worker = InputWorker(self.keys.wake, self._publish) if input_thread else None
        # held while the app's state changes: by the worker for each input, by the loop else
        self.lock = self.worker.lock if self.worker is not None else threading.RLock()
        self._published: tuple[int, list[View]] | None = None  # the worker's last views
        self._busy_since: float | None = None  # since when inputs have kept the worker busy
        self._inflight: list[tuple[Job, bool]] = []  # inputs not yet drawn, and if said so
        self.results: list[KeyPress] = []
        """The inputs whose outcome the last frame drew (with a worker, some frames only say
        that an input is being worked on: :meth:`step` returns those too)."""
        device.subscribe(self._on_event)

    # -- input ------------------------------------------------------------------------------
    def handle_pygame_event(self, event: pygame.event.Event) -> None:
        escape = event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE
        if event.type == pygame.QUIT or escape:
            self.running = False
        elif event.type == pygame.KEYDOWN and event.key == pygame.K_F12 and self._has("kiosk"):
            # the lobby manager's keys: F12 reprints once the printer works again; Shift+F12
            # gives up the tickets that never printed (their customers were helped otherwise)
            if event.mod & pygame.KMOD_SHIFT:
                self._do(self.abandon_unprinted)
            else:
                self._do(self.reprint)
        elif event.type == pygame.KEYDOWN and self.keyboard is not None:
            spec = self.keyboard.lookup(event)
            if spec is not None:
                self.press("keyboard", *spec)
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.touch(event.pos)
        elif event.type == pygame.FINGERDOWN:
            w, h = self.surface.get_size()
            self.touch((int(event.x * w), int(event.y * h)))
        elif event.type in (pygame.VIDEOEXPOSE, pygame.WINDOWEXPOSED):
            for panel in self.panels:  # the window was covered: show it whole again
                panel.screen.invalidate()

    def touch(self, pos: tuple[int, int]) -> None:
        """A click or a touch at ``pos`` on the surface: the touched panel decides."""
        for panel in self.panels:
            if panel.rect.collidepoint(pos):
                local = (pos[0] - panel.rect.x, pos[1] - panel.rect.y)
                hit = panel.screen.hit_test(local)
                if hit is not None:
                    self._touched(panel.kind, hit)
                return

    def _touched(self, kind: str, hit) -> None:
        if kind == "kiosk":
            if self.worker is not None and self.worker.waiting("kiosk")[1]:
                return  # 正在取号…: the screen shows no keys to tap until the ticket is out
            issuing = isinstance(hit, tuple) and hit[0] == "issue" and self._remote_queue()
            press = KeyPress("touch", "kiosk", hit, time.monotonic())
            self._do(lambda: self._kiosk(hit), ISSUING if issuing else None, press, "kiosk")
            return
        key, arg = hit if isinstance(hit, tuple) else (hit, None)
        self.press("touch", key, arg)

    def press(self, source: str, key: str, arg: object | None = None) -> None:
        self.keys.put(KeyPress(source, key, arg, time.monotonic()))

    def _do(
        self,
        run: Callable[[], object],
        label: str | None = None,
        press: KeyPress | None = None,
        panel: str | None = None,
    ) -> None:
        """Apply an input: now, or (with a worker, when it waits for the controller or other
        inputs are being applied) in its turn on the worker's thread, which leaves the views of
        the outcome for the frame loop to draw."""
        if self.worker is None:
            with self.lock:
                run()
        if self.worker is None or (label is None and self._applied_here(run)):
            if press is not None:  # its outcome is in the next frame
                self._inflight.append((Job(run, label, press, panel), False))
            return
        job = self.worker.submit(Job(run, label, press, panel))
        if press is not None:
            self._inflight.append((job, False))

    def _publish(self, done: int) -> None:
        """The worker has applied the inputs up to job ``done``: their views, for the frames
        drawn while it goes on (under the lock)."""
        self._published = (done, self.views())

    def _applied_here(self, run: Callable[[], object]) -> bool:
        """Apply an input that does not wait for the controller on the frame loop, if no other
        is being applied (it waits for the store's commit only: its outcome is drawn in this
        frame, without handing it over). False: it must go to the worker, in its turn."""
        assert self.worker is not None
        if self.worker.pending or not self.lock.acquire(blocking=False):
            return False
        try:
            run()
            self._published = (self.worker.done, self.views())  # the worker goes on from here
        finally:
            self.lock.release()
        return True  # not pending before: none can have been submitted since (one loop submits)

    def _remote_queue(self) -> bool:
        """Whether the queue is the controller's (its requests wait for an answer)."""
        return self.device.branch.queue.remote

    def _key_label(self, press: KeyPress) -> str | None:
        if self.counter is None or not self._remote_queue():
            return None
        try:
            return WAITING_LABELS.get(Key(press.key))
        except ValueError:
            return None

    def _take(self, press: KeyPress) -> None:
        """Apply a key press (the customer's keys show on the pad, the teller's on the console)."""
        panel = "pad" if press.key in PAD_KEYS else "console"
        self._do(functools.partial(self._apply_logged, press), self._key_label(press), press, panel)

    def _apply_logged(self, press: KeyPress) -> None:
        try:
            self.apply(press)
        except Exception:  # one bad press must never stop the counter
            log.exception("key %s from %s ignored", press.key, press.source)

    def apply(self, press: KeyPress) -> list[StoredEvent]:
        """Apply one key press to this app's counter."""
        if self.counter is None:
            return []
        if press.key == "choose":
            return self._chosen(press.arg)
        key, arg = Key(press.key), press.arg
        if self.choice is not None:
            if key is self.choice.key and arg is None:  # the same key again: never mind
                self.choice = None
                return []
            if key is Key.RATE and press.source == "keyboard":  # a number key picks
                return self._chosen(int(arg) - 1 if isinstance(arg, int) else None)
            self.choice = None
        if key is Key.SIGN_IN and arg is None:  # a keypad may send the staff number
            arg = self.teller
        elif key is Key.TRANSFER and arg is None:
            arg = self._transfer_target()
        elif arg is None and key in (Key.PAUSE, Key.BAND, Key.EXTEND):
            self.choice = self._ask(key)
            if self.choice is not None:
                return []
        return self._press(key, arg)

    def _ask(self, key: Key) -> Choice | None:
        """The choice a numbered key without its number opens (``None``: let it be refused)."""
        assert self.counter is not None
        session = self.device.branch.sessions[self.counter]
        opened = self.device.clock.now().mono
        if key is Key.PAUSE and session.state is State.IDLE:
            reasons = tuple(r.zh for r in self.config.queue.pause_reasons)
            return Choice(key, "暂停原因", reasons, opened, default=0)
        if session.state not in (State.CALLED, State.SERVING) or session.current is None:
            return None
        if key is Key.BAND:
            code = session.current.business_type
            bt = next((b for b in self.config.business_types if b.code == code), None)
            bands = tuple(b.name.zh for b in bt.bands) if bt is not None else ()
            return Choice(key, "金额档次", bands, opened) if bands else None
        reasons = tuple(r.label.zh for r in self.config.queue.extension_reasons)
        return Choice(key, "延时原因", reasons, opened) if reasons else None

    def _chosen(self, index: object) -> list[StoredEvent]:
        choice, self.choice = self.choice, None
        if choice is None or not isinstance(index, int) or not 0 <= index < len(choice.options):
            return []
        return self._press(choice.key, index)

    def _press(self, key: Key, arg: object) -> list[StoredEvent]:
        assert self.counter is not None
        events = self.device.press(self.counter, key, arg)
        rejected = [e.payload for e in events if isinstance(e.payload, ev.ActionRejected)]
        if rejected:
            self.message, self.message_level = rejected[-1].reason, "warn"
            self.queue_available = not rejected[-1].queue_unavailable
        elif key is not Key.RATE:
            self.message = None
        return events

    def _transfer_target(self) -> str | None:
        assert self.counter is not None
        session = self.device.branch.sessions[self.counter]
        current = session.current.business_type if session.current else None
        others = [bt.code for bt in self.config.business_types if bt.code != current]
        return others[0] if others else None

    # -- the kiosk ---------------------------------------------------------------------------
    def _kiosk(self, hit) -> None:
        if hit == "dismiss":
            self.issued = None
            return
        action, code = hit
        if action == "priority":
            self.selected_priority = None if self.selected_priority == code else code
        elif action == "issue":
            self.issue(code, self.selected_priority)
            self.selected_priority = None

    def issue(self, business_type: str, priority: str | None = None) -> IssuedTicket | None:
        """Issue a ticket and send it to the printer; a failed print keeps it pending and says
        so (when the spool hands its result to :meth:`step`)."""
        try:
            ticket, events = self.device.issue(business_type, priority)
        except QueueUnavailable:
            self.message = "排队系统暂不可用，请稍候 · Queue unavailable, please ask staff"
            return None
        queue = self.device.branch.queue
        ahead = next(
            (e.payload.ahead for e in events if isinstance(e.payload, ev.TicketIssued)),
            getattr(queue, "last_issue_ahead", 0),
        )
        wait = self.estimator.expected_wait_min(business_type, ahead)
        bt = self.config.business_type(business_type)
        self.issued = IssuedTicket(ticket.number, ahead, bt.name.zh, bt.name.en, wait)
        self._issued_at = self.device.clock.now().mono
        if self.spool is not None:
            from drivers.printer import PendingTickets

            self.pending = self.pending or PendingTickets()
            info = ticket_info(ticket, self.config, ahead, wait)
            self.pending.add(info)
            self._print(info)
        return self.issued

    def _print(self, info: TicketInfo) -> None:
        assert self.spool is not None
        if not self.spool.submit(info):
            from drivers.printer import PrintResult

            busy = f"printer busy: {len(self.spool)} tickets in the spool"
            self._printed(PrintResult(False, info.ticket_id, busy))

    def _printed(self, result: PrintResult) -> None:
        """Record a print's result: the ticket is handed over, or waits for a reprint."""
        if self.pending is None or result.ticket_id not in self.pending:
            log.warning("print result for ticket %s, which is not pending", result.ticket_id)
            return
        fact = self.pending.record(result.ticket_id, result)
        self.device.record(fact["type"], fact["payload"])
        if fact["type"] == "ticket.print_failed":
            self.message = PRINT_FAILED

    def collect_prints(self) -> int:
        """Record the results the print spool has finished; returns how many."""
        results = self.spool.results() if self.spool is not None else []
        for result in results:
            self._printed(result)
        return len(results)

    def reprint(self) -> int:
        """Staff fixed the printer: print again every ticket whose print failed.

        Returns how many were sent again; their results come back through :meth:`step`. A
        ticket counts as handed over only once printed.
        """
        if self.spool is None or self.pending is None:
            return 0
        failed = self.pending.failed()
        for entry in failed:
            self._print(self.pending.reprint(entry.info.ticket_id))
        if not self.pending.failed():
            self.message = None  # until a print fails again
        return len(failed)

    def close(self) -> None:
        """Apply the inputs taken; let the printer finish what it was sent, record the results."""
        if self.worker is not None and not self.worker.close():
            return  # an input still applied: the printer's results wait (the store is its)
        if self.spool is not None:
            self.spool.close()
            self.collect_prints()

    def abandon_unprinted(self, reason: str = "not printed: customer left") -> int:
        """Give up the tickets that never printed: they leave the queue, on record."""
        if self.pending is None:
            return 0
        given_up = 0
        for entry in self.pending.failed():
            ticket_id = entry.info.ticket_id
            fact = self.pending.abandon(ticket_id, reason)
            self.device.record(fact["type"], fact["payload"])
            queue = self.device.branch.queue
            if hasattr(queue, "cancel"):  # the local queue; a remote one expires them at night
                try:
                    self.device.commit(queue.cancel(ticket_id, self.device.clock.now(), reason))
                except QueueError as exc:  # already called after all: the teller has it
                    log.info("ticket %s not cancelled: %s", ticket_id, exc)
            given_up += 1
        self.message = None
        return given_up

    def hear_call(self, ticket: str, counter: int) -> None:
        """A call made elsewhere in the branch (published by the queue service)."""
        self.calls.add(ticket, counter)
        if self.announcer is not None and self.counter is None and self._has("board"):
            self.announcer.say("call", ticket=ticket, counter=counter)

    def _has(self, kind: str) -> bool:
        return any(p.kind == kind for p in self.panels)

    # -- output ------------------------------------------------------------------------------
    def _on_event(self, event: StoredEvent) -> None:
        self.calls.observe(event.payload)
        if isinstance(event.payload, ev.TransactionClosed):
            self.estimator.observe(event.payload)
        speaker = self.counter
        if speaker is None and not any(p.kind == "board" for p in self.panels):
            speaker = -1  # a kiosk alone says nothing
        speech = speech_for(event.payload, speaker)
        if speech is not None and self.announcer is not None:
            self.announcer.say(speech.template, **speech.fields)
        if self.display is not None and self.counter is not None:
            led = led_for(event.payload, self.counter)
            if led is not None:
                self._show(led)

    def _show(self, led) -> None:
        assert self.display is not None
        if led.command == "call":
            self.display.show_call(led.ticket, led.counter)
        elif led.command == "paused":
            self.display.show_paused()
        else:
            self.display.clear()

    # -- the loop ----------------------------------------------------------------------------
    def step(self, wait_s: float = 0.0) -> list[KeyPress]:
        """Handle input (waiting up to ``wait_s`` for a key), let time pass, draw one frame.

        Returns the inputs this frame answered (key presses, and kiosk touches as presses of
        ``kiosk``): the frame is on screen when this returns, showing each one's outcome or,
        with a worker, that it is being worked on (正在叫号…). :attr:`results` holds those
        whose outcome it shows.
        """
        presses = [] if self._saturated() else self.keys.drain(wait_s)
        for press in presses:
            self._take(press)
        if self.worker is None:
            self._housekeeping()
            self.render()
            return self._answered(0, set())
        if self.control is not None:  # a simulator's requests, in their turn like the keys
            for request in self.control.take_waiting():
                label, panel = self._request_label(request.body)
                self._do(
                    functools.partial(self.control.answer_one, self, request),
                    label=label,
                    panel=panel,
                )
        busy_since = self._busy_since
        if self.worker.pending:  # time goes on between the inputs too: prints, ticks
            if busy_since is None:
                self._busy_since = time.monotonic()
            elif time.monotonic() - busy_since > TICK_S:
                self._busy_since = float("inf")  # one such job at a time
                self.worker.submit(Job(self._housekeeping_between))
        if self.lock.acquire(blocking=False):  # no input being applied: draw the state now
            try:
                if not self.worker.pending:
                    self._busy_since = None
                    self._housekeeping()
                done, views = self.worker.done, self.views()
                self._published = (done, views)  # what the worker changes next starts from
            finally:
                self.lock.release()
        elif self._published is not None:  # as the worker left it after its last input
            done, views = self._published
        else:
            return []  # nothing drawn yet: the worker's first input leaves the views
        labels = {kind: _label(*self.worker.waiting(kind)) for kind in SAYING}
        views = [_saying(v, labels.get(p.kind)) for p, v in zip(self.panels, views, strict=True)]
        self.draw(views)
        return self._answered(done, {p.kind for p in self.panels if labels.get(p.kind)})

    def _request_label(self, body: dict) -> tuple[str | None, str | None]:
        """A control request's label and panel, as for the key or touch it stands for."""
        if body.get("op") == "issue":
            return (ISSUING if self._remote_queue() else None), "kiosk"
        if body.get("op") == "press":
            press = KeyPress("control", str(body.get("key")), None, 0.0)
            return self._key_label(press), "console"
        return None, None

    def _answered(self, done: int, saying: set[str]) -> list[KeyPress]:
        """The inputs the frame just drawn answers: those applied (up to job ``done``), and
        those still waiting on a panel that says an input is being worked on (``saying``)."""
        answered: list[KeyPress] = []
        self.results = []
        waiting: list[tuple[Job, bool]] = []
        for job, told in self._inflight:
            assert job.press is not None
            if job.number <= done or self.worker is None:
                self.results.append(job.press)
                if not told:
                    answered.append(job.press)
            else:
                if job.panel in saying and not told:
                    answered.append(job.press)
                    told = True
                waiting.append((job, told))
        self._inflight = waiting
        return answered

    def _housekeeping(self) -> None:
        """What the loop does between inputs: prints, calls heard, a simulator's requests,
        a choice timed out, the domain's tick."""
        self.collect_prints()
        if self.remote_calls is not None:
            while not self.remote_calls.empty():
                self.hear_call(*self.remote_calls.get_nowait())
        if self.control is not None and self.worker is None:  # (else handed to the worker)
            self.control.answer_waiting(self)
        now = self.device.clock.now()
        choice = self.choice
        if choice is not None and now.mono - choice.opened > CHOOSE_S:
            self._chosen(choice.default)  # time is up: the default, or nothing
        if now.mono - self._last_tick >= TICK_S:
            self._last_tick = now.mono
            self.device.tick()
        if self.issued is not None and now.mono - self._issued_at > ISSUED_SHOWN_S:
            self.issued = None

    def _housekeeping_between(self) -> None:
        """The housekeeping, as a job among the inputs while they keep the worker busy."""
        try:
            self._housekeeping()
        finally:
            self._busy_since = time.monotonic()

    def settle(self, timeout: float = 30.0) -> list[KeyPress]:
        """Wait until every input taken so far is applied, then draw a frame (tests, closing)."""
        for press in self.keys.drain(0.0):
            self._take(press)
        if self.worker is not None and not self.worker.wait_idle(timeout):
            raise TimeoutError(f"inputs still being applied after {timeout} s")
        return self.step()

    def run(self, fps: float = 30.0, service: Service | None = None) -> None:
        """The main loop: input is answered at once; otherwise it draws ``fps`` frames a second.

        Under systemd (``service``, from the environment by default) it says ready once the
        first frame is on screen, and pings the watchdog from each frame drawn while
        :attr:`healthy` (the queue service this app runs, if any, still turns): a frozen frame
        loop or a stuck queue service stops the pings and systemd restarts the app.
        """
        service = service if service is not None else Service()
        ready = False
        while self.running:
            self.frame(1.0 / fps)
            if not ready:
                service.ready()
                ready = True
            stuck = self.worker is not None and self.worker.stuck(WORKER_STUCK_S)
            if self.healthy() and not stuck:
                service.progress()
            if self.restart_flag and self._quiet():
                log.warning("stopping to start again on the new configuration")
                self.running = False
        service.stopping()

    def frame(self, interval: float) -> tuple[list[KeyPress], int]:
        """Wait up to ``interval`` for input (a key, a touch, a call heard), handle it and draw
        one frame. Returns the presses and the number of pygame events this frame answered.

        Keys wake the wait at once, and so do heard calls when the link was told to wake the
        key queue (``Link.watch_calls``); touches are looked for every ``INPUT_POLL_S``
        (pygame cannot wake a thread), so none waits for a whole frame.
        """
        deadline = time.monotonic() + interval
        while not self._input_waiting():
            left = deadline - time.monotonic()
            if left <= 0 or self.keys.wait(min(left, INPUT_POLL_S)):
                break
        events = pygame.event.get()
        for event in events:
            self.handle_pygame_event(event)
        return self.step(), len(events)

    def _saturated(self) -> bool:
        """Whether the worker holds as many inputs as it may (more keys wait where they are)."""
        return self.worker is not None and self.worker.pending >= MAX_PENDING_INPUTS

    def _input_waiting(self) -> bool:
        calls = self.remote_calls is not None and not self.remote_calls.empty()
        if calls and self.worker is not None and self.worker.pending:
            calls = False  # they wait for the inputs being applied (whose end wakes the loop)
        control = self.control is not None and self.control.waiting()
        keys = len(self.keys) > 0 and not self._saturated()  # (its progress wakes the loop)
        return calls or control or keys or pygame.event.peek(INPUT_EVENTS)

    def _quiet(self) -> bool:
        """No customer at any counter of this app, and no input being applied (a restart would
        not interrupt anyone: a call still with the controller leaves the counter idle)."""
        if self.worker is not None and self.worker.pending:
            return False
        busy = (State.CALLED, State.SERVING, State.AWAITING_RATING)
        with self.lock:
            return all(s.state not in busy for s in self.device.branch.sessions.values())

    def render(self) -> list[pygame.Rect]:
        """Draw every panel; show the areas that changed (``flip``). Returns those areas."""
        with self.lock:
            views = self.views()
        return self.draw(views)

    def views(self) -> list[View]:
        """What each panel shows now (plain values; under :attr:`lock`)."""
        now = self.device.clock.now()
        branch = self.device.branch
        queue = branch.queue
        waiting = queue.waiting_counts()
        views: list[View] = []
        for panel in self.panels:
            view: PadView | ConsoleView | KioskView | BoardView
            if panel.kind == "pad":
                assert self.counter is not None
                view = pad_view(
                    self.config, branch.sessions[self.counter], now, photo_for=self.photo_for
                )
            elif panel.kind == "console":
                assert self.counter is not None
                session = branch.sessions[self.counter]
                view = console_view(
                    self.config,
                    session,
                    now,
                    waiting=waiting,
                    next_tickets=upcoming(queue, self.counter, now),
                    message=self.message,
                    message_level=self.message_level,
                    queue_available=self.queue_available,
                    choice_title=self.choice.title if self.choice else None,
                    choices=self.choice.options if self.choice else (),
                )
            elif panel.kind == "kiosk":
                if self.issued is None or self._kiosk_waiting is None:
                    self._kiosk_waiting = waiting
                view = kiosk_view(
                    self.config,
                    now,
                    self._kiosk_waiting,  # behind an issued ticket: as when it was issued
                    self.estimator,
                    selected_priority=self.selected_priority,
                    last_ticket=self.issued,
                    message=self.message if self.counter is None else None,
                )
            else:
                view = board_view(
                    self.config, now, self.calls.calls(), waiting, self.estimator, self.notice
                )
            views.append(view)
        return views

    def draw(self, views: Sequence[View]) -> list[pygame.Rect]:
        """Draw each panel's view; show the areas that changed (``flip``). Returns those areas."""
        dirty: list[pygame.Rect] = []
        for panel, view in zip(self.panels, views, strict=True):
            dirty += [r.move(panel.rect.topleft) for r in panel.screen.render(panel.target, view)]
        if self._flip is not None and dirty:
            self._flip(dirty)
        self.frames += 1
        return dirty

    def session_state(self) -> State | None:
        return self.device.branch.sessions[self.counter].state if self.counter else None


SAYING = ("console", "kiosk")
"""The panels that say when an input is being worked on (not the customer's pad)."""


def _label(label: str | None, inputs: int) -> str | None:
    """What a panel says while ``inputs`` of its inputs are being applied, the first of them
    saying ``label``: the others are counted, so that each key taken shows on screen."""
    if label is None or inputs <= 1:
        return label
    return f"{label} · 另有 {inputs - 1} 个按键待处理"


def _saying(view: View, label: str | None) -> View:
    """``view`` saying ``label`` (an input is being worked on): the console and the kiosk say
    it in their message line; the pad and the board are left as they are."""
    if label is None:
        return view
    if isinstance(view, ConsoleView):
        return replace(view, message=label, message_level="info")
    if isinstance(view, KioskView):
        return replace(view, message=label)
    return view
