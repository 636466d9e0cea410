import pytest

from device.clock import ManualClock
from tests.factories import make_config


@pytest.fixture
def config():
    return make_config()


@pytest.fixture
def clock():
    return ManualClock()
