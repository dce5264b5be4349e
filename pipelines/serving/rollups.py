"""Consumption rollups: the daily usage mart pre-aggregated per day, ISO week and month, written
into each tenant's serving file at publish time, and the rule that picks which rows of them
answer a period exactly.

Why: the Consumption page sums `fct_material_usage_daily` over the chosen period, and that mart
grows with the tenant (one row per day, material, project, location and person). Over a year
the page's cost followed the mart's size (3.6x from 1M to 10M movements). A breakdown by one
dimension needs only that dimension: per month and material a year is ~2,700 rows instead of
~86,000 at 10M. Totals and series need no dimension at all: one row per day.

Exactness: every figure is a sum (DECIMAL, so exact in any order) or a count, so a period can
be answered from any set of rollup rows whose periods tile it exactly. `cover` tiles a date
range with whole months, then whole ISO weeks inside the leftover part of a month, then days;
each piece lies inside one calendar month, and each piece lies inside the range, so the
current and the previous period never share a row (a row belongs to the current period iff
its period_start >= the period's first day, as a day row of the daily mart does).

The rollups are computed from the tenant's copy of the daily mart *after* restricted people
were masked in it (pipelines/serving/restrictions.py), so they hold exactly what the served mart
holds; publish still runs the mask over them, and the leak scanner reads every table of the file.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb

from pipelines.warehouse import ident

SCHEMA = "rollups"
TABLE = f"{SCHEMA}.usage"
GRAINS = ("day", "week", "month")
SOURCE_TABLE = "marts.fct_material_usage_daily"
TOTAL = "total"    # the dimension of the rows without one (per day only): totals and series

# Dimension -> the columns its rows keep (besides tenant and period). `category` comes from
# dim_materials (a function of the material), `unit` rides along with the material so the
# page's fallback (the movement's unit when the material has none) stays exact.
DIMENSION_COLUMNS = {
    "category": ("category",),
    "material": ("material_id", "unit"),
    "project": ("project_id",),
    "location": ("location_id",),
    "user": ("user_pseudonym",),
}
KEY_COLUMNS = ("category", "material_id", "unit", "project_id", "location_id", "user_pseudonym")

_MEASURES = """
    CAST(sum(f.consumed_quantity) AS DECIMAL(38, 12)) AS consumed_quantity,
    CAST(sum(f.consumed_value) AS DECIMAL(38, 12)) AS consumed_value,
    CAST(sum(f.movement_count) AS BIGINT) AS movement_count,
    count(*) FILTER (f.consumed_value IS NULL) AS rows_without_value"""


def _select(dimension: str, grain: str) -> str:
    period = "f.usage_date" if grain == "day" else f"CAST(date_trunc('{grain}', f.usage_date) AS DATE)"
    kept = DIMENSION_COLUMNS.get(dimension, ())
    keys = ", ".join(f"f.{c}" if c in kept else f"CAST(NULL AS VARCHAR) AS {c}" for c in KEY_COLUMNS)
    return (f"SELECT f.tenant_id, '{dimension}' AS dimension, '{grain}' AS grain, {period} AS period_start, "
            f"{keys}, {_MEASURES} FROM usage f GROUP BY ALL")


def build(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    """Create the rollups in `catalog` from that catalog's own daily usage mart (and
    dim_materials for the category); returns rows per table. One table for every dimension and
    grain: each DuckDB table costs about one 256 KB block however few its rows, so sixteen
    small tables grew a tenant's file by 4 MB. Rows are ordered by dimension, grain and period,
    so the scans' filters skip what they can."""
    cat = ident(catalog)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {cat}.{SCHEMA}")
    parts = [_select(TOTAL, "day")] + [_select(d, g) for d in DIMENSION_COLUMNS for g in GRAINS]
    con.execute(f"""
        CREATE TABLE {cat}.{TABLE} AS
        WITH usage AS (
            SELECT f.*, m.category FROM {cat}.{SOURCE_TABLE} f
            LEFT JOIN {cat}.marts.dim_materials m ON m.tenant_id = f.tenant_id AND m.material_id = f.material_id
        )
        SELECT * FROM ({" UNION ALL ".join(parts)}) ORDER BY tenant_id, dimension, grain, period_start""")
    return {TABLE: con.execute(f"SELECT count(*) FROM {cat}.{TABLE}").fetchone()[0]}


# -- which rows answer a period ----------------------------------------------------------------------

Segment = tuple[str, date, date]   # grain, first period_start, last period_start (inclusive)


def _month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _next(grain: str, d: date) -> date:
    if grain == "day":
        return d + timedelta(days=1)
    if grain == "week":
        return d + timedelta(days=7)
    return _month_end(d) + timedelta(days=1)


def cover(first: date, last: date) -> list[Segment]:
    """Segments that tile [first, last] exactly: whole calendar months, then whole ISO weeks
    (Monday to Sunday) inside the leftover part of a month, then single days. Consecutive
    segments of one grain are merged; empty when first > last."""
    pieces: list[Segment] = []
    month = date(first.year, first.month, 1)
    while month <= last:
        m_end = _month_end(month)
        lo, hi = max(first, month), min(last, m_end)
        if lo <= hi:
            if lo == month and hi == m_end:
                pieces.append(("month", month, month))
            else:
                monday = lo + timedelta(days=(7 - lo.weekday()) % 7)
                last_monday = hi - timedelta(days=6) - timedelta(days=(hi - timedelta(days=6)).weekday())
                if monday <= last_monday:
                    if lo < monday:
                        pieces.append(("day", lo, monday - timedelta(days=1)))
                    pieces.append(("week", monday, last_monday))
                    if last_monday + timedelta(days=6) < hi:
                        pieces.append(("day", last_monday + timedelta(days=7), hi))
                else:
                    pieces.append(("day", lo, hi))
        month = m_end + timedelta(days=1)
    return merge(pieces)


def merge(segments: list[Segment]) -> list[Segment]:
    """Per grain, ranges sorted and joined where one continues the other."""
    out: list[Segment] = []
    for grain in GRAINS:
        runs = sorted((s for s in segments if s[0] == grain), key=lambda s: s[1])
        for _, lo, hi in runs:
            if out and out[-1][0] == grain and _next(grain, out[-1][2]) == lo:
                out[-1] = (grain, out[-1][1], hi)
            else:
                out.append((grain, lo, hi))
    return out
