"""Dashboard accounts: argon2 password hashes, roles, login with rate limiting, and an audit trail.

SQLite, not DuckDB: the CLI adds a user while the dashboard server logs people in, and DuckDB's
one-writer-process lock would block one of them. WAL mode, a busy timeout and short
`BEGIN IMMEDIATE` transactions let several processes share the file; argon2 (slow on purpose)
always runs outside a transaction.

An email is personal data, so it is never stored in clear: `email_lookup` is an HMAC of the
normalised email (uniqueness and login look-up; a plain hash could be reversed by guessing) and
`email_enc` is the email under AES-GCM (for `list_users`). Both keys come from the master key
(purpose "accounts"); the audit trail carries the lookup or the account id, never the email and
never a password.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import secrets
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from pipelines.settings import get_settings

ROLES = ("manager", "analyst", "ops", "privacy_officer")
TENANT_ROLES = ("manager",)          # the roles that belong to exactly one tenant
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024            # argon2 takes any length; this caps the work an attacker can ask for
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
AUDIT_RETENTION_DAYS = 90
BUSY_TIMEOUT_S = 10.0
SCHEMA_VERSION = 1

# Event names in auth_events.
LOGIN_OK, LOGIN_FAILED, LOCKED, LOGIN_REFUSED = "login_success", "login_failure", "lockout", "login_refused"
USER_ADDED, USER_DISABLED, PASSWORD_REHASHED = "user_added", "user_disabled", "password_rehashed"

_GENERIC_LOGIN_ERROR = "invalid email or password"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
_dummy_hash: str | None = None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# The clock: tests replace it (or pass `now=`) instead of sleeping.
clock: Callable[[], datetime] = _utcnow


class AccountError(ValueError):
    """Bad input to add/disable (role, tenant, email, password, duplicate); the message says what to fix."""


class LoginFailed(Exception):
    """Login refused. The message never says whether the email exists."""


class LoginLocked(LoginFailed):
    """Too many failed attempts for this email or client; `minutes` until the next attempt is heard."""

    def __init__(self, minutes: int):
        self.minutes = minutes
        super().__init__(f"too many failed attempts, try again in {minutes} minute{'s' if minutes != 1 else ''}")


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    tenant_id: str | None


class UserRow(NamedTuple):
    id: int
    email: str
    role: str
    tenant: str | None
    status: str          # "active" | "disabled"
    created: datetime


# --- keys and encodings -------------------------------------------------------------------------

def _subkeys(master: bytes | None = None) -> tuple[bytes, bytes]:
    """(lookup key, encryption key): one master-derived key, split so HMAC and AES never share a key."""
    from pipelines.privacy.keys import derive_key

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

def accounts_path() -> Path:
    return get_settings().home / "accounts.db"


_DDL = f"""
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email_lookup TEXT NOT NULL UNIQUE,
    email_enc BLOB NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ({", ".join(repr(r) for r in ROLES)})),
    tenant_id TEXT,
    created_at TEXT NOT NULL,
    disabled_at TEXT
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
    """A short-lived connection (autocommit; write with `BEGIN IMMEDIATE`), schema created on first use."""
    path = Path(path) if path is not None else accounts_path()
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
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("PRAGMA synchronous = NORMAL")   # safe with WAL; a crash loses at most the last commit
        con.execute("PRAGMA foreign_keys = ON")
        yield con


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


# --- validation -------------------------------------------------------------------------------------

def _tenant_pattern() -> re.Pattern:
    from pipelines.contracts import load_contract

    return re.compile(load_contract("tenants").field("tenant_id").pattern)


def validate_new_account(email: str, role: str, tenant: str | None = None) -> None:
    """Everything about a new account except the password and uniqueness; raises AccountError."""
    if not _EMAIL_RE.fullmatch(email.strip()):
        raise AccountError("not a valid email address")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role in TENANT_ROLES:
        if not tenant:
            raise AccountError(f"the {role} role needs a tenant (--tenant)")
        if not _tenant_pattern().fullmatch(tenant):
            raise AccountError(f"{tenant!r} is not a valid tenant id (lower case letters, digits, dashes)")
    elif tenant:
        raise AccountError(f"the {role} role has no tenant; only {', '.join(TENANT_ROLES)} accounts belong to one")


def validate_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"password too long: at most {MAX_PASSWORD_CHARS} characters")
    if normalise_email(password) == normalise_email(email):
        raise AccountError("password must not be the email address")


def email_taken(email: str) -> bool:
    lookup = email_lookup(email)
    with connect() as con:
        return con.execute("SELECT 1 FROM accounts WHERE email_lookup = ?", (lookup,)).fetchone() is not None


# --- user management ------------------------------------------------------------------------------

def add_user(email: str, role: str, tenant: str | None = None, *, password: str, client: str = "local",
             now: datetime | None = None) -> int:
    """Create an account; returns its id. Raises AccountError on any invalid input or a duplicate email."""
    validate_new_account(email, role, tenant)
    validate_password(password, email)
    email = email.strip()
    lookup_key, enc_key = _subkeys()
    lookup = email_lookup(email, lookup_key)
    pw_hash = _hasher.hash(password)                      # slow: before the transaction
    moment = now or clock()
    with connect() as con, _write(con):
        try:
            cur = con.execute(
                "INSERT INTO accounts (email_lookup, email_enc, password_hash, role, tenant_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (lookup, _encrypt(enc_key, email), pw_hash, role, tenant or None, _ts(moment)))
        except sqlite3.IntegrityError:
            raise AccountError("an account with this email already exists") from None
        account_id = cur.lastrowid
        _event(con, moment, USER_ADDED, account_id=account_id, client=client, detail=role)
    return account_id


def list_users() -> list[UserRow]:
    """Every account, oldest first, with its email decrypted (for the people who administer accounts)."""
    _, enc_key = _subkeys()
    with connect() as con:
        rows = con.execute("SELECT id, email_enc, role, tenant_id, created_at, disabled_at "
                           "FROM accounts ORDER BY id").fetchall()
    return [UserRow(i, _decrypt(enc_key, enc), role, tenant, "disabled" if disabled else "active", _parse_ts(created))
            for i, enc, role, tenant, created, disabled in rows]


def disable_user(email: str, *, client: str = "local", now: datetime | None = None) -> int:
    """Disable an account (kept for the audit trail, never able to log in again); returns its id."""
    lookup = email_lookup(email)
    moment = now or clock()
    with connect() as con, _write(con):
        row = con.execute("SELECT id, disabled_at FROM accounts WHERE email_lookup = ?", (lookup,)).fetchone()
        if row is None:
            raise AccountError("no account with this email")
        if row[1] is not None:
            raise AccountError("this account is already disabled")
        con.execute("UPDATE accounts SET disabled_at = ? WHERE id = ?", (_ts(moment), row[0]))
        _event(con, moment, USER_DISABLED, account_id=row[0], client=client)
    return row[0]


# --- login ---------------------------------------------------------------------------------------------

def _lock_remaining(con: sqlite3.Connection, lookup: str, client: str, moment: datetime) -> timedelta | None:
    """Time left on the latest lockout of this email or this client, if one is still running."""
    since = _ts(moment - LOCKOUT)
    row = con.execute(
        "SELECT max(at) FROM auth_events WHERE event = ? AND at > ? "
        "AND ((detail = 'email' AND email_lookup = ?) OR (detail = 'client' AND client = ?))",
        (LOCKED, since, lookup, client)).fetchone()
    if row[0] is None:
        return None
    return _parse_ts(row[0]) + LOCKOUT - moment


def _record_failure(con: sqlite3.Connection, moment: datetime, lookup: str, client: str,
                    account_id: int | None, reason: str) -> None:
    """Audit the failure and start a lockout when it is the MAX_FAILURES-th within the window.

    Failures for an email count since its last successful login; failures from a client always count
    (a login to one's own account must not reset the counter an attacker runs up from the same client)."""
    _event(con, moment, LOGIN_FAILED, account_id=account_id, lookup=lookup, client=client, detail=reason)
    since = _ts(moment - FAILURE_WINDOW)
    by_email = con.execute(
        "SELECT count(*) FROM auth_events WHERE email_lookup = ? AND event = ? AND at > ? AND at > "
        "coalesce((SELECT max(at) FROM auth_events WHERE email_lookup = ? AND event = ?), '')",
        (lookup, LOGIN_FAILED, since, lookup, LOGIN_OK)).fetchone()[0]
    by_client = con.execute("SELECT count(*) FROM auth_events WHERE client = ? AND event = ? AND at > ?",
                            (client, LOGIN_FAILED, since)).fetchone()[0]
    for scope, count in (("email", by_email), ("client", by_client)):
        if count >= MAX_FAILURES:
            _event(con, moment, LOCKED, account_id=account_id, lookup=lookup, client=client, detail=scope)


def _verify_dummy(password: str) -> None:
    """Spend an argon2 verification on unknown emails too, so timing does not tell them apart."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(24))
    try:
        _hasher.verify(_dummy_hash, password)
    except VerificationError:
        pass


def authenticate(email: str, password: str, client: str = "local", *, now: datetime | None = None) -> Account:
    """The account for these credentials, or LoginFailed (LoginLocked when rate limited).

    `client` names where the attempt comes from (the dashboards pass the remote address or session);
    MAX_FAILURES failures within FAILURE_WINDOW for one email or one client refuse every attempt from
    it for LOCKOUT, without looking at the password."""
    moment = now or clock()
    lookup_key, enc_key = _subkeys()
    lookup = email_lookup(email, lookup_key)
    with connect() as con:
        remaining = _lock_remaining(con, lookup, client, moment)
        if remaining is not None:
            with _write(con):
                _event(con, moment, LOGIN_REFUSED, lookup=lookup, client=client, detail="locked")
            raise LoginLocked(max(1, math.ceil(remaining.total_seconds() / 60)))
        row = con.execute("SELECT id, email_enc, password_hash, role, tenant_id, disabled_at "
                          "FROM accounts WHERE email_lookup = ?", (lookup,)).fetchone()

    # argon2 runs with no transaction open.
    reason = None
    if row is None:
        _verify_dummy(password)
        reason = "unknown_email"
    else:
        account_id, enc, pw_hash, role, tenant, disabled_at = row
        try:
            _hasher.verify(pw_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            reason = "bad_password"
        else:
            if disabled_at is not None:
                reason = "disabled"
    if reason is not None:
        with connect() as con, _write(con):
            _record_failure(con, moment, lookup, client, row[0] if row else None, reason)
        raise LoginFailed(_GENERIC_LOGIN_ERROR)

    new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(pw_hash) else None
    with connect() as con, _write(con):
        if new_hash is not None:
            # Only if nobody changed it meanwhile.
            con.execute("UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?",
                        (new_hash, account_id, pw_hash))
            _event(con, moment, PASSWORD_REHASHED, account_id=account_id, client=client)
        _event(con, moment, LOGIN_OK, account_id=account_id, lookup=lookup, client=client)
    return Account(account_id, _decrypt(enc_key, enc), role, tenant)


# --- retention -------------------------------------------------------------------------------------------

def purge_auth_events(older_than_days: int = AUDIT_RETENTION_DAYS, now: datetime | None = None) -> int:
    """Delete audit rows older than the retention period (logs at most 90 days); returns how many."""
    if older_than_days < 0:
        raise ValueError("older_than_days must be >= 0")
    cutoff = _ts((now or clock()) - timedelta(days=older_than_days))
    path = accounts_path()
    if not path.exists():
        return 0
    with connect(path) as con, _write(con):
        return con.execute("DELETE FROM auth_events WHERE at < ?", (cutoff,)).rowcount


def rekey(old_master: bytes, new_master: bytes, path: Path | None = None) -> int:
    """Key rotation: re-encrypt every email and recompute its lookup under the new master key,
    in one transaction (all accounts or none). Audit rows of known accounts follow their
    account; rows of unknown emails keep their old lookup until retention purges them."""
    path = Path(path) if path is not None else accounts_path()
    if not path.exists():
        return 0
    old_lookup_key, old_enc_key = _subkeys(old_master)
    new_lookup_key, new_enc_key = _subkeys(new_master)
    with connect(path) as con, _write(con):
        rows = con.execute("SELECT id, email_lookup, email_enc FROM accounts").fetchall()
        for account_id, lookup, blob in rows:
            email = _decrypt(old_enc_key, blob)
            if not hmac.compare_digest(lookup, email_lookup(email, old_lookup_key)):
                raise AccountError(f"account {account_id} does not match its lookup: rotation stopped, nothing changed")
            new_lookup = email_lookup(email, new_lookup_key)
            con.execute("UPDATE accounts SET email_lookup = ?, email_enc = ? WHERE id = ?",
                        [new_lookup, _encrypt(new_enc_key, email), account_id])
            con.execute("UPDATE auth_events SET email_lookup = ? WHERE email_lookup = ?", [new_lookup, lookup])
    return len(rows)
