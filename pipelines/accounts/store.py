"""accounts.db: the one owner of the dashboards' account database (SQLite).

SQLite, not DuckDB: the CLI adds a user while the dashboard server logs people in, and DuckDB's
one-writer-process lock would block one of them. WAL mode, a busy timeout and short
`BEGIN IMMEDIATE` transactions let several processes share the file; argon2 (slow on purpose)
always runs outside a transaction.

An email is personal data, so it is never stored in clear: `email_lookup` is an HMAC of the
normalised email (uniqueness and login look-up; a plain hash could be reversed by guessing) and
`email_enc` is the email under AES-GCM (for `list_users`). Both keys come from the master key
(purpose "accounts"); the audit trail carries the lookup or the account id, never the email and
never a password. Only this package opens the file (accounts.users: logins and accounts;
accounts.tenants: the tenants' display choices and what retention deletes).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from pipelines.settings import Settings, get_settings

ROLES = ("manager", "analyst", "ops", "privacy_officer")
BUSY_TIMEOUT_S = 10.0
SCHEMA_VERSION = 3
LANGUAGES = ("nl", "fr", "en")   # what a user may read the dashboards in


class AccountError(ValueError):
    """Bad input to add/disable (role, tenant, email, password, duplicate); the message says what to fix."""


class AccountsUnavailable(RuntimeError):
    """accounts.db cannot be read or written (locked too long, corrupt, not writable)."""


# --- keys and encodings -------------------------------------------------------------------------

def _subkeys(master: bytes | None = None) -> tuple[bytes, bytes]:
    """(lookup key, encryption key): one master-derived key, split so HMAC and AES never share a key."""
    from pipelines.keys import derive_key

    base = derive_key("accounts", master)

    def expand(label: bytes) -> bytes:
        return HKDFExpand(algorithm=hashes.SHA256(), length=32, info=b"mira-accounts/" + label).derive(base)

    return expand(b"email-lookup"), expand(b"email-enc")


def normalise_email(email: str) -> str:
    return email.strip().casefold()


def email_lookup(email: str, key: bytes | None = None) -> str:
    key = key if key is not None else _subkeys()[0]
    return hmac.new(key, normalise_email(email).encode("utf-8"), hashlib.sha256).hexdigest()


_AAD = b"mira-accounts/email"


def _encrypt(key: bytes, text: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, text.encode("utf-8"), _AAD)


def _decrypt(key: bytes, blob: bytes) -> str:
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], _AAD).decode("utf-8")
    except InvalidTag:
        raise AccountError("an account email cannot be decrypted: the master key is not the one the "
                           "accounts were created with") from None


def _ts(moment: datetime) -> str:
    """Fixed-width UTC text, so SQL compares times as strings."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


# --- storage --------------------------------------------------------------------------------------

def accounts_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "accounts.db"


_DDL = f"""
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email_lookup TEXT NOT NULL UNIQUE,
    email_enc BLOB NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ({", ".join(repr(r) for r in ROLES)})),
    tenant_id TEXT,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    language TEXT,
    mail_monthly_report INTEGER NOT NULL DEFAULT 0,
    mail_stock_alert INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS auth_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    account_id INTEGER,
    email_lookup TEXT,
    client TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS auth_events_lookup ON auth_events (email_lookup, event, at);
CREATE INDEX IF NOT EXISTS auth_events_client ON auth_events (client, event, at);
CREATE INDEX IF NOT EXISTS auth_events_at ON auth_events (at);
"""


@contextmanager
def connect(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A short-lived connection (autocommit; write with `BEGIN IMMEDIATE`), schema created on first
    use. SQLite's own errors come out as AccountsUnavailable, naming the file."""
    path = Path(path) if path is not None else accounts_path()
    try:
        with _connect(path) as con:
            yield con
    except sqlite3.Error as exc:
        raise AccountsUnavailable(f"accounts database {path}: {exc}") from None


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Owner-only from the first byte; SQLite gives its -wal and -shm files the same mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as con:
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if con.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            con.execute("PRAGMA journal_mode = WAL")
            with _write(con):
                for stmt in filter(str.strip, _DDL.split(";")):
                    con.execute(stmt)
                _migrate(con)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("PRAGMA synchronous = NORMAL")   # safe with WAL; a crash loses at most the last commit
        con.execute("PRAGMA foreign_keys = ON")
        yield con


def _migrate(con: sqlite3.Connection) -> None:
    """Version 2: the language each user reads the dashboards in (NULL: not chosen yet).
    Version 3: the mails a manager opted in to (accounts.mail), off for every existing account:
    nobody gets mail they did not ask for."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(accounts)")}
    if "language" not in columns:
        con.execute("ALTER TABLE accounts ADD COLUMN language TEXT")
    for name in ("mail_monthly_report", "mail_stock_alert"):
        if name not in columns:
            con.execute(f"ALTER TABLE accounts ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0")


@contextmanager
def _write(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taking the write lock up front (no deadlocking lock upgrades)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _event(con: sqlite3.Connection, at: datetime, event: str, *, account_id: int | None = None,
           lookup: str | None = None, client: str | None = None, detail: str | None = None) -> None:
    con.execute("INSERT INTO auth_events (at, event, account_id, email_lookup, client, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)", (_ts(at), event, account_id, lookup, client, detail))


