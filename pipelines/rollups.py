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
were masked in it (pipelines/privacy/restrictions.py), so they hold exactly what the served mart
holds; publish still runs the mask over them, and the leak scanner reads every table of the file.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb

SCHEMA = "rollups"
GRAINS = ("day", "week", "month")
SOURCE_TABLE = "marts.fct_material_usage_daily"
TOTALS_TABLE = f"{SCHEMA}.usage_total_day"

# Dimension -> the columns a row keeps (besides tenant and period). `category` comes from
# dim_materials (a function of the material), `unit` rides along with the material so the
# page's fallback (the movement's unit when the material has none) stays exact.
DIMENSION_COLUMNS = {
    "category": ("category",),
    "material": ("material_id", "unit"),
    "project": ("project_id",),
    "location": ("location_id",),
    "user": ("user_pseudonym",),
}

_MEASURES = """
    sum(f.consumed_quantity) AS consumed_quantity,
    sum(f.consumed_value) AS consumed_value,
    CAST(sum(f.movement_count) AS BIGINT) AS movement_count,
    count(*) FILTER (f.consumed_value IS NULL) AS rows_without_value"""


def table_name(dimension: str, grain: str) -> str:
    if dimension not in DIMENSION_COLUMNS or grain not in GRAINS:
        raise ValueError("unknown rollup")
    return f"{SCHEMA}.usage_{dimension}_{grain}"


def tables() -> list[str]:
    """Every rollup table, schema-qualified."""
    return [TOTALS_TABLE] + [table_name(d, g) for d in DIMENSION_COLUMNS for g in GRAINS]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    """Create every rollup in `catalog` from that catalog's own daily usage mart (and
    dim_materials for the category); returns rows per table. Rows are ordered by period, so a
    range filter on period_start skips what it can."""
    cat = _ident(catalog)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {cat}.{SCHEMA}")
    source = f"{cat}.{SOURCE_TABLE} f"
    rows: dict[str, int] = {}
    con.execute(f"""
        CREATE TABLE {cat}.{TOTALS_TABLE} AS
        SELECT f.tenant_id, f.usage_date AS period_start, {_MEASURES}
        FROM {source} GROUP BY ALL ORDER BY 1, 2""")
    rows[TOTALS_TABLE] = con.execute(f"SELECT count(*) FROM {cat}.{TOTALS_TABLE}").fetchone()[0]
    for dimension, columns in DIMENSION_COLUMNS.items():
        if dimension == "category":
            join = (f" LEFT JOIN {cat}.marts.dim_materials m "
                    "ON m.tenant_id = f.tenant_id AND m.material_id = f.material_id")
            keep = "m.category"
        else:
            join = ""
            keep = ", ".join(f"f.{c}" for c in columns)
        for grain in GRAINS:
            period = "f.usage_date" if grain == "day" else f"CAST(date_trunc('{grain}', f.usage_date) AS DATE)"
            name = table_name(dimension, grain)
            con.execute(f"""
                CREATE TABLE {cat}.{name} AS
                SELECT f.tenant_id, {period} AS period_start, {keep}, {_MEASURES}
                FROM {source}{join} GROUP BY ALL ORDER BY 1, 2""")
            rows[name] = con.execute(f"SELECT count(*) FROM {cat}.{name}").fetchone()[0]
    return rows


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
