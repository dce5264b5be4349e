"""Restoring a backup: its files put back under their normal keys, then what happened since.

The backup's warehouse and vault are copied back as fresh files under their live keys, each
verified against the backup's manifest, and swapped in only when every copy is complete. Then
what was decided after the backup was taken and must not be undone is applied again: the live
files' control tables are carried over (backup.CARRY_OVER: tombstones, restrictions, requests,
keys, the requests' audit), erasures are made true again (tombstones re-keyed), retired tenants
are purged again, and the published files follow the restored warehouse.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from pipelines import keys
from pipelines.privacy.backup import CARRY_OVER, FILES, BackupError, _copy_file, find_backup, live_files
from pipelines.privacy.retention import retire_tenants
from pipelines.privacy.rights.restrict import reapply_tombstones
from pipelines.serving.publish import republish
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import CannotOpen, attach, fsync, memory_connection


def _ensure_not_in_use(path: Path, key: str, settings: Settings) -> None:
    """Opening read-write succeeds only if no other process holds the file (DuckDB's lock)."""
    if not path.exists():
        return
    con = memory_connection(settings)
    try:
        attach(con, path, "live", key)
    except duckdb.IOException as err:
        if "lock" in str(err).lower():
            raise BackupError(f"{path.name} is in use by another process: stop `mira serve` and any running "
                              "pipeline, then restore again") from None
        raise
    except CannotOpen:
        pass   # a file we cannot read is replaced all the same
    finally:
        con.close()


def restore_backup(backup_id: str | None = None, settings: Settings | None = None) -> dict[str, int]:
    """Put a backup's warehouse and vault back (default: the latest backup), then re-apply
    erasures and retention. Returns counts (rows restored per file, re-applied erasures/purges)."""
    settings = settings or get_settings()
    b = find_backup(settings, backup_id)
    backup_key = keys.file_key("backup", settings=settings)
    staged: list[tuple[Path, Path]] = []
    report: dict[str, int] = {}
    live = live_files(settings)
    carried = {live[name][0]: _read_carry_over(live[name][1], live[name][0], live[name][2], settings) for name in FILES}
    try:
        for name in FILES:
            purpose, target, key = live[name]
            src = b.path / name
            if name not in b.files:
                continue
            if not src.exists():
                raise BackupError(f"backup {b.id} is incomplete: {name} is missing")
            _ensure_not_in_use(target, key, settings)
            tmp = settings.home / f".{name}.restoring-{uuid.uuid4().hex}"
            staged.append((tmp, target))
            counts = _copy_file(src, backup_key, tmp, key, settings)
            if counts != b.files[name]["tables"]:
                raise BackupError(f"backup {b.id}: {name} does not hold the rows its manifest records")
            report[f"rows_restored.{purpose}"] = sum(counts.values())
        # Every copy is complete and verified: only now are the live files replaced.
        for tmp, target in staged:
            Path(str(target) + ".wal").unlink(missing_ok=True)   # a WAL of the old file must not replay
            os.replace(tmp, target)
        fsync(settings.home)
        for name in FILES:
            purpose, target, key = live[name]
            if carried[purpose] is None:
                report[f"carry_over_unavailable.{purpose}"] = 1
            elif carried[purpose]:
                report.update(_write_carry_over(target, purpose, key, carried[purpose], settings))
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
            Path(str(tmp) + ".wal").unlink(missing_ok=True)
    report.update(reapply_after_restore(settings))
    return report


def _read_carry_over(path: Path, purpose: str, key: str, settings: Settings) -> dict | None:
    """{table: (create sql, arrow rows)} of the live file's control tables; None if unreadable."""
    if not path.exists():
        return None
    con = memory_connection(settings)
    try:
        try:
            attach(con, path, "live", key, read_only=True)
        except (CannotOpen, duckdb.Error):
            return None
        out = {}
        for name in CARRY_OVER[purpose]:
            schema, table = name.split(".")
            row = con.execute("SELECT sql FROM duckdb_tables() WHERE database_name = 'live' AND schema_name = ? "
                              "AND table_name = ?", [schema, table]).fetchone()
            if row:
                out[name] = (row[0], con.execute(f'SELECT * FROM live."{schema}"."{table}"').fetch_arrow_table())
        return out
    finally:
        con.close()


def _write_carry_over(path: Path, purpose: str, key: str, carried: dict, settings: Settings) -> dict[str, int]:
    """Put the live control tables into the restored file, in one transaction."""
    report = {}
    con = memory_connection(settings)
    try:
        attach(con, path, "restored", key)
        con.execute("USE restored")
        con.execute("BEGIN TRANSACTION")
        for name, (create_sql, rows) in carried.items():
            schema, table = name.split(".")
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'restored' "
                                 "AND schema_name = ? AND table_name = ?", [schema, table]).fetchone()[0]
            if exists:
                con.execute(f'DELETE FROM "{schema}"."{table}"')
            else:
                con.execute(create_sql)
            con.register("_carried", rows)
            con.execute(f'INSERT INTO "{schema}"."{table}" BY NAME SELECT * FROM _carried')
            con.unregister("_carried")
            report[f"kept_live.{purpose}.{table}"] = rows.num_rows
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return report


def reapply_after_restore(settings: Settings) -> dict[str, int]:
    """What the restored files may have forgotten: erasures and retired tenants; then the
    published files follow the restored warehouse."""
    report = {f"tombstones.{k}": int(v) for k, v in reapply_tombstones(settings, republish_after=False).items()}
    report.update({f"retention.{k}": v for k, v in retire_tenants(settings).items()})
    try:
        report.update(republish(settings))
    except RuntimeError:   # the restored warehouse has no marts to publish (yet)
        pass
    return report
