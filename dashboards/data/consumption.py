"""The Consumption page's queries (dashboards/views/consumption.py): totals, series and
breakdowns over any period against the previous period and the same period last year
(dashboards/data/periods.py: one rule each), top consumers, filters on project, location,
category and person at once, and the drill-downs (a category's or a project's materials).

Every consumption figure is a sum over the daily usage mart. A tenant's serving file also holds
rollups of it (pipelines/serving/rollups.py: totals per day, and per day, ISO week and month for each
breakdown dimension, in one table), and `_usage` answers a period from the smallest of them that tiles
it exactly. A rollup keeps one dimension, so filters that combine dimensions (a project and a
person) are answered from the daily mart, restricted to the period's days and the filtered keys
(benchmarks/dashboards.py times both); a file without rollups (the analyst file, or one
published before they existed) is answered from the daily mart too. Both give the same relation
`f`: tenant_id, usage_date (the first day of the row's period), the dimension's columns,
consumed_quantity, consumed_value, movement_count, rows_without_value.

The same period last year is read by a second query of the same shape (its days may overlap the
current period's when the period is longer than a year, and one relation must never hold a row
twice), and joined on by key.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import pandas as pd

from dashboards.data import common, pool
from dashboards.data.periods import previous_period, same_period_last_year
from dashboards.data.pool import Source
from pipelines.serving import rollups

GRAINS = {"day": "day", "week": "week", "month": "month"}

UNCATEGORISED = "(no category)"
NO_PROJECT = "(no project)"

# Breakdown dimension -> (key expression, label expression) over the usage relation `f` (see
# _usage: the daily mart or the rollups, same columns). Fixed SQL text only.
_DIMENSIONS = {
    "category": (f"coalesce(f.category, '{UNCATEGORISED}')", f"coalesce(f.category, '{UNCATEGORISED}')"),
    "material": ("f.material_id", "coalesce(m.material_name, f.material_id)"),
    "project": (f"coalesce(f.project_id, '{NO_PROJECT}')", f"coalesce(p.project_name, f.project_id, '{NO_PROJECT}')"),
    "location": ("f.location_id", "coalesce(l.location_name, f.location_id)"),
    "user": ("f.user_pseudonym", "f.user_pseudonym"),
}
DIMENSIONS = tuple(_DIMENSIONS)

USAGE = "marts.fct_material_usage_daily"     # the daily usage mart (insights.py reads it too)
_JOINS = {
    "m": "LEFT JOIN marts.dim_materials m ON m.tenant_id = f.tenant_id AND m.material_id = f.material_id",
    "p": "LEFT JOIN marts.dim_projects p ON p.tenant_id = f.tenant_id AND p.project_id = f.project_id",
    "l": "LEFT JOIN marts.dim_locations l ON l.tenant_id = f.tenant_id AND l.location_id = f.location_id",
    "u": "LEFT JOIN marts.dim_users u ON u.tenant_id = f.tenant_id AND u.user_pseudonym = f.user_pseudonym",
}
_DIMENSION_JOINS = {"material": "m", "project": "p", "location": "l", "user": "u"}


@dataclass(frozen=True)
class Filters:
    """Consumption restricted to some projects, locations, categories and people at once (an
    empty tuple: all of them), by key: project_id (NO_PROJECT for consumption booked on none),
    location_id, category (UNCATEGORISED), user pseudonym. Hashable, so Streamlit's cache keys on
    it with the tenant."""
    projects: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    people: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.projects or self.locations or self.categories or self.people)

    def only_project(self, project: str) -> "Filters":
        """These filters, narrowed to one project (the project drill-down)."""
        return replace(self, projects=(project,))


NO_FILTERS = Filters()
# Filter -> its key expression over the daily mart `f` (and dim_materials `m`). Fixed SQL text.
_FILTER_KEYS = {
    "projects": f"coalesce(f.project_id, '{NO_PROJECT}')",
    "locations": "f.location_id",
    "categories": f"coalesce(m.category, '{UNCATEGORISED}')",
    "people": "f.user_pseudonym",
}


def _filter_sql(filters: Filters) -> tuple[str, list]:
    """(" AND ..." conditions, params) restricting the daily mart to the filters' keys."""
    sql, params = "", []
    for name, expr in _FILTER_KEYS.items():
        keys = getattr(filters, name)
        if keys:
            sql += f" AND {expr} IN ({', '.join('?' * len(keys))})"
            params += [str(k) for k in keys]
    return sql, params


_MEASURE_COLUMNS = "consumed_quantity, consumed_value, movement_count, rows_without_value"


def _has_rollups(source: str, tenant_id: str | None) -> bool:
    return rollups.TABLE in pool.tables(source, tenant_id)


def _usage(source: str, tenant_id: str, dimension: str | None, periods: list[tuple[date, date]],
           filters: Filters = NO_FILTERS) -> tuple[str, list]:
    """The usage relation (SQL, params) for `tenant_id` restricted to the days of `periods`
    (disjoint date ranges) and to `filters`, with the columns of `dimension` (None: totals only)."""
    if filters or not _has_rollups(source, tenant_id):
        keep = "f.material_id, f.project_id, f.location_id, f.user_pseudonym, f.unit"
        join = ""
        if dimension == "category" or filters.categories:
            keep += ", m.category"
            join = f" {_JOINS['m']}"
        ranges = [(lo, hi) for _, lo, hi in rollups.merge([("day", lo, hi) for lo, hi in periods if lo <= hi])]
        ranges = ranges or [(date.max, date.min)]   # nothing: the same columns, no row
        where = " OR ".join(["f.usage_date BETWEEN ? AND ?"] * len(ranges))
        filtered, filter_params = _filter_sql(filters)
        sql = (f"(SELECT f.tenant_id, f.usage_date, {keep}, f.consumed_quantity, f.consumed_value, "
               f"f.movement_count, CAST(f.consumed_value IS NULL AS BIGINT) AS rows_without_value "
               f"FROM {USAGE} f{join} WHERE f.tenant_id = ? AND ({where}){filtered})")
        return sql, [tenant_id, *(d for r in ranges for d in r), *filter_params]
    if dimension is None:
        stored, segments = rollups.TOTAL, [("day", lo, hi) for lo, hi in periods if lo <= hi]
    else:
        stored = dimension
        segments = rollups.merge([s for lo, hi in periods for s in rollups.cover(lo, hi)])
    conditions, params = [], [tenant_id, stored]
    for grain in rollups.GRAINS:
        ranges = [(lo, hi) for g, lo, hi in segments if g == grain]
        if ranges:
            conditions.append("(grain = ? AND (" + " OR ".join(["period_start BETWEEN ? AND ?"] * len(ranges)) + "))")
            params += [grain, *(d for r in ranges for d in r)]
    keep = ", ".join(rollups.KEY_COLUMNS)
    sql = (f"(SELECT tenant_id, period_start AS usage_date, {keep}, {_MEASURE_COLUMNS} FROM {rollups.TABLE} "
           f"WHERE tenant_id = ? AND dimension = ? AND ({' OR '.join(conditions) or 'false'}))")
    return sql, params


def usage_bounds(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """One row: first_date, last_date of consumption (nulls when there is none)."""
    if _has_rollups(source, tenant_id):
        return pool.query(source, tenant_id, f"""
            SELECT min(period_start) AS first_date, max(period_start) AS last_date FROM {rollups.TABLE}
            WHERE tenant_id = ? AND dimension = ?""", [tenant_id, rollups.TOTAL])
    return pool.query(source, tenant_id, f"""
        SELECT min(usage_date) AS first_date, max(usage_date) AS last_date FROM {USAGE} WHERE tenant_id = ?""",
                  [tenant_id])


def _totals(source: str, tenant_id: str, start: date, end: date, prev_start: date, filters: Filters) -> pd.DataFrame:
    """quantity, value, movements, rows_without_value for [start, end] and previous_* for
    [prev_start, start) (prev_start == start: no previous period)."""
    usage, params = _usage(source, tenant_id, None, [(prev_start, end)], filters)
    return pool.query(source, tenant_id, f"""
        SELECT
            coalesce(sum(consumed_quantity) FILTER (usage_date >= ?), 0) AS quantity,
            coalesce(sum(consumed_value) FILTER (usage_date >= ?), 0) AS value,
            CAST(coalesce(sum(movement_count) FILTER (usage_date >= ?), 0) AS BIGINT) AS movements,
            CAST(coalesce(sum(rows_without_value) FILTER (usage_date >= ?), 0) AS BIGINT) AS rows_without_value,
            coalesce(sum(consumed_quantity) FILTER (usage_date < ?), 0) AS previous_quantity,
            coalesce(sum(consumed_value) FILTER (usage_date < ?), 0) AS previous_value,
            CAST(coalesce(sum(movement_count) FILTER (usage_date < ?), 0) AS BIGINT) AS previous_movements
        FROM {usage} f""", [start] * 7 + params)


def consumption_totals(tenant_id: str, start: date, end: date, source: Source = "tenant",
                       filters: Filters = NO_FILTERS) -> pd.DataFrame:
    """One row: quantity, value, movements, rows_without_value for [start, end], the same for the
    previous period (previous_*) and for the same period last year (last_year_quantity,
    last_year_value, last_year_movements); dashboards/data/periods.py has both rules."""
    out = _totals(source, tenant_id, start, end, previous_period(start, end)[0], filters)
    ly_start, ly_end = same_period_last_year(start, end)
    last_year = _totals(source, tenant_id, ly_start, ly_end, ly_start, filters).iloc[0]
    return out.assign(last_year_quantity=last_year["quantity"], last_year_value=last_year["value"],
                      last_year_movements=last_year["movements"])


def consumption_series(tenant_id: str, start: date, end: date, grain: str = "day",
                       source: Source = "tenant", filters: Filters = NO_FILTERS) -> pd.DataFrame:
    """period_start, quantity, value, movements per day/week (ISO, Monday)/month in [start, end]."""
    part = GRAINS[grain]
    usage, params = _usage(source, tenant_id, None, [(start, end)], filters)
    return pool.query(source, tenant_id, f"""
        SELECT CAST(date_trunc('{part}', usage_date) AS DATE) AS period_start,
               sum(consumed_quantity) AS quantity, coalesce(sum(consumed_value), 0) AS value,
               CAST(sum(movement_count) AS BIGINT) AS movements
        FROM {usage} f
        GROUP BY 1 ORDER BY 1""", params)


def _breakdown(source: str, tenant_id: str, start: date, end: date, prev: tuple[date, date] | None,
               dimension: str, category: str | None, filters: Filters) -> tuple[str, list]:
    """(SQL, params) of one breakdown: per key of `dimension`, the measures in [start, end] and,
    when `prev` is given, in that previous period."""
    key, label = _DIMENSIONS[dimension]
    periods = ([prev] if prev else []) + [(start, end)]
    usage, usage_params = _usage(source, tenant_id, dimension, periods, filters)
    joins = ({_DIMENSION_JOINS[dimension]} if dimension in _DIMENSION_JOINS else set()) | \
        ({"m"} if category is not None and dimension != "category" else set())   # only what is read
    if category is not None and dimension == "category":
        where_category = f" WHERE coalesce(f.category, '{UNCATEGORISED}') = ?"
    elif category is not None:
        where_category = f" WHERE coalesce(m.category, '{UNCATEGORISED}') = ?"
    else:
        where_category = ""
    unit = "any_value(coalesce(m.unit, f.unit))" if dimension == "material" else "CAST(NULL AS VARCHAR)"
    role = "any_value(u.role)" if dimension == "user" else "CAST(NULL AS VARCHAR)"
    params: list = [start] * 5 + usage_params + ([category] if category is not None else [])
    return f"""
        SELECT {key} AS key, any_value({label}) AS label,
               coalesce(sum(f.consumed_quantity) FILTER (f.usage_date >= ?), 0) AS quantity,
               coalesce(sum(f.consumed_value) FILTER (f.usage_date >= ?), 0) AS value,
               CAST(coalesce(sum(f.movement_count) FILTER (f.usage_date >= ?), 0) AS BIGINT) AS movements,
               coalesce(sum(f.consumed_quantity) FILTER (f.usage_date < ?), 0) AS previous_quantity,
               coalesce(sum(f.consumed_value) FILTER (f.usage_date < ?), 0) AS previous_value,
               value - previous_value AS change_value,
               {unit} AS unit, {role} AS role
        FROM {usage} f {" ".join(_JOINS[j] for j in sorted(joins))}{where_category}
        GROUP BY 1""", params


def consumption_breakdown(tenant_id: str, start: date, end: date, dimension: str, *,
                          category: str | None = None, limit: int | None = None,
                          source: Source = "tenant", filters: Filters = NO_FILTERS) -> pd.DataFrame:
    """Consumption per category, material, project, location or user in [start, end], with the
    previous period and the same period last year (dashboards/data/periods.py). Columns: key,
    label, quantity, value, movements, previous_quantity, previous_value, change_value,
    last_year_quantity, last_year_value, unit (material only), role (user only). `category`
    restricts to one category (the category drill-down), `filters` to projects, locations,
    categories and people; `limit` keeps the top by value."""
    sql, params = _breakdown(source, tenant_id, start, end, previous_period(start, end), dimension, category, filters)
    limit_sql = ""
    if limit is not None:
        limit_sql = " LIMIT ?"
        params.append(int(limit))
    current = pool.query(source, tenant_id, f"""{sql}
        HAVING movements > 0
        ORDER BY value DESC, quantity DESC, key{limit_sql}""", params)
    ly_start, ly_end = same_period_last_year(start, end)
    sql, params = _breakdown(source, tenant_id, ly_start, ly_end, None, dimension, category, filters)
    last_year = pool.query(source, tenant_id, f"SELECT key, quantity AS last_year_quantity, value AS last_year_value "
                                              f"FROM ({sql})", params)
    out = current.merge(last_year, on="key", how="left")
    for column in ("last_year_quantity", "last_year_value"):
        out[column] = out[column].fillna(0)
    columns = ["key", "label", "quantity", "value", "movements", "previous_quantity", "previous_value", "change_value",
               "last_year_quantity", "last_year_value", "unit", "role"]
    return out[columns]


def top_consumers(tenant_id: str, start: date, end: date, limit: int = 10,
                  source: Source = "tenant", filters: Filters = NO_FILTERS) -> pd.DataFrame:
    """The people who consumed the most value in [start, end]: key (pseudonym), role, quantity,
    value, movements, previous_value..."""
    return consumption_breakdown(tenant_id, start, end, "user", limit=limit, source=source, filters=filters)


def filter_options(tenant_id: str, source: Source = "tenant") -> dict[str, pd.DataFrame]:
    """What the filters offer, by filter: key and label (people: key and role, labelled by the
    page), from the tenant's dimensions, so a choice outlives a change of period."""
    return {
        "projects": pool.query(source, tenant_id, f"""
            SELECT project_id AS key, coalesce(project_name, project_id) AS label FROM marts.dim_projects
            WHERE tenant_id = ? UNION ALL SELECT '{NO_PROJECT}', '{NO_PROJECT}' ORDER BY 2, 1""", [tenant_id]),
        "locations": pool.query(source, tenant_id, """
            SELECT location_id AS key, coalesce(location_name, location_id) AS label FROM marts.dim_locations
            WHERE tenant_id = ? ORDER BY 2, 1""", [tenant_id]),
        "categories": pool.query(source, tenant_id, f"""
            SELECT DISTINCT coalesce(category, '{UNCATEGORISED}') AS key, coalesce(category, '{UNCATEGORISED}') AS label
            FROM marts.dim_materials WHERE tenant_id = ? ORDER BY 1""", [tenant_id]),
        "people": pool.query(source, tenant_id, """
            SELECT user_pseudonym AS key, role FROM marts.dim_users
            WHERE tenant_id = ? AND user_pseudonym IS NOT NULL ORDER BY role, user_pseudonym""", [tenant_id]),
    }


def data_bounds(tenant_id: str, source: Source = "tenant") -> tuple[date, date] | None:
    """The tenant's first and latest movement days (what makes a month complete, periods.py)."""
    row = pool.query(source, tenant_id, """
        SELECT min(stock_date) AS first_day, max(stock_date) AS last_day FROM marts.fct_stock_levels_daily
        WHERE tenant_id = ?""", [tenant_id]).iloc[0]
    if pd.isna(row["first_day"]):
        return None
    return pd.Timestamp(row["first_day"]).date(), pd.Timestamp(row["last_day"]).date()


def default_period(tenant_id: str, days: int = 30, source: Source = "tenant") -> tuple[date, date] | None:
    """The last `days` days up to the tenant's latest consumption day (None without consumption)."""
    bounds = usage_bounds(tenant_id, source)
    last = bounds.iloc[0]["last_date"] if not bounds.empty else None
    if last is None or pd.isna(last):
        return None
    last = pd.Timestamp(last).date()
    first = pd.Timestamp(bounds.iloc[0]["first_date"]).date()
    return max(first, last - timedelta(days=days - 1)), last


# what dashboards/views/consumption.py reads, behind Streamlit's cache (keyed by tenant and source)
cached = pool.Cached(common.tenant_info, usage_bounds, consumption_totals, consumption_series,
                     consumption_breakdown, top_consumers, filter_options, data_bounds)
