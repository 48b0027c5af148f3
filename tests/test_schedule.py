"""NCRONTAB in a named zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from alertrouter.config.schedule import next_fire, previous_fire, schedule_problem

UTC = timezone.utc


@pytest.mark.parametrize("after,expected", [
    (datetime(2026, 11, 23, 6, 0, tzinfo=UTC), datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),   # CET: 08:00 = 07:00Z
    (datetime(2026, 3, 24, 0, 0, tzinfo=UTC), datetime(2026, 3, 30, 6, 0, tzinfo=UTC)),     # CEST after 29 March
    (datetime(2026, 10, 20, 0, 0, tzinfo=UTC), datetime(2026, 10, 26, 7, 0, tzinfo=UTC)),   # CET again after 25 Oct
])
def test_monday_8am_berlin(after, expected):
    assert next_fire("0 0 8 * * Mon", after, "Europe/Berlin") == expected


def test_previous_fire_includes_the_instant_itself():
    at = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert previous_fire("0 0 8 * * Mon", at, "Europe/Berlin") == at
    assert previous_fire("0 0 8 * * Mon", at.replace(minute=59, hour=6), "Europe/Berlin") == \
        datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("expr,ok", [("0 0 8 * * Mon", True), ("0 */5 * * * *", True), ("0 8 * * Mon", False),
                                     ("0 0 25 * * *", False)])
def test_schedule_problem(expr, ok):
    assert (schedule_problem(expr) is None) is ok
