"""Retention: what the privacy statement promises to forget, forgotten on schedule.

- A tenant whose subscription ended more than MIRA_TENANT_RETENTION_DAYS (90) before the as-of
  date is *retired*: its rows in every table of the warehouse, the vault and the analyst snapshot,
  its serving file, its landing folder, its dashboard accounts, its rows in every backup, the
  Dagster runs that ingested its files (their event logs name them) and any mention of its id or
  name in the text logs: gone. It is first added to the retired list (retired.py, tokens only), so
  its files are never ingested again and a restored backup is purged again.
- Logs and Great Expectations results (by file age), alert lines, quarantined rows, processed
  landing files, finished Dagster runs and dashboard login events older than
  MIRA_LOG_RETENTION_DAYS; backups older than MIRA_BACKUP_RETENTION_DAYS.
- Never deleted: a landing file the manifest has not processed in its current form (same size and
  mtime as recorded), a run still going, the manifest itself (audit.files: paths, hashes, counts).

Every report is counts per place: no tenant ids, names or file names (a retired tenant's id must
not survive in the run log of its own deletion).
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import Iterable

from pipelines.privacy import dbcopy, keys
from pipelines.privacy.retired import RetiredTenants
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import attach, connect, memory_connection, purpose_of

PROCESSED = ("loaded", "rejected", "duplicate")
REDACTED_TENANT = "[retired tenant]"
_RUN_ID = re.compile(r"^[0-9a-f][0-9a-f-]{7,63}$")


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


# ---------------------------------------------------------------------------------------------
# Finding what is due
def _has_table(con, schema: str, table: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = ? AND table_name = ?", [schema, table]).fetchone()[0] > 0


def expired_tenants(settings: Settings, policy: Policy) -> list[tuple[str, str | None, date]]:
    """(tenant_id, name, terminated_on) of terminated tenants past retention, from raw.tenants."""
    if not settings.warehouse_path.exists():
        return []
    with connect(settings=settings, read_only=True) as con:
        if not _has_table(con, "raw", "tenants"):
            return []
        return con.execute(
            "SELECT tenant_id, name, CAST(terminated_at AS DATE) FROM raw.tenants "
            "WHERE subscription_status = 'terminated' AND terminated_at IS NOT NULL "
            "AND CAST(terminated_at AS DATE) < ? ORDER BY 1", [policy.tenant_cutoff]).fetchall()


def _catalog(con) -> str:
    return con.execute("SELECT current_database()").fetchone()[0]


def _distinct_tenants(con, catalog: str) -> set[str]:
    found: set[str] = set()
    for s, t, _ in dbcopy.tenant_tables(con, catalog):
        cols = dbcopy.columns(con, catalog, s, t)
        exprs = [c for c in ("tenant_id",) if c in cols]
        exprs += [f"split_part({c}, '/', 1)" for c in ("file_path", "_source_file") if c in cols]
        if "payload" in cols:
            exprs.append("json_extract_string(CAST(payload AS VARCHAR), '$.tenant_id')")
        for e in exprs:
            found |= {v for (v,) in con.execute(
                f"SELECT DISTINCT {e} FROM {dbcopy.ref(catalog, s, t)} WHERE {e} IS NOT NULL").fetchall()}
    return found


def _serving_tenant_files(settings: Settings) -> dict[str, list[Path]]:
    """A tenant's own serving files (serving/tenants/<tenant>.duckdb, or serving/<tenant>.duckdb),
    with their WALs, per tenant id."""
    found: dict[str, list[Path]] = {}
    for folder in (settings.serving_dir / "tenants", settings.serving_dir):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            name = p.name
            if not p.is_file() or name.startswith(".") or not name.endswith((".duckdb", ".duckdb.wal")):
                continue
            if folder == settings.serving_dir and _shared_purpose(p):
                continue
            found.setdefault(name.split(".duckdb")[0], []).append(p)
    return found


def _shared_purpose(path: Path) -> str | None:
    """The key purpose of a serving file shared by all tenants (analyst, ops), else None."""
    try:
        purpose = purpose_of(path)
    except ValueError:
        return None
    return purpose if purpose not in ("warehouse", "vault", "backup") else None


def _shared_serving_files(settings: Settings) -> list[tuple[Path, str]]:
    if not settings.serving_dir.is_dir():
        return []
    return [(p, purpose) for p in sorted(settings.serving_dir.glob("*.duckdb"))
            if not p.name.startswith(".") and (purpose := _shared_purpose(p))]


def _keyring_tenants(settings: Settings) -> set[str]:
    """Tenants listed in the serving keyring (pipelines/serving.py), when there is one."""
    try:
        from pipelines.serving import KEYRING_FILE, read_keyring
    except ImportError:
        return set()
    if not (settings.serving_dir / KEYRING_FILE).exists():
        return set()
    return set(read_keyring(settings))


def _drop_from_keyring(settings: Settings, tenants: list[str]) -> int:
    try:
        from pipelines.serving import KEYRING_FILE, read_keyring, write_keyring
    except ImportError:
        return 0
    if not (settings.serving_dir / KEYRING_FILE).exists():
        return 0
    ring = read_keyring(settings)
    gone = [t for t in tenants if t in ring]
    if gone:
        write_keyring({t: k for t, k in ring.items() if t not in gone}, settings)
    return len(gone)


def present_tenants(settings: Settings) -> set[str]:
    """Every tenant id that still has something here: rows, files, folders, accounts."""
    found: set[str] = set()
    for path in (settings.warehouse_path, settings.vault_path):
        if path.exists():
            with connect(path, settings=settings, read_only=True) as con:
                found |= _distinct_tenants(con, _catalog(con))
    for path, purpose in _shared_serving_files(settings):
        with connect(path, settings=settings, read_only=True, key=keys.file_key(purpose, settings=settings)) as con:
            found |= _distinct_tenants(con, _catalog(con))
    found |= _keyring_tenants(settings)
    if settings.landing.is_dir():
        found |= {p.name for p in settings.landing.iterdir() if p.is_dir() and not p.name.startswith(".")}
    found |= set(_serving_tenant_files(settings))
    found |= _account_tenants(settings)
    return found


def _accounts_path(settings: Settings) -> Path:
    return settings.home / "accounts.db"


def _account_tenants(settings: Settings) -> set[str]:
    path = _accounts_path(settings)
    if not path.exists():
        return set()
    with _sqlite(path) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'accounts'").fetchone():
            return set()
        return {t for (t,) in con.execute("SELECT DISTINCT tenant_id FROM accounts WHERE tenant_id IS NOT NULL")}


class _sqlite:
    """A short SQLite connection to the accounts file, secure_delete on (deleted rows are zeroed)."""

    def __init__(self, path: Path):
        self.con = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        self.con.execute("PRAGMA busy_timeout = 10000")
        self.con.execute("PRAGMA secure_delete = ON")

    def __enter__(self) -> sqlite3.Connection:
        return self.con

    def __exit__(self, *exc) -> None:
        self.con.close()


def _auth_cutoff_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")   # accounts' own format


def _files_older(roots: Iterable[Path], cutoff: datetime) -> list[Path]:
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


def _old_alert_lines(settings: Settings, cutoff: datetime) -> int:
    import json

    from pipelines import alerts

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


def processed_landing_files(settings: Settings, policy: Policy) -> list[Path]:
    """Landing files the manifest processed (loaded, rejected or duplicate) in exactly their current
    form (same size and mtime), both processed and last changed before the cutoff."""
    if not (settings.warehouse_path.exists() and settings.landing.is_dir()):
        return []
    with connect(settings=settings, read_only=True) as con:
        if not _has_table(con, "audit", "files"):
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


def _old_runs(instance, cutoff: datetime) -> list[str]:
    from dagster import RunsFilter
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    limit = cutoff.timestamp()
    records = instance.get_run_records(filters=RunsFilter(statuses=list(FINISHED_STATUSES), updated_before=cutoff))
    return [r.dagster_run.run_id for r in records
            if (r.end_time if r.end_time is not None else r.update_timestamp.timestamp()) < limit]


def _quarantine_old(con, cutoff: datetime, delete: bool) -> int:
    if not _has_table(con, "quarantine", "rows"):
        return 0
    verb = "DELETE" if delete else "SELECT count(*)"
    return con.execute(f"{verb} FROM quarantine.rows WHERE quarantined_at < ?", [cutoff]).fetchone()[0]


def _old_auth_events(settings: Settings, cutoff: datetime) -> int:
    path = _accounts_path(settings)
    if not path.exists():
        return 0
    with _sqlite(path) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'auth_events'").fetchone():
            return 0
        return con.execute("SELECT count(*) FROM auth_events WHERE at < ?", (_auth_cutoff_text(cutoff),)).fetchone()[0]


# ---------------------------------------------------------------------------------------------
# The check: what is still here that the policy says must be gone (counts only)
def overdue(settings: Settings | None = None, as_of: date | None = None, instance=None) -> dict[str, int]:
    """Counts of everything older than the policy allows; all zero when retention is up to date."""
    from pipelines.privacy import backup

    settings = settings or get_settings()
    policy = Policy.make(settings, as_of)
    retired = RetiredTenants.load(settings)
    due = {t for t, _, _ in expired_tenants(settings, policy)}
    due |= retired.listed(present_tenants(settings)) if len(retired) else set()
    counts = Counter()
    counts["tenants_past_retention"] = len(due)
    counts.update(_tenant_presence(settings, sorted(due)))
    counts["log_files"] = len(_files_older([settings.log_dir], policy.log_cutoff))
    counts["gx_files"] = len(_files_older([settings.gx_dir], policy.log_cutoff))
    counts["alert_lines"] = _old_alert_lines(settings, policy.log_cutoff)
    if settings.warehouse_path.exists():
        with connect(settings=settings, read_only=True) as con:
            counts["quarantine_rows"] = _quarantine_old(con, policy.log_cutoff, delete=False)
    counts["landing_files"] = len(processed_landing_files(settings, policy))
    counts["export_folders"] = len(aged_exports(settings, policy))
    if instance is not None:
        counts["dagster_runs"] = len(_old_runs(instance, policy.log_cutoff))
    counts["auth_events"] = _old_auth_events(settings, policy.log_cutoff)
    counts["backups"] = len(backup.expired_backups(settings, policy.backup_cutoff))
    return {k: int(counts[k]) for k in sorted(counts)}


def _tenant_presence(settings: Settings, tenants: list[str]) -> Counter:
    """Rows and files of these tenants, per place (for the check; the purge counts its own)."""
    c = Counter()
    if not tenants:
        return c
    places = [(settings.warehouse_path, "warehouse"), (settings.vault_path, "vault"),
              *[(p, purpose) for p, purpose in _shared_serving_files(settings)]]
    for path, place in places:
        if path.exists():
            with connect(path, settings=settings, read_only=True, key=keys.file_key(place, settings=settings)) as con:
                c[f"tenant_rows.{place}"] += dbcopy.count_tenant_rows(
                    con, _catalog(con), tenants)
    for t in tenants:
        folder = settings.landing / t
        if folder.is_dir():
            c["tenant_files.landing"] += sum(1 for p in folder.rglob("*") if p.is_file())
        c["tenant_files.serving"] += len(_serving_tenant_files(settings).get(t, []))
    c["tenant_keyring_entries"] += len(_keyring_tenants(settings) & set(tenants))
    accounts = _accounts_path(settings)
    if accounts.exists():
        with _sqlite(accounts) as con:
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'accounts'").fetchone():
                c["tenant_accounts"] += con.execute(
                    f"SELECT count(*) FROM accounts WHERE tenant_id IN ({','.join('?' * len(tenants))})",
                    tenants).fetchone()[0]
    return c


# ---------------------------------------------------------------------------------------------
# Purging a retired tenant
def retire_tenants(settings: Settings | None = None, as_of: date | None = None, instance=None) -> dict[str, int]:
    """Retire every tenant past retention, and purge again any retired tenant found here (after a
    restore, or a purge interrupted half-way). Returns counts per place."""
    settings = settings or get_settings()
    policy = Policy.make(settings, as_of)
    retired = RetiredTenants.load(settings)
    expired = expired_tenants(settings, policy)
    newly = 0
    for tenant, _name, terminated in expired:
        newly += retired.add(tenant, terminated, policy.as_of)
    if newly:
        retired.save()      # before anything is deleted: from here on its files are refused
    names = {t: n for t, n, _ in expired if n}
    targets = sorted({t for t, _, _ in expired} | (retired.listed(present_tenants(settings)) if len(retired) else set()))
    counts = Counter({"tenants_retired": newly, "tenants_purged": len(targets)})
    if targets:
        counts.update(purge_tenants(settings, targets, names, instance))
    pending = [tok for tok, e in retired.entries.items() if not e.get("backups_purged")]
    if pending:
        # Backups taken before the retirement hold the tenant: each is rewritten without it, once.
        from pipelines.privacy import backup

        counts.update(backup.purge_retired_from_backups(settings, retired))
        for tok in pending:
            retired.entries[tok]["backups_purged"] = True
        retired.save()
    return dict(counts)


def purge_tenants(settings: Settings, tenants: list[str], names: dict[str, str] | None = None,
                  instance=None) -> Counter:
    """Delete everything of these tenants. The warehouse goes last: until it is clean, the tenant
    is still found there, so an interrupted purge is finished by the next run."""
    counts = Counter()
    names = names or {}
    run_ids: set[str] = set()
    if settings.warehouse_path.exists():
        with connect(settings=settings, read_only=True) as con:
            if _has_table(con, "audit", "files"):
                run_ids = {r for (r,) in con.execute(
                    "SELECT DISTINCT run_id FROM audit.files WHERE list_contains($tenants, tenant_id) "
                    "OR list_contains($tenants, split_part(file_path, '/', 1))", {"tenants": tenants}).fetchall() if r}
    # Dagster runs that ingested its files: their event logs and GX results name its files.
    if run_ids and instance is not None:
        counts["tenant_runs.dagster"] += _delete_runs(instance, sorted(run_ids))
    elif run_ids and (settings.dagster_home / "dagster.yaml").exists():   # called outside a run (restore)
        from dagster import DagsterInstance

        from pipelines.instance import prepare_dagster_home

        prepare_dagster_home(settings)
        with DagsterInstance.get() as own:
            counts["tenant_runs.dagster"] += _delete_runs(own, sorted(run_ids))
    counts["tenant_files.gx"] += _delete_gx_of_runs(settings, run_ids)
    # Text logs (and captured step output) mentioning it: the id and name are masked in place.
    needles = [t for t in tenants] + [names[t] for t in tenants if names.get(t)]
    counts["log_files_redacted"] += _redact(
        [settings.log_dir, settings.gx_dir, settings.dagster_home / "storage"], needles)
    for t in tenants:
        folder = settings.landing / t
        if folder.is_dir() and not folder.is_symlink():
            counts["tenant_files.landing"] += sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder)
        for p in _serving_tenant_files(settings).get(t, []):
            p.unlink(missing_ok=True)
            counts["tenant_files.serving"] += 1
    counts["tenant_accounts"] += _delete_accounts(settings, tenants)
    counts["tenant_keyring_entries"] += _drop_from_keyring(settings, tenants)
    for path, purpose in _shared_serving_files(settings):   # analyst snapshot, ops counts
        counts[f"tenant_rows.{purpose}"] += _rewrite_without(path, keys.file_key(purpose, settings=settings),
                                                             tenants, settings)
    counts["tenant_files.exports"] += _delete_exports(settings, tenants)
    if settings.vault_path.exists():
        with connect(settings.vault_path, settings=settings) as con:
            counts["tenant_rows.vault"] += dbcopy.delete_tenant_rows(con, _catalog(con), tenants)
            con.execute("CHECKPOINT")
    if settings.warehouse_path.exists():
        with connect(settings=settings) as con:
            counts["tenant_rows.warehouse"] += dbcopy.delete_tenant_rows(con, _catalog(con), tenants)
            con.execute("CHECKPOINT")
    return counts


def _rewrite_without(path: Path, key: str, tenants: list[str], settings: Settings) -> int:
    """Replace an encrypted file by a fresh copy without the tenants' rows (atomic swap; a reader of
    the old file keeps it until it reconnects). Returns the rows left out; 0 and no rewrite if none."""
    con = memory_connection(settings)
    tmp = path.with_name(f".{path.stem}-retention-{uuid.uuid4().hex}.duckdb")
    try:
        attach(con, path, "src", key, read_only=True)
        gone = dbcopy.count_tenant_rows(con, "src", tenants)
        if not gone:
            return 0
        attach(con, tmp, "dst", key)
        dbcopy.copy_database(con, "src", "dst", exclude_tenants=tenants)
        con.execute("DETACH dst")
        con.execute("DETACH src")
        os.replace(tmp, path)
        Path(str(path) + ".wal").unlink(missing_ok=True)
        return gone
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)


def _delete_exports(settings: Settings, tenants: list[str]) -> int:
    """Subject-access exports made for the tenant (MIRA_HOME/exports/<request id>/, rights.py)."""
    folder = settings.home / "exports"
    if not (folder.is_dir() and settings.vault_path.exists()):
        return 0
    with connect(settings.vault_path, settings=settings, read_only=True) as con:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                           "AND table_name = 'requests'").fetchone()[0]:
            return 0
        ids = [r for (r,) in con.execute("SELECT request_id FROM requests WHERE list_contains(?, tenant_id)",
                                         [tenants]).fetchall()]
    n = 0
    for rid in ids:
        target = folder / str(rid)
        if _RUN_ID.match(str(rid)) and target.is_dir():
            shutil.rmtree(target)
            n += 1
    return n


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
        if not (sub.is_dir() and _RUN_ID.match(sub.name)):
            continue
        newest = max((p.stat().st_mtime for p in [sub, *sub.rglob("*")]), default=0.0)
        if newest < cutoff:
            aged.append(sub)
    return aged


def _delete_accounts(settings: Settings, tenants: list[str]) -> int:
    path = _accounts_path(settings)
    if not path.exists():
        return 0
    with _sqlite(path) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'accounts'").fetchone():
            return 0
        marks = ",".join("?" * len(tenants))
        con.execute("BEGIN IMMEDIATE")
        try:
            ids = [i for (i,) in con.execute(f"SELECT id FROM accounts WHERE tenant_id IN ({marks})", tenants)]
            if ids:
                idm = ",".join("?" * len(ids))
                con.execute(f"DELETE FROM auth_events WHERE account_id IN ({idm})", ids)
                con.execute(f"DELETE FROM accounts WHERE id IN ({idm})", ids)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # no copy of the deleted rows left in the WAL
        return len(ids)


def _delete_runs(instance, run_ids: list[str]) -> int:
    """Delete Dagster runs with their event logs, and the files the default (SQLite) storage keeps
    per run: the run's event database and its captured step output."""
    root = Path(instance.root_directory) if getattr(instance, "root_directory", None) else None
    n = 0
    for run_id in run_ids:
        if not _RUN_ID.match(run_id):
            continue
        if instance.get_run_by_id(run_id) is not None:
            instance.delete_run(run_id)
            n += 1
        if root is not None:
            for p in (root / "history" / "runs").glob(f"{run_id}.db*"):
                p.unlink(missing_ok=True)
            shutil.rmtree(root / "storage" / run_id, ignore_errors=True)
    return n


def _delete_gx_of_runs(settings: Settings, run_ids: set[str]) -> int:
    n = 0
    if run_ids and settings.gx_dir.is_dir():
        for p in settings.gx_dir.rglob("*.json"):
            if p.stem in run_ids:
                p.unlink(missing_ok=True)
                n += 1
    return n


def _redact(roots: list[Path], needles: list[str]) -> int:
    """Replace each needle by a placeholder in every file under roots that contains one; the file
    keeps its mtime (its age still decides when it goes)."""
    wanted = sorted({n.encode("utf-8") for n in needles if n}, key=len, reverse=True)
    if not wanted:
        return 0
    changed = 0
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                p = Path(folder) / name
                try:
                    data = p.read_bytes()
                    data.decode("utf-8")      # text only: a binary file (a pickle, a database) is never patched
                except (OSError, UnicodeDecodeError):
                    continue
                new = data
                for w in wanted:
                    new = new.replace(w, REDACTED_TENANT.encode())
                if new != data:
                    st = p.stat()
                    tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex}")
                    tmp.write_bytes(new)
                    os.chmod(tmp, st.st_mode & 0o777)
                    os.replace(tmp, p)
                    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
                    changed += 1
    return changed


# ---------------------------------------------------------------------------------------------
# Purging by age
def purge_aged(settings: Settings | None = None, as_of: date | None = None, instance=None,
               files: bool = True) -> dict[str, int]:
    """Everything older than the policy allows, except tenants (see retire_tenants).
    `files=False` leaves logs, GX results and alert lines to ops.purge_expired_files."""
    from pipelines.privacy import backup
    from pipelines.privacy import accounts

    settings = settings or get_settings()
    policy = Policy.make(settings, as_of)
    counts = Counter()
    if files:
        from pipelines.ops import purge_expired_files

        counts.update(purge_expired_files(settings, now=policy.now.timestamp()))
    if settings.warehouse_path.exists():
        with connect(settings=settings) as con:
            counts["quarantine_rows_deleted"] = _quarantine_old(con, policy.log_cutoff, delete=True)
    deleted = 0
    for p in processed_landing_files(settings, policy):
        p.unlink(missing_ok=True)
        deleted += 1
    counts["landing_files_deleted"] = deleted
    aged = aged_exports(settings, policy)
    for folder in aged:
        shutil.rmtree(folder)
    counts["export_folders_deleted"] = len(aged)
    if instance is not None:
        counts["dagster_runs_deleted"] = _delete_runs(instance, _old_runs(instance, policy.log_cutoff))
    if _accounts_path(settings).exists():
        counts["auth_events_deleted"] = accounts.purge_auth_events(settings.log_retention_days, now=policy.now)
    counts["backups_deleted"] = backup.prune_backups(settings, now=policy.now)
    return dict(counts)


def apply_retention(settings: Settings | None = None, as_of: date | None = None, instance=None,
                    files: bool = True) -> dict[str, int]:
    """The whole policy: retired tenants, then everything past its age. Counts per place."""
    settings = settings or get_settings()
    report = Counter(retire_tenants(settings, as_of, instance))
    report.update(purge_aged(settings, as_of, instance, files=files))
    return {k: int(report[k]) for k in sorted(report)}


# ---------------------------------------------------------------------------------------------
def run_retention_job(as_of: date | None = None) -> dict:
    """Run the `retention` Dagster job in this process, recorded in the instance under MIRA_HOME
    (what `mira privacy retention` does, so ops see the run and the check in the UI).
    Returns {"run_id", "success", "report": counts, "check_passed", "overdue": counts}."""
    from dagster import DagsterInstance

    from pipelines.instance import prepare_dagster_home

    prepare_dagster_home()
    from pipelines.definitions import defs
    from pipelines.ops import RETENTION_CHECK, RETENTION_KEY, retention_run_config

    run_config = retention_run_config(as_of.isoformat() if as_of else None)
    run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    instance = DagsterInstance.get()
    try:
        result = defs.resolve_job_def("retention").execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config)
    finally:
        instance.dispose()
    report: dict[str, int] = {}
    for node in ("purge_expired", "privacy__retention"):
        try:
            report.update(result.output_for_node(node))
        except Exception:      # the step failed: the run's failure says why
            pass
    check = next((e for e in result.get_asset_check_evaluations()
                  if e.asset_key == RETENTION_KEY and e.check_name == RETENTION_CHECK), None)
    failure = None
    if not result.success:
        for ev in result.all_events:
            if ev.is_step_failure and ev.step_failure_data and ev.step_failure_data.error:
                failure = f"step {ev.step_key}: {ev.step_failure_data.error.message.strip().splitlines()[0]}"
                break
    overdue_counts = {}
    if check is not None:
        overdue_counts = {k: v.value for k, v in check.metadata.items() if isinstance(v.value, int)}
    return {"run_id": result.run_id, "success": result.success, "failure": failure, "report": report,
            "check_passed": None if check is None else check.passed, "overdue": overdue_counts}
