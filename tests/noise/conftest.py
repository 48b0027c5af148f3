"""The seeded month of tests/replay, recorded once through the real App, and its noise report under
the config it was recorded under."""

from __future__ import annotations

import pytest

from alertrouter.noise import build
from tests.replay.configs import BASE, config
from tests.replay.conftest import recorded_sqlite, the_month  # noqa: F401  (the month, recorded)
from tests.replay.month import END, START


@pytest.fixture(scope="session")
def noise_report(recorded_sqlite):  # noqa: F811
    return build(config(), recorded_sqlite, START, END, text=BASE)
