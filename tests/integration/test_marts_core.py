"""The core marts on generated data: figures recomputed from raw.movements, incremental runs.

One module-scoped scenario (dbt is the slow part): two generated tenants with the last day's
movements held back; ingest + dbt build; then the held-back day arrives as a new landing file,
with corrections of earlier movements (a transfer re-typed as an issue, an issue moved ten days
back, the only movement at a location moved elsewhere, a day's only consumption of a material
re-typed as a transfer) and a catalogue cost change; ingest + incremental build; and a
`--full-refresh` build of a copy of that warehouse to compare against. Expected figures are
computed in Python from raw.movements, not with the marts' SQL.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipelines.generate import generate
from pipelines.ingest.load import ingest
from pipelines.keys import file_key
from pipelines.privacy.scan import identities, scan_duckdb
from pipelines.transform.project import dbt_env as _dbt_env
from pipelines.warehouse import attach, memory_connection, open_file
from tests.conftest import point_at

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")

LAST_DAY = date(2026, 10, 30)           # a Friday: a working day's worth of movements
CORE_SELECT = "staging intermediate marts.core marts.consumption fct_stock_levels_daily rpt_tool_custody"
# Marts that must be equal after an incremental run and after a full refresh (built_at aside).
# fct_stock_movement_history is left out on purpose: it remembers superseded bookings, which a
# full refresh (starting from the current ledger) cannot know.
COMPARED_MARTS = [
    "fct_stock_movements", "fct_stock_levels_daily", "fct_material_usage_daily",
    "dim_materials", "dim_locations", "dim_projects", "dim_users", "dim_tenants", "dim_date",
    "rpt_tool_custody",
]
# and the incremental working table tool custody is matched in
COMPARED = [("marts", m) for m in COMPARED_MARTS] + [("intermediate", "int_tool_custody_events")]
IN_TYPES = {"receipt", "return", "transfer", "checkin", "adjustment"}     # stock enters to_location
OUT_TYPES = {"issue", "transfer", "checkout", "scrap"}                    # stock leaves from_location
PERSON_COLUMN = re.compile(r"^(full_?|first_?|last_?|given_?|family_?|sur)?name$|e_?mail|user_?id|phone",
                           re.IGNORECASE)


@dataclass
class Scenario:
    home: Path              # after the incremental run
    full_home: Path         # a copy of it, rebuilt with --full-refresh
    tenant: str             # the tenant the corrections were made in
    new_ids: set[tuple[str, str]]        # (tenant, movement_id) of the held-back day
    corrected_ids: set[tuple[str, str]]  # (tenant, movement_id) of the corrections
    custody_ids: set[tuple[str, str]]    # those of them that are tool checkouts and checkins
    recosted: tuple[str, str]            # (tenant, material_id) whose catalogue cost changed
    first_ledger: list[tuple]            # ledger bookings after the first build
    first_built_at: datetime
    second_built_at: datetime


def _rows(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    with open_file(home / "warehouse.duckdb", read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _hold_back_last_day(landing: Path) -> dict[str, pl.DataFrame]:
    """Take the last day's movements out of the generated monthly files (before any ingest)."""
    held: dict[str, pl.DataFrame] = {}
    for path in sorted(landing.glob("*/movements/*.csv")):
        df = _read(path)
        last = pl.col("occurred_at").str.starts_with(LAST_DAY.isoformat())
        if df.filter(last).height:
            held[path.parent.parent.name] = df.filter(last)
            df.filter(~last).write_csv(path)
    return held


def _movement(template: dict, **changes) -> dict:
    row = dict(template)
    row.update({k: ("" if v is None else str(v)) for k, v in changes.items()})
    return row


def _pick(df: pl.DataFrame, **where) -> dict:
    rows = df
    for column, value in where.items():
        rows = rows.filter(pl.col(column) == value)
    return rows.sort("movement_id").row(len(rows) // 2, named=True)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, transform) -> Scenario:
    mp = pytest.MonkeyPatch()
    home = point_at(mp, tmp_path_factory.mktemp("core") / "mira")
    landing = home / "landing"
    # Build only the core marts: tests of other marts that merely read them stay out.
    mp.setenv("DBT_INDIRECT_SELECTION", "cautious")
    try:
        gen = generate(landing, tenants=2, days=60, seed=7, movements_per_day=15, end_date=LAST_DAY)
        held = _hold_back_last_day(landing)
        tenant = next(t for t in gen.tenants if t in held)   # one still active on the last day
        moves = pl.concat([_read(p) for p in sorted((landing / tenant / "movements").glob("*.csv"))])
        template = moves.row(0, named=True)
        tools = _read(landing / tenant / "materials" / "materials.csv").filter(pl.col("kind") == "tool")
        tool_moves = moves.filter(pl.col("material_id").is_in(tools["material_id"].implode()))
        project = _pick(moves, movement_type="issue")["project_id"]

        # Planted in the first batch, so the corrections below can empty a series and a day.
        alone = _movement(template, movement_id="MV-PLANTED-1", occurred_at="2026-09-15T10:00:00+02:00",
                          movement_type="receipt", material_id=template["material_id"], quantity=7,
                          from_location_id=None, to_location_id="LOC-PLANTED", project_id=None,
                          unit_cost="1.50", note=None)
        lonely_use = _movement(template, movement_id="MV-PLANTED-2", occurred_at="2026-09-16T10:00:00+02:00",
                               movement_type="issue", material_id="MAT-PLANTED", quantity=3,
                               from_location_id="LOC-0001", to_location_id=None, project_id=project,
                               unit_cost=None, note=None)
        pl.DataFrame([alone, lonely_use]).write_csv(landing / tenant / "movements" / "movements_planted.csv")

        ingest(landing)
        transform.run_dbt_build(home, select=CORE_SELECT)
        first_ledger = _rows(home, """select tenant_id, movement_id, leg, material_id, location_id, movement_date
                                      from marts.fct_stock_movements""")
        (first_built_at,) = _rows(home, "select max(built_at) from marts.fct_stock_movements")[0]

        # The second batch: the held-back day, and corrections (same key, new content).
        for t, df in held.items():
            df.write_csv(landing / t / "movements" / f"movements_{LAST_DAY.isoformat()}.csv")
        transfer = _pick(moves.filter(pl.col("occurred_at") < "2026-09-20"), movement_type="transfer")
        issue = _pick(moves.filter(pl.col("occurred_at") > "2026-10-10"), movement_type="issue")
        moved_day = (datetime.fromisoformat(issue["occurred_at"]) - timedelta(days=10)).isoformat()
        checkout = _pick(tool_moves.filter(pl.col("occurred_at") < "2026-10-01"), movement_type="checkout")
        other_holder = _pick(moves.filter(pl.col("user_id") != checkout["user_id"]), movement_type="issue")["user_id"]
        checkin = _pick(tool_moves.filter(pl.col("occurred_at") < "2026-10-15"), movement_type="checkin")
        corrections = [
            # a transfer (out of A, into B) re-typed as an issue from A, one more unit: B's leg must go
            _movement(transfer, movement_type="issue", quantity=Decimal(transfer["quantity"]) + 1,
                      to_location_id=None, project_id=project),
            # backdated: the same issue, ten days earlier
            _movement(issue, occurred_at=moved_day),
            # the only movement at LOC-PLANTED moves to LOC-0001: that series must vanish
            _movement(alone, to_location_id="LOC-0001"),
            # the day's only consumption of MAT-PLANTED becomes a transfer: that day must vanish
            _movement(lonely_use, movement_type="transfer", to_location_id="LOC-0002", project_id=None),
            # a tool checkout booked by the wrong person: it leaves one custody stack for another
            _movement(checkout, user_id=other_holder),
            # a checkin that arrives late, dated before events its holder's stack already has
            _movement(checkin, movement_id="MV-LATE-CHECKIN",
                      occurred_at=(datetime.fromisoformat(checkin["occurred_at"]) - timedelta(days=3)).isoformat()),
        ]
        pl.DataFrame(corrections).write_csv(landing / tenant / "movements" / "movements_corrections.csv")
        # and the catalogue re-costs the tenant's most moved material: its legs are valued anew
        recosted = moves.group_by("material_id").len().sort(["len", "material_id"])["material_id"][-1]
        catalogue_path = landing / tenant / "materials" / "materials.csv"
        catalogue = _read(catalogue_path)
        catalogue.with_columns(
            pl.when(pl.col("material_id") == recosted)
            .then((pl.col("unit_cost").cast(pl.Decimal(18, 2)) * 2 + 1).cast(pl.String))
            .otherwise(pl.col("unit_cost")).alias("unit_cost")
        ).write_csv(catalogue_path)

        ingest(landing)
        transform.run_dbt_build(home, select=CORE_SELECT)
        (second_built_at,) = _rows(home, "select max(built_at) from marts.fct_stock_movements")[0]

        full_home = home.parent / "full_refresh"
        full_home.mkdir()
        shutil.copyfile(home / "warehouse.duckdb", full_home / "warehouse.duckdb")
        mp.setenv("DBT_FULL_REFRESH", "true")
        mp.setenv("DBT_RESOURCE_TYPES", "model")   # the reference only: tests ran on the builds above
        transform.run_dbt_build(full_home, select=CORE_SELECT)
        mp.delenv("DBT_FULL_REFRESH")
        mp.delenv("DBT_RESOURCE_TYPES")

        yield Scenario(
            home=home, full_home=full_home, tenant=tenant,
            new_ids={(t, m) for t, df in held.items() for m in df["movement_id"]},
            corrected_ids={(tenant, c["movement_id"]) for c in corrections},
            custody_ids={(tenant, checkout["movement_id"]), (tenant, "MV-LATE-CHECKIN")},
            recosted=(tenant, recosted),
            first_ledger=first_ledger, first_built_at=first_built_at, second_built_at=second_built_at,
        )
    finally:
        mp.undo()


# -- figures recomputed in Python from raw.movements ------------------------------------------

def _raw_movements(home: Path) -> list[dict]:
    columns = ["tenant_id", "movement_id", "occurred_at", "movement_type", "material_id", "quantity",
               "from_location_id", "to_location_id", "unit_cost", "catalogue_cost"]
    rows = _rows(home, """
        select m.tenant_id, m.movement_id, m.occurred_at, m.movement_type, m.material_id, m.quantity,
               m.from_location_id, m.to_location_id, m.unit_cost, c.unit_cost
        from raw.movements m left join raw.materials c using (tenant_id, material_id)""")
    out = []
    for r in rows:
        row = dict(zip(columns, r))
        row["day"] = row["occurred_at"].astimezone(timezone.utc).date()   # dbt var mira_timezone: UTC
        out.append(row)
    return out


def test_monthly_consumption_per_material_matches_raw_movements(scenario):
    """Consumption = issue + scrap - return, per tenant and material over October, at cost."""
    expected: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for m in _raw_movements(scenario.home):
        if not (date(2026, 10, 1) <= m["day"] <= date(2026, 10, 31)):
            continue
        sign = {"issue": 1, "scrap": 1, "return": -1}.get(m["movement_type"])
        if sign is None:
            continue
        cost = m["unit_cost"] if m["unit_cost"] is not None else m["catalogue_cost"]
        acc = expected[(m["tenant_id"], m["material_id"])]
        acc[0] += sign * m["quantity"]
        acc[1] += sign * m["quantity"] * cost
    actual = {(t, mat): [q, v] for t, mat, q, v in _rows(scenario.home, """
        select tenant_id, material_id, sum(consumed_quantity), sum(consumed_value)
        from marts.fct_material_usage_daily
        where usage_date between date '2026-10-01' and date '2026-10-31'
        group by all""")}
    assert len(expected) > 50
    assert actual == dict(expected)
    # and one material spelled out, the month's most consumed by value
    top = max(expected, key=lambda k: expected[k][1])
    assert expected[top][1] > 0 and actual[top] == expected[top]


@pytest.mark.parametrize("as_of", [date(2026, 9, 2), date(2026, 10, 15), LAST_DAY])
def test_stock_on_hand_as_of_a_date_matches_raw_movements(scenario, as_of):
    """Every material and location: the row valid on the date holds the ledger's running sum."""
    expected: dict[tuple, Decimal] = defaultdict(Decimal)
    for m in _raw_movements(scenario.home):
        if m["day"] > as_of:
            continue
        if m["movement_type"] in IN_TYPES:
            expected[(m["tenant_id"], m["material_id"], m["to_location_id"])] += m["quantity"]
        if m["movement_type"] in OUT_TYPES:
            expected[(m["tenant_id"], m["material_id"], m["from_location_id"])] -= m["quantity"]
    rows = _rows(scenario.home, """
        select s.tenant_id, s.material_id, s.location_id, s.quantity_on_hand, s.value_on_hand, c.unit_cost
        from marts.fct_stock_levels_daily s
        left join raw.materials c using (tenant_id, material_id)
        where s.stock_date <= ? and (s.valid_to is null or ? < s.valid_to)""", [as_of, as_of])
    actual = {(t, m, loc): q for t, m, loc, q, _, _ in rows}
    assert len(rows) == len(actual), "more than one row valid on the same day"
    assert actual == dict(expected)
    assert all(v == (q * c if c is not None else None) for _, _, _, q, v, c in rows)


def test_daily_flows_the_reports_read_match_raw_movements(scenario):
    """fct_stock_levels_daily's use (issue + scrap + transfer out - return), net tool checkouts
    (checkout - checkin) and arrivals to date, per location, recomputed from raw.movements."""
    used: dict[tuple, Decimal] = defaultdict(Decimal)
    checked_out: dict[tuple, Decimal] = defaultdict(Decimal)
    arrived: dict[tuple, Decimal] = defaultdict(Decimal)
    for m in _raw_movements(scenario.home):
        t, mat, q, typ = m["tenant_id"], m["material_id"], m["quantity"], m["movement_type"]
        frm, to = (t, mat, m["from_location_id"]), (t, mat, m["to_location_id"])
        if typ in ("issue", "scrap", "transfer"):
            used[frm] += q
        if typ == "return":
            used[to] -= q
        if typ == "checkout":
            checked_out[frm] += q
        if typ == "checkin":
            checked_out[to] -= q
        if typ in IN_TYPES and q > 0:       # arrivals: every leg that put stock in (a count that found more)
            arrived[to] += q
    rows = _rows(scenario.home, """
        select tenant_id, material_id, location_id, sum(quantity_used), sum(quantity_checked_out),
               max(cumulative_quantity_in) filter (where valid_to is null), sum(quantity_in)
        from marts.fct_stock_levels_daily group by all""")
    assert {tuple(k): u for *k, u, _, _, _ in rows if u} == {k: v for k, v in used.items() if v}
    assert {tuple(k): c for *k, _, c, _, _ in rows if c} == {k: v for k, v in checked_out.items() if v}
    assert {tuple(k): a for *k, _, _, a, _ in rows if a} == {k: v for k, v in arrived.items() if v}
    assert all(a == i for *_, a, i in rows)    # arrivals to date on the current row = all arrivals
    assert sum(checked_out.values()) != 0 and len(used) > 50


def test_value_on_hand_of_one_location(scenario):
    """A warehouse's stock value today, summed from raw movements at current catalogue cost."""
    raw = _raw_movements(scenario.home)
    quantity: dict[str, Decimal] = defaultdict(Decimal)
    cost = {}
    for m in raw:
        if m["tenant_id"] != scenario.tenant:
            continue
        cost[m["material_id"]] = m["catalogue_cost"]
        if m["movement_type"] in IN_TYPES and m["to_location_id"] == "LOC-0001":
            quantity[m["material_id"]] += m["quantity"]
        if m["movement_type"] in OUT_TYPES and m["from_location_id"] == "LOC-0001":
            quantity[m["material_id"]] -= m["quantity"]
    expected = sum(q * cost[mat] for mat, q in quantity.items() if cost[mat] is not None)
    (actual,) = _rows(scenario.home, """
        select sum(value_on_hand) from marts.fct_stock_levels_daily
        where tenant_id = ? and location_id = 'LOC-0001' and valid_to is null""", [scenario.tenant])[0]
    assert expected > 0 and actual == expected


# -- incremental runs ---------------------------------------------------------------------------

def test_incremental_run_equals_full_refresh(scenario):
    with memory_connection() as con:
        key = file_key("warehouse")  # tests share one master key, so both homes share this key
        attach(con, scenario.home / "warehouse.duckdb", "inc", key, read_only=True)
        attach(con, scenario.full_home / "warehouse.duckdb", "ful", key, read_only=True)
        for schema, mart in COMPARED:
            columns = ", ".join(c for (c,) in con.execute(
                "select column_name from duckdb_columns() where database_name = 'inc' "
                "and schema_name = ? and table_name = ? and column_name <> 'built_at'", [schema, mart]).fetchall())
            only_inc = con.execute(f"select count(*) from (select {columns} from inc.{schema}.{mart} "
                                   f"except all select {columns} from ful.{schema}.{mart})").fetchone()[0]
            only_full = con.execute(f"select count(*) from (select {columns} from ful.{schema}.{mart} "
                                    f"except all select {columns} from inc.{schema}.{mart})").fetchone()[0]
            rows = con.execute(f"select count(*) from inc.{schema}.{mart}").fetchone()[0]
            assert (mart, only_inc, only_full) == (mart, 0, 0)
            assert rows > 0, mart
        # the full refresh really rebuilt everything in one run
        assert con.execute("select count(distinct built_at) from ful.marts.fct_stock_levels_daily").fetchone() == (1,)


def test_corrected_movements_replace_their_old_legs(scenario):
    t = scenario.tenant
    ledger = {(m, leg): (typ, loc, q) for m, leg, typ, loc, q in _rows(scenario.home, """
        select movement_id, leg, movement_type, location_id, quantity_delta from marts.fct_stock_movements
        where tenant_id = ? and movement_id in ('MV-PLANTED-1', 'MV-PLANTED-2')""", [t])}
    assert ledger == {
        ("MV-PLANTED-1", "in"): ("receipt", "LOC-0001", Decimal("7")),
        ("MV-PLANTED-2", "out"): ("transfer", "LOC-0001", Decimal("-3")),
        ("MV-PLANTED-2", "in"): ("transfer", "LOC-0002", Decimal("3")),
    }
    # the transfer re-typed as an issue: one out leg, one more unit, no stale in leg
    retyped = [m for (tn, m) in scenario.corrected_ids - scenario.custody_ids if not m.startswith("MV-PLANTED")]
    legs = _rows(scenario.home, """
        select movement_id, leg, movement_type from marts.fct_stock_movements
        where tenant_id = ? and movement_id in (select unnest(?::varchar[]))""", [t, retyped])
    assert sorted(legs) == sorted((m, "out", "issue") for m in retyped)
    # the series the planted receipt alone stocked, and the day only the planted issue consumed on, are gone
    assert _rows(scenario.home, """select count(*) from marts.fct_stock_levels_daily
                                   where location_id = 'LOC-PLANTED'""") == [(0,)]
    assert _rows(scenario.home, """select count(*) from marts.fct_material_usage_daily
                                   where material_id = 'MAT-PLANTED'""") == [(0,)]
    # ... while they existed after the first build, where the history still remembers them
    assert _rows(scenario.home, """select count(*) from marts.fct_stock_movement_history
                                   where location_id = 'LOC-PLANTED'""") == [(1,)]
    # a booking seen again (the re-costed material's legs) keeps when it first appeared
    assert _rows(scenario.home, """select count(*) filter (where first_loaded_at < last_loaded_at) > 10
                                   from marts.fct_stock_movement_history
                                   where tenant_id = ? and material_id = ?""", list(scenario.recosted)) == [
        (True,)]


def test_a_new_day_rebuilds_only_what_it_touches(scenario):
    home, run2 = scenario.home, scenario.second_built_at
    # new and corrected movements, and every movement of the re-costed material
    recosted = set(_rows(home, "select tenant_id, movement_id from raw.movements "
                               "where tenant_id = ? and material_id = ?", list(scenario.recosted)))
    changed = scenario.new_ids | scenario.corrected_ids | recosted
    assert len(recosted) > 10
    assert run2 > scenario.first_built_at

    # ledger: exactly the legs of new and corrected movements were written
    rewritten = {(t, m) for t, m in _rows(home, "select tenant_id, movement_id from marts.fct_stock_movements "
                                                "where built_at = ?", [run2])}
    assert rewritten == changed

    # where the changed movements are booked now, and were booked before the correction
    now = _rows(home, "select tenant_id, movement_id, leg, material_id, location_id, movement_date "
                      "from marts.fct_stock_movements")
    bookings = [b for b in now + scenario.first_ledger if (b[0], b[1]) in changed]
    first_touched: dict[tuple, date] = {}
    for t, _, _, mat, loc, day in bookings:
        key = (t, mat, loc)
        first_touched[key] = min(day, first_touched.get(key, day))

    # stock levels: each touched series is rewritten from the last row before its first touched
    # day (whose valid_to may move), every other series and every earlier row is left as it was
    levels = defaultdict(list)
    for t, mat, loc, day, built in _rows(home, "select tenant_id, material_id, location_id, stock_date, "
                                               "built_at from marts.fct_stock_levels_daily"):
        levels[(t, mat, loc)].append((day, built))
    for series, rows in levels.items():
        rebuilt = sorted(day for day, built in rows if built == run2)
        if series not in first_touched:
            assert rebuilt == [], series
            continue
        before = [day for day, _ in rows if day < first_touched[series]]
        replace_from = max(before) if before else first_touched[series]
        assert rebuilt == sorted(day for day, _ in rows if day >= replace_from), series
    touched_series = [s for s in levels if s in first_touched]
    assert 0 < len(touched_series) < len(levels) / 4, "a day touches a few series, not most"

    # consumption: exactly the (tenant, material, day) partitions touched, when they hold rows
    touched_days = {(t, mat, day) for t, _, _, mat, _, day in bookings}
    partitions = defaultdict(set)
    for t, mat, day, built in _rows(home, "select tenant_id, material_id, usage_date, built_at "
                                          "from marts.fct_material_usage_daily"):
        partitions[(t, mat, day)].add(built)
    assert {p for p, built in partitions.items() if run2 in built} == touched_days & set(partitions)
    assert all(len(built) == 1 for built in partitions.values()), "a partition is rebuilt whole"

    # tool custody: a changed or new event is rewritten with its stack's open checkouts (or its
    # whole stack, after a correction); closed events of continued stacks and untouched stacks
    # keep their build
    custody = _rows(home, "select tenant_id, movement_id, built_at from intermediate.int_tool_custody_events")
    rewritten = {(t, m) for t, m, built in custody if built == run2}
    assert {(t, m) for t, m, _ in custody if (t, m) in changed} <= rewritten
    assert 0 < len(rewritten) < len(custody) / 2


# -- dimensions and privacy ---------------------------------------------------------------------

def test_dimensions_cover_the_facts(scenario):
    home = scenario.home
    assert _rows(home, "select count(*) from marts.dim_tenants where is_known") == [(2,)]
    assert _rows(home, "select count(*) from marts.dim_users") == _rows(home, "select count(*) from raw.users")
    assert _rows(home, "select count(*) from marts.dim_projects") == _rows(home, "select count(*) from raw.projects")
    # the planted material is known only from a movement: a placeholder; the planted location is
    # no longer referenced after its correction, so it has no placeholder any more
    assert _rows(home, "select is_in_catalogue from marts.dim_materials where material_id = 'MAT-PLANTED'") == [
        (False,)]
    assert _rows(home, "select count(*) from marts.dim_locations where location_id = 'LOC-PLANTED'") == [(0,)]
    assert _rows(home, "select count(*) from marts.dim_locations where not is_known") == [(0,)]


def test_dim_date_is_the_iso_calendar_over_the_ledger(scenario):
    rows = _rows(scenario.home, """select date_day, year_number, month_of_year, iso_year_number, iso_week_of_year,
                                          iso_week_start_date, day_of_week, day_of_week_name, is_weekend
                                   from marts.dim_date order by date_day""")
    first, last = _rows(scenario.home, "select min(movement_date), max(movement_date) from marts.fct_stock_movements")[0]
    assert [r[0] for r in rows] == [first + timedelta(days=i) for i in range((last - first).days + 1)]
    for d, year, month, iso_year, iso_week, week_start, dow, name, weekend in rows:
        iso = d.isocalendar()
        assert (year, month, iso_year, iso_week, dow) == (d.year, d.month, iso.year, iso.week, iso.weekday)
        assert week_start == d - timedelta(days=iso.weekday - 1)
        assert (name, weekend) == (d.strftime("%A"), iso.weekday >= 6)


def _marts_tables(home: Path) -> list[str]:
    return [t for (t,) in _rows(home, "select table_name from information_schema.tables "
                                      "where table_schema = 'marts' order by 1")]


def test_no_mart_has_a_personal_data_column(scenario):
    columns = _rows(scenario.home, "select table_name, column_name from information_schema.columns "
                                   "where table_schema = 'marts'")
    assert {t for t, _ in columns} >= set(COMPARED_MARTS)
    assert [c for c in columns if PERSON_COLUMN.search(c[1])] == []
    # the pattern does catch what it is meant to
    assert all(PERSON_COLUMN.search(c) for c in ["name", "first_name", "LastName", "email", "user_id"])


def test_no_mart_holds_a_name_email_or_user_id_from_the_vault(scenario):
    people = identities(scenario.home / "vault.duckdb")
    assert len(people) > 20
    assert len(_marts_tables(scenario.home)) >= len(COMPARED_MARTS)
    assert scan_duckdb(scenario.home / "warehouse.duckdb", people) == []


def test_an_email_typed_into_a_mart_is_caught(scenario, tmp_path):
    """Both guards fire on a planted email: the vault scan, and the dbt test every build runs."""
    people = identities(scenario.home / "vault.duckdb")
    shutil.copyfile(scenario.home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with open_file(tmp_path / "warehouse.duckdb") as con:
        con.execute("update marts.dim_locations set location_name = ? where location_id = 'LOC-0001'",
                    [f"Van of {people[0][3]}"])
    hits = scan_duckdb(tmp_path / "warehouse.duckdb", people)
    assert any(h.place.endswith("marts.dim_locations.location_name") for h in hits)

    tested = subprocess.run(
        [str(DBT), "test", "--select", "dim_locations,test_name:no_personal_data",
         "dim_projects,test_name:no_personal_data", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        env={**os.environ, **_dbt_env(tmp_path)})
    assert tested.returncode == 1
    assert re.search(r"FAIL \d+ no_personal_data_dim_locations_", tested.stdout)
    assert re.search(r"PASS no_personal_data_dim_projects_", tested.stdout)   # the clean mart passes
