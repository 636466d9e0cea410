"""Broker security from the roster: the Mosquitto ACL file and configuration snippets.

The roster lists every identity as (branch, name, role). ``name`` is the CN of the identity's
client certificate, which Mosquitto uses as the MQTT username (``use_identity_as_username``), so
the ACL has one ``user`` block per name with explicit topics: a device's branch is not in its
username, and ``pattern`` lines with ``%u`` would have to leave the branch open (``cs/v1/+/%u/...``)
and let a device speak for itself in another branch. Explicit lines are exact; regenerate the file
and send the broker SIGHUP when the roster changes. Names not in the roster get no rights at all.

Usage: ``python -m sync.acl ROSTER.csv [--out FILE]`` with a CSV ``branch,name,role`` (branch empty
for ``central``/``publisher``/``monitor`` identities that see every branch). See docs/security.md.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sync import topics
from sync.topics import Kind


class Role(StrEnum):
    """What an identity may do; the first three are the configuration's ``[device] roles``."""

    COUNTER = "counter"  # evaluation pad + caller at one window
    CONTROLLER = "controller"  # the branch's queue service (also a device with its own events)
    CENTRAL = "central"  # a central-office ingest worker
    PUBLISHER = "publisher"  # publishes the branches' configuration (counterside centre config)
    BRIDGE = "bridge"  # a branch broker's bridge connection to the central broker
    MONITOR = "monitor"  # read-only tooling


DEVICE_ROLES = frozenset({Role.COUNTER, Role.CONTROLLER})
BRANCH_REQUIRED = frozenset({Role.COUNTER, Role.CONTROLLER, Role.BRIDGE})


@dataclass(frozen=True, slots=True)
class Identity:
    """One roster row. ``branch`` None = every branch (central, publisher and monitor)."""

    branch: str | None
    name: str
    role: Role


class RosterError(ValueError):
    """Every problem found in a roster, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


READ, WRITE, READWRITE = "read", "write", "readwrite"


def check_roster(roster: Iterable[Identity], *, source: str = "roster") -> list[Identity]:
    """Return the roster as a list, or raise RosterError naming every bad row and why."""
    rows = list(roster)
    problems: list[str] = []
    branch_of: dict[str, str | None] = {}
    roles_of: dict[str, set[Role]] = {}
    for i, row in enumerate(rows, start=1):
        where = f"{source}: row {i} ({row.name!r})"
        try:
            role = Role(row.role)
        except ValueError:
            problems.append(f"{where}: role {row.role!r} is not one of {', '.join(Role)}")
            continue
        if not topics.is_valid_id(row.name):
            problems.append(f"{where}: name must match [A-Za-z0-9_-]{{1,32}} (the cert CN)")
            continue
        if role in DEVICE_ROLES and row.name in topics.RESERVED_DEVICE_IDS:
            problems.append(f"{where}: {row.name!r} is reserved and cannot name a device")
        if row.branch is None:
            if role in BRANCH_REQUIRED:
                problems.append(f"{where}: role {role.value!r} needs a branch")
        elif not topics.is_valid_id(row.branch):
            problems.append(f"{where}: branch {row.branch!r} must match [A-Za-z0-9_-]{{1,32}}")
        if row.name in branch_of and branch_of[row.name] != row.branch:
            problems.append(
                f"{where}: already listed with branch {branch_of[row.name]!r}, now {row.branch!r}"
            )
            continue
        roles = roles_of.setdefault(row.name, set())
        branch_of.setdefault(row.name, row.branch)
        if role in roles:
            problems.append(f"{where}: role {role.value!r} listed twice")
        roles.add(role)
        if len(roles) > 1 and not roles <= DEVICE_ROLES:
            problems.append(
                f"{where}: roles {', '.join(sorted(roles))} cannot be combined "
                "(only counter and controller can; give other roles their own certificate)"
            )
    if problems:
        raise RosterError(problems)
    return rows


def grants(identity: Identity) -> list[tuple[str, str]]:
    """The (access, topic) pairs one roster row gives, access being read or write."""
    b, name, role = identity.branch, identity.name, Role(identity.role)
    f = topics.topic_filter
    if role in DEVICE_ROLES:
        assert b is not None
        out = [
            (WRITE, f(Kind.EVENTS, b, name)),
            (WRITE, f(Kind.STATUS, b, name)),
            (WRITE, f(Kind.CONFIG_RESULT, b, name)),
            (READ, f(Kind.ACK, b, name)),
            (READ, f(Kind.RESEND, b, name)),
            (READ, f(Kind.CMD, b, name)),
            (READ, f(Kind.CONFIG, b)),
        ]
        if role is Role.COUNTER:
            out += [
                (WRITE, f(Kind.QUEUE_REQ, b, name)),
                (READ, f(Kind.QUEUE_RESP, b, name)),
                (READ, f(Kind.QUEUE_CALLS, b)),
                (READ, f(Kind.QUEUE_STATE, b)),
            ]
        else:
            out += [
                (READ, f(Kind.QUEUE_REQ, b)),
                (WRITE, f(Kind.QUEUE_RESP, b)),
                (WRITE, f(Kind.QUEUE_CALLS, b)),
                (WRITE, f(Kind.QUEUE_STATE, b)),
                (READ, f(Kind.QUEUE_STATE, b)),
            ]
        return out
    if role is Role.CENTRAL:
        return [
            (READ, f(Kind.EVENTS, b)),
            (WRITE, f(Kind.EVENTS, b)),  # only to clear a retained message (devices never retain)
            (READ, f(Kind.STATUS, b)),
            (READ, f(Kind.CONFIG_RESULT, b)),
            (READ, f(Kind.BRIDGE, b)),
            (WRITE, f(Kind.ACK, b)),
            (WRITE, f(Kind.RESEND, b)),
            (WRITE, f(Kind.CMD, b)),
            (WRITE, f(Kind.ALERTS, b)),  # retained: each branch's open alerts
        ]
    if role is Role.PUBLISHER:  # its own certificate: never the ingest's (one connection per CN)
        return [
            (WRITE, f(Kind.CONFIG, b)),
            (READ, f(Kind.CONFIG, b)),
            (READ, f(Kind.CONFIG_RESULT, b)),
        ]
    if role is Role.BRIDGE:
        assert b is not None
        out = [(WRITE, t) for t in bridge_topics(b, "out")]
        out.append((WRITE, f(Kind.BRIDGE, b)))  # the bridge's own "1" and its last will "0"
        return out + [(READ, t) for t in bridge_topics(b, "in")]
    return [(READ, topics.branch_filter(b)), (READ, "$SYS/#")]  # monitor


def bridge_topics(branch: str, direction: str) -> list[str]:
    """Topics a branch bridge carries ``out`` to the centre or ``in`` from it."""
    f = topics.topic_filter
    if direction == "out":
        return [
            f(Kind.EVENTS, branch),
            f(Kind.STATUS, branch),
            f(Kind.CONFIG_RESULT, branch),
        ]
    if direction == "in":
        return [
            f(Kind.ACK, branch),
            f(Kind.RESEND, branch),
            f(Kind.CMD, branch),
            f(Kind.CONFIG, branch),
            f(Kind.ALERTS, branch),
        ]
    raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")


def acl_text(roster: Iterable[Identity], *, source: str = "roster") -> str:
    """The Mosquitto ``acl_file`` for ``roster`` (checked first; deterministic output)."""
    rows = check_roster(roster, source=source)
    per_user: dict[str, dict[str, set[str]]] = {}
    rows_of: dict[str, list[Identity]] = {}
    for row in rows:
        rows_of.setdefault(row.name, []).append(row)
        topics_of = per_user.setdefault(row.name, {})
        for access, t in grants(row):
            topics_of.setdefault(t, set()).add(access)
    lines = [
        f"# Mosquitto ACL generated by sync.acl from {source}: do not edit by hand.",
        "# One block per certificate CN (= username); anything not listed is denied.",
    ]
    for name in sorted(per_user):
        mine = rows_of[name]
        roles = ", ".join(sorted({Role(r.role).value for r in mine}))
        where = f"branch {mine[0].branch}" if mine[0].branch else "every branch"
        lines += ["", f"# {roles}: {where}", f"user {name}"]
        for t, accesses in per_user[name].items():
            access = READWRITE if len(accesses) == 2 else next(iter(accesses))
            lines.append(f"topic {access} {t}")
    return "\n".join(lines) + "\n"


def branch_roster(roster: Iterable[Identity], branch: str) -> list[Identity]:
    """The rows a branch broker needs: the branch's devices and the monitors that may see it.

    The centre's messages reach the branch through the bridge, which the ACL does not check.
    """
    return [
        r
        for r in roster
        if (Role(r.role) in DEVICE_ROLES and r.branch == branch)
        or (Role(r.role) is Role.MONITOR and r.branch in (None, branch))
    ]


# Configuration snippets (mosquitto.conf). Paths are written as given.


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files of a TLS endpoint: the CA that signs every identity, this end's cert and key."""

    cafile: Path
    certfile: Path
    keyfile: Path
    crlfile: Path | None = None


def security_config(
    *,
    acl_file: Path | None,
    password_file: Path | None = None,
    allow_anonymous: bool = False,
    message_size_limit: int = topics.MAX_PAYLOAD_BYTES,
) -> str:
    """Global part: one security setting for every listener, the ACL, the payload limit."""
    lines = [
        "per_listener_settings false",
        f"allow_anonymous {str(allow_anonymous).lower()}",
    ]
    if password_file is not None:
        lines.append(f"password_file {password_file}")
    if acl_file is not None:
        lines.append(f"acl_file {acl_file}")
    if message_size_limit:
        max_packet = message_size_limit + topics.PACKET_HEADROOM_BYTES
        lines += [
            "# payloads over the limit are dropped (v5 QoS 1 gets PUBACK 0x95); packets over",
            "# max_packet_size close the connection before they are read into memory",
            f"message_size_limit {message_size_limit}",
            f"max_packet_size {max_packet}",
        ]
    return "\n".join(lines) + "\n"


def tls_listener(
    port: int, tls: TlsFiles, *, bind: str | None = None, username_as_clientid: bool = True
) -> str:
    """A listener that admits only clients with a certificate from ``tls.cafile``; CN = user."""
    lines = [
        f"listener {port}{f' {bind}' if bind else ''}",
        f"cafile {tls.cafile}",
        f"certfile {tls.certfile}",
        f"keyfile {tls.keyfile}",
    ]
    if tls.crlfile is not None:
        lines.append(f"crlfile {tls.crlfile}")
    lines += [
        "tls_version tlsv1.2",
        "require_certificate true",
        "use_identity_as_username true",
        f"use_username_as_clientid {str(username_as_clientid).lower()}",
    ]
    return "\n".join(lines) + "\n"


def password_listener(
    port: int, *, bind: str | None = "127.0.0.1", username_as_clientid: bool = True
) -> str:
    """A plain listener for tooling with a username and password (``password_file``)."""
    lines = [
        f"listener {port}{f' {bind}' if bind else ''}",
        f"use_username_as_clientid {str(username_as_clientid).lower()}",
    ]
    return "\n".join(lines) + "\n"


def bridge_config(branch: str, name: str, address: str, tls: TlsFiles) -> str:
    """A branch broker's bridge to the central broker, as the roster identity ``name``.

    Topics keep their names both sides (the branch is already in every topic), so nothing is
    remapped. Queue topics stay in the branch. The central broker sees the bridge's state on
    ``cs/v1/<branch>/bridge`` (retained ``1``; ``0`` as the bridge's last will).
    """
    topics.check_branch(branch)
    if not topics.is_valid_id(name):
        raise ValueError(f"bridge name {name!r}: must match [A-Za-z0-9_-]{{1,32}}")
    lines = [
        f"connection central-{branch}",
        f"address {address}",
        f"remote_clientid {name}",
        f"bridge_cafile {tls.cafile}",
        f"bridge_certfile {tls.certfile}",
        f"bridge_keyfile {tls.keyfile}",
        "bridge_insecure false",
        "bridge_tls_version tlsv1.2",
        "cleansession false",
        "try_private true",
        "restart_timeout 2 60",
        f"bridge_max_packet_size {topics.MAX_PAYLOAD_BYTES + topics.PACKET_HEADROOM_BYTES}",
        "notifications true",
        f"notification_topic {topics.bridge(branch)}",
    ]
    lines += [f"topic {t} out 1" for t in bridge_topics(branch, "out")]
    lines += [f"topic {t} in 1" for t in bridge_topics(branch, "in")]
    return "\n".join(lines) + "\n"


def load_roster(path: Path) -> list[Identity]:
    """Read a CSV roster ``branch,name,role`` (header required; ``#`` lines are comments)."""
    problems: list[str] = []
    rows: list[Identity] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RosterError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or set(reader.fieldnames) != {"branch", "name", "role"}:
        raise RosterError([f"{path}: header must be branch,name,role, got {reader.fieldnames}"])
    for i, rec in enumerate(reader, start=1):
        branch, name, role = (rec.get(k) for k in ("branch", "name", "role"))
        if None in (branch, name, role) or None in rec:
            problems.append(f"{path}: row {i}: needs exactly three fields branch,name,role")
            continue
        assert branch is not None and name is not None and role is not None
        try:
            role_ = Role(role.strip())
        except ValueError:
            problems.append(
                f"{path}: row {i} ({name!r}): role {role!r} is not one of {', '.join(Role)}"
            )
            continue
        rows.append(Identity(branch.strip() or None, name.strip(), role_))
    if problems:
        raise RosterError(problems)
    return check_roster(rows, source=str(path))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sync.acl ROSTER [--branch B] [--out FILE]``: the ACL for a CSV roster."""
    parser = argparse.ArgumentParser(prog="python -m sync.acl", description=main.__doc__)
    parser.add_argument("roster", type=Path, help="CSV with the header branch,name,role")
    parser.add_argument("--branch", help="only what the broker of this branch needs")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    args = parser.parse_args(argv)
    try:
        roster = load_roster(args.roster)
        source = args.roster.name
        if args.branch is not None:
            roster = branch_roster(roster, topics.check_branch(args.branch))
            source += f" (branch {args.branch})"
        text = acl_text(roster, source=source)
    except (RosterError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.out is None:
        sys.stdout.write(text)
    else:
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
