"""``counterside``: the command line of a counterside device.

Subcommands: ``config check``, ``store init``, ``today``, ``export``, ``demo-branch``, the apps;
``centre`` is handed to ``central.cli``, ``demo`` and ``simulate`` to ``sim.cli``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from config.errors import ConfigError
from config.loader import find_config, load_config
from config.model import Config
from device.store import EventStore, StoreError
from domain.events import to_json_object
from support.interrupt import take_sigint
from support.pipes import quiet_on_broken_pipe
from support.sdnotify import Service

EXIT_CONFIG, EXIT_STORE = 2, 3
EXIT_RESTART = 75  # a new configuration was applied: systemd starts the app again
CONTROLLER_CHECK_S = 1.0  # how often the controller looks at its queue service for the watchdog
CONTROLLER_STUCK_S = 10.0  # a service loop that has not gone round for this long is stuck


def default_db(config: Config) -> Path:
    """``$COUNTERSIDE_DB``, else ``$COUNTERSIDE_DATA/<device id>.sqlite`` (data dir ``var``)."""
    if os.environ.get("COUNTERSIDE_DB"):
        return Path(os.environ["COUNTERSIDE_DB"])
    return Path(os.environ.get("COUNTERSIDE_DATA", "var")) / f"{config.device.device_id}.sqlite"


def _config(args: argparse.Namespace) -> Config:
    files = args.config or find_config(None)
    return load_config(*files)


def _open_store(args: argparse.Namespace, config: Config, create: bool = False) -> EventStore:
    path = Path(args.db) if args.db else default_db(config)
    if not create and not path.exists():
        raise StoreError(f"{path}: no store here; create it with 'counterside store init'")
    path.parent.mkdir(parents=True, exist_ok=True)
    return EventStore(path, config.device.device_id)


def _day_range(day: date, timezone: str) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), ZoneInfo(timezone))
    return start, start + timedelta(days=1)


def _parse_day(text: str | None, timezone: str) -> date:
    if text is None:
        return datetime.now(ZoneInfo(timezone)).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"counterside: --date must be YYYY-MM-DD, not {text!r}") from None


# -- subcommands ---------------------------------------------------------------------------
def cmd_config_check(args: argparse.Namespace) -> int:
    files = args.files or args.config or find_config(None)
    config = load_config(*files)
    print(
        f"ok: {' + '.join(config.sources)}\n"
        f"branch {config.device.branch_id} ({config.branch_name.zh}), device "
        f"{config.device.device_id}, roles {', '.join(config.device.roles)}; "
        f"{len(config.business_types)} business types, {len(config.counters)} counters, "
        f"{config.rating.scale} rating scale, window {config.rating.window_s:g} s"
    )
    return 0


def cmd_store_init(args: argparse.Namespace) -> int:
    config = _config(args)
    with _open_store(args, config, create=True) as store:
        print(
            f"store {store.path}: device {store.device_id}, schema version "
            f"{store.schema_version()}, last seq {store.last_seq()} "
            f"({store.kept()} events kept), "
            f"{store.outbox_size()} not yet acknowledged"
        )
    return 0


def cmd_store_verify(args: argparse.Namespace) -> int:
    """Walk the store's hash chain: 0 if whole, 1 if an event was deleted, altered or moved."""
    config = _config(args)
    with _open_store(args, config) as store:
        report = store.verify()
    print(report)
    return 0 if report.ok else 1


def _selected_events(args: argparse.Namespace, config: Config, store: EventStore):
    tz = config.device.timezone
    if getattr(args, "all", False):
        return store.events()
    start, _ = _day_range(_parse_day(args.date_from or args.date, tz), tz)
    _, end = _day_range(_parse_day(args.date_to or args.date, tz), tz)
    return store.events_between(start, end)


def cmd_today(args: argparse.Namespace) -> int:
    from domain.report import render_table, transactions

    config = _config(args)
    args.date_from = args.date_to = None
    with _open_store(args, config) as store:
        rows = transactions(_selected_events(args, config, store), config.device.timezone)
    print(render_table(rows))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from domain.report import FIELDS, transactions

    config = _config(args)
    with _open_store(args, config) as store:
        events = _selected_events(args, config, store)
    with _output(args.out) as out:
        if args.what == "events":
            columns = [
                "seq",
                "id",
                "device_id",
                "boot_id",
                "mono",
                "wall",
                "type",
                "payload",
                "prev",
            ]
            writer = csv.DictWriter(out, fieldnames=columns)
            writer.writeheader()
            for e in events:
                row = e.to_dict()
                row["payload"] = json.dumps(
                    to_json_object(e.payload), ensure_ascii=False, sort_keys=True
                )
                writer.writerow(row)
            count = len(events)
        else:
            rows = transactions(events, config.device.timezone)
            writer = csv.DictWriter(out, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(r.to_csv_row() for r in rows)
            count = len(rows)
    print(f"exported {count} {args.what}", file=sys.stderr)
    return 0


def _output(name: str):
    if name == "-":
        return contextlib.nullcontext(sys.stdout)
    return open(name, "w", newline="", encoding="utf-8")


def cmd_demo(args: argparse.Namespace) -> int:
    from device.app import DeviceApp
    from device.console import describe
    from device.simulation import Simulation
    from domain.clock import ManualClock
    from domain.report import render_table, transactions

    config = _config(args)
    tz = ZoneInfo(config.device.timezone)
    opening = datetime.combine(datetime.now(tz).date(), time(8, 30), tz)
    clock = ManualClock(wall=opening, boot="demo")
    with tempfile.TemporaryDirectory(prefix="counterside-demo-") as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "demo.sqlite"
        with EventStore(path, config.device.device_id) as store:
            app = DeviceApp(config, store, clock)
            print(
                f"counterside demo: {config.branch_name.zh} / {config.branch_name.en}, "
                f"{len(app.branch.sessions)} counters, {args.customers} customers, "
                f"store {path}"
            )
            app.subscribe(lambda e: print(describe(e, config), flush=True))
            Simulation(app, clock, customers=args.customers, seed=args.seed).run()
            rows = transactions(store.events(), config.device.timezone)
            print()
            print(render_table(rows))
            print(
                f"\n{store.last_seq()} events stored durably; {store.outbox_size()} in the outbox"
            )
    return 0


def _teller(text: str):
    from domain.counter import Teller

    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise SystemExit(f"counterside: --teller must be STAFF_NO:NAME[:STARS], not {text!r}")
    stars = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else None
    return Teller(parts[0], parts[1], stars)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"counterside: --size must be WIDTHxHEIGHT, not {text!r}") from None
    return w, h


def _effective_config(args: argparse.Namespace) -> tuple[Config, list, Path]:
    """The device's files, plus the centre's last applied configuration when it syncs."""
    files = args.config or find_config(None)
    config = load_config(*files)
    db = Path(args.db) if args.db else default_db(config)
    if config.mqtt.enabled:
        from sync.config_downlink import load_effective

        config, _ = load_effective(files, db.parent)
    return config, files, db


def _run_panels(args: argparse.Namespace, panels: list[str], counter: int | None) -> int:
    from device.launch import launch

    config, files, db = _effective_config(args)
    if counter is not None and counter not in {c.number for c in config.counters}:
        raise SystemExit(f"counterside: counter {counter} is not configured")
    launched = launch(
        config,
        db=db,
        panels=panels,
        counter=counter,
        teller=_teller(args.teller),
        size=_size(args.size) if args.size else None,
        fullscreen=args.fullscreen or None,
        silent=args.silent,
        config_files=[Path(f) for f in files],
        control=Path(args.control) if args.control else None,
    )
    try:
        if args.frames:
            for _ in range(args.frames):
                launched.app.step()
            print(f"{launched.app.frames} frames, {launched.store.last_seq()} events in {db}")
        else:
            launched.app.run()
    except KeyboardInterrupt:  # Ctrl-C, or SIGINT from `counterside demo`: a clean stop
        pass
    finally:
        launched.close()
    return EXIT_RESTART if launched.app.restart_flag else 0


def cmd_counter(args: argparse.Namespace) -> int:
    config = _config(args)
    counter = args.counter if args.counter is not None else config.device.counter
    if counter is None:
        raise SystemExit("counterside: no counter: give --counter N or [device] counter")
    panels = args.panels.split(",") if args.panels else _screen_panels(config)
    return _run_panels(args, panels, counter)


def _screen_panels(config: Config) -> list[str]:
    screen = getattr(config, "screen", None)
    return list(getattr(screen, "panels", ("pad", "console")))


def cmd_controller(args: argparse.Namespace) -> int:
    """A headless branch controller: the queue service, its uplink and heartbeats, until SIGTERM."""
    import threading

    from device.clocks import device_clock
    from device.link import open_link
    from device.store import EventStore

    config, files, db = _effective_config(args)
    if "controller" not in config.device.roles or not config.mqtt.enabled:
        raise SystemExit('counterside: the controller needs roles = ["controller", ...] and [mqtt]')
    db.parent.mkdir(parents=True, exist_ok=True)
    EventStore(db, config.device.device_id).close()  # create or migrate before the threads open it
    restart = threading.Event()
    link = open_link(
        config,
        db=db,
        clock=device_clock(),
        base_files=files,
        state_dir=db.parent,
        client=False,
        on_config=lambda _c, _v: restart.set(),
    )
    assert link is not None
    signal.signal(signal.SIGTERM, lambda *_: restart.set())
    print(f"queue service of {config.device.branch_id} on {config.mqtt.host}:{config.mqtt.port}")
    service = Service()
    service.ready(f"queue service of {config.device.branch_id}")
    try:
        # the watchdog is pinged only while the queue service's own loop goes round
        while not restart.wait(CONTROLLER_CHECK_S):
            if link.service is not None and link.service.turning(CONTROLLER_STUCK_S):
                service.progress()
    except KeyboardInterrupt:
        pass
    finally:
        service.stopping()
        link.stop()
    return 0


def cmd_kiosk(args: argparse.Namespace) -> int:
    return _run_panels(args, ["kiosk"], None)


def cmd_board(args: argparse.Namespace) -> int:
    return _run_panels(args, ["board"], None)


def _panel_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="store file (default: $COUNTERSIDE_DB or var/<device>.sqlite)")
    p.add_argument("--size", help="size of one panel, WIDTHxHEIGHT (default: [screen] size)")
    p.add_argument("--fullscreen", action="store_true", help="full screen, mouse hidden")
    p.add_argument("--silent", action="store_true", help="no sound (announcements recorded only)")
    p.add_argument("--teller", default="0000:柜员", help="who signs in: STAFF_NO:NAME[:STARS]")
    p.add_argument("--frames", type=int, default=0, help="draw N frames and exit (smoke test)")
    p.add_argument("--control", metavar="PATH", help="a Unix socket for a simulator (docs/demo.md)")


# -- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counterside", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        action="append",
        metavar="FILE",
        help="configuration file over the shipped defaults (repeatable; default: "
        "$COUNTERSIDE_CONFIG or /etc/counterside/counterside.toml if present)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    cfg = sub.add_parser("config", help="configuration").add_subparsers(
        dest="action", required=True
    )
    check = cfg.add_parser("check", help="validate configuration files (over the defaults)")
    check.add_argument("files", nargs="*", metavar="FILE")
    check.set_defaults(func=cmd_config_check)

    store = sub.add_parser("store", help="the device's event store")
    store_sub = store.add_subparsers(dest="action", required=True)
    init = store_sub.add_parser("init", help="create (or migrate) the device's store")
    init.add_argument("--db", help="store file (default: $COUNTERSIDE_DB or var/<device>.sqlite)")
    init.set_defaults(func=cmd_store_init)
    verify = store_sub.add_parser(
        "verify", help="check the store's hash chain (no event deleted, altered or reordered)"
    )
    verify.add_argument("--db", help="store file (default: as for init)")
    verify.set_defaults(func=cmd_store_verify)

    today = sub.add_parser("today", help="today's transactions with their timings and limits")
    today.add_argument("--db")
    today.add_argument("--date", help="another day, YYYY-MM-DD (branch local time)")
    today.set_defaults(func=cmd_today, all=False)

    export = sub.add_parser("export", help="export events or transactions as CSV")
    export.add_argument("what", choices=["events", "transactions"])
    export.add_argument("--db")
    export.add_argument("--out", default="-", help="output file (default: standard output)")
    export.add_argument("--date", help="one day, YYYY-MM-DD (default: today)")
    export.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
    export.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD")
    export.add_argument("--all", action="store_true", help="every event the store keeps")
    export.set_defaults(func=cmd_export)

    counter = sub.add_parser("counter", help="run one counter: evaluation pad and teller console")
    counter.add_argument("--counter", type=int, help="counter number (default: [device] counter)")
    counter.add_argument("--panels", help="comma-separated: pad,console[,kiosk,board]")
    _panel_options(counter)
    counter.set_defaults(func=cmd_counter)
    controller = sub.add_parser(
        "controller", help="run the branch queue service headless (roles controller, [mqtt])"
    )
    controller.add_argument("--db", help="store file (default: var/<device>.sqlite)")
    controller.set_defaults(func=cmd_controller)
    kiosk = sub.add_parser("kiosk", help="run the ticket kiosk (with its printer)")
    _panel_options(kiosk)
    kiosk.set_defaults(func=cmd_kiosk)
    board = sub.add_parser("board", help="run the hall call board (which speaks the calls)")
    _panel_options(board)
    board.set_defaults(func=cmd_board)

    sub.add_parser(
        "centre", help="the central office: ingest, devices, uptime, config (counterside centre -h)"
    )

    sub.add_parser("demo", help="the whole system on this machine (counterside demo -h)")
    sub.add_parser("simulate", help="many branches for a load test (counterside simulate -h)")
    demo = sub.add_parser(
        "demo-branch", help="a simulated branch morning in one process, printing every event"
    )
    demo.add_argument("--customers", type=int, default=12)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--db", help="keep the demo's store in this file (default: a temp file)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """SIGPIPE stays ignored (see ``support.pipes``): `counterside export ... | head` ends quietly
    all the same, and no long-running command dies of a write to a vanished broker."""
    argv = list(sys.argv[1:] if argv is None else argv)
    take_sigint()  # a stop by SIGINT works even when started as a script's background job
    if argv[:1] == ["centre"]:  # the central office has its own command line
        from central.cli import main as centre_main

        return centre_main(argv[1:])
    if argv[:1] in (["demo"], ["simulate"]):  # the simulations start the apps as processes
        from sim.cli import main as sim_main

        return sim_main(argv[0], argv[1:])
    return quiet_on_broken_pipe(lambda: _main(argv))


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"counterside: configuration is not valid:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        print(f"counterside: {exc}", file=sys.stderr)
        return EXIT_STORE


if __name__ == "__main__":
    raise SystemExit(main())
