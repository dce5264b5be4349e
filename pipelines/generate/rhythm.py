"""When work happens: weekdays, Belgian holidays and building-trade holidays, working hours, DST.

Days are integers (days since 1970-01-01) and times are seconds since midnight, local
(Europe/Brussels) wall-clock time, so that everything downstream is plain numpy arithmetic.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np

# Monday..Sunday. The five weekdays average exactly 1, so `movements_per_day` means
# "on an average weekday"; weekends see only the odd emergency call-out.
WEEKDAY_FACTOR = np.array([1.05, 1.05, 1.0, 1.0, 0.9, 0.10, 0.03])

# Time-of-day slots (seconds since midnight) that keep the stock story in order within a day:
# deliveries arrive first, vans are loaded next, then the day's work starts.
RECEIPT_SLOT = (6 * 3600, 6 * 3600 + 40 * 60)
TRANSFER_SLOT = (6 * 3600 + 45 * 60, 7 * 3600 + 25 * 60)

EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def to_date(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 (1970-01-01 was a Thursday)."""
    return (np.asarray(days) + 3) % 7


def previous_working_day(days: np.ndarray) -> np.ndarray:
    wd = weekday(days)
    back = np.where(wd == 0, 3, np.where(wd == 6, 2, 1))
    return np.asarray(days) - back


def next_working_day_if_weekend(days: np.ndarray) -> np.ndarray:
    wd = weekday(days)
    return np.asarray(days) + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))


def _easter(year: int) -> date:
    """Anonymous Gregorian algorithm."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + c // 4 + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def belgian_holidays(year: int) -> list[date]:
    easter = _easter(year)
    return [
        date(year, 1, 1), easter + timedelta(days=1), date(year, 5, 1),
        easter + timedelta(days=39), easter + timedelta(days=50), date(year, 7, 21),
        date(year, 8, 15), date(year, 11, 1), date(year, 11, 11), date(year, 12, 25),
    ]


def day_factors(first: int, last: int) -> np.ndarray:
    """Relative activity of each day in [first, last]: weekday x season x holidays.

    The season follows the Belgian building trade: the three-week summer 'bouwverlof' around
    the end of July, the Christmas break, a quieter frosty January/February.
    """
    days = np.arange(first, last + 1)
    f = WEEKDAY_FACTOR[weekday(days)].copy()
    for i, n in enumerate(days):
        d = to_date(n)
        m, dd = d.month, d.day
        if m in (1, 2):
            s = 0.92
        elif m in (3, 4, 5, 6, 9, 10):
            s = 1.05
        else:
            s = 1.0
        if (m == 7 and dd >= 20) or (m == 8 and dd <= 9):
            s = 0.4
        elif m == 8:
            s = 0.85
        if (m == 12 and dd >= 24) or (m == 1 and dd == 1):
            s = 0.2
        elif m == 12 and dd >= 20:
            s = 0.8
        elif m == 1 and dd <= 5:
            s = 0.7
        f[i] *= s
    for y in range(to_date(first).year, to_date(last).year + 1):
        for h in belgian_holidays(y):
            n = day_number(h)
            if first <= n <= last:
                f[n - first] *= 0.05
    return f


def _last_sunday(years: np.ndarray, month: int) -> np.ndarray:
    nxt = np.array([day_number(date(int(y) + (month == 12), month % 12 + 1, 1)) for y in years], dtype=np.int64) - 1
    return nxt - (weekday(nxt) + 1) % 7


def utc_offsets(days: np.ndarray) -> np.ndarray:
    """'+02:00' on Brussels summer-time days (EU rule: last Sunday of March to last Sunday of
    October), else '+01:00'. Exact for any time of day outside 02:00-03:00, where nothing happens."""
    days = np.asarray(days, dtype=np.int64)
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    uy, inv = np.unique(years, return_inverse=True)
    start, end = _last_sunday(uy, 3)[inv], _last_sunday(uy, 10)[inv]
    return np.where((days >= start) & (days < end), "+02:00", "+01:00")


# Share of the working day's scans per hour, 07:30 to 18:00: the morning rush when vans are
# loaded, a lunch dip, a smaller peak when crews come back.
_HOURS = np.arange(7, 18)
_HOUR_W = np.array([0.07, 0.17, 0.12, 0.10, 0.09, 0.05, 0.09, 0.10, 0.09, 0.08, 0.04])
_HOUR_W = _HOUR_W / _HOUR_W.sum()


def work_seconds(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """Seconds since midnight for scans on these days (weekends: short mornings)."""
    n = len(days)
    hour = rng.choice(_HOURS, size=n, p=_HOUR_W)
    minute_lo = np.where(hour == 7, 30, 0)
    secs = hour * 3600 + (minute_lo + rng.random(n) * (60 - minute_lo)) * 60
    weekend = weekday(days) >= 5
    if weekend.any():
        secs[weekend] = rng.uniform(8 * 3600, 14 * 3600, size=int(weekend.sum()))
    return secs.astype(np.int64)


def slot_seconds(rng: np.random.Generator, n: int, slot: tuple[int, int]) -> np.ndarray:
    return rng.integers(slot[0], slot[1], size=n, dtype=np.int64)
