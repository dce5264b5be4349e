"""Dashboard accounts: argon2 password hashes, roles, login with rate limiting, and an audit trail
(see accounts.store for why SQLite and how emails are kept)."""
from __future__ import annotations

import hmac
import math
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pipelines.contracts import is_tenant_id
from pipelines.accounts.store import (
    LANGUAGES, ROLES, AccountError, _decrypt, _encrypt, _event, _parse_ts, _subkeys, _ts, _write, accounts_path, connect,
    email_lookup, normalise_email,
)

TENANT_ROLES = ("manager",)          # the roles that belong to exactly one tenant
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024            # argon2 takes any length; this caps the work an attacker can ask for
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
AUDIT_RETENTION_DAYS = 90

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


# --- validation -------------------------------------------------------------------------------------

def tenant_id_ok(tenant: str | None) -> bool:
    """Whether a login's tenant is a valid tenant id (the tenants contract's pattern)."""
    return is_tenant_id(tenant)


def validate_new_account(email: str, role: str, tenant: str | None = None) -> None:
    """Everything about a new account except the password and uniqueness; raises AccountError."""
    if not _EMAIL_RE.fullmatch(email.strip()):
        raise AccountError("not a valid email address")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role in TENANT_ROLES:
        if not tenant:
            raise AccountError(f"the {role} role needs a tenant (--tenant)")
        if not is_tenant_id(tenant):
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


# --- the language a user reads the dashboards in ------------------------------------------------------

def get_language(account_id: int) -> str | None:
    """The language this user chose (None until they choose: the dashboards then pick a
    default from the tenant)."""
    with connect() as con:
        row = con.execute("SELECT language FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return row[0] if row and row[0] in LANGUAGES else None


def set_language(account_id: int, language: str) -> None:
    """Keep the user's choice with their account, so every later session opens in it."""
    if language not in LANGUAGES:
        raise AccountError(f"unknown language; choose one of {', '.join(LANGUAGES)}")
    with connect() as con, _write(con):
        con.execute("UPDATE accounts SET language = ? WHERE id = ?", (language, account_id))


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
