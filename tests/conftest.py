import pytest

from device.clock import ManualClock
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
