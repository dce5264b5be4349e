"""The same marts on DuckDB and on Spark (MIRA_ENGINE=spark), row for row.

One small generated dataset with defects (three tenants, two months, about 2% broken rows), a
material that arrives after the movements that use it, and a movement corrected after it was
built (other quantity, other day): ingested once, then built by dbt on DuckDB and on Spark
(`local[2]`, dbt-spark in session mode, in this process: one Spark session for the module).
Every mart is compared in DuckDB over Spark's own Parquet output, EXCEPT ALL both ways, after the
full build and again after one more day, the late material and the correction have been loaded
and both engines have built incrementally (Spark through the Dagster job `mira run` executes,
which also publishes the serving files from Spark's marts).

Only `built_at` is left out: it is the time of the build that wrote the row, different by design.
Shares and averages are divisions in double precision on both engines (macros/types.sql,
mira_divide); the two round a double to the marts' 12 decimals differently in the last digit now
and then (DuckDB scales the double first, Spark rounds its exact binary value), so such a row must
match a row of the other engine in every other column and within 1e-12 in the decimals, and be
rare (at most 1% of a mart's rows); every other row is equal exactly.
"""
from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.settings import get_settings
from pipelines.warehouse import connect, ident, literal
from tests.conftest import point_at
from tests.homes import generate_drops, release

pytestmark = pytest.mark.timeout(900)

LATE = "materials_late.csv"
CORRECTION = "movements_correction.csv"


def _spark_build(home: Path) -> None:
    """A Spark build in this process, as the Dagster step does it (pipelines/transform/assets.py)."""
    from pipelines.transform import lake, runner
    from pipelines.transform.project import dbt_build_flags, dbt_env, seed_parse

    settings = get_settings()
    assert settings.home == home and settings.engine == "spark"
    target = home / "dbt" / "target"
    seed_parse(target)
    lake.export_raw(settings)
    ok, results, outcome = runner.invoke(["build", *dbt_build_flags()], target, settings.log_dir / "dbt",
                                         dbt_env(home))
    assert ok, runner.failure_summary(outcome)
    lake.import_marts(settings, target / "manifest.json")


def _differences(duck: Path, spark: Path) -> dict[str, tuple[int, ...]]:
    """mart -> (rows, rows only DuckDB has, rows only Spark has, of those the ones not within a
    last digit of a row of the other side: DuckDB's, Spark's), for every mart that differs; the
    marts come from the contracts (the models' YAML), read from Spark's Parquet files."""
    from dataclasses import replace

    from pipelines.transform.lake import _contract_columns, mart_folder

    spark_settings = replace(get_settings(), home=spark)
    columns = _contract_columns(spark / "dbt" / "target" / "manifest.json")
    assert len(columns) >= 18, sorted(columns)
    out = {}
    with connect(settings=replace(get_settings(), home=duck), read_only=True) as con:
        for table, cols in sorted(columns.items()):
            assert cols, f"marts.{table} has no full contract"
            compared = [(c, t) for c, t in cols if c != "built_at"]
            folder = mart_folder(spark_settings, table)
            hive = ("hive_partitioning = true, hive_types = {'tenant_id': VARCHAR}"
                    if any(folder.glob("tenant_id=*")) else "hive_partitioning = false")
            files = literal(f"{folder}/**/*.parquet")
            from_spark = (f"(SELECT {', '.join(f'CAST({ident(c)} AS {t}) AS {ident(c)}' for c, t in compared)} "
                          f"FROM read_parquet({files}, {hive}))") if any(folder.rglob("*.parquet")) \
                else f"(SELECT {', '.join(f'CAST(NULL AS {t}) AS {ident(c)}' for c, t in compared)} WHERE false)"
            from_duck = f"(SELECT {', '.join(ident(c) for c, _ in compared)} FROM marts.{ident(table)})"
            n = con.execute(f"SELECT count(*) FROM {from_duck}").fetchone()[0]
            con.execute(f"CREATE OR REPLACE TEMP TABLE only_duck AS {from_duck} EXCEPT ALL {from_spark}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE only_spark AS {from_spark} EXCEPT ALL {from_duck}")
            exact = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("only_duck", "only_spark")]
            if exact == [0, 0]:
                continue
            # What differs must be the last digit of a share or an average (a division done in
            # double precision on both engines), where DuckDB and Spark round a double to 12
            # decimals differently: equal in every other column, within 1e-12 in the decimals.
            same = " AND ".join(
                f"(a.{ident(c)} IS NOT DISTINCT FROM b.{ident(c)}"
                + (f" OR abs(a.{ident(c)} - b.{ident(c)}) <= 1e-12)" if t.startswith("numeric(38,12)") else ")")
                for c, t in compared)
            unmatched = [con.execute(f"SELECT count(*) FROM {a} AS a WHERE NOT EXISTS "
                                     f"(SELECT 1 FROM {b} AS b WHERE {same})").fetchone()[0]
                         for a, b in (("only_duck", "only_spark"), ("only_spark", "only_duck"))]
            out[table] = (n, *exact, *unmatched)
    return out


def _unequal(differences: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """The marts that differ by more than a last digit (see _differences)."""
    return {t: d for t, d in differences.items() if d[3] or d[4] or d[1] != d[2] or d[1] > max(2, d[0] // 100)}


def _withhold_material(source: Path, reference: list[str]) -> tuple[str, str, str]:
    """Take out of the first tenant's catalogue a material its first day's movements use, and
    write it as a file of its own to land later; (tenant, material_id, file) of it."""
    materials = source / next(r for r in reference if "/materials/" in r)
    tenant = materials.parts[-3]
    first_day = sorted((source / tenant / "movements").glob("movements_*.csv"))[0]
    with open(first_day, newline="", encoding="utf-8") as fh:
        used = {row["material_id"] for row in csv.DictReader(fh)}
    with open(materials, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    late = next(r for r in body if r[0] in used)
    for path, kept in ((materials, [header] + [r for r in body if r is not late]),
                       (materials.with_name(LATE), [header, late])):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(kept)
    return tenant, late[0], str(materials.with_name(LATE).relative_to(source))


def _correct_a_movement(source: Path, tenant: str, drops: list[list[str]]) -> tuple[str, str]:
    """A file correcting an issue of an early day: twice the quantity, booked a day later (so the
    day it left must lose it); (movement_id, file)."""
    day_file = source / next(r for r in drops[3] if r.startswith(f"{tenant}/"))
    with open(day_file, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        row = next(r for r in reader if r["movement_type"] == "issue" and r["occurred_at"][:4].isdigit())
    day = date.fromisoformat(row["occurred_at"][:10]) + timedelta(days=1)
    row["occurred_at"] = day.isoformat() + row["occurred_at"][10:]
    row["quantity"] = str(Decimal(row["quantity"]) * 2)
    target = day_file.with_name(CORRECTION)
    with open(target, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerow(row)
    return row["movement_id"], str(target.relative_to(source))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(duckdb home, spark home, facts about the defects) after the first builds; the module's
    tests then run in file order (the incremental step is the second test)."""
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.mktemp("engines")
    source = base / "drops"
    drops = generate_drops(source, tenants=3, days=60, seed=13)
    tenant, material, late_file = _withhold_material(source, drops[0])
    movement, correction_file = _correct_a_movement(source, tenant, drops)
    first = [rel for drop in drops[:-1] for rel in drop]
    later = drops[-1] + [late_file, correction_file]

    from pipelines.ingest.load import ingest
    from pipelines.transform.project import run_dbt_build

    start = point_at(mp, base / "ingested")
    release(source, first, start / "landing")
    report = ingest()
    assert report.rows_quarantined > 0, "the generated defects should reach the quarantine"
    duck, spark = base / "duckdb", base / "spark"
    shutil.copytree(start, duck)
    shutil.copytree(start, spark)

    point_at(mp, duck)
    mp.delenv("MIRA_ENGINE", raising=False)
    run_dbt_build(duck)

    point_at(mp, spark)
    mp.setenv("MIRA_ENGINE", "spark")
    mp.setenv("MIRA_SPARK_SHUFFLE_PARTITIONS", "2")
    _spark_build(spark)
    yield {"duck": duck, "spark": spark, "source": source, "later": later, "tenant": tenant,
           "material": material, "movement": movement, "mp": mp}
    mp.undo()


def test_every_mart_is_equal_after_the_full_build(built):
    assert _unequal(_differences(built["duck"], built["spark"])) == {}
    with connect(settings=get_settings(), read_only=True) as con:   # the Spark home, marts imported
        known = con.execute("SELECT is_in_catalogue FROM marts.dim_materials WHERE tenant_id = ? AND material_id = ?",
                            [built["tenant"], built["material"]]).fetchall()
    assert known == [(False,)], "the withheld material is a placeholder until it lands"


def test_every_mart_is_equal_after_an_incremental_day_with_a_correction_and_a_late_material(built):
    from pipelines.cli.pipeline import run_full_build
    from pipelines.ingest.load import ingest
    from pipelines.transform.project import run_dbt_build

    duck, spark, mp = built["duck"], built["spark"], built["mp"]
    # DuckDB: ingest the new files, build incrementally.
    point_at(mp, duck)
    mp.delenv("MIRA_ENGINE")
    release(built["source"], built["later"], duck / "landing")
    assert ingest().rows_loaded > 0
    run_dbt_build(duck)
    with connect(settings=get_settings(), read_only=True) as con:
        before = con.execute("SELECT max(built_at) FROM marts.fct_stock_movements").fetchone()[0]
        rewritten = con.execute("SELECT count(*) FROM marts.fct_stock_movements WHERE built_at = ?",
                                [before]).fetchone()[0]
        total = con.execute("SELECT count(*) FROM marts.fct_stock_movements").fetchone()[0]
    assert 0 < rewritten < total, "the second DuckDB build is incremental"

    # Spark: the same raw tables (the same load times), then `mira run`'s job: ingest (nothing
    # new), the Spark build, publishing from Spark's marts.
    for name in ("warehouse.duckdb", "vault.duckdb"):
        shutil.copy2(duck / name, spark / name)
    shutil.rmtree(spark / "landing")
    shutil.copytree(duck / "landing", spark / "landing")
    point_at(mp, spark)
    mp.setenv("MIRA_ENGINE", "spark")
    summary = run_full_build()
    assert summary["success"], summary["failure"]

    assert _unequal(_differences(duck, spark)) == {}
    with connect(settings=get_settings(), read_only=True) as con:
        moved = con.execute("SELECT movement_date, quantity_delta FROM marts.fct_stock_movements "
                            "WHERE tenant_id = ? AND movement_id = ?", [built["tenant"], built["movement"]]).fetchall()
        known = con.execute("SELECT is_in_catalogue FROM marts.dim_materials WHERE tenant_id = ? AND material_id = ?",
                            [built["tenant"], built["material"]]).fetchall()
        per_tenant = dict(con.execute("SELECT tenant_id, count(*) FROM marts.rpt_stock_on_hand GROUP BY 1").fetchall())
    assert known == [(True,)], "the late material filled in its placeholder"
    assert len(moved) == 1 and moved[0][1] < 0, "the corrected issue: one leg, on its new day"
    # Publishing read Spark's marts: each tenant's serving file holds that tenant's rows.
    from pipelines.serving.files import tenant_path
    from pipelines.vault.serving_keys import serving_keys

    ring = serving_keys(sorted(per_tenant), get_settings())
    for tenant, n in per_tenant.items():
        with connect(tenant_path(tenant), read_only=True, key=ring[tenant]) as con:
            assert con.execute("SELECT count(*) FROM marts.rpt_stock_on_hand").fetchone()[0] == n


def test_the_lake_holds_pseudonyms_only_and_the_scanner_covers_it(built, tmp_path):
    """The Spark home (its lake under MIRA_HOME, Spark's tables) scans clean; a lake elsewhere is
    scanned too: an email planted in a Parquet file there is found, named by its place in the lake."""
    from pipelines.privacy.scan import identities, scan_home
    from pipelines.transform import lake

    assert any((get_settings().home / "lake" / "raw" / "users").rglob("*.parquet"))
    built["mp"].setenv("MIRA_LAKE", str(tmp_path / "lake"))
    written = lake.export_raw()
    assert written["movements"] > 0
    people = identities()
    planted = tmp_path / "lake" / "raw" / "users" / "tenant_id=planted" / "part.parquet"
    planted.parent.mkdir(parents=True)
    pq.write_table(pa.table({"note": [f"ask {people[0][3]}"]}), planted)
    hits, scanned = scan_home()
    # one scan: the home (its own lake and Spark's tables included) is clean, the lake elsewhere is
    # searched too, and the planted value is all it finds
    assert scanned > 50
    assert {(h.place, h.kind) for h in hits} >= {("lake/raw/users/tenant_id=planted/part.parquet:note", "email")}
    assert all(h.place.startswith("lake/raw/users/tenant_id=planted/") for h in hits), hits
    built["mp"].delenv("MIRA_LAKE")
