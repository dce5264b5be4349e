"""The tiling that lets the Consumption page read rollups: every period must be covered by whole
months, ISO weeks and days exactly once, or a figure would be counted twice or lost."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from pipelines.rollups import _month_end, cover


def days(segment) -> list[date]:
    grain, lo, hi = segment
    out, d = [], lo
    while d <= hi:
        if grain == "day":
            out.append(d)
            d += timedelta(days=1)
        elif grain == "week":
            assert d.weekday() == 0, segment          # rollup weeks start on Monday
            out += [d + timedelta(days=i) for i in range(7)]
            d += timedelta(days=7)
        else:
            assert d.day == 1, segment
            end = _month_end(d)
            out += [d + timedelta(days=i) for i in range((end - d).days + 1)]
            d = end + timedelta(days=1)
    return out


def assert_tiles(first: date, last: date) -> None:
    segments = cover(first, last)
    covered = [d for s in segments for d in days(s)]
    expected = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    assert sorted(covered) == expected and len(covered) == len(set(covered)), (first, last, segments)
    for grain, lo, hi in segments:     # each row's period lies in one calendar month (month series)
        if grain == "week":
            d = lo
            while d <= hi:
                assert (d + timedelta(days=6)).month == d.month, (first, last, segments)
                d += timedelta(days=7)


@pytest.mark.parametrize("first,last", [
    (date(2026, 3, 15), date(2026, 3, 15)),     # one day
    (date(2026, 2, 28), date(2026, 3, 1)),      # a month edge
    (date(2024, 2, 1), date(2024, 2, 29)),      # a whole leap February
    (date(2025, 12, 29), date(2026, 1, 4)),     # ISO week 1 of 2026, across the year
    (date(2025, 12, 22), date(2026, 1, 11)),    # weeks on both sides of a new year
    (date(2025, 11, 29), date(2026, 11, 28)),   # a year that starts and ends mid-month
    (date(2026, 1, 1), date(2026, 12, 31)),     # whole months only
    (date(2026, 6, 1), date(2026, 6, 7)),       # a week that starts a month
])
def test_cover_tiles_edge_periods(first, last):
    assert_tiles(first, last)


def test_cover_tiles_random_periods():
    rng = random.Random(5)
    for _ in range(3000):
        first = date(2023, 1, 1) + timedelta(days=rng.randint(0, 1500))
        assert_tiles(first, first + timedelta(days=rng.randint(0, 800)))


def test_cover_uses_the_coarsest_grain():
    assert cover(date(2026, 1, 1), date(2026, 3, 31)) == [("month", date(2026, 1, 1), date(2026, 3, 1))]
    assert cover(date(2026, 6, 1), date(2026, 6, 14)) == [("week", date(2026, 6, 1), date(2026, 6, 8))]
    assert cover(date(2026, 6, 2), date(2026, 6, 2)) == [("day", date(2026, 6, 2), date(2026, 6, 2))]
    assert cover(date(2026, 6, 3), date(2026, 6, 2)) == []
