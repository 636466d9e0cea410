"""``counterside centre``: run the central ingest, list devices, compute uptime, publish a
branch's configuration.

    counterside centre run --db FILE --host H [--port P] [--ca CA --cert CRT --key KEY]
                           [--username U --password-env VAR] [--client-id ID] [--share-group G]
    counterside centre devices --db FILE
    counterside centre uptime --db FILE --device ID --from YYYY-MM-DD --to YYYY-MM-DD
                              [--config FILE ...]
    counterside centre config publish --branch B --version N --file BRANCH.toml --host H
                              [--port P] [--ca CA --cert CRT --key KEY] [--no-check]
    counterside centre kpi --db DB --from YYYY-MM-DD --to YYYY-MM-DD
                           --by bank|region|branch|counter|teller|business_type
                           [--branch B ...] [--config CENTRE.toml] [--format table|csv|json]
    counterside centre ranking --db DB --by teller|branch --from D --to D [--config ...]
    counterside centre timing --db DB --by bank|branch|business_type --from D --to D [...]
    counterside centre trust --db DB --from D --to D [--config ...] [--format ...]
    counterside centre alerts list|check --db DB [--branch B] [--open] [--format ...]
    counterside centre alerts ack ID --by NAME --db DB
    counterside centre rebuild --db DB [--config CENTRE.toml]
    counterside centre import FILE.sqlite --db DB --branch B [--config CENTRE.toml]
    counterside centre followup list --db DB [--branch B ...] [--open|--overdue|--closed]
                                     [--today D] [--format table|csv|json] [--config ...]
    counterside centre followup assign ID --to NAME --by NAME --db DB
    counterside centre followup note ID --text T --by NAME --db DB
    counterside centre followup close ID --verdict T --by NAME --db DB
    counterside centre followup dispute ID --reason T --by NAME [--lift] --db DB
    counterside centre followup history ID --db DB [--format table|csv|json]
    counterside centre followup redate --by NAME --db DB [--config CENTRE.toml]
    counterside centre web --db DB [--host H] [--port 8080] [--poll-seconds 15]
                           [--config CENTRE.toml]
    counterside centre user add NAME --role central|region|branch|viewer [--region R | --branch B]
                                [--password-stdin] --db DB
    counterside centre user passwd NAME [--password-stdin] --db DB
    counterside centre user disable NAME [--enable] --db DB
    counterside centre user list --db DB
    counterside centre user token NAME [--label L | --revoke] --db DB

``main(argv)`` takes the arguments after ``centre``; ``python -m central`` runs it too.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from central import accounts, followup
from central.database import is_postgres, shown
from central.imports import ImportFailed, import_store
from central.ingest import CentralIngest
from central.kpi import LEVELS, kpis
from central.output import (
    alert_fields,
    alerts_table,
    followup_table,
    history_table,
    kpi_table,
    ranking_table,
    timing_table,
    trust_table,
    write_rows,
)
from central.publish import PublishError, publish_config
from central.ranking import RANKED_BY, ranking
from central.store import CentralStore, CentralStoreError
from central.timing import TIMING_LEVELS, timing
from central.trust import trust
from central.uptime import uptime
from config.centre import CentreConfig, load_centre_config
from config.errors import ConfigError
from config.loader import find_config, load_config
from domain.clock import wall_now_from
from support.pipes import quiet_on_broken_pipe
from support.sdnotify import Service
from sync.connection import LinkState
from sync.settings import ConnectionSettings, IngestSettings, TlsSettings

DB_HELP = "the central store: an SQLite file, or a postgresql:// URL"


def _broker_options(p: argparse.ArgumentParser, whose: str, client_id: str) -> None:
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=8883)
    p.add_argument("--ca", type=Path, help="CA certificate (enables TLS)")
    p.add_argument("--cert", type=Path, help=f"{whose} client certificate (CN = identity)")
    p.add_argument("--key", type=Path)
    p.add_argument("--username")
    p.add_argument("--password-env", help="environment variable holding the password")
    p.add_argument("--client-id", default=client_id)


def _connection(args: argparse.Namespace, **changes) -> ConnectionSettings:
    tls = TlsSettings(args.ca, args.cert, args.key) if args.ca else None
    password = os.environ.get(args.password_env) if args.password_env else None
    return ConnectionSettings(
        args.host,
        args.port,
        client_id=args.client_id,
        tls=tls,
        username=args.username,
        password=password,
        **changes,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counterside centre", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="consume device events until SIGTERM")
    run.add_argument("--db", required=True, help=DB_HELP)
    _broker_options(run, "this ingest's", "centre")
    run.add_argument("--share-group", help="subscribe through $share/<group>/ (several workers)")
    run.add_argument("--keepalive", type=int, default=30)
    run.add_argument("--resend-interval", type=float, default=5.0)
    run.add_argument("-v", "--verbose", action="store_true")
    _centre_option(run)
    devices = sub.add_parser("devices", help="per-device progress and status")
    devices.add_argument("--db", required=True, help=DB_HELP)
    up = sub.add_parser("uptime", help="开机率 of one device over whole days [from, to)")
    up.add_argument("--db", required=True, help=DB_HELP)
    up.add_argument("--device", required=True)
    up.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    up.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    up.add_argument("--config", action="append", type=Path, help="configuration file(s)")
    config = sub.add_parser("config", help="the branches' configuration")
    config_sub = config.add_subparsers(dest="action", required=True)
    publish = config_sub.add_parser(
        "publish",
        help="publish a branch's configuration (retained), with the publisher's own certificate",
    )
    publish.add_argument("--branch", required=True)
    publish.add_argument("--version", type=int, required=True, help="greater than the last one")
    publish.add_argument("--file", type=Path, required=True, help="the branch's TOML")
    publish.add_argument("--no-check", action="store_true", help="publish without validating")
    _broker_options(publish, "the publisher's (role publisher, never the ingest's)", "publisher")
    kpi = sub.add_parser("kpi", help="KPIs per group over whole business days [from, to]")
    ranking = sub.add_parser("ranking", help="tellers or branches by the lower bound of 满意率")
    timed = sub.add_parser("timing", help="满意率 by waiting-time band and service over limit")
    trusted = sub.add_parser("trust", help="signals that ratings were not given freely")
    for p, levels in ((kpi, LEVELS), (ranking, RANKED_BY), (timed, TIMING_LEVELS), (trusted, None)):
        p.add_argument("--db", required=True, help=DB_HELP)
        p.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
        p.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
        if levels is not None:
            p.add_argument("--by", choices=levels, required=True)
        p.add_argument("--format", choices=("table", "csv", "json"), default="table")
        _centre_option(p)
    kpi.add_argument("--branch", action="append", default=[], help="only this branch (repeat)")
    alerting = sub.add_parser("alerts", help="alerts: list, acknowledge, check the clock's")
    alert_sub = alerting.add_subparsers(dest="action", required=True)
    listing = alert_sub.add_parser("list", help="newest first")
    listing.add_argument("--branch")
    listing.add_argument("--open", action="store_true", help="only those not acknowledged")
    listing.add_argument("--format", choices=("table", "csv", "json"), default="table")
    ack = alert_sub.add_parser("ack", help="acknowledge an alert")
    ack.add_argument("id", type=int)
    ack.add_argument("--by", required=True, help="who acknowledges it")
    check = alert_sub.add_parser("check", help="raise the alerts that depend on the clock now")
    for p in (listing, ack, check):
        p.add_argument("--db", required=True, help=DB_HELP)
        _centre_option(p)
    rebuild = sub.add_parser("rebuild", help="recompute transactions and rollups from the events")
    rebuild.add_argument("--db", required=True, help=DB_HELP)
    _centre_option(rebuild)
    imp = sub.add_parser("import", help="import a device's event store file (idempotent)")
    imp.add_argument("file", type=Path, help="the device's SQLite store")
    imp.add_argument("--db", required=True, help=DB_HELP)
    imp.add_argument("--branch", required=True, help="the branch the device belongs to")
    _centre_option(imp)
    _followup_parser(sub)
    _web_parser(sub)
    return parser


def _web_parser(sub) -> None:
    web = sub.add_parser("web", help="serve the dashboard (docs/dashboard.md)")
    web.add_argument("--db", required=True, help=DB_HELP)
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    web.add_argument("--port", type=int, default=8080)
    web.add_argument(
        "--idle-minutes", type=int, default=30, help="a session ends after so long unused (30)"
    )
    web.add_argument(
        "--secure-cookies", action="store_true", help="cookies only over HTTPS (behind TLS)"
    )
    web.add_argument(
        "--poll-seconds", type=_positive_seconds, default=15.0,
        help="how often an open page asks for new alerts and the devices' status (15)",
    )  # fmt: skip
    _centre_option(web)
    user = sub.add_parser("user", help="the dashboard's users")
    actions = user.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="a new user (asks for the password)")
    add.add_argument("--role", choices=accounts.ROLES, required=True)
    add.add_argument("--region", help='the region of a region manager (or viewer), "浙江省/杭州市"')
    add.add_argument("--branch", help="a branch manager's (or viewer's) branch")
    passwd = actions.add_parser("passwd", help="a new password (their sessions end)")
    disable = actions.add_parser("disable", help="no more sign-ins (their sessions end)")
    disable.add_argument("--enable", action="store_true", help="enable the user again")
    listing = actions.add_parser("list", help="every user with role and scope")
    token = actions.add_parser(
        "token", help="a new API token of the user, for a BI system (shown once)"
    )
    token.add_argument("--label", default="", help="what it is for")
    token.add_argument("--revoke", action="store_true", help="end every API token of the user")
    for p in (add, passwd, disable, token):
        p.add_argument("name", metavar="NAME")
    for p in (add, passwd):
        p.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin (never give it as an argument)",
        )
    for p in (add, passwd, disable, listing, token):
        p.add_argument("--db", required=True, help=DB_HELP)


def _followup_parser(sub) -> None:
    fu = sub.add_parser("followup", help="follow-up items of bad ratings (差评回访)")
    actions = fu.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the items, by deadline")
    listing.add_argument("--branch", action="append", default=[], help="only this branch (repeat)")
    which = listing.add_mutually_exclusive_group()
    for name, help_ in (
        ("open", "only open items"),
        ("overdue", "only open items past their deadline"),
        ("closed", "only closed items"),
    ):
        which.add_argument(f"--{name}", dest="which", action="store_const", const=name, help=help_)
    listing.set_defaults(which="all")
    listing.add_argument(
        "--today",
        type=date.fromisoformat,
        help="the date overdue items and working days left are counted at (default: today in "
        "each branch's time zone)",
    )
    parsers = {"list": listing}
    for action, help_, text in (
        ("assign", "make a person responsible for an open item", ("--to", "who is responsible")),
        ("note", "add a note to an item", ("--text", "the note")),
        ("close", "close an open item with its verdict", ("--verdict", "what was found and done")),
        ("dispute", "mark the rating disputed: the customer was at fault (委屈奖)",
         ("--reason", "why (with --lift: why the dispute is lifted)")),
        ("history", "an item and its audit trail", None),
        ("redate", "compute the deadlines of open items again (new holidays, configuration)",
         None),
    ):  # fmt: skip
        p = parsers[action] = actions.add_parser(action, help=help_)
        if action != "redate":
            p.add_argument("item", type=int, metavar="ID", help="the item's number")
        if text is not None:
            metavar = "NAME" if text[0] == "--to" else "TEXT"
            p.add_argument(text[0], dest="text", metavar=metavar, required=True, help=text[1])
        if action != "history":
            p.add_argument(
                "--by",
                metavar="NAME",
                required=True,
                help="who makes the change (kept in the trail)",
            )
    parsers["dispute"].add_argument("--lift", action="store_true", help="lift the dispute")
    for p in parsers.values():
        p.add_argument("--db", required=True, help=DB_HELP)
        _centre_option(p)
    for action in ("list", "history"):
        parsers[action].add_argument("--format", choices=("table", "csv", "json"), default="table")


def _centre_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        dest="centre_config",
        type=Path,
        help="the centre's configuration (branches, regions, hours, KPI targets)",
    )


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    connection = _connection(args, keepalive_s=args.keepalive)
    settings = IngestSettings(args.share_group, resend_interval_s=args.resend_interval)
    service = Service()
    ingest = CentralIngest(
        args.db, connection, settings, centre=_centre(args), on_progress=service.progress
    )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    ingest.connection.add_state_listener(_say_connected)
    print(f"centre: ingesting into {args.db} from {args.host}:{args.port}", flush=True)
    ingest.start(timeout=None)  # a migration of a large database takes its time
    service.ready(f"ingesting into {shown(args.db)}")
    done.wait()  # a stop is never held up by a broker that cannot be reached
    service.stopping()
    ingest.stop()
    print(f"centre: stopped; {ingest.stats}", flush=True)
    return 0


def _say_connected(state: LinkState) -> None:
    if state is LinkState.CONNECTED:
        print("centre: connected", flush=True)


def _devices(args: argparse.Namespace) -> int:
    with CentralStore(args.db) as store:
        kept = Counter(q["device_id"] for q in store.quarantined())
        breaks = Counter(b.device for b in store.chain_breaks())
        print(
            "device\tbranch\tcontiguous\tmax\tevents\tduplicates\tconflicts\tquarantined\t"
            "chain breaks\tstatus\tlast seen\tstore"
        )  # the figures are those of the device's current event store
        for d in store.devices():
            replaced = f" (after {d.stores - 1} replaced)" if d.stores > 1 else ""
            print(
                f"{d.device_id}\t{d.branch}\t{d.contiguous_seq}\t{d.max_seq}\t{d.events}\t"
                f"{d.duplicates}\t{d.conflicts}\t{kept[d.device_id]}\t{breaks[d.device_id]}\t"
                f"{d.status or '-'}\t{d.last_seen or '-'}\t{_store_name(d.store)}{replaced}"
            )
    quarantined = sum(kept.values())
    if quarantined:
        unnamed = kept[None]
        print(
            f"{quarantined} message(s) in quarantine"
            + (f", {unnamed} of no known device" if unnamed else "")
        )
    return 0


def _store_name(store: str | None) -> str:
    if store is None:
        return "-"
    return store[:8] if store else "(unnamed)"


def _publish(args: argparse.Namespace) -> int:
    try:
        toml = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"counterside centre: {args.file}: cannot read it: {exc}", file=sys.stderr)
        return 2
    try:
        done = publish_config(
            _connection(args), args.branch, args.version, toml, check=not args.no_check
        )
    except PublishError as exc:
        print(f"counterside centre: configuration not published:\n{exc}", file=sys.stderr)
        return 2
    said = "already published" if done.already else "published"
    print(f"configuration version {done.version} {said} on {done.topic} (retained)")
    return 0


def _uptime(args: argparse.Namespace) -> int:
    try:
        config = load_config(*(args.config or find_config(None)))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    zone = ZoneInfo(config.device.timezone)
    start = datetime.combine(args.start, time(0), zone)
    end = datetime.combine(args.end, time(0), zone)
    with CentralStore(args.db) as store:
        beats = store.heartbeat_minutes(args.device, start, end)
    result = uptime(beats, config.hours, args.start, args.end, config.device.timezone)
    rate = "-" if result.rate is None else f"{result.rate:.2%}"
    print(
        f"{args.device} {args.start}..{args.end}: powered {result.powered_minutes} of "
        f"{result.business_minutes} business minutes, 开机率 {rate}"
    )
    return 0


def _centre(args: argparse.Namespace) -> CentreConfig:
    return load_centre_config(args.centre_config)


def _kpi(args: argparse.Namespace) -> int:
    centre = _centre(args)
    with CentralStore(args.db, centre=centre) as store, store.snapshot():
        rows = kpis(
            store.query, centre, args.start, args.end, args.by, branches=args.branch,
            now=_now(),
        )  # fmt: skip
    write_rows(rows, args.format, sys.stdout, table=kpi_table)
    return 0


def _ranking(args: argparse.Namespace) -> int:
    centre = _centre(args)
    with CentralStore(args.db, centre=centre) as store, store.snapshot():
        rows = ranking(store.query, centre, args.start, args.end, args.by)
    write_rows(rows, args.format, sys.stdout, table=ranking_table)
    return 0


def _timing(args: argparse.Namespace) -> int:
    centre = _centre(args)
    with CentralStore(args.db, centre=centre) as store, store.snapshot():
        rows = timing(store.query, centre, args.start, args.end, args.by)
    write_rows(rows, args.format, sys.stdout, table=timing_table)
    return 0


def _trust(args: argparse.Namespace) -> int:
    centre = _centre(args)
    with CentralStore(args.db, centre=centre) as store, store.snapshot():
        rows = trust(store.query, centre, args.start, args.end)
    write_rows(rows, args.format, sys.stdout, table=trust_table)
    return 0


def _alerts(args: argparse.Namespace) -> int:
    now = _now()
    with CentralStore(args.db, centre=_centre(args)) as store:
        if args.action == "ack":
            try:
                done = store.acknowledge_alert(args.id, args.by, now)
            except (LookupError, ValueError) as exc:
                print(f"counterside centre: {exc.args[0]}", file=sys.stderr)
                return 2
            print(f"alert {done.id} acknowledged by {done.acked_by}")
            return 0
        if args.action == "check":
            touched = store.evaluate_alerts(now)
            print(f"alerts checked; new ones at: {', '.join(sorted(touched)) or 'none'}")
            return 0
        rows = store.alerts(branch=args.branch, open_only=args.open)
    write_rows([alert_fields(a) for a in rows], args.format, sys.stdout, table=alerts_table)
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    with CentralStore(args.db, centre=_centre(args)) as store:
        counted = store.rebuild()
    print(f"rebuilt the transactions and rollups from {counted} events")
    return 0


def _import(args: argparse.Namespace) -> int:
    with CentralStore(args.db, centre=_centre(args)) as store:
        done = import_store(store, args.file, args.branch, _now())
    print(
        f"imported {args.file}: {done.events} events of device {done.device} "
        f"(store {_store_name(done.store)}): {done.stored} new, {done.duplicates} already held"
        + (f", {done.invalid} quarantined" if done.invalid else "")
        + (
            f"; {done.lost} seqs the device deleted were never held here: filed as lost"
            if done.lost
            else ""
        )
    )
    return 0


def _followup(args: argparse.Namespace) -> int:
    centre = _centre(args)
    now = _now()
    with CentralStore(args.db, centre=centre) as store:
        if args.action == "list":
            rows = followup.items(
                store.query, centre, args.today or now, which=args.which, branches=args.branch
            )
            write_rows(rows, args.format, sys.stdout, table=followup_table)
            return 0
        if args.action == "history":
            item = followup.get_item(store.query, args.item)
            trail = followup.history(store.query, args.item)
            if args.format == "table":
                print(_item_line(item))
            write_rows(trail, args.format, sys.stdout, table=history_table)
            return 0
        if args.action == "redate":
            changed = store.write(
                "redate follow-up items",
                lambda e, q: followup.redate(e, q, centre, by=args.by, at=now),
            )
            for item_id, old, new in changed:
                print(f"follow-up item {item_id}: due {new} (was {old})")
            print(f"{len(changed)} deadline(s) changed")
            return 0
        change, done = {
            "assign": (followup.assign, f"assigned to {args.text}"),
            "note": (followup.note, "note added"),
            "close": (followup.close, "closed"),
            "dispute": (followup.dispute, "disputed"),
        }[args.action]
        if args.action == "dispute" and args.lift:
            change, done = followup.lift, "dispute lifted"
        store.write(
            f"follow-up item {args.item}: {args.action}",
            lambda e, q: change(e, q, args.item, args.text, by=args.by, at=now),
        )
    print(f"follow-up item {args.item}: {done}")
    return 0


def _item_line(item: dict) -> str:
    where = " ".join(
        str(x)
        for x in (item["branch"], f"{item['counter']}号窗口", item["teller"], item["teller_name"])
        if x
    )
    state = item["status"] + (f", owner {item['owner']}" if item["owner"] else "")
    if item["status"] == "closed":
        state += f": {item['verdict']}"
    disputed = f"; disputed: {item['dispute_reason']}" if item["disputed"] else ""
    due = item["deadline"] + (" (provisional)" if item["provisional"] else "")
    return (
        f"follow-up item {item['id']}: {where}, ticket {item['ticket'] or '-'}, rating "
        f"{' '.join(str(x) for x in (item['rating'], item['rating_label']) if x)} at "
        f"{item['rated_at']}; due {due}; "
        f"{state}{disputed}"
    )


def _web(args: argparse.Namespace) -> int:
    try:
        from central.web.serve import serve
    except ImportError as exc:
        print(
            f"counterside centre web: {exc.name} is missing; install the web extra: "
            "pip install 'counterside[web]'",
            file=sys.stderr,
        )
        return 2
    serve(
        args.db, _centre(args), host=args.host, port=args.port, idle_minutes=args.idle_minutes,
        secure_cookies=args.secure_cookies, poll_s=args.poll_seconds,
    )  # fmt: skip
    return 0


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text}: give 1 to 3600 seconds")
    return value


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise accounts.AccountError("the two passwords differ")
    return first


def _user(args: argparse.Namespace) -> int:
    now = _now()
    password = _password(args) if args.action in ("add", "passwd") else ""
    new = not is_postgres(args.db) and not Path(args.db).exists()
    if args.action == "add":  # all checked before a new store is made for it
        accounts.check_new_user(
            args.name, args.role, password, region=args.region, branch=args.branch
        )
    with CentralStore(args.db) as store:
        if new:
            print(f"a new central store: {args.db}")
        if args.action == "list":
            print("name\trole\tscope\tstate")
            for u in accounts.users(store.query):
                scope = u.region or u.branch or "(all)"
                print(f"{u.name}\t{u.role}\t{scope}\t{'disabled' if u.disabled else 'enabled'}")
            return 0
        if args.action == "token":
            if args.revoke:
                ended = store.write("revoke", lambda e, q: accounts.revoke_tokens(e, q, args.name))
                print(f"{ended} API token(s) of {args.name} revoked")
                return 0
            made = store.write(
                "token", lambda e, q: accounts.add_token(e, q, args.name, args.label, at=now)
            )
            print(made)  # shown once: the database keeps only its hash
            return 0
        if args.action == "disable":
            store.write(
                f"user {args.name}",
                lambda e, q: accounts.set_disabled(e, q, args.name, not args.enable, at=now),
            )
            print(f"user {args.name} {'enabled' if args.enable else 'disabled'}")
            return 0
        if args.action == "add":
            user = store.write(
                f"add user {args.name}",
                lambda e, q: accounts.add_user(
                    e, q, args.name, args.role, password, region=args.region,
                    branch=args.branch, at=now,
                ),
            )  # fmt: skip
            print(f"user {user.name} added: {user.role} {user.region or user.branch or ''}")
            return 0
        store.write(
            f"password of {args.name}",
            lambda e, q: accounts.set_password(e, q, args.name, password, at=now),
        )
        print(f"password of {args.name} changed; their sessions ended")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return quiet_on_broken_pipe(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    # only the ingest (run), an import and the first user of a dashboard (docs/dashboard.md's
    # first step) may make a new central store; a mistyped path elsewhere is an error
    first_user = args.command == "user" and args.action == "add"
    existing = args.command not in ("run", "import", "config") and not first_user
    if existing and not is_postgres(args.db) and not Path(args.db).is_file():
        print(f"counterside centre: {args.db}: no central store here", file=sys.stderr)
        return 3
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    if start is not None and end is not None and start > end:
        print(f"counterside centre: --from {start} is after --to {end}", file=sys.stderr)
        return 2
    try:
        commands = {
            "run": _run,
            "devices": _devices,
            "uptime": _uptime,
            "config": _publish,
            "kpi": _kpi,
            "ranking": _ranking,
            "timing": _timing,
            "trust": _trust,
            "alerts": _alerts,
            "rebuild": _rebuild,
            "import": _import,
            "followup": _followup,
            "web": _web,
            "user": _user,
        }
        return commands[args.command](args)
    except CentralStoreError as exc:
        print(f"counterside centre: {exc}", file=sys.stderr)
        return 3
    except ConfigError as exc:
        print(f"counterside centre: the centre's configuration:\n{exc}", file=sys.stderr)
        return 2
    except ImportFailed as exc:
        print(f"counterside centre: {exc}", file=sys.stderr)
        return 2
    except followup.FollowupError as exc:
        print(f"counterside centre followup: {exc}", file=sys.stderr)
        return 1
    except accounts.AccountError as exc:
        print(f"counterside centre user: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


def _now() -> datetime:
    """The centre's time: the machine's, or a simulation's (``$COUNTERSIDE_CLOCK``)."""
    return wall_now_from(os.environ)()
