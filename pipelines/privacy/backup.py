"""Backups: encrypted copies of the warehouse and the vault, rolling MIRA_BACKUP_RETENTION_DAYS.

A backup is MIRA_HOME/backups/<UTC timestamp>/ with warehouse.duckdb and vault.duckdb, each a
fresh file encrypted with the backup key (derived from the master key, purpose "backup": a
stolen backup folder without the master key is noise), and manifest.json (table names and row
counts, nothing personal). Each file is copied table by table (COPY FROM DATABASE) from the live
file opened read-only, its row counts compared, and the folder is renamed into place only when
complete, so a half-written backup never looks like one.

Restoring one is pipelines/privacy/restore.py.
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

from pipelines import keys
from pipelines.privacy import dbcopy
from pipelines.settings import Settings, get_settings
from pipelines.vault import store as vault
from pipelines.warehouse import attach, detach, fsync, memory_connection

MANIFEST = "manifest.json"
FILES = ("warehouse.duckdb", vault.VAULT_FILE)
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


def live_files(settings: Settings) -> dict[str, tuple[str, Path, str]]:
    """file name -> (key purpose, live path, live key) of what a backup holds."""
    vault_path, vault_key = vault.encrypted_file(settings)
    return {"warehouse.duckdb": ("warehouse", settings.warehouse_path, keys.file_key("warehouse", settings=settings)),
            vault.VAULT_FILE: (vault.PURPOSE, vault_path, vault_key)}


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
        detach(con, "dst", dst)       # checkpoint and close: the copy is complete on disk, no WAL
    except dbcopy.CopyMismatch as exc:
        raise BackupError(str(exc)) from None
    finally:
        con.close()
    os.chmod(dst, 0o600)
    fsync(dst)
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
    live = live_files(settings)
    sources = [name for name, (_purpose, path, _key) in live.items() if path.exists()]
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
        for name in sources:
            _purpose, path, key = live[name]
            counts = _copy_file(path, key, tmp / name, backup_key, settings)
            files[name] = {"tables": counts, "rows": sum(counts.values()), "bytes": (tmp / name).stat().st_size}
        manifest = {"format": 1, "created_at": now.isoformat(timespec="seconds"), "key_purpose": "backup",
                    "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        os.chmod(tmp / MANIFEST, 0o600)
        fsync(tmp / MANIFEST)
        base = now.strftime("%Y%m%dT%H%M%SZ")
        backup_id, n = base, 1
        while (root / backup_id).exists():
            n += 1
            backup_id = f"{base}-{n}"
        os.rename(tmp, root / backup_id)   # atomic: the folder appears complete or not at all
        fsync(root)
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

    key = keys.file_key("backup", settings=settings)
    rows = rewritten = 0
    for b in list_backups(settings):
        changed = False
        meta = json.loads((b.path / MANIFEST).read_text(encoding="utf-8"))
        for name in FILES:
            path = b.path / name
            if not path.exists():
                continue
            con = memory_connection(settings)
            try:
                attach(con, path, "src", key, read_only=True)
                tenants = sorted(retired.listed(dbcopy.distinct_tenants(con, "src")))
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
