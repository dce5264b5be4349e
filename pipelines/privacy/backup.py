"""Backups: encrypted copies of the warehouse and the vault, rolling MIRA_BACKUP_RETENTION_DAYS.

A backup is MIRA_HOME/backups/<UTC timestamp>/ with warehouse.duckdb and vault.duckdb, each a
fresh file encrypted with the backup key (derived from the master key, purpose "backup": a
stolen backup folder without the master key is noise), and manifest.json (table names and row
counts, nothing personal). Each file is copied table by table (COPY FROM DATABASE) from the live
file opened read-only, its row counts compared, and the folder is renamed into place only when
complete, so a half-written backup never looks like one.

A restore copies the backup's files back under their normal keys (fresh files, swapped in
atomically), then re-applies what happened since the backup was taken and must not be undone:
erasures (tombstones, pipelines.privacy.rights) and retired tenants (retention).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from pipelines.privacy import dbcopy, keys
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import CannotOpen, attach, memory_connection

MANIFEST = "manifest.json"
FILES = (("warehouse.duckdb", "warehouse"), ("vault.duckdb", "vault"))
# Control state, not data: a restore keeps the live file's version of these tables, so that what
# was decided after the backup (an erasure's tombstone, a restriction, a request's audit record, the
# key of a tenant that arrived since) is not undone. Tables absent from the live file are left as
# restored; if the live file cannot be read (the reason for the restore?), the backup's stay.
CARRY_OVER = {
    "vault": ("main.tombstones", "main.restrictions", "main.requests", "main.tenant_keys", "main.serving_keys"),
    "warehouse": ("audit.privacy_requests",),
}
_ID = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


class BackupError(RuntimeError):
    """A backup or restore that cannot proceed; nothing was replaced. The message names no data."""


@dataclass(frozen=True)
class Backup:
    id: str
    path: Path
    created_at: datetime
    files: dict            # file name -> {"tables": {table: rows}, "rows": total, "bytes": size}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _attach_source(con, path: Path, alias: str, key: str) -> None:
    try:
        attach(con, path, alias, key, read_only=True)
    except duckdb.IOException as err:
        if "lock" in str(err).lower():
            raise BackupError(f"{path.name} is in use by another process (a running pipeline or `mira serve`); "
                              "try again when it is done") from None
        raise


def _copy_file(src: Path, src_key: str, dst: Path, dst_key: str, settings: Settings,
               exclude_tenants: list[str] | None = None) -> dict[str, int]:
    """src -> a fresh dst under another key, verified by row counts per table."""
    con = memory_connection(settings)
    try:
        _attach_source(con, src, "src", src_key)
        attach(con, dst, "dst", dst_key)
        counts = dbcopy.copy_database(con, "src", "dst", exclude_tenants=exclude_tenants or ())
        con.execute("DETACH dst")     # checkpoint and close: the copy is complete on disk, no WAL
    except dbcopy.CopyMismatch as exc:
        raise BackupError(str(exc)) from None
    finally:
        con.close()
    os.chmod(dst, 0o600)
    _fsync(dst)
    return counts


# ---------------------------------------------------------------------------------------------
def list_backups(settings: Settings | None = None) -> list[Backup]:
    """Complete backups, oldest first (folders being written start with '.')."""
    settings = settings or get_settings()
    root = settings.backup_dir
    found = []
    if root.is_dir():
        for folder in root.iterdir():
            if not (folder.is_dir() and _ID.match(folder.name) and (folder / MANIFEST).exists()):
                continue
            meta = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            found.append(Backup(folder.name, folder, datetime.fromisoformat(meta["created_at"]), meta["files"]))
    return sorted(found, key=lambda b: (b.created_at, b.id))


def create_backup(settings: Settings | None = None, now: datetime | None = None, prune: bool = True) -> Backup:
    """Back up the warehouse and the vault; then delete backups past the retention period.
    `now` dates the backup (tests and audits); default the current time."""
    settings = settings or get_settings()
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    sources = [(name, purpose) for name, purpose in FILES if (settings.home / name).exists()]
    if not sources:
        raise BackupError(f"nothing to back up under {settings.home}: run `mira run` first")
    root = settings.backup_dir
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    _remove_leftovers(root)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir(mode=0o700)
    backup_key = keys.file_key("backup", settings=settings)
    try:
        files = {}
        for name, purpose in sources:
            counts = _copy_file(settings.home / name, keys.file_key(purpose, settings=settings),
                                tmp / name, backup_key, settings)
            files[name] = {"tables": counts, "rows": sum(counts.values()), "bytes": (tmp / name).stat().st_size}
        manifest = {"format": 1, "created_at": now.isoformat(timespec="seconds"), "key_purpose": "backup",
                    "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        os.chmod(tmp / MANIFEST, 0o600)
        _fsync(tmp / MANIFEST)
        base = now.strftime("%Y%m%dT%H%M%SZ")
        backup_id, n = base, 1
        while (root / backup_id).exists():
            n += 1
            backup_id = f"{base}-{n}"
        os.rename(tmp, root / backup_id)   # atomic: the folder appears complete or not at all
        _fsync(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if prune:
        prune_backups(settings, now=now)
    return next(b for b in list_backups(settings) if b.id == backup_id)


def _remove_leftovers(root: Path) -> None:
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def expired_backups(settings: Settings, cutoff: datetime) -> list[Backup]:
    return [b for b in list_backups(settings) if b.created_at < cutoff]


def prune_backups(settings: Settings | None = None, now: datetime | None = None) -> int:
    """Delete backups older than MIRA_BACKUP_RETENTION_DAYS; returns how many."""
    from datetime import timedelta

    settings = settings or get_settings()
    now = now or datetime.now(timezone.utc)
    old = expired_backups(settings, now - timedelta(days=settings.backup_retention_days))
    for b in old:
        shutil.rmtree(b.path)
    return len(old)


def purge_retired_from_backups(settings: Settings, retired) -> dict[str, int]:
    """Rewrite every backup file that holds a retired tenant without its rows (fresh file, atomic
    swap, manifest counts updated). `retired` is a retired.RetiredTenants."""
    from pipelines.privacy.retention import _distinct_tenants

    key = keys.file_key("backup", settings=settings)
    rows = rewritten = 0
    for b in list_backups(settings):
        changed = False
        meta = json.loads((b.path / MANIFEST).read_text(encoding="utf-8"))
        for name, _purpose in FILES:
            path = b.path / name
            if not path.exists():
                continue
            con = memory_connection(settings)
            try:
                attach(con, path, "src", key, read_only=True)
                tenants = sorted(retired.listed(_distinct_tenants(con, "src")))
                gone = dbcopy.count_tenant_rows(con, "src", tenants) if tenants else 0
            finally:
                con.close()
            if not tenants:
                continue
            tmp = b.path / f".{name}.{uuid.uuid4().hex}"
            try:
                counts = _copy_file(path, key, tmp, key, settings, exclude_tenants=tenants)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            meta["files"][name].update({"tables": counts, "rows": sum(counts.values()), "bytes": path.stat().st_size})
            rows += gone
            changed = True
        if changed:
            meta["retention_applied_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            tmp = b.path / f".{MANIFEST}.{uuid.uuid4().hex}"
            tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, b.path / MANIFEST)
            rewritten += 1
    return {"tenant_rows.backups": rows, "backups_rewritten": rewritten}


# ---------------------------------------------------------------------------------------------
def find_backup(settings: Settings, backup_id: str | None = None) -> Backup:
    backups = list_backups(settings)
    if not backups:
        raise BackupError(f"no backup under {settings.backup_dir}: run `mira backup` first")
    if backup_id is None:
        return backups[-1]
    for b in backups:
        if b.id == backup_id:
            return b
    raise BackupError(f"no backup {backup_id!r}; `mira privacy backups` lists them")


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
    carried = {purpose: _read_carry_over(settings.home / name, purpose, settings) for name, purpose in FILES}
    try:
        for name, purpose in FILES:
            src = b.path / name
            if name not in b.files:
                continue
            if not src.exists():
                raise BackupError(f"backup {b.id} is incomplete: {name} is missing")
            target = settings.home / name
            key = keys.file_key(purpose, settings=settings)
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
        _fsync(settings.home)
        for name, purpose in FILES:
            if carried[purpose] is None:
                report[f"carry_over_unavailable.{purpose}"] = 1
            elif carried[purpose]:
                report.update(_write_carry_over(settings.home / name, purpose, carried[purpose], settings))
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
            Path(str(tmp) + ".wal").unlink(missing_ok=True)
    report.update(reapply_after_restore(settings))
    return report


def _read_carry_over(path: Path, purpose: str, settings: Settings) -> dict | None:
    """{table: (create sql, arrow rows)} of the live file's control tables; None if unreadable."""
    if not path.exists():
        return None
    con = memory_connection(settings)
    try:
        try:
            attach(con, path, "live", keys.file_key(purpose, settings=settings), read_only=True)
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


def _write_carry_over(path: Path, purpose: str, carried: dict, settings: Settings) -> dict[str, int]:
    """Put the live control tables into the restored file, in one transaction."""
    report = {}
    con = memory_connection(settings)
    try:
        attach(con, path, "restored", keys.file_key(purpose, settings=settings))
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
    """What the restored files may have forgotten: erasures and retired tenants."""
    from pipelines.privacy import retention
    from pipelines.privacy.rights import reapply_tombstones

    report = {f"tombstones.{k}": int(v) for k, v in reapply_tombstones(settings).items()}
    report.update({f"retention.{k}": v for k, v in retention.retire_tenants(settings).items()})
    report.update(_republish(settings))
    return report


def _republish(settings: Settings) -> dict[str, int]:
    """The analyst snapshot follows the restored warehouse (if it had one published)."""
    if not (settings.serving_dir / "analyst.duckdb").exists():
        return {}
    from pipelines.publish import publish_analyst_snapshot

    try:
        rows = publish_analyst_snapshot(settings)
    except RuntimeError:
        return {}
    return {"analyst_tables_published": len(rows)}
