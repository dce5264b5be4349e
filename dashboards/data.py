"""Every query the dashboards run: plain functions (tenant, filters) -> pandas DataFrame.

Why this shape:
- Isolation is physical: a manager's queries open only their tenant's serving file
  (`source="tenant"`); an analyst's open the pseudonymised cross-tenant file (`source="analyst"`).
  Every query still filters on `tenant_id = ?`, so a mistake in one layer is caught by the other.
- Parameters only: values always travel as `?`; the few identifiers that vary (grain, breakdown
  dimension) are looked up in fixed dictionaries, never formatted from user input.
- No Streamlit here, so the benchmark times exactly what a page asks for; `cached` wraps the
  same functions in `st.cache_data`, whose key includes the tenant and the source (both explicit
  arguments), so one tenant's cached result can never be served to another.
- Serving files are swapped atomically by the pipeline; `_Pool` keeps one connection per file
  and reopens it as soon as the file on disk is another one.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator, Literal

import duckdb
import pandas as pd

from pipelines import rollups, serving
from pipelines.serving import ServingUnavailable
from pipelines.settings import get_settings

Source = Literal["tenant", "analyst"]
SOURCES = ("tenant", "analyst")
CACHE_TTL_S = 60

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

_USAGE = "marts.fct_material_usage_daily"
_JOINS = {
    "m": "LEFT JOIN marts.dim_materials m ON m.tenant_id = f.tenant_id AND m.material_id = f.material_id",
    "p": "LEFT JOIN marts.dim_projects p ON p.tenant_id = f.tenant_id AND p.project_id = f.project_id",
    "l": "LEFT JOIN marts.dim_locations l ON l.tenant_id = f.tenant_id AND l.location_id = f.location_id",
    "u": "LEFT JOIN marts.dim_users u ON u.tenant_id = f.tenant_id AND u.user_pseudonym = f.user_pseudonym",
}
_DIMENSION_JOINS = {"material": "m", "project": "p", "location": "l", "user": "u"}


# -- connections ------------------------------------------------------------------------------------

class _Pool:
    """One open connection per serving file, reused while the file is the same file.

    Opening an encrypted serving file costs ~100 ms (a fresh DuckDB instance, the crypto
    extension, decrypting the catalogue): more than every query of a page together. So each
    file is attached once per process and queried through short-lived cursors (DuckDB's way to
    share one database between threads). The pipeline swaps a file by renaming a new one over
    it: before every query the file's identity (inode, size, mtime) is compared with the one
    opened, and a changed or deleted file is reopened or reported, so a reader never answers
    from a snapshot that has been replaced. Least recently used files are dropped beyond
    MAX_OPEN. A dropped connection is kept for RETIRE_S more seconds (a query another thread
    runs on it finishes) and then left to the garbage collector."""

    MAX_OPEN = 32
    RETIRE_S = 120.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (file identity, connection, catalog, its tables as "schema.table")
        self._open: OrderedDict[tuple, tuple[tuple, duckdb.DuckDBPyConnection, str, frozenset]] = OrderedDict()
        self._retired: list[tuple[float, duckdb.DuckDBPyConnection]] = []

    def _retire(self, entry) -> None:
        """Called under the lock."""
        now = time.monotonic()
        self._retired = [(t, c) for t, c in self._retired if now - t < self.RETIRE_S]
        if entry is not None:
            self._retired.append((now, entry[1]))

    @staticmethod
    def _path(source: str, tenant_id: str | None) -> Path:
        settings = get_settings()
        if source == "tenant":
            return serving.tenant_path(tenant_id, settings)
        if source == "analyst":
            return settings.serving_dir / "analyst.duckdb"
        return serving.ops_path(settings)

    @staticmethod
    def _opener(source: str, tenant_id: str | None) -> duckdb.DuckDBPyConnection:
        if source == "tenant":
            return serving.open_tenant(tenant_id)
        if source == "analyst":
            return serving.open_analyst()
        return serving.open_ops()

    def cursor(self, source: str, tenant_id: str | None) -> duckdb.DuckDBPyConnection:
        return self._entry(source, tenant_id)[0]

    def tables(self, source: str, tenant_id: str | None) -> frozenset:
        """The file's tables ("schema.table"), read once per opened file: which optional tables
        (the rollups) a file has decides the SQL, and asking the catalog per query would cost a
        query."""
        cur, tables = self._entry(source, tenant_id)
        cur.close()
        return tables

    def _entry(self, source: str, tenant_id: str | None) -> tuple[duckdb.DuckDBPyConnection, frozenset]:
        path = self._path(source, tenant_id)
        key = (str(get_settings().home), source, tenant_id)
        try:
            stat = path.stat()
            identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            identity = None
        with self._lock:
            entry = self._open.get(key)
            if entry is not None and identity is not None and entry[0] == identity:
                self._open.move_to_end(key)
                return self._use(entry[1], entry[2]), entry[3]
            self._retire(self._open.pop(key, None))
        con = self._opener(source, tenant_id)    # raises ServingUnavailable when missing
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        tables = frozenset(f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [catalog]).fetchall())
        with self._lock:
            self._retire(self._open.pop(key, None))     # another thread may have opened it meanwhile
            self._open[key] = (identity, con, catalog, tables)
            while len(self._open) > self.MAX_OPEN:
                self._retire(self._open.popitem(last=False)[1])
            return self._use(con, catalog), tables

    @staticmethod
    def _use(con: duckdb.DuckDBPyConnection, catalog: str) -> duckdb.DuckDBPyConnection:
        """A cursor of the shared connection (made under the pool's lock: the parent connection
        is not thread-safe, its cursors are each used by one thread)."""
        cur = con.cursor()
        cur.execute(f"USE {_ident(catalog)}")
        return cur

    def clear(self) -> None:
        with self._lock:
            self._open.clear()
            self._retired.clear()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_pool = _Pool()


@contextmanager
def _connection(source: str, tenant_id: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
    if source not in ("tenant", "analyst", "ops"):
        raise ValueError("unknown source")
    if source == "tenant" and not tenant_id:
        raise ServingUnavailable("This account has no organisation: ask an administrator.")
    cur = _pool.cursor(source, tenant_id)
    try:
        yield cur
    finally:
        cur.close()


def _query(source: str, tenant_id: str | None, sql: str, params: list | None = None) -> pd.DataFrame:
    try:
        with _connection(source, tenant_id) as con:
            return con.execute(sql, params or []).df()
    except duckdb.CatalogException:
        raise ServingUnavailable("The published data lacks a report this page needs: it appears after the "
                                 "next `mira run`.") from None
    except duckdb.IOException:
        raise ServingUnavailable("The data is being replaced right now: try again in a few seconds.") from None


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of equal length just before [start, end]."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def user_label(role: object, pseudonym: object) -> str:
    """A readable, stable, non-identifying label: role + first 4 hex characters of the pseudonym."""
    role_text = str(role).replace("_", " ").capitalize() if isinstance(role, str) and role else "User"
    return f"{role_text} {str(pseudonym)[:4].upper()}"


def add_user_labels(df: pd.DataFrame, pseudonym_col: str = "user_pseudonym", role_col: str = "role",
                    label_col: str = "user") -> pd.DataFrame:
    """Adds `label_col`; two people who would share a label get 8 characters instead of 4."""
    df = df.copy()
    if df.empty:
        df[label_col] = pd.Series(dtype="object")
        return df
    labels = [user_label(r, p) for r, p in zip(df[role_col], df[pseudonym_col])]
    df[label_col] = labels
    pairs = df[[label_col, pseudonym_col]].drop_duplicates()
    clashing = set(pairs[pairs.duplicated(label_col, keep=False)][label_col])
    if clashing:
        df[label_col] = [f"{lab.rsplit(' ', 1)[0]} {str(p)[:8].upper()}" if lab in clashing else lab
                         for lab, p in zip(df[label_col], df[pseudonym_col])]
    return df


# -- tenants ----------------------------------------------------------------------------------------

def tenant_info(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """One row: tenant_id, tenant_name, subscription_status."""
    return _query(source, tenant_id, """
        SELECT tenant_id, coalesce(tenant_name, tenant_id) AS tenant_name, subscription_status
        FROM marts.dim_tenants WHERE tenant_id = ?""", [tenant_id])


def analyst_tenants() -> pd.DataFrame:
    """Every tenant in the analyst file (analysts are cross-tenant by design)."""
    return _query("analyst", None, """
        SELECT tenant_id, coalesce(tenant_name, tenant_id) AS tenant_name FROM marts.dim_tenants ORDER BY 2, 1""")


# -- consumption --------------------------------------------------------------------------------------
#
# Every consumption figure is a sum over the daily usage mart. A tenant's serving file also holds
# rollups of it (pipelines/rollups.py: totals per day, and per day, ISO week and month for each
# breakdown dimension, in one table), and `_usage` answers a period from the smallest of them that tiles
# it exactly; a file without them (the analyst file, or one published before they existed) is
# answered from the daily mart. Both give the same relation `f`: tenant_id, usage_date (the first
# day of the row's period), the dimension's columns, consumed_quantity, consumed_value,
# movement_count, rows_without_value.

_MEASURE_COLUMNS = "consumed_quantity, consumed_value, movement_count, rows_without_value"


def _has_rollups(source: str, tenant_id: str | None) -> bool:
    return rollups.TABLE in _pool.tables(source, tenant_id)


def _usage(source: str, tenant_id: str, dimension: str | None, periods: list[tuple[date, date]],
           ) -> tuple[str, list]:
    """The usage relation (SQL, params) for `tenant_id` restricted to the days of `periods`
    (disjoint date ranges), with the columns of `dimension` (None: totals only)."""
    if not _has_rollups(source, tenant_id):
        keep = "f.material_id, f.project_id, f.location_id, f.user_pseudonym, f.unit"
        join = ""
        if dimension == "category":
            keep += ", m.category"
            join = f" {_JOINS['m']}"
        ranges = [(lo, hi) for _, lo, hi in rollups.merge([("day", lo, hi) for lo, hi in periods if lo <= hi])]
        ranges = ranges or [(date.max, date.min)]   # nothing: the same columns, no row
        where = " OR ".join(["f.usage_date BETWEEN ? AND ?"] * len(ranges))
        sql = (f"(SELECT f.tenant_id, f.usage_date, {keep}, f.consumed_quantity, f.consumed_value, "
               f"f.movement_count, CAST(f.consumed_value IS NULL AS BIGINT) AS rows_without_value "
               f"FROM {_USAGE} f{join} WHERE f.tenant_id = ? AND ({where}))")
        return sql, [tenant_id, *(d for r in ranges for d in r)]
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
        return _query(source, tenant_id, f"""
            SELECT min(period_start) AS first_date, max(period_start) AS last_date FROM {rollups.TABLE}
            WHERE tenant_id = ? AND dimension = ?""", [tenant_id, rollups.TOTAL])
    return _query(source, tenant_id, f"""
        SELECT min(usage_date) AS first_date, max(usage_date) AS last_date FROM {_USAGE} WHERE tenant_id = ?""",
                  [tenant_id])


def consumption_totals(tenant_id: str, start: date, end: date, source: Source = "tenant") -> pd.DataFrame:
    """One row: quantity, value, movements, rows_without_value for [start, end] and the same for the
    previous period of equal length (previous_*)."""
    prev_start, _ = previous_period(start, end)
    usage, params = _usage(source, tenant_id, None, [(prev_start, end)])
    return _query(source, tenant_id, f"""
        SELECT
            coalesce(sum(consumed_quantity) FILTER (usage_date >= ?), 0) AS quantity,
            coalesce(sum(consumed_value) FILTER (usage_date >= ?), 0) AS value,
            CAST(coalesce(sum(movement_count) FILTER (usage_date >= ?), 0) AS BIGINT) AS movements,
            CAST(coalesce(sum(rows_without_value) FILTER (usage_date >= ?), 0) AS BIGINT) AS rows_without_value,
            coalesce(sum(consumed_quantity) FILTER (usage_date < ?), 0) AS previous_quantity,
            coalesce(sum(consumed_value) FILTER (usage_date < ?), 0) AS previous_value,
            CAST(coalesce(sum(movement_count) FILTER (usage_date < ?), 0) AS BIGINT) AS previous_movements
        FROM {usage} f""", [start] * 7 + params)


def consumption_series(tenant_id: str, start: date, end: date, grain: str = "day",
                       source: Source = "tenant") -> pd.DataFrame:
    """period_start, quantity, value, movements per day/week (ISO, Monday)/month in [start, end]."""
    part = GRAINS[grain]
    usage, params = _usage(source, tenant_id, None, [(start, end)])
    return _query(source, tenant_id, f"""
        SELECT CAST(date_trunc('{part}', usage_date) AS DATE) AS period_start,
               sum(consumed_quantity) AS quantity, coalesce(sum(consumed_value), 0) AS value,
               CAST(sum(movement_count) AS BIGINT) AS movements
        FROM {usage} f
        GROUP BY 1 ORDER BY 1""", params)


def consumption_breakdown(tenant_id: str, start: date, end: date, dimension: str, *,
                          category: str | None = None, limit: int | None = None,
                          source: Source = "tenant") -> pd.DataFrame:
    """Consumption per category, material, project, location or user in [start, end], with the
    previous period of equal length. Columns: key, label, quantity, value, movements,
    previous_quantity, previous_value, change_value, unit (material only), role (user only).
    `category` restricts to one category (the drill-down); `limit` keeps the top by value."""
    key, label = _DIMENSIONS[dimension]
    prev_start, prev_end = previous_period(start, end)
    usage, usage_params = _usage(source, tenant_id, dimension, [(prev_start, prev_end), (start, end)])
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
    params: list = [start] * 5 + usage_params
    if category is not None:
        params.append(category)
    limit_sql = ""
    if limit is not None:
        limit_sql = " LIMIT ?"
        params.append(int(limit))
    return _query(source, tenant_id, f"""
        SELECT {key} AS key, any_value({label}) AS label,
               coalesce(sum(f.consumed_quantity) FILTER (f.usage_date >= ?), 0) AS quantity,
               coalesce(sum(f.consumed_value) FILTER (f.usage_date >= ?), 0) AS value,
               CAST(coalesce(sum(f.movement_count) FILTER (f.usage_date >= ?), 0) AS BIGINT) AS movements,
               coalesce(sum(f.consumed_quantity) FILTER (f.usage_date < ?), 0) AS previous_quantity,
               coalesce(sum(f.consumed_value) FILTER (f.usage_date < ?), 0) AS previous_value,
               value - previous_value AS change_value,
               {unit} AS unit, {role} AS role
        FROM {usage} f {" ".join(_JOINS[j] for j in sorted(joins))}{where_category}
        GROUP BY 1
        HAVING movements > 0
        ORDER BY value DESC, quantity DESC, key{limit_sql}""", params)


def top_consumers(tenant_id: str, start: date, end: date, limit: int = 10,
                  source: Source = "tenant") -> pd.DataFrame:
    """The people who consumed the most value in [start, end]: key (pseudonym), role, quantity,
    value, movements, previous_value..."""
    return consumption_breakdown(tenant_id, start, end, "user", limit=limit, source=source)


# -- stock ----------------------------------------------------------------------------------------------

def stock_by_location(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per location: location, kind, materials in stock, materials at zero or below, value on hand."""
    return _query(source, tenant_id, """
        SELECT s.location_id, any_value(coalesce(l.location_name, s.location_id)) AS location,
               any_value(l.location_kind) AS kind,
               count(*) FILTER (s.quantity_on_hand > 0) AS materials_in_stock,
               count(*) FILTER (s.quantity_on_hand <= 0) AS materials_out_of_stock,
               coalesce(sum(s.value_on_hand), 0) AS value_on_hand
        FROM marts.rpt_stock_on_hand s
        LEFT JOIN marts.dim_locations l ON l.tenant_id = s.tenant_id AND l.location_id = s.location_id
        WHERE s.tenant_id = ?
        GROUP BY s.location_id ORDER BY value_on_hand DESC, location""", [tenant_id])


def stock_on_hand(tenant_id: str, location_id: str | None = None, source: Source = "tenant") -> pd.DataFrame:
    """Per location and material: quantity, unit, value, last movement (one location when given)."""
    params: list = [tenant_id]
    where = ""
    if location_id is not None:
        where = " AND s.location_id = ?"
        params.append(location_id)
    return _query(source, tenant_id, f"""
        SELECT coalesce(l.location_name, s.location_id) AS location, s.material_id,
               coalesce(m.material_name, s.material_id) AS material, m.category,
               s.quantity_on_hand, s.unit, s.value_on_hand, s.last_movement_date
        FROM marts.rpt_stock_on_hand s
        LEFT JOIN marts.dim_locations l ON l.tenant_id = s.tenant_id AND l.location_id = s.location_id
        LEFT JOIN marts.dim_materials m ON m.tenant_id = s.tenant_id AND m.material_id = s.material_id
        WHERE s.tenant_id = ?{where}
        ORDER BY location, material""", params)


def reorder_suggestions(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Materials at or below their reorder level (or minimum) per warehouse, with the suggested
    order quantity and its value at current cost."""
    return _query(source, tenant_id, """
        SELECT coalesce(m.material_name, r.material_id) AS material, m.sku,
               coalesce(l.location_name, r.location_id) AS warehouse,
               r.quantity_on_hand, m.unit, r.min_stock, r.reorder_level, r.avg_daily_use, r.lead_time_days,
               r.is_below_minimum, r.suggested_order_qty,
               r.suggested_order_qty * m.unit_cost AS order_value
        FROM marts.rpt_reorder_suggestions r
        LEFT JOIN marts.dim_materials m ON m.tenant_id = r.tenant_id AND m.material_id = r.material_id
        LEFT JOIN marts.dim_locations l ON l.tenant_id = r.tenant_id AND l.location_id = r.location_id
        WHERE r.tenant_id = ? AND (r.is_below_reorder_level OR r.is_below_minimum)
        ORDER BY r.is_below_minimum DESC, order_value DESC NULLS LAST, material""", [tenant_id])


def days_of_cover(tenant_id: str, within_days: int | None = None, source: Source = "tenant") -> pd.DataFrame:
    """Stock with a predicted stock-out date (there is net use), soonest first; only those running
    out within `within_days` of the as-of date when given."""
    params: list = [tenant_id]
    where = ""
    if within_days is not None:
        where = " AND d.predicted_stockout_date <= d.as_of_date + CAST(? AS INTEGER)"
        params.append(int(within_days))
    return _query(source, tenant_id, f"""
        SELECT coalesce(m.material_name, d.material_id) AS material,
               coalesce(l.location_name, d.location_id) AS location,
               d.quantity_on_hand, m.unit, d.avg_daily_use, d.days_of_cover, d.predicted_stockout_date,
               d.as_of_date
        FROM marts.rpt_days_of_cover d
        LEFT JOIN marts.dim_materials m ON m.tenant_id = d.tenant_id AND m.material_id = d.material_id
        LEFT JOIN marts.dim_locations l ON l.tenant_id = d.tenant_id AND l.location_id = d.location_id
        WHERE d.tenant_id = ? AND d.predicted_stockout_date IS NOT NULL{where}
        ORDER BY d.predicted_stockout_date, d.days_of_cover, material""", params)


AGE_BANDS = ("0_30", "31_60", "61_90", "91_180", "181_365", "over_365")


def stock_ageing(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per location: quantity-weighted average age and the value on hand in each age band
    (value_age_0_30 ... value_age_over_365)."""
    bands = ", ".join(f"coalesce(sum(a.value_age_{b}), 0) AS value_age_{b}" for b in AGE_BANDS)
    return _query(source, tenant_id, f"""
        SELECT coalesce(any_value(l.location_name), a.location_id) AS location,
               coalesce(sum(a.value_on_hand), 0) AS value_on_hand,
               sum(a.average_age_days * a.quantity_on_hand) / nullif(sum(a.quantity_on_hand), 0) AS average_age_days,
               {bands}
        FROM marts.rpt_stock_ageing a
        LEFT JOIN marts.dim_locations l ON l.tenant_id = a.tenant_id AND l.location_id = a.location_id
        WHERE a.tenant_id = ?
        GROUP BY a.location_id ORDER BY value_on_hand DESC, location""", [tenant_id])


def count_accuracy(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per month and location: counts with a difference, accuracy, found, missing, scrap, shrinkage."""
    return _query(source, tenant_id, """
        SELECT c.month_start AS month, coalesce(l.location_name, c.location_id) AS location,
               c.adjustment_count AS counts_with_difference, c.count_accuracy, c.counted_value,
               c.found_value, c.missing_value, c.scrap_value, c.shrinkage_value
        FROM marts.rpt_count_accuracy c
        LEFT JOIN marts.dim_locations l ON l.tenant_id = c.tenant_id AND l.location_id = c.location_id
        WHERE c.tenant_id = ?
        ORDER BY c.month_start DESC, location""", [tenant_id])


# -- tools ------------------------------------------------------------------------------------------------

def tool_custody(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Tools out now: tool, user_pseudonym, role, store, project, since, days_out, quantity,
    overdue, lost; longest out first."""
    return _query(source, tenant_id, """
        SELECT coalesce(m.material_name, c.material_id) AS tool, c.user_pseudonym, u.role,
               coalesce(l.location_name, c.location_id) AS store,
               coalesce(p.project_name, c.project_id) AS project,
               c.checkout_date AS since, c.days_out, c.open_quantity AS quantity, c.is_overdue AS overdue,
               c.is_lost AS lost
        FROM marts.rpt_tool_custody c
        LEFT JOIN marts.dim_materials m ON m.tenant_id = c.tenant_id AND m.material_id = c.material_id
        LEFT JOIN marts.dim_users u ON u.tenant_id = c.tenant_id AND u.user_pseudonym = c.user_pseudonym
        LEFT JOIN marts.dim_locations l ON l.tenant_id = c.tenant_id AND l.location_id = c.location_id
        LEFT JOIN marts.dim_projects p ON p.tenant_id = c.tenant_id AND p.project_id = c.project_id
        WHERE c.tenant_id = ?
        ORDER BY c.days_out DESC, tool, c.checkout_movement_id""", [tenant_id])


def tool_utilisation(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per tool over the window: units out and in store now, utilisation share (0..1)."""
    return _query(source, tenant_id, """
        SELECT coalesce(m.material_name, t.material_id) AS tool, t.units_checked_out, t.units_in_store,
               t.utilisation_share, t.window_start_date, t.as_of_date
        FROM marts.rpt_tool_utilisation t
        LEFT JOIN marts.dim_materials m ON m.tenant_id = t.tenant_id AND m.material_id = t.material_id
        WHERE t.tenant_id = ?
        ORDER BY t.utilisation_share DESC NULLS LAST, tool""", [tenant_id])


# -- insights ----------------------------------------------------------------------------------------------

def abc_xyz_matrix(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Materials and consumption value per ABC x XYZ cell (xyz '-' under two weeks of history)."""
    return _query(source, tenant_id, """
        SELECT abc_class, coalesce(xyz_class, '-') AS xyz_class, count(*) AS materials,
               sum(consumed_value) AS value
        FROM marts.rpt_abc_xyz WHERE tenant_id = ?
        GROUP BY ALL ORDER BY 1, 2""", [tenant_id])


def abc_xyz_materials(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per material: class, value and quantity in the window, rank, weekly demand and its CV."""
    return _query(source, tenant_id, """
        SELECT coalesce(m.material_name, a.material_id) AS material, m.category, a.abc_class, a.xyz_class,
               a.abc_xyz_class, a.consumed_value, a.consumed_quantity, a.value_rank, a.cumulative_value_share,
               a.weekly_demand_mean, a.demand_cv, a.as_of_date
        FROM marts.rpt_abc_xyz a
        LEFT JOIN marts.dim_materials m ON m.tenant_id = a.tenant_id AND m.material_id = a.material_id
        WHERE a.tenant_id = ?
        ORDER BY a.value_rank""", [tenant_id])


MIN_PEOPLE = 5          # a group smaller than this is never shown: no individual may stand out
UNUSUAL_Z = 2.0


def unusual_consumption(tenant_id: str, history_weeks: int = 12, min_people: int = MIN_PEOPLE,
                        source: Source = "tenant") -> pd.DataFrame:
    """Each material's last 7 days (to the tenant's latest consumption day) against its own weekly
    history (the whole weeks before, up to `history_weeks`, weeks without use counting as 0): the
    z-score of the recent week. Only materials consumed by at least `min_people` distinct people
    both in the recent week and in the history, so the figure is never one person's behaviour.
    Columns: material, category, unit, recent_quantity, history_mean, history_stddev, weeks, z_score,
    recent_people."""
    min_people = max(int(min_people), MIN_PEOPLE)
    return _query(source, tenant_id, f"""
        WITH bounds AS (
            SELECT max(usage_date) AS as_of, min(usage_date) AS first_day FROM {_USAGE} WHERE tenant_id = ?
        ), tagged AS (
            SELECT f.material_id, f.user_pseudonym, f.consumed_quantity,
                   CAST(floor(date_diff('day', f.usage_date, b.as_of) / 7) AS INTEGER) AS weeks_ago
            FROM {_USAGE} f, bounds b
            WHERE f.tenant_id = ? AND f.usage_date > b.as_of - CAST(7 * (CAST(? AS INTEGER) + 1) AS INTEGER)
        ), weeks AS (   -- whole weeks of history that lie after the tenant's first consumption day
            SELECT w AS weeks_ago FROM bounds b, range(1, CAST(? AS INTEGER) + 1) r(w)
            WHERE b.as_of - CAST(7 * w + 6 AS INTEGER) >= b.first_day
        ), people AS (
            SELECT material_id,
                   count(DISTINCT user_pseudonym) FILTER (weeks_ago = 0) AS recent_people,
                   count(DISTINCT user_pseudonym) FILTER (weeks_ago IN (SELECT weeks_ago FROM weeks)) AS history_people
            FROM tagged GROUP BY 1
        ), eligible AS (
            SELECT material_id, recent_people FROM people
            WHERE recent_people >= ? AND history_people >= ?
        ), weekly AS (
            SELECT e.material_id, w.weeks_ago, coalesce(sum(t.consumed_quantity), 0) AS quantity
            FROM eligible e CROSS JOIN weeks w
            LEFT JOIN tagged t ON t.material_id = e.material_id AND t.weeks_ago = w.weeks_ago
            GROUP BY 1, 2
        ), history AS (
            SELECT material_id, avg(quantity) AS history_mean, stddev_pop(quantity) AS history_stddev,
                   count(*) AS weeks
            FROM weekly GROUP BY 1
        ), recent AS (
            SELECT t.material_id, sum(t.consumed_quantity) AS recent_quantity
            FROM tagged t JOIN eligible e USING (material_id) WHERE t.weeks_ago = 0 GROUP BY 1
        )
        SELECT coalesce(m.material_name, r.material_id) AS material, m.category, m.unit,
               r.recent_quantity, h.history_mean, h.history_stddev, h.weeks,
               CASE WHEN h.history_stddev > 0 THEN (r.recent_quantity - h.history_mean) / h.history_stddev END AS z_score,
               e.recent_people
        FROM recent r JOIN history h USING (material_id) JOIN eligible e USING (material_id)
        LEFT JOIN marts.dim_materials m ON m.tenant_id = ? AND m.material_id = r.material_id
        WHERE h.weeks >= 2
        ORDER BY abs(z_score) DESC NULLS LAST, material""",
                  [tenant_id, tenant_id, int(history_weeks), int(history_weeks), min_people, min_people, tenant_id])


# -- operations (ops role: counts only, no business data, no tenant scoping) -------------------------------
#
# Instants leave DuckDB as naive UTC (timezone('UTC', ...)) and are made UTC-aware in pandas:
# DuckDB's own conversion of TIMESTAMP WITH TIME ZONE to pandas calls DataFrame.drop(inplace=True),
# which pandas 3.1 deprecates (a Pandas4Warning on every such query).

def _utc(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        df[column] = pd.to_datetime(df[column]).dt.tz_localize("UTC")
    return df


def ops_freshness() -> pd.DataFrame:
    return _utc(_query("ops", None, """
        SELECT tenant_id, timezone('UTC', last_ingest_at) AS last_ingest_at,
               timezone('UTC', last_movement_at) AS last_movement_at, CAST(files_loaded AS BIGINT) AS files_loaded,
               CAST(files_rejected AS BIGINT) AS files_rejected, CAST(rows_loaded AS BIGINT) AS rows_loaded,
               CAST(rows_quarantined AS BIGINT) AS rows_quarantined
        FROM ops.tenant_freshness ORDER BY last_ingest_at NULLS FIRST, tenant_id"""),
                "last_ingest_at", "last_movement_at")


def ops_quarantine() -> pd.DataFrame:
    return _query("ops", None, """
        SELECT tenant_id, entity, rule_id, reason, CAST(rows AS BIGINT) AS rows FROM ops.quarantine_by_rule
        ORDER BY rows DESC, tenant_id, entity, rule_id""")


def ops_runs(limit: int = 20) -> pd.DataFrame:
    """The last runs: run_id, job, status (Dagster's; empty for an ingest recorded without a
    Dagster run), started_at, finished_at, and what the run ingested."""
    return _utc(_query("ops", None, """
        SELECT run_id, job, status, timezone('UTC', started_at) AS started_at,
               timezone('UTC', finished_at) AS finished_at, files_ingested, rows_loaded, rows_quarantined
        FROM ops.runs ORDER BY runs.started_at DESC NULLS LAST, run_id LIMIT ?""", [int(limit)]),
                "started_at", "finished_at")


def ops_failures(limit: int = 20) -> pd.DataFrame:
    """The last failed runs: run_id, job, failed_at, failed_step, error_class (never the message:
    pipelines/ops_runs.py says why)."""
    return _utc(_query("ops", None, """
        SELECT run_id, job, timezone('UTC', failed_at) AS failed_at, failed_step, error_class
        FROM ops.failures ORDER BY failures.failed_at DESC NULLS LAST, run_id LIMIT ?""", [int(limit)]),
                "failed_at")


def ops_published() -> pd.DataFrame:
    return _utc(_query("ops", None, "SELECT timezone('UTC', max(published_at)) AS published_at FROM ops.published"),
                "published_at")


# -- pages: what each page loads, for the benchmark --------------------------------------------------------

def default_period(tenant_id: str, days: int = 30, source: Source = "tenant") -> tuple[date, date] | None:
    """The last `days` days up to the tenant's latest consumption day (None without consumption)."""
    bounds = usage_bounds(tenant_id, source)
    last = bounds.iloc[0]["last_date"] if not bounds.empty else None
    if last is None or pd.isna(last):
        return None
    last = pd.Timestamp(last).date()
    first = pd.Timestamp(bounds.iloc[0]["first_date"]).date()
    return max(first, last - timedelta(days=days - 1)), last


def page_data(page: str, tenant_id: str | None = None, *, source: Source = "tenant", start: date | None = None,
              end: date | None = None, grain: str = "day", dimension: str = "category",
              category: str | None = None) -> dict[str, pd.DataFrame]:
    """Everything a page loads when it opens (uncached), by query name: what the benchmark times.
    Consumption defaults to the page's default period (the last 30 days of consumption) and its
    first category for the drill-down."""
    if page == "consumption":
        out = {"usage_bounds": usage_bounds(tenant_id, source)}
        if start is None or end is None:
            period = default_period(tenant_id, source=source)
            if period is None:
                return out
            start, end = period
        out["consumption_totals"] = consumption_totals(tenant_id, start, end, source)
        out["consumption_series"] = consumption_series(tenant_id, start, end, grain, source)
        out["consumption_breakdown"] = consumption_breakdown(tenant_id, start, end, dimension, source=source)
        # the page asks for the category breakdown twice (its breakdown and the drill-down's list);
        # Streamlit's cache answers the second, so it is one query here too
        categories = (out["consumption_breakdown"] if dimension == "category"
                      else consumption_breakdown(tenant_id, start, end, "category", source=source))
        out["categories"] = categories
        if category is None and not categories.empty:
            category = categories["key"].iloc[0]
        if category is not None:
            out["category_materials"] = consumption_breakdown(tenant_id, start, end, "material",
                                                              category=category, source=source)
        out["top_consumers"] = top_consumers(tenant_id, start, end, 10, source)
        out["tenant_info"] = tenant_info(tenant_id, source)
        return out
    if page == "stock":
        by_location = stock_by_location(tenant_id, source)
        first_location = by_location["location_id"].iloc[0] if not by_location.empty else None
        return {"stock_by_location": by_location, "reorder_suggestions": reorder_suggestions(tenant_id, source),
                "days_of_cover": days_of_cover(tenant_id, None, source),
                "stock_on_hand": stock_on_hand(tenant_id, first_location, source),
                "stock_ageing": stock_ageing(tenant_id, source), "count_accuracy": count_accuracy(tenant_id, source)}
    if page == "tools":
        return {"tool_custody": tool_custody(tenant_id, source), "tool_utilisation": tool_utilisation(tenant_id, source)}
    if page == "insights":
        return {"abc_xyz_matrix": abc_xyz_matrix(tenant_id, source),
                "abc_xyz_materials": abc_xyz_materials(tenant_id, source),
                "unusual_consumption": unusual_consumption(tenant_id, 12, MIN_PEOPLE, source)}
    if page == "operations":
        return {"ops_published": ops_published(), "ops_freshness": ops_freshness(),
                "ops_quarantine": ops_quarantine(), "ops_runs": ops_runs(20), "ops_failures": ops_failures(20)}
    raise ValueError(f"unknown page {page!r}")


PAGES = ("consumption", "stock", "tools", "insights", "operations")


_TENANT_FUNCTIONS = (
    tenant_info, usage_bounds, consumption_totals, consumption_series, consumption_breakdown, top_consumers,
    stock_by_location, stock_on_hand, reorder_suggestions, days_of_cover, stock_ageing, count_accuracy,
    tool_custody, tool_utilisation, abc_xyz_matrix, abc_xyz_materials, unusual_consumption,
)


def _cache(fn):
    import streamlit as st

    return st.cache_data(ttl=CACHE_TTL_S, max_entries=512, show_spinner=False)(fn)


class _Cached:
    """st.cache_data versions of the tenant functions (first argument: the tenant, always explicit;
    `source` is part of the key too). Wrapped on first use, so importing this module (the
    benchmark does) needs no Streamlit runtime."""

    def __getattr__(self, name: str):
        fn = _BY_NAME.get(name)
        if fn is None:
            raise AttributeError(name)
        wrapped = _cache(fn)
        setattr(self, name, wrapped)
        return wrapped


_BY_NAME = {fn.__name__: fn for fn in _TENANT_FUNCTIONS}
cached = _Cached()
