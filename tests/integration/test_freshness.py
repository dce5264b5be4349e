"""A run costs what changed: one tenant's new file republishes that tenant only, tenants are
Dagster partitions, incremental publishing equals a full rebuild, and nothing new does nothing."""
from __future__ import annotations

import csv
import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest

from pipelines.settings import get_settings
from tests.conftest import point_at

END = date(2026, 10, 30)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, transform):
    """Three tenants built once; the last tenant's folder held back (it lands later)."""
    from pipelines.cli.pipeline import run_full_build
    from pipelines.generate import generate

    mp = pytest.MonkeyPatch()
    work = tmp_path_factory.mktemp("fresh")
    generate(work / "all", tenants=3, days=20, seed=5, movements_per_day=6, end_date=END)
    tenants = sorted(p.name for p in (work / "all").iterdir() if p.is_dir())
    home = point_at(mp, work / "mira")
    for t in tenants[:-1]:
        shutil.copytree(work / "all" / t, home / "landing" / t)
    first = run_full_build()
    assert first["success"], first["failure"]
    yield home, tenants, work / "all"
    mp.undo()


def _files(home: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under the home but logs, run records (the Dagster instance, the build lock's
    holder line) and DuckDB's spill space."""
    from pipelines.recovery import LOCK_FILE

    out = {}
    for p in sorted(home.rglob("*")):
        rel = p.relative_to(home)
        if p.is_file() and rel.parts[0] not in ("logs", "dagster", "tmp", "landing") and p.name != LOCK_FILE:
            st = p.stat()
            out[str(rel)] = (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def _new_day(home: Path, tenant: str, name: str, n: int = 3) -> int:
    """n movements of an existing file of the tenant again, under new ids, as a new landing file."""
    source = sorted((home / "landing" / tenant / "movements").glob("*.csv"))[0]
    with open(source, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:n]
    for i, r in enumerate(rows):
        r["movement_id"] = f"{name}-{i}"
    target = home / "landing" / tenant / "movements" / f"{name}.csv"
    with open(target, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return len(rows)


def _key(purpose: str) -> str:
    from pipelines import keys

    return keys.file_key(purpose)


def summary_seconds(summary: dict) -> float:
    return sum(summary["phases"].values())


def _tables(path: Path, key: str | None) -> dict[str, list[tuple]]:
    """Every table of a serving file, rows sorted, without the stamps of when the pipeline loaded or
    built a row (built_at, loaded_at, first_/last_loaded_at): a full rebuild stamps every row anew."""
    from pipelines.warehouse import open_file

    out = {}
    with open_file(path, read_only=True, key=key) as con:
        for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                         "WHERE database_name = current_database() ORDER BY 1, 2").fetchall():
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? "
                "AND table_name = ? AND column_name NOT IN ('built_at', 'loaded_at', 'first_loaded_at', 'last_loaded_at') "
                "ORDER BY column_index",
                [schema, table]).fetchall()]
            select = ", ".join(f'"{c}"' for c in cols)
            out[f"{schema}.{table}"] = con.execute(f'SELECT {select} FROM "{schema}"."{table}" ORDER BY ALL').fetchall()
    return out


def test_nothing_new_writes_nothing_and_returns_fast(fresh):
    from typer.testing import CliRunner

    from pipelines.cli.app import app

    home, _, _ = fresh
    before = _files(home)
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert "nothing new" in result.output
    assert _files(home) == before
    # what the build wrote must still be there for "nothing to do" to hold
    from pipelines.ingest import state

    snapshot = home / "serving" / "analyst.duckdb"
    snapshot.rename(snapshot.with_suffix(".moved"))
    try:
        assert state.up_to_date() is None
    finally:
        snapshot.with_suffix(".moved").rename(snapshot)
    assert state.up_to_date() is not None


def test_a_second_tenants_new_file_republishes_that_tenant_only(fresh):
    from pipelines.cli.pipeline import run_full_build
    from pipelines.serving.files import analyst_path, tenant_path
    from pipelines.warehouse import open_file

    home, tenants, _ = fresh
    a, b = tenants[0], tenants[1]
    untouched = {t: (tenant_path(t).stat().st_mtime_ns, tenant_path(t).read_bytes()) for t in tenants[:2] if t != b}
    with open_file(analyst_path(), read_only=True) as con:
        count = "SELECT count(*) FROM marts.fct_stock_movements WHERE tenant_id = ?"
        before = con.execute(count, [b]).fetchone()[0]
    n = _new_day(home, b, "second-tenant-day")
    summary = run_full_build()
    assert summary["success"], summary["failure"]
    assert summary["tenants_loaded"] == [b] and summary["tenants_published"] == [b]
    assert set(summary["phases"]) >= {"ingest", "dbt", "publish"}
    for t, (mtime, data) in untouched.items():
        assert tenant_path(t).stat().st_mtime_ns == mtime and tenant_path(t).read_bytes() == data, t
    with open_file(analyst_path(), read_only=True) as con:
        after = con.execute(count, [b]).fetchone()[0]
    assert after > before and a != b
    assert after - before >= n          # every new movement is at least one ledger leg

    # the reports were recomputed for that tenant only (macros/tenant_incremental.sql)
    with open_file(home / "warehouse.duckdb", read_only=True) as con:
        rebuilt = con.execute("SELECT model_name, tenant_id, loaded_at FROM intermediate.tenant_builds "
                              "WHERE model_name = 'rpt_stock_on_hand' ORDER BY tenant_id").fetchall()
        newest = con.execute("SELECT max(_loaded_at) FROM raw.movements").fetchone()[0]
    assert [t for _, t, at in rebuilt if at == newest] == [b]

    # the analyst snapshot was brought up to date tenant by tenant, and equals a whole copy
    from pipelines.serving import analyst

    incremental = _tables(analyst_path(), None)
    analyst._write_whole(get_settings(), whole := home / "whole-analyst.duckdb")
    try:
        assert _tables(whole, _key("analyst")) == incremental
    finally:
        whole.unlink()

    # `mira status`: landing to dashboard, per tenant, from the newest file's mtime to the publish
    from pipelines.cli.pipeline import lag_rows

    lag = {r["tenant_id"]: r for r in lag_rows()}
    newest_file = (home / "landing" / b / "movements" / "second-tenant-day.csv").stat().st_mtime
    assert lag[b]["landed"].timestamp() == pytest.approx(newest_file, abs=1e-3)
    assert lag[b]["lag_seconds"] == pytest.approx(lag[b]["published"].timestamp() - newest_file, abs=1e-2)
    assert 0 < lag[b]["lag_seconds"] < summary_seconds(summary) + 60


def test_tenants_are_partitions_that_follow_the_tenants(fresh):
    from dagster import DagsterInstance

    from pipelines.cli.pipeline import run_full_build
    from pipelines.runs import prepare_dagster_home
    from pipelines.serving.assets import TENANT_FILE_KEY, TENANT_PARTITIONS
    from pipelines.serving.files import tenant_path

    home, tenants, everything = fresh
    late = tenants[-1]
    prepare_dagster_home()
    with DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions(TENANT_PARTITIONS.name)) == tenants[:-1]
    shutil.copytree(everything / late, home / "landing" / late)      # a new tenant arrives
    summary = run_full_build()
    assert summary["success"], summary["failure"]
    assert summary["tenants_published"] == [late] and tenant_path(late).exists()
    with DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions(TENANT_PARTITIONS.name)) == tenants
        published = instance.get_latest_materialization_event(TENANT_FILE_KEY)
        assert published is not None
        assert instance.get_materialized_partitions(TENANT_FILE_KEY) == set(tenants)

    # a tenant that leaves (retention deletes it everywhere) loses its partition at the next publish
    from datetime import timedelta

    from pipelines.privacy.retention import apply_retention
    from pipelines.warehouse import connect

    with connect(read_only=True) as con:
        gone, ended = con.execute("SELECT tenant_id, CAST(terminated_at AS DATE) FROM raw.tenants "
                                  "WHERE subscription_status = 'terminated'").fetchone()
    apply_retention(as_of=ended + timedelta(days=100))
    assert not tenant_path(gone).exists()
    summary = run_full_build()
    assert summary["success"], summary["failure"]
    with DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions(TENANT_PARTITIONS.name)) == [x for x in tenants if x != gone]


def test_incremental_publishing_equals_a_full_rebuild(fresh):
    """After a new day, a corrected movement, a late material and an erasure, every serving file
    holds what a full rebuild (dbt --full-refresh, every file republished) writes."""
    from pipelines.cli.pipeline import run_full_build
    from pipelines.privacy import rights
    from pipelines.serving.files import read_keyring, tenant_path
    from pipelines.serving.publish import publish_tenants

    home, _, _ = fresh
    tenants = sorted(read_keyring())         # the tenants still here (one may have been retired)
    t = tenants[0]
    _new_day(home, t, "day-two")
    rows = list(csv.DictReader(open(home / "landing" / t / "movements" / "day-two.csv", encoding="utf-8")))
    # with the new day, a movement of a material that arrives only in the next run
    late = dict(rows[0], movement_id="late-material-move", material_id="late-material-1")
    with open(home / "landing" / t / "movements" / "late.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(late))
        w.writeheader()
        w.writerow(late)
    assert run_full_build()["success"]
    # next run: a correction (the same movement ids with another quantity) and the late material
    corrected = home / "landing" / t / "movements" / "day-two-corrected.csv"
    for r in rows:
        r["quantity"] = str(float(r["quantity"]) + 1)
    with open(corrected, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    source = sorted((home / "landing" / t / "materials").glob("*"))[0]
    mats = list(csv.DictReader(open(source, encoding="utf-8")))
    with open(home / "landing" / t / "materials" / "late.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(mats[0]))
        w.writeheader()
        w.writerow(dict(mats[0], material_id="late-material-1", sku="LATE-1", name="Late article"))
    assert run_full_build()["success"]
    # an erasure (republishes every file itself)
    user = next(csv.DictReader(open(sorted((home / "landing" / t / "users").glob("*"))[0], encoding="utf-8")))
    rights.execute(rights.submit("erase", t, user["user_id"], requested_by="test"))

    ring = read_keyring()
    incremental = {x: _tables(tenant_path(x), ring[x]) for x in tenants}
    assert run_full_build(full_refresh=True)["success"]
    publish_tenants()                       # every file written again from the rebuilt marts
    ring = read_keyring()
    rebuilt = {x: _tables(tenant_path(x), ring[x]) for x in tenants}
    differing = {(x, table) for x in tenants for table in set(rebuilt[x]) | set(incremental[x])
                 if rebuilt[x].get(table) != incremental[x].get(table)}
    assert differing == set(), {k: (len(incremental[k[0]].get(k[1], [])), len(rebuilt[k[0]].get(k[1], [])))
                                for k in differing}


def test_publishing_tenants_in_sorted_chunks_writes_the_same_files(fresh, monkeypatch):
    """Many tenants at once are copied from temporary, tenant-sorted extracts of the large marts
    (serving.publish.CHUNK); the files must hold exactly what a tenant-by-tenant copy writes."""
    from pipelines.serving import publish
    from pipelines.serving.files import read_keyring, tenant_path

    ring = read_keyring()
    monkeypatch.setattr(publish, "CHUNK", 1)
    publish.publish_tenants()
    one_by_one = {t: _tables(tenant_path(t), ring[t]) for t in ring}
    monkeypatch.setattr(publish, "CHUNK", 2)
    monkeypatch.setattr(publish, "BIG_ROWS", 0)          # every tenanted mart through an extract
    seen = []
    real = publish._chunk_sources
    monkeypatch.setattr(publish, "_chunk_sources", lambda cur, big, chunk, no: seen.append(len(big)) or real(
        cur, big, chunk, no))
    publish.publish_tenants()
    assert seen and all(n > 5 for n in seen)
    assert {t: _tables(tenant_path(t), ring[t]) for t in ring} == one_by_one


def test_the_landing_sensor_does_not_rebuild_what_mira_run_built(fresh):
    """Right after `mira run`, the sensor sees files it has no cursor for; the last build saw
    exactly them, so it starts nothing (it used to start a second build of the same files)."""
    from dagster import build_sensor_context

    from pipelines.definitions import defs

    sensor = defs.get_sensor_def("landing_sensor")
    tick = sensor.evaluate_tick(build_sensor_context(cursor=None))
    assert tick.run_requests == [] and "already saw" in (tick.skip_message or "")
