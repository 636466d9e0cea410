"""Dashboard users, sessions and the sign-in brake in the centre's database (central/accounts.py),
on SQLite and on PostgreSQL alike; the times are given (never the wall clock)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest

from central import accounts
from central.accounts import AccountError
from central.store import CentralStore

AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
IDLE = timedelta(minutes=30)
SECRET = "Osmanthus-1120"


def _record(execute, query, *, check: accounts.Checked) -> accounts.SignIn:
    return accounts.record_sign_in(execute, query, check, at=AT)


def test_a_user_signs_in_and_the_session_ends_when_idle(centre_db) -> None:
    with CentralStore(centre_db) as store:
        user = store.write(
            "add", lambda e, q: accounts.add_user(e, q, "li", "branch", SECRET, branch="b1", at=AT)
        )
        assert (user.role, user.branch, user.region, user.disabled) == ("branch", "b1", None, False)
        (digest,) = store.query("SELECT password_hash FROM users")[0]
        assert digest.startswith("$argon2id$") and SECRET not in digest
        done = store.write("in", lambda e, q: accounts.sign_in(e, q, "li", SECRET, at=AT))
        assert done.token and done.refused is None
        token = done.token

        def live(at: datetime) -> accounts.Session | None:
            return store.write("s", lambda e, q: accounts.session(e, q, token, at=at, idle=IDLE))

        found = live(AT + timedelta(minutes=20))
        assert found is not None and found.user.name == "li" and len(found.csrf) > 20
        assert live(AT + timedelta(minutes=45)) is not None  # 25 minutes after the last
        assert live(AT + timedelta(minutes=80)) is None  # 35 minutes idle: ended
        assert live(AT + timedelta(minutes=46)) is None  # and deleted
        assert store.query("SELECT count(*) FROM sessions") == [(0,)]


def test_failed_sign_ins_wait_longer_each_time(centre_db) -> None:
    with CentralStore(centre_db) as store:
        store.write("add", lambda e, q: accounts.add_user(e, q, "wu", "central", SECRET, at=AT))

        def attempt(password: str, at: datetime) -> accounts.SignIn:
            return store.write("in", lambda e, q: accounts.sign_in(e, q, "wu", password, at=at))

        waits = [attempt("wrong", AT + timedelta(minutes=i)).wait_s for i in range(6)]
        assert waits == [0, 0, 0, 2, 4, 8]
        later = AT + timedelta(minutes=5)
        refused = attempt(SECRET, later + timedelta(seconds=7))
        assert refused.token is None and refused.wait_s == pytest.approx(1)
        assert attempt(SECRET, later + timedelta(seconds=8)).token is not None
        assert attempt("wrong", later + timedelta(seconds=9)).wait_s == 0  # counted afresh
        unknown = store.write("in", lambda e, q: accounts.sign_in(e, q, "nobody", "x", at=AT))
        assert unknown.token is None and unknown.refused == "wrong name or password"


def test_disabled_users_and_new_passwords_end_sessions(centre_db) -> None:
    with CentralStore(centre_db) as store:
        store.write(
            "add",
            lambda e, q: accounts.add_user(e, q, "he", "region", SECRET, region="浙江省", at=AT),
        )
        token = store.write("in", lambda e, q: accounts.sign_in(e, q, "he", SECRET, at=AT)).token
        assert token is not None
        store.write("off", lambda e, q: accounts.set_disabled(e, q, "he", True, at=AT))
        assert (
            store.write("s", lambda e, q: accounts.session(e, q, token, at=AT, idle=IDLE)) is None
        )
        refused = store.write("in", lambda e, q: accounts.sign_in(e, q, "he", SECRET, at=AT))
        assert refused.token is None
        store.write("on", lambda e, q: accounts.set_disabled(e, q, "he", False, at=AT))
        api = store.write("t", lambda e, q: accounts.add_token(e, q, "he", "bi", at=AT))
        assert accounts.token_session(store.query, api) is not None
        new = "Another-Secret-1"
        store.write("pw", lambda e, q: accounts.set_password(e, q, "he", new, at=AT))
        assert accounts.token_session(store.query, api) is None  # the API token ended too
        assert store.write("in", lambda e, q: accounts.sign_in(e, q, "he", new, at=AT)).token


@pytest.mark.parametrize(
    ("role", "region", "branch", "why"),
    [
        ("boss", None, None, "role must be one of"),
        ("region", None, None, "needs --region"),
        ("branch", None, None, "needs --branch"),
        ("central", "浙江省", None, "every branch"),
        ("viewer", "浙江省", "b1", "not both"),
    ],
)
def test_a_user_needs_a_role_and_its_scope(
    tmp_path, role: str, region: str | None, branch: str | None, why: str
) -> None:
    with CentralStore(tmp_path / "c.sqlite") as store, pytest.raises(AccountError, match=why):
        store.write(
            "add",
            lambda e, q: accounts.add_user(
                e, q, "x", role, SECRET, region=region, branch=branch, at=AT
            ),
        )


def test_most_requests_read_their_session_without_writing(centre_db) -> None:
    with CentralStore(centre_db) as store:
        store.write("add", lambda e, q: accounts.add_user(e, q, "xu", "central", SECRET, at=AT))
        token = store.write("in", lambda e, q: accounts.sign_in(e, q, "xu", SECRET, at=AT)).token
        assert token is not None

        def peek(seconds: float) -> tuple[str | None, bool]:
            live, write = accounts.peek(
                store.query, token, at=AT + timedelta(seconds=seconds), idle=IDLE
            )
            return (live.user.name if live else None), write

        assert peek(30) == ("xu", False)  # used just now: nothing to write
        assert peek(90) == ("xu", True)  # its last_seen to move
        assert peek(31 * 60) == (None, True)  # idle: to delete
        assert accounts.peek(store.query, "forged", at=AT, idle=IDLE) == (None, False)


def test_the_password_is_checked_without_the_write_lock(tmp_path) -> None:
    """The argon2 check (a fifth of a second) runs with no lock held, so sign-ins (anyone who
    reaches /login) cannot stall the ingest; only the short record of the outcome writes."""
    import sqlite3

    db = str(tmp_path / "centre.sqlite")
    with CentralStore(db) as store:
        store.write("add", lambda e, q: accounts.add_user(e, q, "qi", "central", SECRET, at=AT))
        ingest = sqlite3.connect(db, isolation_level=None)
        ingest.execute("BEGIN IMMEDIATE")  # the ingest holds the write lock meanwhile
        try:
            checked = accounts.check_password(store.query, "qi", SECRET, at=AT)
            wrong = accounts.check_password(store.query, "qi", "guess", at=AT)
        finally:
            ingest.execute("ROLLBACK")
            ingest.close()
        assert checked.good and not wrong.good
        done = store.write("in", lambda e, q: accounts.record_sign_in(e, q, checked, at=AT))
        assert done.token is not None


def test_guesses_checked_at_once_do_not_slip_past_the_brake(centre_db) -> None:
    """Passwords are checked before the write lock (above): guesses sent together are all
    checked against a name not yet waiting. Once the failures recorded before them make the name
    wait, their outcome is refused unread, as a guess sent then would be; even a right one."""
    with CentralStore(centre_db) as store:
        store.write("add", lambda e, q: accounts.add_user(e, q, "he", "central", SECRET, at=AT))
        guesses = [
            accounts.check_password(store.query, "he", f"guess {i}", at=AT) for i in range(9)
        ]
        right = accounts.check_password(store.query, "he", SECRET, at=AT)
        done = [store.write("in", functools.partial(_record, check=c)) for c in [*guesses, right]]
        answered = [d.refused for d in done]
        told = accounts.FREE_FAILURES + 1  # the failure that starts the wait is answered too
        assert answered == ["wrong name or password"] * told + [
            "too many failed sign-ins: wait and try again"
        ] * (len(done) - told)
        assert done[-1].token is None and done[-1].wait_s > 0
        (failures,) = store.query("SELECT failures FROM sign_in_failures WHERE name = 'he'")[0]
        assert failures == told  # refused unread: not counted, as while waiting
