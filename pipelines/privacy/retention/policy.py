"""The retention policy's moments and the by-age rules (logs, GX results, alert lines, quarantine
rows, processed landing files, subject-access exports, finished Dagster runs, login events).

Every report is counts per place: no tenant ids, names or file names.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import Iterable

from pipelines.accounts.store import accounts_path
from pipelines.accounts.users import purge_auth_events
from pipelines.ops import alerts
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import connect

PROCESSED = ("loaded", "rejected", "duplicate")
RUN_ID = re.compile(r"^[0-9a-f][0-9a-f-]{7,63}$")


@dataclass(frozen=True)
class Policy:
    """The moments the rules compare against, from one as-of date (default: now)."""
    as_of: date
    now: datetime
    tenant_cutoff: date        # subscriptions that ended before this day are past retention
    log_cutoff: datetime       # logs, quarantine rows, processed files, runs older than this go
    backup_cutoff: datetime

    @classmethod
    def make(cls, settings: Settings, as_of: date | None = None) -> "Policy":
        now = (datetime.now(timezone.utc) if as_of is None
               else datetime.combine(as_of, dtime(0, 0), tzinfo=timezone.utc))
        return cls(now.date(), now, now.date() - timedelta(days=settings.tenant_retention_days),
                   now - timedelta(days=settings.log_retention_days),
                   now - timedelta(days=settings.backup_retention_days))


def parse_as_of(value: str | None) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date in the form YYYY-MM-DD") from None


def has_table(con, schema: str, table: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = ? AND table_name = ?", [schema, table]).fetchone()[0] > 0


def files_older(roots: Iterable[Path], cutoff: datetime) -> list[Path]:
    limit = cutoff.timestamp()
    out = []
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                p = Path(folder) / name
                try:
                    if p.lstat().st_mtime < limit:
                        out.append(p)
                except FileNotFoundError:
                    continue
    return out


# ---------------------------------------------------------------------------------------------
# Retention: the privacy statement promises logs are kept at most 90 days. Logs and
# Great Expectations results (which name runs and counts, but may quote failing values) go
# by file age; the alert log is one growing file, so its lines are pruned by their own time.
def _retention_roots(settings: Settings) -> list[Path]:
    return [settings.log_dir, settings.gx_dir]


def purge_expired_files(settings: Settings | None = None, now: float | None = None) -> dict[str, int]:
    """Delete files under logs/ and gx/ last modified more than the retention period ago.

    Returns counts only (files deleted per folder, alert lines pruned): file names can carry run
    ids and tenant names, which do not belong in a run log that itself is kept for 90 days.
    """
    settings = settings or get_settings()
    now = time.time() if now is None else now
    cutoff = now - settings.log_retention_days * 86400
    report: dict[str, int] = {}
    for root in _retention_roots(settings):
        deleted = 0
        for folder, _dirs, files in os.walk(root):  # does not follow symlinks out of the tree
            for name in files:
                path = Path(folder) / name
                try:
                    if path.lstat().st_mtime < cutoff:
                        path.unlink()
                        deleted += 1
                except FileNotFoundError:  # a concurrent run removed it first
                    continue
        report[f"files_deleted.{root.name}"] = deleted
    report["alert_lines_pruned"] = _prune_alert_log(settings.log_dir / alerts.ALERTS_FILE, cutoff)
    return report


def _prune_alert_log(path: Path, cutoff: float) -> int:
    """Drop alert lines older than the cutoff, in place under the alert log's lock (see
    alerts.locked). Lines that do not parse are dropped too: they cannot be dated."""
    if not path.exists():
        return 0
    with alerts.locked(path, "r+") as fh:
        kept, dropped = [], 0
        for line in fh.read().splitlines():
            try:
                when = datetime.fromisoformat(json.loads(line)["time"]).timestamp()
            except (ValueError, KeyError, TypeError):
                when = None
            if when is not None and when >= cutoff:
                kept.append(line)
            else:
                dropped += 1
        if dropped:
            fh.seek(0)
            fh.write("".join(line + "\n" for line in kept))
            fh.truncate()
    return dropped


def old_alert_lines(settings: Settings, cutoff: datetime) -> int:
    import json

    from pipelines.ops import alerts

    path = settings.log_dir / alerts.ALERTS_FILE
    if not path.exists():
        return 0
    n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            when = datetime.fromisoformat(json.loads(line)["time"]).timestamp()
        except (ValueError, KeyError, TypeError):
            when = None
        n += when is None or when < cutoff.timestamp()
    return n


def processed_landing_files(settings: Settings, policy: Policy) -> list:
    """Landing files the manifest processed (loaded, rejected or duplicate) in exactly their current
    form (same size and mtime), both processed and last changed before the cutoff. In a Blob
    Storage landing: the blobs' names (relative to the prefix), the same rule by ETag."""
    if settings.landing_url:
        return _processed_landing_blobs(settings, policy)
    if not (settings.warehouse_path.exists() and settings.landing.is_dir()):
        return []
    with connect(settings=settings, read_only=True) as con:
        if not has_table(con, "audit", "files"):
            return []
        rows = con.execute("""
            SELECT file_path, arg_max(status, ingested_at), arg_max(size_bytes, ingested_at),
                   arg_max(mtime_ns, ingested_at), max(ingested_at)
            FROM audit.files GROUP BY file_path""").fetchall()
    root = settings.landing.resolve()
    limit_ns = int(policy.log_cutoff.timestamp() * 1e9)
    due = []
    for rel, status, size, mtime_ns, ingested in rows:
        if status not in PROCESSED or ingested is None or ingested >= policy.log_cutoff:
            continue
        path = (root / rel).resolve()
        if root not in path.parents:
            continue
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if path.is_file() and st.st_size == size and st.st_mtime_ns == mtime_ns and mtime_ns < limit_ns:
            due.append(path)
    return due


def _processed_landing_blobs(settings: Settings, policy: Policy) -> list[str]:
    from pipelines.ingest.blobs import BlobLanding

    if not settings.warehouse_path.exists():
        return []
    with connect(settings=settings, read_only=True) as con:
        if not has_table(con, "audit", "files") or not con.execute(
                "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'audit' AND table_name = 'files' "
                "AND column_name = 'etag'").fetchone()[0]:
            return []
        rows = {p: (st, e, at) for p, st, e, at in con.execute("""
            SELECT file_path, arg_max(status, ingested_at), arg_max(etag, ingested_at), max(ingested_at)
            FROM audit.files GROUP BY file_path""").fetchall()}
    limit_ns = int(policy.log_cutoff.timestamp() * 1e9)
    due = []
    for f in BlobLanding(settings).discover():
        status, etag, ingested = rows.get(f.rel, (None, None, None))
        if (status in PROCESSED and ingested is not None and ingested < policy.log_cutoff and etag == f.etag
                and f.mtime_ns < limit_ns):
            due.append(f.rel)
    return due


def aged_exports(settings: Settings, policy: Policy) -> list[Path]:
    """Subject-access export folders (MIRA_HOME/exports/<request id>/) whose newest file is older
    than the log cutoff. They hold a person's data in clear for the controller to hand over; once
    handed over they have no purpose here, and the privacy statement limits retention to 90 days."""
    folder = settings.home / "exports"
    if not folder.is_dir():
        return []
    cutoff = policy.log_cutoff.timestamp()
    aged = []
    for sub in sorted(folder.iterdir()):
        if not (sub.is_dir() and RUN_ID.match(sub.name)):
            continue
        newest = max((p.stat().st_mtime for p in [sub, *sub.rglob("*")]), default=0.0)
        if newest < cutoff:
            aged.append(sub)
    return aged


def old_runs(instance, cutoff: datetime) -> list[str]:
    from dagster import RunsFilter
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    limit = cutoff.timestamp()
    records = instance.get_run_records(filters=RunsFilter(statuses=list(FINISHED_STATUSES), updated_before=cutoff))
    return [r.dagster_run.run_id for r in records
            if (r.end_time if r.end_time is not None else r.update_timestamp.timestamp()) < limit]


def quarantine_old(con, cutoff: datetime, delete: bool) -> int:
    if not has_table(con, "quarantine", "rows"):
        return 0
    verb = "DELETE" if delete else "SELECT count(*)"
    return con.execute(f"{verb} FROM quarantine.rows WHERE quarantined_at < ?", [cutoff]).fetchone()[0]


def delete_runs(instance, run_ids: list[str]) -> int:
    """Delete Dagster runs with their event logs, and the files the default (SQLite) storage keeps
    per run: the run's event database and its captured step output."""
    root = Path(instance.root_directory) if getattr(instance, "root_directory", None) else None
    n = 0
    for run_id in run_ids:
        if not RUN_ID.match(run_id):
            continue
        if instance.get_run_by_id(run_id) is not None:
            instance.delete_run(run_id)
            n += 1
        if root is not None:
            for p in (root / "history" / "runs").glob(f"{run_id}.db*"):
                p.unlink(missing_ok=True)
            shutil.rmtree(root / "storage" / run_id, ignore_errors=True)
    return n


def purge_aged(settings: Settings | None = None, as_of: date | None = None, instance=None,
               files: bool = True) -> dict[str, int]:
    """Everything older than the policy allows, except tenants (see retire_tenants).
    `files=False` leaves logs, GX results and alert lines to purge_expired_files (their own asset)."""
    from pipelines.privacy import backup

    settings = settings or get_settings()
    policy = Policy.make(settings, as_of)
    counts = Counter()
    if files:
        counts.update(purge_expired_files(settings, now=policy.now.timestamp()))
    if settings.warehouse_path.exists():
        with connect(settings=settings) as con:
            counts["quarantine_rows_deleted"] = quarantine_old(con, policy.log_cutoff, delete=True)
    deleted = 0
    if settings.landing_url:
        from pipelines.ingest.blobs import BlobLanding

        deleted = BlobLanding(settings).delete(processed_landing_files(settings, policy))
    for p in ([] if settings.landing_url else processed_landing_files(settings, policy)):
        p.unlink(missing_ok=True)
        deleted += 1
    counts["landing_files_deleted"] = deleted
    aged = aged_exports(settings, policy)
    for folder in aged:
        shutil.rmtree(folder)
    counts["export_folders_deleted"] = len(aged)
    if instance is not None:
        counts["dagster_runs_deleted"] = delete_runs(instance, old_runs(instance, policy.log_cutoff))
    if accounts_path(settings).exists():
        counts["auth_events_deleted"] = purge_auth_events(settings.log_retention_days, now=policy.now)
    counts["backups_deleted"] = backup.prune_backups(settings, now=policy.now)
    return dict(counts)


