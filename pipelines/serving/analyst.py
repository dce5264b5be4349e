"""The analyst snapshot: every mart, cross-tenant and pseudonymised, for `mira sql` and exports.

Copied whole, it cost a pass over every mart after every load (32 s at 10M movements) however
little had changed. Now the snapshot is brought up to date tenant by tenant: the previous
snapshot is copied (a file copy), the rows of the tenants whose data changed (serving.versions)
are deleted from it and copied again from the warehouse, masked, and the copy is swapped in.
It is written whole instead when there is no previous snapshot, when more than half of the
tenants changed (the copy would cost as much), when the marts' tables or columns differ from
the snapshot's (a dbt project change: every tenant's version changes anyway), and when the file
has grown to twice the size of its last whole write (deleted rows leave space behind).

Readers never see a half-written snapshot: the new file is written under a temporary name and
swapped in (warehouse.swap_in), like every serving file.
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from pipelines import keys
from pipelines.serving import versions
from pipelines.serving.files import MARTS, analyst_path, remove_leftovers
from pipelines.serving.restrictions import has_restrictions, mask_restricted
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import attach, connect, detach, ident, swap_in

RECORD = versions.ANALYST_RECORD_FILE
TMP = ".analyst-"
ALIAS = "snapshot"


def publish_analyst_snapshot(settings: Settings | None = None, changed_only: bool = False) -> dict[str, int] | None:
    """Bring the analyst snapshot up to date and swap it in; returns rows per table. Raises if
    there is no mart to publish (an empty snapshot would silently replace a good one).
    changed_only (a build): when no tenant's data changed since the snapshot was last published,
    leave it and return None; otherwise only the changed tenants' rows are rewritten (see above).
    Without it (a republish after an erasure, a restriction, a restore: rows changed in place,
    which no version shows), the snapshot is written whole."""
    settings = settings or get_settings()
    with connect(settings=settings, read_only=True) as con:
        now = versions.current(con) if _has_raw(con) else {}
    version = versions.overall(now) if now else None
    last = versions.recorded(settings, RECORD).get("analyst", {})
    path = analyst_path(settings)
    if changed_only and version and path.exists() and last.get("version") == version:
        return None
    before: dict[str, str] = last.get("tenants") or {}
    changed = sorted(t for t in set(now) | set(before) if now.get(t) != before.get(t))
    whole_size = last.get("whole_size") or 0
    partial = (changed_only and path.exists() and bool(before) and len(changed) * 2 <= len(now)
               and whole_size and path.stat().st_size < 2 * whole_size)
    folder = settings.serving_dir
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(folder, TMP)
    tmp = folder / f"{TMP}{uuid.uuid4().hex}.duckdb"
    try:
        rows = _update(settings, path, tmp, changed) if partial else None
        if rows is None:
            tmp.unlink(missing_ok=True)
            rows = _write_whole(settings, tmp)
            whole_size = tmp.stat().st_size
        swap_in(tmp, path)
        versions.save(settings, {"analyst": {"version": version, "published_at": versions.now(), "tenants": now,
                                             "whole_size": whole_size}}, RECORD)
    finally:
        remove_leftovers(folder, TMP)
    return rows


def _marts(con) -> dict[str, list[tuple[str, str]]]:
    """table -> [(column, type)] of the marts schema of the connection's default catalog."""
    return _columns(con, "current_database()")


def _columns(con, catalog_sql: str, params: list | None = None) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in con.execute(
            f"SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = {catalog_sql} "
            "AND schema_name = ? ORDER BY table_name, column_index", [*(params or []), MARTS]).fetchall():
        out.setdefault(table, []).append((column, dtype))
    return out


def _write_whole(settings: Settings, tmp: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    # The warehouse opened read-only (nothing here can change it); the snapshot attached
    # read-write. Views in marts are resolved against the warehouse and land as tables.
    with connect(settings=settings, read_only=True) as con:
        tables = sorted(_marts(con))
        if not tables:
            raise RuntimeError("the warehouse has no marts to publish: build the dbt models first")
        # Encrypted with the analyst key (derived from the master key), like every file here.
        attach(con, tmp, ALIAS, keys.file_key("analyst", settings=settings))
        con.execute(f"CREATE SCHEMA {ALIAS}.{MARTS}")
        for table in tables:
            name = f"{MARTS}.{ident(table)}"
            con.execute(f"CREATE TABLE {ALIAS}.{name} AS SELECT * FROM {name}")
        if has_restrictions(con):
            mask_restricted(con, ALIAS)      # restricted people leave person-level marts
        rows = _counts(con, tables)
        detach(con, ALIAS, tmp)              # checkpoints and closes: the file is complete, no WAL
    return rows


def _update(settings: Settings, path: Path, tmp: Path, changed: list[str]) -> dict[str, int] | None:
    """The previous snapshot with the changed tenants' rows replaced, in `tmp`; None (and
    nothing usable in tmp) when its tables differ from the marts'."""
    shutil.copyfile(path, tmp)
    with connect(settings=settings, read_only=True) as con:
        marts = _marts(con)
        attach(con, tmp, ALIAS, keys.file_key("analyst", settings=settings))
        if _columns(con, "?", [ALIAS]) != marts or not marts:
            con.execute(f"DETACH {ALIAS}")
            return None
        for table, columns in sorted(marts.items()):
            name = f"{MARTS}.{ident(table)}"
            if any(c == "tenant_id" for c, _ in columns):
                con.execute(f"DELETE FROM {ALIAS}.{name} WHERE list_contains(?, tenant_id)", [changed])
                con.execute(f"INSERT INTO {ALIAS}.{name} SELECT * FROM {name} WHERE list_contains(?, tenant_id)",
                            [changed])
            else:                            # the calendar: small, and shared by every tenant
                con.execute(f"DELETE FROM {ALIAS}.{name}")
                con.execute(f"INSERT INTO {ALIAS}.{name} SELECT * FROM {name}")
        if has_restrictions(con):
            mask_restricted(con, ALIAS)
        rows = _counts(con, sorted(marts))
        detach(con, ALIAS, tmp)
    return rows


def _counts(con, tables: list[str]) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {ALIAS}.{MARTS}.{ident(t)}").fetchone()[0] for t in tables}


def _has_raw(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'raw' AND table_name = 'tenants'").fetchone()[0])
