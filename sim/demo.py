"""``counterside demo``: the whole system on this machine, with simulated people.

Started here, each as its own process, as in a branch and its central office: Mosquitto (TLS
with certificates made on the fly, the ACL generated from the roster by ``sync.acl``), the
centre's ingest (``centre.sqlite``), the branch controller's queue service, the ticket kiosk,
the hall board and four counters (pad and teller console each). Simulated customers and tellers
(``sim.day``) act through the apps' control sockets (``device.control``), never on the stores.
Every app reads the same accelerated clock (``--speed``, ``domain.clock.ScaledClock`` handed
over in ``$COUNTERSIDE_CLOCK``). Counter 4 reaches the broker through a relay the demo cuts for a
while: it serves walk-ins without tickets, keeps its events, and catches up when back.

Everything lives in ``--data``: the CA and certificates, the broker's files, the devices' stores,
the centre's database, the logs, the ground truth (``truth.jsonl``) and where the simulated time
stopped (``demo.json``), from which the next run continues.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config.loader import load_config
from device.clocks import ENV as CLOCK_ENV
from device.store import EventStore
from domain.clock import ScaledClock
from sim import configs
from sim.broker import free_port
from sim.central import Central, centre_kpi, start_central
from sim.day import BranchDay
from sim.model import Behaviour
from sim.ports import ControlPort
from sim.processes import Child, child_env, counterside
from sim.proxy import TcpProxy
from sim.truth import TruthLog
from sync.acl import Identity, Role

BRANCH, BRANCH_NAME = "demo-branch", "演示支行"
REGION = "演示省/演示市"  # the centre's region of the branch (the dashboard's drill-down)
CONTROLLER, KIOSK, BOARD = "demo-ctl", "demo-kiosk", "demo-board"
COUNTERS = 4
OFFLINE = 4  # the counter whose network goes down for a while
OPENING, CLOSING = dtime(8, 30), dtime(17, 0)
PROGRESS_S = 5.0  # real seconds between progress lines
STEP_S = 0.02  # real seconds between looks at the simulated people
ACK_WAIT_S = 120.0  # real seconds to wait for the centre at the end
DEMO_USER, DEMO_PASSWORD = "demo", "demo-counterside"


def counter_id(n: int) -> str:
    return f"demo-w{n}"


WINDOW_GAP = 10  # pixels between two windows (the panels are 400x240, a counter 800x240)


def window_position(name: str) -> tuple[int, int]:
    """Where ``--windows`` puts an app's window: the hall board and the kiosk on the first row,
    then the counters two by two (1620x760 in all)."""
    if name == BOARD:
        return 0, 0
    if name == KIOSK:
        return 400 + WINDOW_GAP, 0
    n = int(name.removeprefix("demo-w")) - 1
    return (n % 2) * (800 + WINDOW_GAP), (1 + n // 2) * (240 + 2 * WINDOW_GAP)


class Stop:
    """Ctrl-C (SIGINT) or SIGTERM: the first asks for a clean stop, the second hurries it."""

    def __init__(self) -> None:
        self.asked = False
        self.stopping = False
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
            signal.signal(sig, self._handle)

    def _handle(self, *_: Any) -> None:
        if self.stopping:
            return  # the children are being stopped: another Ctrl-C must not orphan them
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        print("\ndemo: stopping: the centre gets what is on its way, then every process stops")

    def shield(self) -> None:
        """From here on signals are noted, not raised: the stop must reach every child."""
        self.stopping = True


def _start_wall(state: dict[str, Any], tz: ZoneInfo, today: date) -> datetime:
    """Where the simulated time continues: after the last run, or at today's opening."""
    if "clock" not in state:
        return datetime.combine(today, OPENING, tz)
    last = datetime.fromisoformat(state["clock"]).astimezone(tz)
    if last.time() >= CLOSING:
        following = last.date() + timedelta(days=1)
        if following.weekday() == 6:  # closed on Sundays (config/defaults.toml [hours])
            following += timedelta(days=1)
        return datetime.combine(following, OPENING, tz)
    return max(last, datetime.combine(last.date(), OPENING, tz))


def _identities() -> list[Identity]:
    rows = [Identity(BRANCH, CONTROLLER, Role.CONTROLLER)]
    names = [KIOSK, BOARD, *(counter_id(n) for n in range(1, COUNTERS + 1))]
    return rows + [Identity(BRANCH, name, Role.COUNTER) for name in names]


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data: Path = args.data.resolve()
        self.children: list[Child] = []
        self.controller: Child | None = None
        self.dashboard: Child | None = None
        self.central: Central | None = None
        self.relay: TcpProxy | None = None
        self.sockets = Path(tempfile.mkdtemp(prefix="counterside-demo-"))  # short socket paths
        self.stores: dict[str, Path] = {}

    # -- set up --------------------------------------------------------------------------
    def device_files(self, name: str, roles: tuple[str, ...], counter: int, port: int) -> list[str]:
        assert self.central is not None
        host, _, ca, cert, key = self.central.mqtt(name)
        folder = self.data / "config"
        device = configs.device_toml(BRANCH, name, roles, counter, mqtt=(host, port, ca, cert, key))
        return [str(folder / "branch.toml"), str(configs.write(folder / f"{name}.toml", device))]

    def placed(self, env: dict[str, str], name: str) -> dict[str, str]:
        """``env`` with the app's window at its own place on the desktop (``--windows``):
        SDL centres every window, so the six would lie on top of each other."""
        if not self.args.windows:
            return env
        x, y = window_position(name)
        return {**env, "SDL_VIDEO_WINDOW_POS": f"{x},{y}"}

    def app(self, name: str, command: list[str], files: list[str], env: dict[str, str]) -> Child:
        store = self.data / "devices" / name / f"{name}.sqlite"
        self.stores[name] = store
        config = [arg for f in files for arg in ("--config", f)]
        argv = counterside(*config, *command, "--db", str(store))
        return Child(name, argv, self.data / "logs" / f"{name}.log", env).start()

    def start(self, clock: ScaledClock) -> ControlPort:
        # every process started from here on, the centre's too, reads the simulation's time
        # (the centre would otherwise find the accelerated day's events in its future)
        os.environ[CLOCK_ENV] = clock.to_text()
        self.data.mkdir(parents=True, exist_ok=True)
        port = self.args.port or free_port()
        folder = self.data / "config"
        configs.write(folder / "branch.toml", configs.branch_toml(BRANCH, BRANCH_NAME, COUNTERS))
        named = [(BRANCH, BRANCH_NAME, REGION, "branch.toml")]
        centre = configs.write(folder / "centre.toml", configs.centre_toml(named))
        self.central = start_central(self.data, _identities(), port, centre)
        print(f"demo: broker on 127.0.0.1:{port} (TLS, client certificates, ACL from the roster)")
        print(f"demo: centre ingesting into {self.central.db}")
        self.relay = TcpProxy("127.0.0.1", port)
        env = child_env(**{CLOCK_ENV: clock.to_text()})
        if self.args.windows and env.get("SDL_VIDEODRIVER") == "dummy":
            del env["SDL_VIDEODRIVER"]
        panel = ["--silent"] + (["--size", "400x240"] if self.args.windows else [])
        files = self.device_files(CONTROLLER, ("controller",), 1, port)
        self.controller = self.app(CONTROLLER, ["controller"], files, env)
        files = self.device_files(BOARD, ("counter",), 1, port)
        self.children.append(self.app(BOARD, ["board", *panel], files, self.placed(env, BOARD)))
        kiosk = self.sockets / "kiosk.sock"
        files = self.device_files(KIOSK, ("counter",), 1, port)
        self.children.append(
            self.app(
                KIOSK, ["kiosk", *panel, "--control", str(kiosk)], files, self.placed(env, KIOSK)
            )
        )
        counters = {}
        for n in range(1, COUNTERS + 1):
            name = counter_id(n)
            counters[n] = self.sockets / f"{name}.sock"
            via = self.relay.port if n == OFFLINE else port
            files = self.device_files(name, ("counter",), n, via)
            command = ["counter", "--counter", str(n), *panel, "--control", str(counters[n])]
            self.children.append(self.app(name, command, files, self.placed(env, name)))
        how = "windows" if self.args.windows else "headless"
        print(f"demo: controller, hall board, kiosk and {COUNTERS} counters started ({how}); "
              f"logs in {self.data / 'logs'}")  # fmt: skip
        self.start_dashboard()
        return ControlPort(kiosk, counters)

    def start_dashboard(self) -> None:
        assert self.central is not None
        probe = subprocess.run(counterside("centre", "web", "--help"), capture_output=True,
                               check=False, timeout=60)  # fmt: skip
        if probe.returncode != 0:
            print("demo: the dashboard (counterside centre web) is not in this build")
            return
        db = str(self.central.db)
        env = child_env()
        add = subprocess.run(
            counterside("centre", "user", "add", "--db", db, "--role", "central",
                        "--password-stdin", DEMO_USER),
            input=f"{DEMO_PASSWORD}\n", capture_output=True, text=True, check=False, timeout=60,
            env=env,
        )  # fmt: skip
        if add.returncode != 0 and "exist" not in add.stderr:
            print(f"demo: the demo user was not made: {add.stderr.strip()}")
        web_port = free_port()
        argv = counterside("centre", "web", "--db", db, "--host", "127.0.0.1",
                           "--port", str(web_port))  # fmt: skip
        if self.central.config is not None:  # the branch's name, region, hours and roster
            argv += ["--config", str(self.central.config)]
        self.dashboard = Child("web", argv, self.data / "logs" / "web.log", env).start()
        print(f"demo: dashboard at http://127.0.0.1:{web_port}/ "
              f"(sign in as {DEMO_USER} / {DEMO_PASSWORD})")  # fmt: skip

    def wait_ready(self, port: ControlPort, stop: Stop, timeout: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout
        for n, client in port.counters.items():
            while not client.ask(op="state").get("ok"):
                if stop.asked or time.monotonic() > deadline:
                    return False
                dead = [c.name for c in self.children if not c.alive]
                if dead:
                    print(f"demo: {', '.join(dead)} stopped at start: see {self.data / 'logs'}")
                    return False
                time.sleep(0.2)
            print(f"demo: counter {n} is up")
        return True

    # -- the end -------------------------------------------------------------------------
    def unacknowledged(self, upto: dict[str, int]) -> int:
        """Events up to ``upto`` (device -> seq) the centre has not acknowledged yet."""
        left = 0
        for name, last in upto.items():
            with EventStore(self.stores[name], name, durable=False) as store:
                left += max(0, last - store.acked_seq())
        return left

    def last_seqs(self) -> dict[str, int]:
        seqs = {}
        for name, path in self.stores.items():
            if path.exists():
                with EventStore(path, name, durable=False) as store:
                    seqs[name] = store.last_seq()
        return seqs

    def wait_for_centre(self, timeout: float) -> bool:
        if self.relay is not None:
            self.relay.restore()
        upto = self.last_seqs()
        started = time.monotonic()
        while (left := self.unacknowledged(upto)) > 0:
            if time.monotonic() - started > timeout:
                print(f"demo: {left} events not acknowledged yet: they are kept and sent next run")
                return False
            print(f"demo: waiting for the centre: {left} events on their way")
            time.sleep(1.0)
        print("demo: the centre has acknowledged every event of the day")
        return True

    def stop(self) -> None:
        for child in self.children:
            child.interrupt()
        for child in self.children:
            child.wait(20)
        for last in (self.controller, self.dashboard):
            if last is not None:
                last.stop(20)
        if self.relay is not None:
            self.relay.close()
        if self.central is not None:
            self.central.stop()
        shutil.rmtree(self.sockets, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    if args.speed <= 0 or (args.hours is not None and args.hours <= 0) or args.startup < 0:
        raise SystemExit("counterside demo: --speed and --hours must be positive")
    data: Path = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    state_path = data / "demo.json"
    state = json.loads(state_path.read_text("utf-8")) if state_path.exists() else {}
    tz = ZoneInfo(load_config().device.timezone)
    start = _start_wall(state, tz, args.day or datetime.now(tz).date())
    closing = datetime.combine(start.date(), CLOSING, tz)
    close = min(closing, start + timedelta(hours=args.hours)) if args.hours else closing
    run_no = int(state.get("runs", 0)) + 1
    # the day begins once the apps are up: the clock stands at the start until then
    epoch = time.monotonic() + args.startup
    clock = ScaledClock(epoch, start, args.speed, f"demo-{run_no}-{uuid.uuid4()}")
    print(f"counterside demo: {BRANCH_NAME}, {COUNTERS} counters, data in {data}, run {run_no}: "
          f"{start:%Y-%m-%d %H:%M} to {close:%H:%M} at {args.speed:g}x")  # fmt: skip
    stop = Stop()
    demo = Demo(args)
    truth = TruthLog(data / "truth.jsonl")
    ended = start
    finished = failed = False
    try:
        port = demo.start(clock)
        if not demo.wait_ready(port, stop):
            return 1
        config = load_config(data / "config" / "branch.toml")
        types = [bt.code for bt in config.business_types]
        people = Behaviour(args.seed * 7919 + run_no, types, COUNTERS)

        def say(text: str) -> None:
            print(f"{clock.now().wall.astimezone(tz):%H:%M} {text}", flush=True)

        day = BranchDay(BRANCH, config, port, people, truth, opening=start, close=close, say=say,
                        resumed=run_no > 1)  # fmt: skip
        span = (close - start).total_seconds()
        off_at = start + timedelta(seconds=0.3 * span)
        back_at = off_at + timedelta(seconds=min(0.25 * span, 40 * 60))
        offline = False
        shown = 0.0
        while not stop.asked and not day.done():
            now = clock.now().wall
            assert demo.relay is not None
            if not offline and off_at <= now < back_at:
                demo.relay.cut()
                offline = True
                print(f"{now.astimezone(tz):%H:%M} counter {OFFLINE}: network down "
                      "(it serves without tickets and keeps its events)")  # fmt: skip
            elif offline and now >= back_at:
                demo.relay.restore()
                offline = False
                print(f"{now.astimezone(tz):%H:%M} counter {OFFLINE}: network back, catching up")
            day.step(now)
            ended = now
            if time.monotonic() - shown >= PROGRESS_S:
                shown = time.monotonic()
                dead = [c.name for c in demo.children if not c.alive]
                if dead:
                    print(f"demo: {', '.join(dead)} stopped unexpectedly: see {data / 'logs'}")
                    failed = True
                    break
                phases = " ".join(f"{t.counter}:{t.phase}" for t in day.tellers)
                say(
                    f"tickets {day.issued}, served {day.served}, rated {day.rated}, "
                    f"waiting {len(day.waiting)} | {phases}"
                )
            time.sleep(STEP_S)
        finished = day.done()
        demo.wait_for_centre(ACK_WAIT_S if finished else 20.0)
    except KeyboardInterrupt:
        print("demo: stopping at once")
    finally:
        stop.shield()
        truth.close()
        # the next run continues after everything this one stored: saved first, then again
        # once the apps (whose clocks ran on while they stopped) are down
        ended = max(ended, clock.now().wall, close if finished else ended)
        state.update(clock=ended.isoformat(), runs=run_no)
        state_path.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
        demo.stop()
        print("demo: every process stopped")
        ended = max(ended, clock.now().wall)
        state.update(clock=ended.isoformat())
        state_path.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    if finished and demo.central is not None:
        print(f"\nKPIs of {start.date()} at the centre (counterside centre kpi), as of "
              f"{ended.astimezone(start.tzinfo):%H:%M}:")  # fmt: skip
        print(centre_kpi(demo.central.db, start.date(), at=ended, config=demo.central.config))
    return 1 if failed else 0
