"""What accounts.db holds per tenant: the tenant's choice to show its managers names, the audit
of each such view, and what retention counts and deletes when a tenant is retired.

All SQL on accounts.db lives in this package; retention (pipelines/privacy/retention) asks here
instead of opening the file itself.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from pipelines.accounts.store import LANGUAGES, _ts, _write, accounts_path, connect
from pipelines.contracts import is_tenant_id
from pipelines.settings import Settings

_SETTINGS_DDL = """CREATE TABLE IF NOT EXISTS tenant_settings (
    tenant_id TEXT PRIMARY KEY, names_visible INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL,
    language TEXT)"""


def _settings_table(con) -> None:
    """Created on first use; a table made before the tenant's language existed gets the column."""
    con.execute(_SETTINGS_DDL)
    if "language" not in {row[1] for row in con.execute("PRAGMA table_info(tenant_settings)")}:
        con.execute("ALTER TABLE tenant_settings ADD COLUMN language TEXT")


def names_visible(tenant_id: str) -> bool:
    with connect() as con:
        _settings_table(con)
        row = con.execute("SELECT names_visible FROM tenant_settings WHERE tenant_id = ?", [tenant_id]).fetchone()
    return bool(row and row[0])


def set_names_visible(tenant_id: str, visible: bool) -> None:
    if not is_tenant_id(tenant_id):
        raise ValueError("not a tenant id")   # never quote it: it may come from a hostile request
    with connect() as con:
        _settings_table(con)
        con.execute("INSERT INTO tenant_settings (tenant_id, names_visible, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (tenant_id) DO UPDATE "
                    "SET names_visible = excluded.names_visible, updated_at = excluded.updated_at",
                    [tenant_id, int(visible), datetime.now(timezone.utc).isoformat()])


def tenant_language(tenant_id: str) -> str | None:
    """The language the tenant chose for its managers who have not chosen one themselves."""
    with connect() as con:
        _settings_table(con)
        row = con.execute("SELECT language FROM tenant_settings WHERE tenant_id = ?", [tenant_id]).fetchone()
    return row[0] if row and row[0] in LANGUAGES else None


def set_tenant_language(tenant_id: str, language: str | None) -> None:
    """The tenant's default language (None: from its country again)."""
    if not is_tenant_id(tenant_id):
        raise ValueError("not a tenant id")
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unknown language; choose one of {', '.join(LANGUAGES)}")
    with connect() as con:
        _settings_table(con)
        con.execute("INSERT INTO tenant_settings (tenant_id, names_visible, updated_at, language) VALUES (?, 0, ?, ?) "
                    "ON CONFLICT (tenant_id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at",
                    [tenant_id, datetime.now(timezone.utc).isoformat(), language])


def audit_names_view(account_id: int, tenant_id: str, page: str, count: int) -> None:
    """Who saw how many names of which tenant on which page, when (never the names)."""
    with connect() as con:
        con.execute("INSERT INTO auth_events (at, event, account_id, client, detail) VALUES (?, 'names_view', ?, ?, ?)",
                    [_ts(datetime.now(timezone.utc)), account_id, tenant_id,
                     json.dumps({"tenant": tenant_id, "page": page, "names": count})])


# --- retention ------------------------------------------------------------------------------------
# The file may not exist (no account made yet): then there is nothing to count or delete, and
# nothing is created either.

def _existing(settings: Settings):
    path = accounts_path(settings)
    return path if path.exists() else None


def tenants_with_accounts(settings: Settings) -> set[str]:
    path = _existing(settings)
    if path is None:
        return set()
    with connect(path) as con:
        return {t for (t,) in con.execute("SELECT DISTINCT tenant_id FROM accounts WHERE tenant_id IS NOT NULL")}


def count_accounts(settings: Settings, tenants: list[str]) -> int:
    path = _existing(settings)
    if path is None or not tenants:
        return 0
    with connect(path) as con:
        return con.execute(f"SELECT count(*) FROM accounts WHERE tenant_id IN ({','.join('?' * len(tenants))})",
                           tenants).fetchone()[0]


def delete_tenants(settings: Settings, tenants: list[str]) -> int:
    """The tenants' accounts and their audit rows, deleted with secure_delete (zeroed pages) and
    the WAL truncated, so no copy of the rows is left in the file. Returns accounts deleted."""
    path = _existing(settings)
    if path is None or not tenants:
        return 0
    with connect(path) as con:
        con.execute("PRAGMA secure_delete = ON")
        marks = ",".join("?" * len(tenants))
        with _write(con):
            ids = [i for (i,) in con.execute(f"SELECT id FROM accounts WHERE tenant_id IN ({marks})", tenants)]
            if ids:
                idm = ",".join("?" * len(ids))
                con.execute(f"DELETE FROM auth_events WHERE account_id IN ({idm})", ids)
                con.execute(f"DELETE FROM accounts WHERE id IN ({idm})", ids)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(ids)


def count_auth_events_before(settings: Settings, cutoff: datetime) -> int:
    path = _existing(settings)
    if path is None:
        return 0
    with connect(path) as con:
        return con.execute("SELECT count(*) FROM auth_events WHERE at < ?", (_ts(cutoff),)).fetchone()[0]
