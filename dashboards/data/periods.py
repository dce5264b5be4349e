"""The period rules the Consumption page, the monthly PDF and the monthly mail share, so the
three never disagree about what "previous period", "same period last year" or "a complete
month" means. Plain date arithmetic: no data, no Streamlit.

- Previous period: for whole calendar months, the same number of months just before (October
  against September, not against the 31 days from 31 August); otherwise the same number of days
  just before. Either way it ends the day before the period starts.
- Same period last year: the same dates one year earlier (29 February becomes 28 February), so
  whole months stay whole months (February 2028 against February 2027).
- A month is complete when the tenant's data covers it: its first movement day is on or before
  the 1st, and its latest movement day is on or after the month's last working day (Monday to
  Friday: nobody books on a Sunday, and a month ending on a weekend would otherwise never be
  complete). Otherwise it is partial, and says from when to when data exists. The monthly
  report defaults to the latest complete month.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta



def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period compared with [start, end] (see the module's docstring)."""
    if start.day == 1 and (end + timedelta(days=1)).day == 1:
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        index = start.year * 12 + start.month - 1 - months
        return date(index // 12, index % 12 + 1, 1), start - timedelta(days=1)
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def year_before(day: date) -> date:
    """The same date a year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def same_period_last_year(start: date, end: date) -> tuple[date, date]:
    return year_before(start), year_before(end)


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1) - timedelta(days=1)


def last_working_day(month: date) -> date:
    day = month_end(month)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class MonthCover:
    """A calendar month and the part of it the tenant's data covers."""
    month: date            # the 1st
    data_from: date        # first day with data in it (the 1st when the data started before)
    data_to: date          # last day with data in it (the month's end when the data goes on)
    partial: bool

    @property
    def empty(self) -> bool:
        """The data does not reach into the month at all."""
        return self.data_from > self.data_to


def month_cover(month: date, first_day: date, last_day: date) -> MonthCover:
    """`first_day`, `last_day`: the tenant's first and latest movement days."""
    start, end = month_start(month), month_end(month)
    partial = first_day > start or last_day < last_working_day(start)
    return MonthCover(start, max(start, first_day), min(end, last_day), partial)


def report_months(first_day: date, last_day: date) -> list[MonthCover]:
    """Every month with data, newest first."""
    out, month = [], month_start(last_day)
    while month >= month_start(first_day):
        out.append(month_cover(month, first_day, last_day))
        month = month_start(month - timedelta(days=1))
    return out


def default_report_month(first_day: date, last_day: date) -> date:
    """The latest complete month; the latest month when none is complete yet."""
    months = report_months(first_day, last_day)
    return next((m.month for m in months if not m.partial), months[0].month)
