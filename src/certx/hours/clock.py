"""China time as whole hours (issue 13): an hour is named by its start, counted in hours since 1970-01-01T00:00Z.

China keeps UTC+8 all year (no daylight saving), so every day has 24 hours and a month has 24 per day: 672 to 744.
The arithmetic is the proleptic Gregorian calendar's, on integers, for any year: no `datetime`, which would refuse
the years 0 and 10000 that a month on the wire ("0000-01") or the month after "9999-12" can name.
"""
from __future__ import annotations

import datetime as dt

from certx.registry.issuance import months

CHINA = 8                       # hours east of UTC
HOUR = dt.timedelta(hours=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _days(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of `month` (1-12) of `year`."""
    y = year - (month <= 2)
    era, yoe = divmod(y, 400)
    doy = (153 * ((month + 9) % 12) + 2) // 5
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def _civil(days: int) -> tuple[int, int]:
    """The year and month (1-12) of the day `days` after 1970-01-01."""
    era, doe = divmod(days + 719_468, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    mp = (5 * (doe - (365 * yoe + yoe // 4 - yoe // 100)) + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return era * 400 + yoe + (month <= 2), month


def month_start(month: int) -> int:
    """The first hour of a month (a month index, `certx.registry.issuance.months`), China time."""
    year, m = divmod(month, 12)
    return _days(year, m + 1) * 24 - CHINA


def month_hours(month: int) -> int:
    """How many hours a month has: 24 a day."""
    return month_start(month + 1) - month_start(month)


def month_of(hour: int) -> int:
    """The month index of the month, China time, that holds `hour`."""
    year, month = _civil((hour + CHINA) // 24)
    return months(year, month)


def hour_of_day(hour: int) -> int:
    """0-23, China time."""
    return (hour + CHINA) % 24


def hour_at(at: dt.datetime) -> int:
    """The hour that holds a time (aware of its offset)."""
    return (at - EPOCH) // HOUR


def on_the_hour(at: dt.datetime) -> bool:
    """Whether a time is the start of an hour, in every time zone with a whole-hour offset (China's among them)."""
    return (at - EPOCH) % HOUR == dt.timedelta(0)
