"""The dashboard's users, their sessions and API tokens and the brake on failed sign-ins, in the
centre's own database (SQLite or PostgreSQL, central schema version 8: :data:`SCHEMA`).

Roles (:data:`ROLES`) and what each sees (``central/web/scope.py``):

- ``central``: the central office, every branch;
- ``region``: a region manager, the branches of their region (``浙江省/杭州市`` and below);
- ``branch``: a branch manager, their branch;
- ``viewer``: read only, no exports, within their region or branch if one is given.

Passwords are kept only as argon2id hashes (argon2-cffi); a session is known by the SHA-256 of
its token (the token itself lives only in the browser's cookie), with its own CSRF token, and
ends after ``idle`` without a request. Failed sign-ins of a name (known or not) are counted and
each one past :data:`FREE_FAILURES` makes the name wait twice as long as the one before (up to
:data:`MAX_WAIT`) before a password is checked again.

Every change is one statement in a write transaction (:meth:`CentralStore.write`); times are
given by the caller (an injected clock), stored as UTC ISO text.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from central.kpi import Query
from central.rollups import Execute

ROLES = ("central", "region", "branch", "viewer")
FREE_FAILURES = 3
"""Failed sign-ins of a name before it has to wait."""
FIRST_WAIT = timedelta(seconds=2)
MAX_WAIT = timedelta(minutes=15)
MIN_PASSWORD = 8

SCHEMA = (
    """CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('central', 'region', 'branch', 'viewer')),
        region TEXT,
        branch TEXT,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        changed_at TEXT NOT NULL
    )""",
    """CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL
    )""",
    "CREATE INDEX sessions_user ON sessions (user_id)",
    """CREATE TABLE sign_in_failures (
        name TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        wait_until TEXT NOT NULL
    )""",
    """CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        label TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
)


class AccountError(Exception):
    """A change to a user that cannot be made; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    region: str | None
    branch: str | None
    disabled: bool


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    token_hash: str


_USER = "id, name, role, region, branch, disabled"


def _user(row: Any) -> User:
    uid, name, role, region, branch, disabled = row
    return User(int(uid), name, role, region, branch, bool(disabled))


def _utc(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError(f"a time with its zone is needed, not {at.isoformat()}")
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _hasher():  # argon2-cffi is the web extra's: imported when a password is handled
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (refused when shorter than :data:`MIN_PASSWORD`)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return str(_hasher().hash(password))


def _check_scope(role: str, region: str | None, branch: str | None) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "region" and not region:
        raise AccountError("a region manager needs --region")
    if role == "branch" and not branch:
        raise AccountError("a branch manager needs --branch")
    if role == "central" and (region or branch):
        raise AccountError("the central office sees every branch: no --region or --branch")
    if region and branch:
        raise AccountError("give a region or a branch, not both")


def check_new_user(
    name: str, role: str, password: str, *, region: str | None = None, branch: str | None = None
) -> None:
    """What a new user needs that no database holds: a name, a role with its scope, a password
    long enough (AccountError says what is missing)."""
    if not name.strip():
        raise AccountError("a user needs a name")
    _check_scope(role, region, branch)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def add_user(
    execute: Execute,
    query: Query,
    name: str,
    role: str,
    password: str,
    *,
    region: str | None = None,
    branch: str | None = None,
    at: datetime,
) -> User:
    """A new user (their name unique); the password is kept as its hash only."""
    name = name.strip()
    check_new_user(name, role, password, region=region, branch=branch)
    if list(query("SELECT 1 FROM users WHERE name = ?", (name,))):
        raise AccountError(f"there is a user {name} already")
    digest = hash_password(password)
    execute(
        "INSERT INTO users (name, role, region, branch, password_hash, created_at, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (name, role, region, branch, digest, _utc(at), _utc(at)),
    )
    return get_user(query, name)


def get_user(query: Query, name: str) -> User:
    rows = list(query(f"SELECT {_USER} FROM users WHERE name = ?", (name,)))
    if not rows:
        raise AccountError(f"there is no user {name}")
    return _user(rows[0])


def users(query: Query) -> list[User]:
    return [_user(r) for r in query(f"SELECT {_USER} FROM users ORDER BY name", ())]


def set_password(execute: Execute, query: Query, name: str, password: str, *, at: datetime) -> None:
    """A new password for ``name``; their sessions and API tokens end (a new password is what
    follows a leak: whatever the old one opened is closed)."""
    user = get_user(query, name)
    execute(
        "UPDATE users SET password_hash = ?, changed_at = ? WHERE id = ?",
        (hash_password(password), _utc(at), user.id),
    )
    execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
    execute("DELETE FROM api_tokens WHERE user_id = ?", (user.id,))


def set_disabled(
    execute: Execute, query: Query, name: str, disabled: bool, *, at: datetime
) -> None:
    """Disable (their sessions end) or enable ``name``."""
    user = get_user(query, name)
    execute(
        "UPDATE users SET disabled = ?, changed_at = ? WHERE id = ?",
        (int(disabled), _utc(at), user.id),
    )
    if disabled:
        execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))


# -- signing in ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """What a sign-in gave: a session token (for the cookie), or why not."""

    token: str | None = None
    refused: str | None = None
    wait_s: float = 0.0


_DUMMY: list[str] = []


def _waiting(until: str, at: datetime) -> SignIn:
    left = (datetime.fromisoformat(until) - at).total_seconds()
    return SignIn(refused="too many failed sign-ins: wait and try again", wait_s=left)


@dataclass(frozen=True)
class Checked:
    """A password checked (:func:`check_password`), for :func:`record_sign_in` to write down."""

    name: str
    user: User | None = None
    good: bool = False
    rehash: str | None = None  # a new hash of the password, when the stored one is outdated
    refused: SignIn | None = None  # refused before any password was checked


def check_password(query: Query, name: str, password: str, *, at: datetime) -> Checked:
    """Check ``password`` for ``name``: reads only, so the costly hash is checked with no lock
    held (the ingest writes on meanwhile). A name still waiting after its failed attempts is
    refused before any password is checked; an unknown name costs the same work as a known one."""
    from argon2.exceptions import VerificationError

    name = name.strip()
    waited = list(query("SELECT wait_until FROM sign_in_failures WHERE name = ?", (name,)))
    if waited and datetime.fromisoformat(waited[0][0]) > at:
        return Checked(name, refused=_waiting(waited[0][0], at))
    rows = list(query(f"SELECT {_USER}, password_hash FROM users WHERE name = ?", (name,)))
    hasher = _hasher()
    if not rows:
        if not _DUMMY:
            _DUMMY.append(hasher.hash(secrets.token_hex(16)))
        digest, user = _DUMMY[0], None  # the same work as for a real user
    else:
        digest, user = rows[0][-1], _user(rows[0][:-1])
    try:
        hasher.verify(digest, password)
        good = user is not None and not user.disabled
    except VerificationError:
        good = False
    rehash = hasher.hash(password) if good and hasher.check_needs_rehash(digest) else None
    return Checked(name, user, good, rehash)


def record_sign_in(execute: Execute, query: Query, checked: Checked, *, at: datetime) -> SignIn:
    """Write down what :func:`check_password` found (in a short write transaction): a failure
    counted (and the wait it brings), or a session opened."""
    if checked.refused is not None:
        return checked.refused
    name, user = checked.name, checked.user
    waited = list(
        query("SELECT failures, wait_until FROM sign_in_failures WHERE name = ?", (name,))
    )
    if waited and datetime.fromisoformat(waited[0][1]) > at:
        # checked alongside the failures that made the name wait (sent at once, each checked
        # before the write lock): refused unread and not counted, as a guess sent now would be
        return _waiting(waited[0][1], at)
    if not checked.good or user is None:
        failures = (int(waited[0][0]) if waited else 0) + 1
        extra = max(0, failures - FREE_FAILURES)
        wait = min(FIRST_WAIT * (2 ** (extra - 1)), MAX_WAIT) if extra else timedelta(0)
        execute(
            "INSERT INTO sign_in_failures (name, failures, wait_until) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET failures = excluded.failures, "
            "wait_until = excluded.wait_until",
            (name, failures, _utc(at + wait)),
        )
        return SignIn(refused="wrong name or password", wait_s=wait.total_seconds())
    execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
    if checked.rehash is not None:
        execute("UPDATE users SET password_hash = ? WHERE id = ?", (checked.rehash, user.id))
    token = secrets.token_urlsafe(32)
    execute(
        "INSERT INTO sessions (token_hash, user_id, csrf, created_at, last_seen) "
        "VALUES (?, ?, ?, ?, ?)",
        (token_hash(token), user.id, secrets.token_urlsafe(32), _utc(at), _utc(at)),
    )
    return SignIn(token=token)


def sign_in(execute: Execute, query: Query, name: str, password: str, *, at: datetime) -> SignIn:
    """:func:`check_password` then :func:`record_sign_in`, in the caller's transaction (the
    command line; the dashboard checks the password before it takes the write lock)."""
    return record_sign_in(execute, query, check_password(query, name, password, at=at), at=at)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SEEN_EVERY = timedelta(seconds=60)
"""A session's ``last_seen`` is written at most this often (not at every request)."""


def _found(query: Query, digest: str) -> tuple[Session, datetime] | None:
    rows = list(
        query(
            f"SELECT s.csrf, s.last_seen, {', '.join('u.' + c for c in _USER.split(', '))} "
            "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            (digest,),
        )
    )
    if not rows:
        return None
    csrf, last_seen, *user_row = rows[0]
    return Session(_user(user_row), csrf, digest), datetime.fromisoformat(last_seen)


def peek(query: Query, token: str, *, at: datetime, idle: timedelta) -> tuple[Session | None, bool]:
    """The live session of ``token`` read without writing, and whether :func:`session` must
    write (to end it, or to note that it was used): most requests need no write transaction."""
    found = _found(query, token_hash(token))
    if found is None:
        return None, False
    live, seen = found
    if at - seen > idle or live.user.disabled:
        return None, True
    return live, at - seen > SEEN_EVERY


def session(
    execute: Execute, query: Query, token: str, *, at: datetime, idle: timedelta
) -> Session | None:
    """The live session of ``token`` (its last request within ``idle``, its user enabled), or
    None; an expired session is deleted, a used one has its ``last_seen`` moved (at most once
    per :data:`SEEN_EVERY`)."""
    digest = token_hash(token)
    found = _found(query, digest)
    if found is None:
        return None
    live, seen = found
    if at - seen > idle or live.user.disabled:
        execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))
        return None
    if at - seen > SEEN_EVERY:
        execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (_utc(at), digest))
    return live


# -- API tokens (the bank's BI systems) -----------------------------------------------------------

TOKEN_PREFIX = "cs_"


def add_token(execute: Execute, query: Query, name: str, label: str, *, at: datetime) -> str:
    """A new API token of user ``name`` (their role and scope, read only): returned once, kept
    only as its hash; it ends when the user is disabled or :func:`revoke_tokens`."""
    user = get_user(query, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    execute(
        "INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES (?, ?, ?, ?)",
        (token_hash(token), user.id, label.strip() or "-", _utc(at)),
    )
    return token


def revoke_tokens(execute: Execute, query: Query, name: str) -> int:
    """End every API token of ``name``; how many."""
    user = get_user(query, name)
    return int(execute("DELETE FROM api_tokens WHERE user_id = ?", (user.id,)))


def token_session(query: Query, token: str) -> Session | None:
    """The API token's user as a session (no CSRF: the API only reads), or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = token_hash(token)
    rows = list(
        query(
            f"SELECT {', '.join('u.' + c for c in _USER.split(', '))} FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            (digest,),
        )
    )
    if not rows:
        return None
    user = _user(rows[0])
    return None if user.disabled else Session(user, "", digest)


def sign_out(execute: Execute, token: str) -> None:
    execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))
