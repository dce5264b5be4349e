"""Names read back out of the vault: on a dashboard, on demand, and for the leak scanner.

A tenant may let its own managers see who did what (accounts.tenants: names_visible). The names
are read from the vault at render time, for the pseudonyms on screen only, and never written to
a serving file; the dashboards record each such view (accounts.tenants.audit_names_view).
The leak scanner needs every identity the vault holds, to search every other file for them.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.settings import Settings, get_settings
from pipelines.vault import store
from pipelines.warehouse import WarehouseMissing, connect

Person = tuple[str, str, str, str]   # user_id, first_name, last_name, email


class NamesUnavailable(RuntimeError):
    """The vault could not be read now (the pipeline holds it, or nothing was ingested)."""


def lookup_names(tenant_id: str, pseudonyms: list[str], settings: Settings | None = None) -> dict[str, str]:
    """pseudonym -> "First Last" for one tenant, read from the vault now and never stored."""
    settings = settings or get_settings()
    if not pseudonyms:
        return {}
    try:
        with store.open_vault(read_only=True, settings=settings) as con:
            rows = con.execute(
                "SELECT user_pseudonym, concat_ws(' ', first_name, last_name) FROM vault.identities "
                "WHERE tenant_id = ? AND user_pseudonym IN (SELECT unnest(?))", [tenant_id, list(pseudonyms)]).fetchall()
    except (duckdb.IOException, WarehouseMissing):
        raise NamesUnavailable("the vault cannot be read now") from None
    return dict(rows)


def everyone(path: Path | None = None, settings: Settings | None = None) -> list[Person]:
    """(user_id, first_name, last_name, email) of every identity in the vault (or in a copy of
    it at `path`, made under the same master key)."""
    settings = settings or get_settings()
    own, key = store.encrypted_file(settings)
    with connect(path or own, read_only=True, settings=settings, key=key, alias=store.ALIAS) as con:
        return con.execute("SELECT user_id, first_name, last_name, email FROM vault.identities").fetchall()


def is_vault_file(path: Path) -> bool:
    """The vault and its WAL: the one file the scanner does not search (it is where names belong)."""
    return Path(path).name.startswith(store.VAULT_FILE)
