"""Retention of tenants: a tenant past its retention period is retired, and everything of it goes.

- A tenant whose subscription ended more than MIRA_TENANT_RETENTION_DAYS (90) before the as-of
  date is *retired*: its rows in every table of the warehouse, the vault and the analyst snapshot,
  its serving file, its landing folder (or its blobs), its dashboard accounts, its rows in every backup, the
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
import shutil
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

from pipelines import keys
from pipelines.accounts import tenants as account_tenants
from pipelines.ingest.blobs import BlobLanding
from pipelines.ingest.retired import RetiredTenants
from pipelines.privacy import dbcopy
from pipelines.privacy.retention.policy import RUN_ID, Policy, delete_runs, has_table
from pipelines.runs import prepare_dagster_home
from pipelines.serving import versions
from pipelines.serving.files import KEYRING_FILE, TENANTS_DIR, read_keyring, write_keyring
from pipelines.settings import Settings, get_settings
from pipelines.transform.lake import drop_spark_copies
from pipelines.vault import requests as vault_requests
from pipelines.vault import store as vault
from pipelines.warehouse import attach, connect, detach, memory_connection, purpose_of

REDACTED_TENANT = "[retired tenant]"


def expired_tenants(settings: Settings, policy: Policy) -> list[tuple[str, str | None, date]]:
    """(tenant_id, name, terminated_on) of terminated tenants past retention, from raw.tenants."""
    if not settings.warehouse_path.exists():
        return []
    with connect(settings=settings, read_only=True) as con:
        if not has_table(con, "raw", "tenants"):
            return []
        return con.execute(
            "SELECT tenant_id, name, CAST(terminated_at AS DATE) FROM raw.tenants "
            "WHERE subscription_status = 'terminated' AND terminated_at IS NOT NULL "
            "AND CAST(terminated_at AS DATE) < ? ORDER BY 1", [policy.tenant_cutoff]).fetchall()


def _catalog(con) -> str:
    return con.execute("SELECT current_database()").fetchone()[0]


def _serving_tenant_files(settings: Settings) -> dict[str, list[Path]]:
    """A tenant's own serving files (serving/tenants/<tenant>.duckdb, or serving/<tenant>.duckdb),
    with their WALs, per tenant id."""
    found: dict[str, list[Path]] = {}
    for folder in (settings.serving_dir / TENANTS_DIR, settings.serving_dir):
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
    return purpose if purpose not in ("warehouse", "backup") else None


def _shared_serving_files(settings: Settings) -> list[tuple[Path, str]]:
    if not settings.serving_dir.is_dir():
        return []
    return [(p, purpose) for p in sorted(settings.serving_dir.glob("*.duckdb"))
            if not p.name.startswith(".") and (purpose := _shared_purpose(p))]


def _keyring_tenants(settings: Settings) -> set[str]:
    """Tenants listed in the serving keyring, when there is one."""
    if not (settings.serving_dir / KEYRING_FILE).exists():
        return set()
    return set(read_keyring(settings))


def _drop_from_keyring(settings: Settings, tenants: list[str]) -> int:
    if not (settings.serving_dir / KEYRING_FILE).exists():
        return 0
    ring = read_keyring(settings)
    gone = [t for t in tenants if t in ring]
    if gone:
        write_keyring({t: k for t, k in ring.items() if t not in gone}, settings)
    return len(gone)


def _encrypted_stores(settings: Settings) -> list[tuple[Path, str, str]]:
    """(path, place, key) of the warehouse and the vault, where they exist."""
    out = []
    if settings.warehouse_path.exists():
        out.append((settings.warehouse_path, "warehouse", keys.file_key("warehouse", settings=settings)))
    path, key = vault.encrypted_file(settings)
    if path.exists():
        out.append((path, "vault", key))
    return out


def present_tenants(settings: Settings) -> set[str]:
    """Every tenant id that still has something here: rows, files, folders, accounts."""
    found: set[str] = set()
    for path, _place, key in _encrypted_stores(settings):
        with connect(path, settings=settings, read_only=True, key=key) as con:
            found |= dbcopy.distinct_tenants(con, _catalog(con))
    for path, purpose in _shared_serving_files(settings):
        with connect(path, settings=settings, read_only=True, key=keys.file_key(purpose, settings=settings)) as con:
            found |= dbcopy.distinct_tenants(con, _catalog(con))
    found |= _keyring_tenants(settings)
    if settings.landing_url:
        found |= {t for t in BlobLanding(settings).tenants() if not t.startswith(".")}
    elif settings.landing.is_dir():
        found |= {p.name for p in settings.landing.iterdir() if p.is_dir() and not p.name.startswith(".")}
    found |= set(_serving_tenant_files(settings))
    found |= account_tenants.tenants_with_accounts(settings)
    return found


def tenant_presence(settings: Settings, tenants: list[str]) -> Counter:
    """Rows and files of these tenants, per place (for the check; the purge counts its own)."""
    c = Counter()
    if not tenants:
        return c
    places = [*_encrypted_stores(settings),
              *[(p, purpose, keys.file_key(purpose, settings=settings)) for p, purpose in _shared_serving_files(settings)]]
    for path, place, key in places:
        with connect(path, settings=settings, read_only=True, key=key) as con:
            c[f"tenant_rows.{place}"] += dbcopy.count_tenant_rows(con, _catalog(con), tenants)
    blobs = BlobLanding(settings) if settings.landing_url else None
    for t in tenants:
        folder = settings.landing / t
        if blobs:
            c["tenant_files.landing"] += len(blobs.names_of_tenant(t))
        elif folder.is_dir():
            c["tenant_files.landing"] += sum(1 for p in folder.rglob("*") if p.is_file())
        c["tenant_files.serving"] += len(_serving_tenant_files(settings).get(t, []))
    c["tenant_keyring_entries"] += len(_keyring_tenants(settings) & set(tenants))
    c["tenant_accounts"] += account_tenants.count_accounts(settings, tenants)
    return c


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
            if has_table(con, "audit", "files"):
                run_ids = {r for (r,) in con.execute(
                    "SELECT DISTINCT run_id FROM audit.files WHERE list_contains($tenants, tenant_id) "
                    "OR list_contains($tenants, split_part(file_path, '/', 1))", {"tenants": tenants}).fetchall() if r}
    # Dagster runs that ingested its files: their event logs and GX results name its files.
    if run_ids and instance is not None:
        counts["tenant_runs.dagster"] += delete_runs(instance, sorted(run_ids))
    elif run_ids and (settings.dagster_home / "dagster.yaml").exists():   # called outside a run (restore)
        from dagster import DagsterInstance

        prepare_dagster_home(settings)
        with DagsterInstance.get() as own:
            counts["tenant_runs.dagster"] += delete_runs(own, sorted(run_ids))
    counts["tenant_files.gx"] += _delete_gx_of_runs(settings, run_ids)
    # Text logs (and captured step output) mentioning it: the id and name are masked in place.
    needles = [t for t in tenants] + [names[t] for t in tenants if names.get(t)]
    counts["log_files_redacted"] += _redact(
        [settings.log_dir, settings.gx_dir, settings.dagster_home / "storage"], needles)
    blobs = BlobLanding(settings) if settings.landing_url else None
    for t in tenants:
        folder = settings.landing / t
        if blobs:     # the tenant's folder in the landing container: every blob of it
            counts["tenant_files.landing"] += blobs.delete(blobs.names_of_tenant(t))
        elif folder.is_dir() and not folder.is_symlink():
            counts["tenant_files.landing"] += sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder)
        for p in _serving_tenant_files(settings).get(t, []):
            p.unlink(missing_ok=True)
            counts["tenant_files.serving"] += 1
    counts["tenant_accounts"] += account_tenants.delete_tenants(settings, tenants)
    counts["tenant_keyring_entries"] += _drop_from_keyring(settings, tenants)
    counts["tenant_publish_records"] += versions.drop(settings, tenants)
    counts["tenant_partitions.dagster"] += _drop_partitions(instance, tenants)
    for path, purpose in _shared_serving_files(settings):   # analyst snapshot, ops counts
        counts[f"tenant_rows.{purpose}"] += _rewrite_without(path, keys.file_key(purpose, settings=settings),
                                                             tenants, settings)
    counts["tenant_files.exports"] += _delete_exports(settings, tenants)
    # Spark's Parquet copies (engine spark) hold the tenant too; the next build rebuilds them whole.
    if drop_spark_copies(settings):
        counts["spark_copies_dropped"] += 1
    path, key = vault.encrypted_file(settings)
    if path.exists():
        with connect(path, settings=settings, key=key) as con:
            counts["tenant_rows.vault"] += dbcopy.delete_tenant_rows(con, _catalog(con), tenants)
            con.execute("CHECKPOINT")
    if settings.warehouse_path.exists():
        with connect(settings=settings) as con:
            counts["tenant_rows.warehouse"] += dbcopy.delete_tenant_rows(con, _catalog(con), tenants)
            con.execute("CHECKPOINT")
    return counts


def _drop_partitions(instance, tenants: list[str]) -> int:
    """The tenants' Dagster partitions (serving/tenant_file), when an instance is at hand."""
    if instance is None:
        return 0
    present = set(instance.get_dynamic_partitions(versions.PARTITIONS))
    for t in sorted(present & set(tenants)):
        instance.delete_dynamic_partition(versions.PARTITIONS, t)
    return len(present & set(tenants))


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
        detach(con, "dst", tmp)
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
    if not folder.is_dir():
        return 0
    ids = vault_requests.request_ids_of_tenants(tenants, settings)
    n = 0
    for rid in ids:
        target = folder / str(rid)
        if RUN_ID.match(str(rid)) and target.is_dir():
            shutil.rmtree(target)
            n += 1
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


