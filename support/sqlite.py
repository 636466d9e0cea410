"""SQLite write transactions that take the write lock first, for every store of the project."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def write_transaction(
    conn: sqlite3.Connection, what: str, error: type[Exception]
) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` on a connection in autocommit mode (``isolation_level``
    None); rolled back on any exception; an SQLite failure becomes ``error("<what> failed: ..")``.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise error(f"{what} failed: {exc}") from exc
