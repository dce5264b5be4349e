"""The tiling that lets the Consumption page read rollups: every period must be covered by whole
months, ISO weeks and days exactly once, or a figure would be counted twice or lost."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from pipelines.serving.rollups import _month_end, cover


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


def test_rollup_relation_equals_the_daily_mart_across_a_new_year(monkeypatch):
    """rollups.build and the dashboards' rollup SQL (dashboards.data.consumption._usage) against the daily
    mart, on a synthetic mart that spans a new year (the shared test data does not), with NULL
    values, projects and categories, for random periods split into previous and current."""
    import duckdb

    from dashboards.data import consumption
    from pipelines.serving import rollups

    rng = random.Random(11)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.dim_materials (tenant_id VARCHAR, material_id VARCHAR, category VARCHAR,
                   material_name VARCHAR, unit VARCHAR)""")
    con.executemany("INSERT INTO marts.dim_materials VALUES ('t', ?, ?, ?, 'pcs')",
                    [(f"m{i}", None if i % 4 == 0 else f"c{i % 3}", f"Material {i}") for i in range(12)])
    con.execute("""CREATE TABLE marts.fct_material_usage_daily (tenant_id VARCHAR, usage_date DATE,
                   material_id VARCHAR, project_id VARCHAR, location_id VARCHAR, user_pseudonym VARCHAR, unit VARCHAR,
                   consumed_quantity DECIMAL(38, 12), consumed_value DECIMAL(38, 12), movement_count INTEGER)""")
    rows = set()
    for _ in range(3000):
        day = date(2025, 11, 20) + timedelta(days=rng.randint(0, 95))
        rows.add((day, f"m{rng.randint(0, 13)}", rng.choice([None, "p1", "p2"]), f"l{rng.randint(0, 2)}",
                  rng.choice([None, "u1", "u2", "u3"])))
    con.executemany("INSERT INTO marts.fct_material_usage_daily VALUES ('t', ?, ?, ?, ?, ?, 'pcs', ?, ?, ?)",
                    [(*r, rng.randint(-5, 90) / 7, None if rng.random() < 0.1 else rng.randint(0, 9999) / 3,
                      rng.randint(1, 4)) for r in sorted(rows, key=str)])
    rollups.build(con, "memory")

    def figures(use_rollups: bool, dimension, periods, start):
        monkeypatch.setattr(consumption, "_has_rollups", lambda *a: use_rollups)
        usage, params = consumption._usage("tenant", "t", dimension, periods)
        keys = ", ".join(f"f.{c}" for c in rollups.DIMENSION_COLUMNS.get(dimension, ())) or "1"
        return con.execute(f"""
            SELECT {keys}, sum(f.consumed_quantity) FILTER (f.usage_date >= ?),
                   sum(f.consumed_value) FILTER (f.usage_date >= ?), sum(f.movement_count) FILTER (f.usage_date >= ?),
                   sum(f.rows_without_value) FILTER (f.usage_date >= ?), sum(f.consumed_value) FILTER (f.usage_date < ?),
                   sum(f.movement_count) FILTER (f.usage_date < ?)
            FROM {usage} f GROUP BY ALL ORDER BY ALL""", [start] * 6 + params).fetchall()

    compared = 0
    for _ in range(150):
        start = date(2025, 11, 1) + timedelta(days=rng.randint(0, 120))
        end = start + timedelta(days=rng.choice([0, 1, 6, 13, 30, rng.randint(0, 120)]))
        prev = (start - timedelta(days=(end - start).days + 1), start - timedelta(days=1))
        for dimension in (None, *rollups.DIMENSION_COLUMNS):
            expected = figures(False, dimension, [prev, (start, end)], start)
            assert figures(True, dimension, [prev, (start, end)], start) == expected, (dimension, start, end)
            compared += len(expected)
    assert compared > 1000
