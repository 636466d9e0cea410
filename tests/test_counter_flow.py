"""The whole counter, end to end on real parts: a kiosk touch issues and prints a ticket, the
teller's keys call, serve and finish, the voice speaks, the LED display over a pseudo-terminal
shows the call, the customer touches a rating key, and every step is on screen and in the store.
"""

import os
import threading

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from types import SimpleNamespace

import pygame
import pytest

from config.loader import load_config
from device.app import DeviceApp
from device.runtime import PanelApp
from device.store import EventStore
from domain.clock import ManualClock
from drivers.framing import Command
from drivers.led_display import LedDisplay, decode_text
from drivers.printer import SimulatedPrinter
from drivers.voice import RecordingAnnouncer
from tests.serial_pty import wait_until

SIZE = (800, 480)


@pytest.fixture
def counter(tmp_path, pty_pair):
    pygame.init()
    config = load_config()
    clock = ManualClock()
    store = EventStore(tmp_path / "counter.sqlite", config.device.device_id)
    surface = pygame.Surface((SIZE[0] * 3, SIZE[1]))
    led = LedDisplay(pty_pair.path, address=1, refresh_s=None).start()
    voice = RecordingAnnouncer(texts=config.texts)
    printer = SimulatedPrinter(tmp_path / "tickets")
    app = PanelApp(
        config,
        DeviceApp(config, store, clock),
        surface,
        panels=["kiosk", "pad", "console"],
        counter=1,
        display=led,
        announcer=voice,
        printer=printer,
    )
    app.render()  # the first frame: touch targets exist from now on
    yield SimpleNamespace(
        app=app,
        clock=clock,
        store=store,
        voice=voice,
        printer=printer,
        pty=pty_pair,
        surface=surface,
        tmp=tmp_path,
    )
    app.close()
    led.close()
    store.close()  # pygame stays initialised: the screens' font cache outlives a test


def panel(app, kind):
    return next(p for p in app.panels if p.kind == kind)


def touch_target(app, kind, action):
    """The surface point where ``kind``'s last frame offers ``action`` (a touch target)."""
    p = panel(app, kind)
    for rect, hit in p.screen.hits:
        if hit == action:
            return (p.rect.x + rect.centerx, p.rect.y + rect.centery)
    raise AssertionError(f"{kind} offers no {action!r}: {[h for _, h in p.screen.hits]}")


def key(app, name):
    """A teller key from the keyboard (pygame KEYDOWN through the simulated keyboard map)."""
    code = {"call_next": pygame.K_F1, "start": pygame.K_F5, "finish": pygame.K_F6}[name]
    app.handle_pygame_event(pygame.event.Event(pygame.KEYDOWN, key=code, mod=0, unicode=""))
    app.step()


def printed(app):
    """Wait for the kiosk's print spool, then record its results (as the next frame does)."""
    assert app.spool.wait_idle(10)
    app.collect_prints()


def save(surface, path, name):
    pygame.image.save(surface, str(path / f"{name}.png"))


def test_issue_call_announce_serve_rate(counter):
    c = counter
    app = c.app
    app.press("test", "sign_in")
    app.step()
    assert app.session_state() == "idle"

    # the customer touches 现金业务 on the kiosk; the ticket prints
    app.touch(touch_target(app, "kiosk", ("issue", "cash")))
    app.step()
    printed(app)
    save(c.surface, c.tmp, "1-issued")
    assert app.issued.number == "A001" and len(c.printer.printed) == 1
    assert panel(app, "kiosk").screen.texts and "A001" in " ".join(panel(app, "kiosk").screen.texts)

    # the teller calls: voice, LED and pad all show A001
    c.clock.advance(30)
    key(app, "call_next")
    save(c.surface, c.tmp, "2-called")
    assert c.voice.spoken[-1] == "请A 零 零 一号到1号窗口办理"
    led_texts = lambda: [  # noqa: E731
        decode_text(f.payload)[1] for f in c.pty.frames() if f.command == Command.DISPLAY_TEXT
    ]
    wait_until(lambda: any("A001" in t for t in led_texts()), "A001 on the LED display")
    assert "A001" in " ".join(panel(app, "pad").screen.texts)
    assert "A001" in " ".join(panel(app, "console").screen.texts)

    key(app, "start")
    c.clock.advance(95)
    app.step()
    assert "01:35" in " ".join(panel(app, "console").screen.texts)  # the running service timer
    key(app, "finish")
    save(c.surface, c.tmp, "3-rate")
    assert c.voice.spoken[-1] == "请您对我的服务做出评价"
    assert app.device.branch.sessions[1].state == "awaiting_rating"

    # the customer touches 非常满意 on the pad
    c.clock.advance(3)
    app.touch(touch_target(app, "pad", ("rate", 5)))
    app.step()
    save(c.surface, c.tmp, "4-thanks")
    assert c.voice.spoken[-1] == "谢谢您的评价"
    assert "谢谢您的评价" in " ".join(panel(app, "pad").screen.texts)

    events = c.store.events()
    types = [e.type for e in events]
    for expected in (
        "ticket.issued",
        "ticket.printed",
        "ticket.called",
        "service.started",
        "rating.invited",
        "rating.press",
        "transaction.closed",
    ):
        assert expected in types, expected
    (closed,) = [e.payload for e in events if e.type == "transaction.closed"]
    assert closed["ticket"] == "A001" and closed["rating"] == 5
    assert closed["waiting_s"] == 30 and closed["service_s"] == 95
    assert [p.name for p in sorted(c.tmp.glob("*.png"))] == [
        "1-issued.png",
        "2-called.png",
        "3-rate.png",
        "4-thanks.png",
    ]


def test_a_failed_print_is_reported_and_recorded(counter):
    c = counter
    app = c.app
    c.printer.fail_reason = "paper out"
    app.touch(touch_target(app, "kiosk", ("issue", "cash")))
    app.step()
    printed(app)
    failed = [e for e in c.store.events() if e.type == "ticket.print_failed"]
    assert len(failed) == 1 and "paper out" in failed[0].payload["reason"]
    assert app.message and "出票失败" in app.message

    c.printer.fail_reason = None  # paper again: the lobby manager presses F12
    app.handle_pygame_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F12, mod=0))
    printed(app)
    done = [e for e in c.store.events() if e.type == "ticket.printed"]
    assert len(done) == 1 and done[0].payload["attempt"] == 2 and app.message is None


def test_a_slow_printer_never_holds_up_the_kiosk(counter):
    c = counter
    app = c.app
    go = threading.Event()
    slow = c.printer.print_ticket
    c.printer.print_ticket = lambda info: go.wait(30) and slow(info)  # a printer warming up
    app.spool.limit = 1
    assert app.issue("cash").number == "A001"  # on screen while it prints
    app.step()
    assert app.issue("cash").number == "A002"  # the spool is full: that print fails at once
    app.step()
    failed = [e for e in c.store.events() if e.type == "ticket.print_failed"]
    assert [e.payload["ticket"]["number"] for e in failed] == ["A002"]
    assert "printer busy" in failed[0].payload["reason"] and "出票失败" in app.message
    assert not [e for e in c.store.events() if e.type == "ticket.printed"]
    go.set()
    printed(app)
    done = [e for e in c.store.events() if e.type == "ticket.printed"]
    assert [e.payload["ticket"]["number"] for e in done] == ["A001"]
    app.handle_pygame_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F12, mod=0))
    printed(app)  # F12: A002 again
    done = [e for e in c.store.events() if e.type == "ticket.printed"]
    assert [e.payload["ticket"]["number"] for e in done] == ["A001", "A002"]
    assert app.message is None and len(app.pending) == 0


def test_a_ticket_that_never_prints_leaves_the_queue_on_record(counter):
    c = counter
    app = c.app
    c.printer.fail_reason = "cutter jammed"
    app.issue("cash")
    printed(app)
    shift_f12 = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F12, mod=pygame.KMOD_LSHIFT)
    app.handle_pygame_event(shift_f12)
    types = [e.type for e in c.store.events()]
    assert "ticket.print_abandoned" in types and "ticket.cancelled" in types
    assert app.device.branch.queue.waiting() == []


def test_pausing_asks_the_reason_then_shows_on_pad_and_led(counter):
    c = counter
    app = c.app
    app.press("test", "sign_in")
    app.press("test", "pause")  # F8 or a GPIO button: no reason given
    app.step()
    assert app.session_state() == "idle"  # not yet: the console asks why
    console = panel(app, "console").screen
    assert any("暂停原因" in t for t in console.texts)
    save(c.surface, c.tmp, "pause-reasons")
    app.touch(touch_target(app, "console", ("choose", 2)))
    app.step()
    assert app.session_state() == "paused"
    paused = [e for e in c.store.events() if e.type == "counter.paused"][-1]
    assert (paused.payload["reason"], paused.payload["reason_index"]) == ("交接班", 2)
    assert "暂停服务" in " ".join(panel(app, "pad").screen.texts)
    assert "交接班" in " ".join(console.texts)
    wait_until(
        lambda: any(
            "暂停" in decode_text(f.payload)[1]
            for f in c.pty.frames()
            if f.command == Command.DISPLAY_TEXT
        ),
        "the paused text on the LED display",
    )


def test_an_unanswered_pause_takes_the_first_reason_and_a_number_key_picks_a_band(counter):
    c = counter
    app = c.app
    app.press("test", "sign_in")
    app.press("gpio", "pause")
    app.step()
    c.clock.advance(9)  # nobody chose: a single pause button still pauses
    app.step()
    paused = [e for e in c.store.events() if e.type == "counter.paused"][-1]
    assert paused.payload["reason"] == "暂时离开" and app.session_state() == "paused"
    app.press("test", "resume")
    app.device.issue("cash")
    for name in ("call_next", "start"):
        key(app, name)
    for code in (pygame.K_b, pygame.K_2):  # B, then 2: the second amount band
        app.handle_pygame_event(pygame.event.Event(pygame.KEYDOWN, key=code, mod=0, unicode=""))
        app.step()
    chosen = [e for e in c.store.events() if e.type == "service.band_chosen"]
    assert [e.payload["band_name"] for e in chosen] == ["5万至10万元"]
    assert "限时 10:00" in " ".join(panel(app, "console").screen.texts)


def test_a_keypad_signs_in_by_staff_number_and_a_bad_key_argument_does_not_stop_the_app(counter):
    c = counter
    app = c.app
    app.press("keypad", "sign_in", "1007")
    app.press("keypad", "pause", 42)  # a garbled argument: refused, the loop goes on
    app.step()
    signed = [e for e in c.store.events() if e.type == "counter.signed_in"]
    assert signed[-1].payload["teller"]["staff_no"] == "1007"
    assert app.session_state() == "idle" and app.message


def test_the_kiosk_keeps_its_counts_behind_an_issued_ticket(counter):
    """While a ticket is shown (over the dimmed choice) the queue may move: the kiosk is not
    drawn again for it; once the ticket is dismissed the choice shows the counts of now."""
    app = counter.app
    kiosk = panel(app, "kiosk")
    app.touch(touch_target(app, "kiosk", ("issue", "cash")))
    app.render()
    shown = pygame.image.tobytes(kiosk.target.copy(), "RGB")
    app.device.issue("cash")  # another kiosk's ticket
    dirty = app.render()
    assert not [r for r in dirty if kiosk.rect.colliderect(r)]
    assert pygame.image.tobytes(kiosk.target.copy(), "RGB") == shown
    app.touch(touch_target(app, "kiosk", "dismiss"))
    app.render()
    assert "等候 2 人" in "".join(kiosk.screen.texts)
