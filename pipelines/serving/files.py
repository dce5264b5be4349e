"""Serving files: what the dashboards read, and the only module of pipelines they import
(besides accounts for the login and the pure rollups definitions).

Tenant isolation is physical: serving/tenants/<tenant>.duckdb holds only that tenant's marts and
is encrypted with the tenant's own random key (kept in the vault), so a session that has A's key
cannot open B's file. serving/analyst.duckdb is the cross-tenant pseudonymised copy for analysts;
serving/ops.duckdb holds counts only for the Operations page. The publish (serving.publish,
serving.ops_file) writes each file under a temporary name and swaps it in: a reader sees the old
file or the new one, never half of one.

The dashboards never open the vault themselves (the pipeline may hold it): the publish writes the
keyring, the tenants' serving keys AES-GCM encrypted under a key derived from the master key,
swapped in before the files it opens. Keys are stable per tenant, so an old keyring still opens
the files of every tenant it lists. Names, when a tenant shows them, are read from the vault
through pipelines.vault.names, for the pseudonyms on screen only.
"""
from __future__ import annotations

import json
import os
import uuid
from functools import lru_cache
from pathlib import Path

import duckdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipelines import keys
from pipelines.accounts import tenants as tenants_settings
from pipelines.contracts import is_tenant_id
from pipelines.settings import Settings, get_settings
from pipelines.vault import names as vault_names
from pipelines.warehouse import CannotOpen, WarehouseMissing, open_file, swap_in

MARTS = "marts"
TENANTS_DIR = "tenants"
ANALYST_FILE = "analyst.duckdb"
OPS_FILE = "ops.duckdb"
KEYRING_FILE = "keyring.bin"
TMP_PREFIX = ".publishing-"     # a publish's files before their swap; never valid serving files
_AAD = b"mira-serving/keyring"


class ServingUnavailable(RuntimeError):
    """Words for the user: what is missing and what to do."""


def tenant_path(tenant_id: str, settings: Settings | None = None) -> Path:
    """The tenant's serving file; the id must match the tenants contract (it becomes a file name)."""
    if not is_tenant_id(tenant_id):
        raise ValueError("not a tenant id")   # never quote it: it may come from a hostile request
    return (settings or get_settings()).serving_dir / TENANTS_DIR / f"{tenant_id}.duckdb"


def analyst_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).serving_dir / ANALYST_FILE


def ops_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).serving_dir / OPS_FILE


def remove_leftovers(folder: Path, prefix: str = TMP_PREFIX) -> None:
    """Temporary files of a publish that crashed (and their WALs): never valid serving files."""
    if folder.is_dir():
        for stale in folder.glob(f"{prefix}*"):
            stale.unlink(missing_ok=True)


# -- keys ---------------------------------------------------------------------------------------

def _keyring_key(settings: Settings, master: bytes | None = None) -> bytes:
    return keys.derive_key("serving", master, settings)


def write_keyring(ring: dict[str, str], settings: Settings, master: bytes | None = None) -> None:
    folder = settings.serving_dir
    folder.mkdir(parents=True, exist_ok=True)
    nonce = os.urandom(12)
    blob = nonce + AESGCM(_keyring_key(settings, master)).encrypt(nonce, json.dumps(ring).encode(), _AAD)
    tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}.bin"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(blob)
    swap_in(tmp, folder / KEYRING_FILE)


def read_keyring(settings: Settings | None = None, master: bytes | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    path = settings.serving_dir / KEYRING_FILE
    if not path.exists():
        raise ServingUnavailable("Nothing has been published yet: run `mira run` (or `make demo`).")
    st = path.stat()
    return _read_keyring(str(path), st.st_ino, st.st_mtime_ns, _keyring_key(settings, master))


@lru_cache(maxsize=4)
def _read_keyring(path: str, _ino: int, _mtime: int, key: bytes) -> dict[str, str]:
    blob = Path(path).read_bytes()
    try:
        return json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], _AAD))
    except InvalidTag:
        raise ServingUnavailable("The serving files cannot be opened with this installation's key: "
                                 "ask ops to check MIRA_MASTER_KEY and republish.") from None


# -- readers (dashboards) -------------------------------------------------------------------------

def open_tenant(tenant_id: str, settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """Read-only connection to one tenant's serving file; the caller closes it."""
    settings = settings or get_settings()
    path = tenant_path(tenant_id, settings)
    ring = read_keyring(settings)
    if tenant_id not in ring or not path.exists():
        raise ServingUnavailable("Your organisation's data has not been published yet: it appears after "
                                 "the next pipeline run.")
    return _open(path, ring[tenant_id], settings)


def open_analyst(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    settings = settings or get_settings()
    return _open(analyst_path(settings), None, settings)


def open_ops(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    settings = settings or get_settings()
    return _open(ops_path(settings), None, settings)


def _open(path: Path, key: str | None, settings: Settings) -> duckdb.DuckDBPyConnection:
    try:
        return open_file(path, read_only=True, settings=settings, key=key, alias="serving")
    except WarehouseMissing:
        raise ServingUnavailable("Nothing has been published yet: run `mira run` (or `make demo`).") from None
    except CannotOpen:
        raise ServingUnavailable("This serving file cannot be opened with the current keys; ask ops to "
                                 "republish.") from None


# -- names on demand (a tenant's choice), audited: the dashboards' door to the vault -----------------

def names_visible(tenant_id: str) -> bool:
    """Whether the tenant lets its managers see names (accounts.tenants)."""
    return tenants_settings.names_visible(tenant_id)


def lookup_names(tenant_id: str, pseudonyms: list[str], settings: Settings | None = None) -> dict[str, str]:
    """pseudonym -> "First Last" for one tenant, read from the vault now and never stored."""
    try:
        return vault_names.lookup_names(tenant_id, pseudonyms, settings)
    except vault_names.NamesUnavailable:
        raise ServingUnavailable("Names are unavailable while the pipeline updates them; pseudonyms are "
                                 "shown instead. Try again in a minute.") from None


def audit_names_view(account_id: int, tenant_id: str, page: str, count: int) -> None:
    """Who saw how many names of which tenant on which page, when (never the names)."""
    tenants_settings.audit_names_view(account_id, tenant_id, page, count)
