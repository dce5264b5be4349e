"""Master-key rotation: every file re-encrypted under keys derived from a new master key.

Order, so that no step can lose data:
1. every encrypted file is copied, table by table (COPY FROM DATABASE), into a new file under
   the new key beside it, and the copy's row counts are compared with the original's;
2. (demo key only) the new key is written to secrets/master.key.new;
3. the copies replace the originals (os.replace, atomic per file), the accounts' emails are
   re-encrypted in one SQLite transaction, and the demo key file is replaced last.
Until step 3 nothing has changed and a failure leaves only temporary files (removed). The
pipeline, dashboards and `mira serve` must be stopped: DuckDB refuses to open a file another
process writes, and this says so instead of waiting.

Tenant serving files are encrypted with per-tenant random keys kept in the vault, not derived
from the master key: they need no rotation (the vault that holds their keys is rotated, and the
keyring that hands them to the dashboards is re-encrypted).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from pipelines.accounts import users as accounts
from pipelines import keys
from pipelines.ingest import retired
from pipelines.serving.files import KEYRING_FILE, analyst_path, ops_path, read_keyring, write_keyring
from pipelines.settings import Settings, get_settings
from pipelines.vault import store as vault
from pipelines.warehouse import attach, detach, memory_connection, purpose_of

_TMP_SUFFIX = ".rotating"


class RotationError(RuntimeError):
    """Rotation stopped before anything was replaced; the message says why (never a key)."""


@dataclass
class RotationReport:
    files: dict[str, int] = field(default_factory=dict)   # relative path -> rows copied
    accounts: int = 0
    demo_key_replaced: bool = False


def encrypted_files(settings: Settings) -> list[tuple[Path, Callable[[bytes], str]]]:
    """(path, its key under a given master key) of every file whose key derives from the master key."""
    def derived(purpose: str) -> Callable[[bytes], str]:
        return lambda master: keys.file_key(purpose, master)

    found = []
    for path in (settings.warehouse_path, analyst_path(settings), ops_path(settings)):
        if path.exists():
            found.append((path, derived(purpose_of(path))))
    vault_path, _ = vault.encrypted_file(settings)
    if vault_path.exists():
        found.append((vault_path, vault.key_under))
    backups = settings.home / "backups"
    if backups.is_dir():
        found += [(p, derived("backup")) for p in sorted(backups.glob("*/*.duckdb"))]
    return found


def _counts(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?",
                         [catalog]).fetchall()
    return {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{catalog}"."{s}"."{t}"').fetchone()[0]
            for s, t in tables}


def _reencrypt(path: Path, old_key: str, new_key: str, settings: Settings) -> int:
    tmp = path.with_name(path.name + _TMP_SUFFIX)
    tmp.unlink(missing_ok=True)
    con = memory_connection(settings)
    try:
        try:
            attach(con, path, "src", old_key, read_only=True)
        except duckdb.IOException as err:
            if "lock" in str(err).lower():
                raise RotationError(f"{path.name} is in use by another process: stop `mira serve` and any "
                                    "running pipeline, then rotate again") from None
            raise
        attach(con, tmp, "dst", new_key)
        con.execute("COPY FROM DATABASE src TO dst")
        before, after = _counts(con, "src"), _counts(con, "dst")
        if before != after:
            raise RotationError(f"the re-encrypted copy of {path.name} does not match the original; nothing replaced")
        detach(con, "dst", tmp)  # checkpoint: the copy is complete on disk
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    return sum(before.values())


def _rekey_keyring(old: bytes, new: bytes, settings: Settings) -> None:
    """The tenants' serving keys stay; the keyring that carries them to the dashboards is
    re-encrypted under the new master key."""
    if (settings.serving_dir / KEYRING_FILE).exists():
        write_keyring(read_keyring(settings, master=old), settings, master=new)


def rotate(new_master: str | None = None, settings: Settings | None = None) -> RotationReport:
    """Re-encrypt everything under `new_master` (with a demo key and no new key given, a random
    one is made). With MIRA_MASTER_KEY set, the caller must give the new key, and the operator
    puts it in the secret store afterwards."""
    settings = settings or get_settings()
    old = keys.master_key(settings)
    if new_master is None:
        if settings.master_key:
            raise RotationError("MIRA_MASTER_KEY is set: give the new master key on stdin "
                                "(it cannot be made here and stored in your secret store)")
        new_master = secrets.token_hex(32)
    new = keys.validate_master(new_master, "the new master key")
    if new == old:
        raise RotationError("the new master key is the current one")
    report = RotationReport()
    files = encrypted_files(settings)
    prepared: list[Path] = []
    try:
        for path, key_under in files:
            report.files[str(path.relative_to(settings.home))] = _reencrypt(path, key_under(old), key_under(new), settings)
            prepared.append(path)
        pending_key = None
        if not settings.master_key:
            pending_key = keys.write_key_file(keys.demo_key_path(settings).with_suffix(".key.new"), new_master)
    except BaseException:
        for path in prepared:
            path.with_name(path.name + _TMP_SUFFIX).unlink(missing_ok=True)
        raise
    # The accounts first: their one transaction is the step that can still refuse (an email
    # that does not decrypt), and it leaves the copies unswapped if it does.
    try:
        report.accounts = accounts.rekey(old, new)
    except BaseException:
        for path in prepared:
            path.with_name(path.name + _TMP_SUFFIX).unlink(missing_ok=True)
        if pending_key is not None:
            pending_key.unlink(missing_ok=True)
        raise
    for path in prepared:
        os.replace(path.with_name(path.name + _TMP_SUFFIX), path)
        path.with_name(path.name + ".wal").unlink(missing_ok=True)  # belonged to the old file
    _rekey_keyring(old, new, settings)
    retired.rewrap(settings, old, new)
    if pending_key is not None:
        os.replace(pending_key, keys.demo_key_path(settings))
        report.demo_key_replaced = True
    return report
