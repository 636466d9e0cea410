from datetime import datetime

import pytest
import time_machine

from domain.clock import ManualClock
from tests import travel
from tests.factories import make_config
from tests.serial_pty import PtyPair


@pytest.fixture
def config():
    return make_config()


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def pty_pair():
    """A pseudo-terminal pair standing in for a serial adapter (see tests/serial_pty.py)."""
    pair = PtyPair()
    yield pair
    pair.close()


# What --travel set up, kept on the pytest config for the hooks below.
_TRAVEL_TO = pytest.StashKey[datetime]()
_TRAVELLER = pytest.StashKey[time_machine.travel]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--travel",
        metavar="WHEN",
        help="move this process's wall clock to WHEN while time flows: an ISO datetime or "
        f"{' / '.join(travel.PRESETS)} (tests/travel.py)",
    )


TRAVEL_FREE = pytest.mark.travel_free
"""A test whose outcome cannot depend on the wall clock's date: its clock is a fixed
``ManualClock``, or its work runs in a child process that ``--travel`` does not move. The runs
with ``--travel`` leave it out: they would only repeat it."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"travel_free: {TRAVEL_FREE.__doc__ or ''}".strip())
    when = config.getoption("--travel")
    if when:
        moment = travel.target(when)
        config.stash[_TRAVEL_TO] = moment
        config.stash[_TRAVELLER] = time_machine.travel(moment, tick=True)
        config.stash[_TRAVELLER].start()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--travel"):
        skip = pytest.mark.skip(reason="travel_free: the wall clock's date cannot change it")
        for item in items:
            if item.get_closest_marker("travel_free"):
                item.add_marker(skip)


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_TRAVELLER, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    moment = config.stash.get(_TRAVEL_TO, None)
    return f"wall clock moved to {moment.isoformat()} (--travel)" if moment else None


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the session (tests/postgres_server.py)."""
    from tests.postgres_server import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def new_centre_db(request: pytest.FixtureRequest, tmp_path):
    """Makes places for central stores: SQLite files, then PostgreSQL databases (the same test
    on both, as the centre runs on both). Call it for each store a test needs."""
    if request.param == "sqlite":
        counter = iter(range(1000))
        return lambda: str(tmp_path / f"centre-{next(counter)}.sqlite")
    server = request.getfixturevalue("postgres_server")
    return server.new_database


@pytest.fixture
def centre_db(new_centre_db):
    """Where a test's central store lives (an SQLite file, then a PostgreSQL database)."""
    return new_centre_db()


@pytest.fixture(scope="session")
def web_bank(tmp_path_factory):
    """The dashboard tests' central store: three simulated branches, users of every role
    (tests/web_support.py); built once, copied by the tests that change it."""
    from tests.web_support import build_bank

    return build_bank(tmp_path_factory.mktemp("web-bank"))
