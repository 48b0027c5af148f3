"""Time windows, as a table, across a daylight-saving change; no clock but the one passed in."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from alertrouter.config.schema import TimeWindow
from alertrouter.pipeline.windows import inside, wait_until

UTC = timezone.utc
BUSINESS = TimeWindow(time_zone="Europe/Berlin", ranges=[{"days": ["mon", "tue", "wed", "thu", "fri"],
                                                          "start": "09:00", "end": "17:00"}])
QUIET = TimeWindow(time_zone="Europe/Berlin", ranges=[{"start": "22:00", "end": "24:00"},
                                                      {"start": "00:00", "end": "07:00"}])


@pytest.mark.parametrize("at,expected", [
    (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), True),    # Mon 10:00 CET
    (datetime(2026, 11, 23, 16, 0, tzinfo=UTC), False),  # Mon 17:00 CET: end is exclusive
    (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), False),  # Saturday
])
def test_inside_business_hours(at, expected):
    assert inside(BUSINESS, at) is expected


@pytest.mark.parametrize("at,muted,active,expected", [
    # Mon 23:30 CET in quiet hours → 07:00 CET Tuesday (06:00Z)
    (datetime(2026, 11, 23, 22, 30, tzinfo=UTC), [QUIET], [], datetime(2026, 11, 24, 6, 0, tzinfo=UTC)),
    # not quiet → now
    (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), [QUIET], [], None),
    # Friday 18:00 CET outside business hours → Monday 09:00 CET
    (datetime(2026, 11, 27, 17, 0, tzinfo=UTC), [], [BUSINESS], datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
    # Sunday 29 March 2026 quiet hours; clocks jump at 02:00 → 07:00 CEST is 05:00Z
    (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), [QUIET], [], datetime(2026, 3, 29, 5, 0, tzinfo=UTC)),
    # muted and active together: business hours but not quiet
    (datetime(2026, 11, 23, 5, 0, tzinfo=UTC), [QUIET], [BUSINESS], datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),
])
def test_wait_until(at, muted, active, expected):
    assert wait_until(at, muted, active) == expected
