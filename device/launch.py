"""Build a running :class:`~device.runtime.PanelApp` from configuration: real or simulated parts.

``[hardware] keys`` chooses GPIO buttons, a serial keypad or the simulated keyboard/mouse;
``[hardware.led_display]`` the counter's RS-485 LED display; ``[voice]`` the announcer;
``[printer]`` the kiosk's printer; ``[screen]`` the window. Everything opened here is closed
by :meth:`Launched.close`, in reverse order.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config.model import Config
from device.app import CHECKPOINT, DeviceApp
from device.clocks import device_clock
from device.runtime import PanelApp
from device.store import EventStore
from domain.clock import Clock
from domain.counter import Teller
from drivers.keys import KeyQueue

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 256 << 10
ARENA_MAX = 2

SERVICE_STUCK_S = 10.0
"""A queue service whose loop has not gone round for this long is stuck: the app stops pinging
systemd's watchdog (the service turns every second)."""


def tune_malloc() -> bool:
    """Keep a long-running app's heap from growing (glibc only; elsewhere nothing happens).

    Panel surfaces (1.5 MB at 800x480, 8 MB at 1080p) are allocated and freed at every change of
    screen. glibc raises its mmap threshold to the size of the largest block freed, so after the
    first one they come from the heap, whose free space fragments and is never given back. A
    fixed threshold keeps every block of 256 KB or more in its own mapping, returned on free.
    Each thread that allocates (MQTT, uplink, heartbeat, voice, ...) would also get its own arena;
    two are plenty for this app.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return False
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(M_ARENA_MAX, ARENA_MAX) == 1 and ok
    if not ok:
        log.info("malloc tuning refused by this C library")
    return ok


def settle_garbage() -> None:
    """Collect once, then leave what start-up made (modules, fonts, configuration, the
    restored branch) out of later collections: a full collection no longer walks it, so it
    takes a fraction of the time and no longer shows as a late frame."""
    gc.collect()
    gc.freeze()


@dataclass
class Launched:
    """The app and everything it owns."""

    app: PanelApp
    store: EventStore
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def close(self) -> None:
        self.stack.close()


def photo_finder(config: Config):
    """``staff_no -> path`` of the teller's photo in ``[screen] photos_dir``: the roster's
    ``photo``, else ``<staff_no>.png`` / ``.jpg``; ``None`` when there is none."""
    folder = getattr(getattr(config, "screen", None), "photos_dir", "")
    if not folder:
        return None

    def find(staff_no: str) -> str | None:
        member = config.staff(staff_no)
        names = [member.photo] if member is not None and member.photo else []
        names += [f"{staff_no}{ext}" for ext in (".png", ".jpg", ".jpeg")]
        for name in names:
            path = Path(folder) / name
            if path.is_file():
                return str(path)
        return None

    return find


def _keys(config: Config, keys: KeyQueue, stack: contextlib.ExitStack) -> None:
    hw = config.hardware
    if hw.keys == "gpio":
        from drivers.gpio import GpioKeys, KeyLeds

        stack.enter_context(GpioKeys(hw.gpio.key_pins(), keys.put, bounce_time=hw.gpio.bounce_s))
        if hw.gpio.rating_leds:
            stack.callback(KeyLeds(hw.gpio.led_pins()).close)
    elif hw.keys == "serial":
        from drivers.serial_keypad import SerialKeypad

        kp = hw.serial_keypad
        keypad = SerialKeypad(kp.port, keys.put, address=kp.address, baudrate=kp.baudrate)
        stack.enter_context(keypad.start())
    # "simulated": the window's keyboard and mouse (PanelApp handles pygame events itself)


def _display(config: Config, stack: contextlib.ExitStack):
    led = config.hardware.led_display
    if not led.enabled:
        return None
    from drivers.led_display import LedDisplay

    display = LedDisplay(led.port, led.address, led.baudrate, charset=led.charset).start()
    stack.callback(display.close)
    return display


def _announcer(config: Config, stack: contextlib.ExitStack, silent: bool):
    from drivers.voice import RecordingAnnouncer, make_announcer

    settings = getattr(config, "voice", None)
    if silent:
        return RecordingAnnouncer(settings, config.texts)
    announcer = make_announcer(settings, config.texts)
    stack.callback(announcer.close, drain=False)
    return announcer


def _printer(config: Config):
    from drivers.printer import PrinterSettings, make_printer

    settings = getattr(config, "printer", None) or PrinterSettings()
    return make_printer(settings, config.texts)


def launch(
    config: Config,
    *,
    db: Path,
    panels: Sequence[str],
    counter: int | None,
    teller: Teller,
    size: tuple[int, int] | None = None,
    fullscreen: bool | None = None,
    silent: bool = False,
    clock: Clock | None = None,
    config_files: Sequence[Path] = (),
    control: Path | None = None,
) -> Launched:
    """Open the store, the drivers, the MQTT link and the window; return the app to :meth:`run`.

    ``config_files`` are the device's own files (the configuration downlink validates what the
    centre sends over them). ``control``: listen there for a simulator's requests
    (:mod:`device.control`). The clock is ``$COUNTERSIDE_CLOCK``'s unless given.
    """
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    tune_malloc()
    screen = getattr(config, "screen", None)
    size = size or tuple(getattr(screen, "size", (800, 480)))
    fullscreen = bool(getattr(screen, "fullscreen", False)) if fullscreen is None else fullscreen
    stack = contextlib.ExitStack()
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        store = stack.enter_context(EventStore(db, config.device.device_id))
        store.claim(CHECKPOINT)  # a second process on this store stops here, before the link
        pygame.display.init()  # no pygame audio: the announcer plays through its own player
        pygame.font.init()
        stack.callback(pygame.quit)
        flags = pygame.FULLSCREEN if fullscreen else 0
        window = pygame.display.set_mode((size[0] * len(panels), size[1]), flags)
        pygame.display.set_caption(f"counterside {' + '.join(panels)}")
        if fullscreen:
            pygame.mouse.set_visible(False)
        keys = KeyQueue()
        _keys(config, keys, stack)
        clock = clock or device_clock()
        restart = []  # set when a new configuration has been applied
        link = None
        if config.mqtt.enabled:  # paho and the sync modules only where they are used
            from device.link import open_link

            link = open_link(
                config,
                db=db,
                clock=clock,
                base_files=list(config_files),
                state_dir=db.parent,
                counters=[counter] if counter is not None else [],
                on_config=lambda _config, _version: restart.append(True),
            )
        if link is not None:
            stack.callback(link.stop)
            if "board" in panels:
                link.watch_calls(wake=keys.wake)  # a heard call is shown at once
        else:  # a stand-alone device records its powered minutes too (开机率), for a later import
            from device.heartbeat import HeartbeatThread

            heartbeat = HeartbeatThread(db, config.device.device_id, clock)
            heartbeat.start()
            stack.callback(heartbeat.stop)
        device = DeviceApp(config, store, clock, queue=link.queue if link else None)
        if link is not None:
            device.subscribe(link.notify)
        app = PanelApp(
            config,
            device,
            window,
            panels=panels,
            counter=counter,
            keys=keys,
            display=_display(config, stack) if counter is not None else None,
            announcer=_announcer(config, stack, silent),
            printer=_printer(config) if "kiosk" in panels else None,
            teller=teller,
            notice=getattr(screen, "notice", ""),
            photo_for=photo_finder(config),
            flip=pygame.display.update,
            remote_calls=link.calls if link is not None else None,
            # input waits for the controller's answers and the store's commits off the frame
            # loop; a board alone takes no input
            input_thread=bool({"pad", "console", "kiosk"} & set(panels)),
        )
        stack.callback(app.close)
        app.restart_flag = restart
        if control is not None:
            from device.control import ControlChannel

            app.control = ControlChannel(control, keys.wake)
            stack.callback(app.control.close)
        if link is not None and link.service is not None:  # the controller's queue service too
            service = link.service
            app.healthy = lambda: service.turning(SERVICE_STUCK_S)
        settle_garbage()
        stack.callback(gc.unfreeze)  # closed, what it made may go like anything else
        return Launched(app, store, stack)
    except BaseException:
        stack.close()
        raise
