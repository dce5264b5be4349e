"""Which tenants' serving files are out of date: publish what changed, not what exists.

A tenant's serving file is a function of that tenant's raw rows, its restricted people, and the
dbt project that turns rows into marts (the one table without a tenant, the calendar, is clipped
to the tenant's own days when copied). So its *version* is a digest of: per raw table, the
tenant's row count and latest `_loaded_at` (a MERGE that changes a row stamps it); the tenant's
restricted pseudonyms; the dbt manifest. A file whose version equals the one recorded when it was
last published is up to date and is not rewritten (nor touched: its bytes and mtime stay).

What changes rows without stamping them (an erasure's re-keying, a restore) republishes every
tenant (serving.publish.republish), and so does `mira run --full-refresh`.

The record is serving/published.json: tenant -> version and published_at; no personal data.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from pipelines.contracts import ENTITIES
from pipelines.settings import Settings
from pipelines.warehouse import swap_in

RECORD_FILE = "published.json"
# The Dagster dynamic partitions of the tenants' serving files (serving/assets.py; retention drops a
# retired tenant's).
PARTITIONS = "tenants"
ANALYST_RECORD_FILE = "published-analyst.json"


def _manifest_digest() -> str:
    from pipelines.transform.project import project

    path = project().manifest_path
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "no-manifest"


def current(con: duckdb.DuckDBPyConnection, tenants: list[str] | None = None) -> dict[str, str]:
    """tenant -> version of what its file would hold now (the warehouse is `con`'s default catalog).
    tenants=None: every tenant id any raw table holds (also one whose tenants row has not arrived)."""
    counts = {entity: {t: f"{n}:{last}" for t, n, last in con.execute(
        f"SELECT tenant_id, count(*), max(_loaded_at) FROM raw.{entity} GROUP BY 1").fetchall()}
        for entity in ENTITIES}
    if tenants is None:
        tenants = sorted({t for found in counts.values() for t in found if t is not None})
    digest = _manifest_digest()
    parts: dict[str, list[str]] = {t: [digest] for t in tenants}
    for entity in ENTITIES:
        found = counts[entity]
        for t in tenants:
            parts[t].append(f"{entity}={found.get(t, '0:')}")
    has_list = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                           "AND schema_name = 'privacy' AND table_name = 'restricted_subjects'").fetchone()[0]
    restricted = dict(con.execute("SELECT tenant_id, string_agg(user_pseudonym, ',' ORDER BY user_pseudonym) "
                                  "FROM privacy.restricted_subjects GROUP BY 1").fetchall()) if has_list else {}
    for t in tenants:
        parts[t].append(f"restricted={restricted.get(t, '')}")
    return {t: hashlib.sha256("\n".join(p).encode()).hexdigest() for t, p in parts.items()}


def record_path(settings: Settings, name: str = RECORD_FILE) -> Path:
    return settings.serving_dir / name


def recorded(settings: Settings, name: str = RECORD_FILE) -> dict[str, dict]:
    """tenant -> {"version", "published_at"} of the last publish (empty when none)."""
    path = record_path(settings, name)
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return {}      # an unreadable record only costs a full publish


def save(settings: Settings, record: dict[str, dict], name: str = RECORD_FILE) -> None:
    path = record_path(settings, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1, sort_keys=True)
    swap_in(tmp, path)


def overall(current_versions: dict[str, str]) -> str:
    """The version of what every tenant's data is now: the analyst snapshot's (all tenants)."""
    return hashlib.sha256("\n".join(f"{t}={v}" for t, v in sorted(current_versions.items())).encode()).hexdigest()


def drop(settings: Settings, tenants: list[str]) -> int:
    """Retention: retired tenants leave the records, the tenants' and the analyst snapshot's
    (their id must not outlive their data)."""
    record = recorded(settings)
    gone = [t for t in tenants if t in record]
    if gone:
        save(settings, {t: v for t, v in record.items() if t not in gone})
    analyst = recorded(settings, ANALYST_RECORD_FILE)
    listed = analyst.get("analyst", {}).get("tenants") or {}
    if any(t in listed for t in tenants):
        analyst["analyst"]["tenants"] = {t: v for t, v in listed.items() if t not in tenants}
        save(settings, analyst, ANALYST_RECORD_FILE)
    return len(gone)


def forget(settings: Settings) -> None:
    """Drop the records: the next publish rewrites every file (after `mira run --full-refresh`)."""
    for name in (RECORD_FILE, ANALYST_RECORD_FILE):
        record_path(settings, name).unlink(missing_ok=True)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
