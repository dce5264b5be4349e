"""The mails a manager opted in to, kept with their account (accounts.db, schema version 3): the
monthly consumption report and the daily low-stock alert. Off until the manager turns them on
in the dashboards' sidebar; a change is audited (which mail, on or off; never the address).

The mail job (pipelines/mail) asks here for its recipients: active local manager accounts of a
tenant, with the address decrypted only at that moment and their reading language. Single
sign-on users have no account row, so they cannot opt in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipelines.accounts.store import AccountError, LANGUAGES, _decrypt, _event, _subkeys, _write, connect
from pipelines.accounts import users

KINDS = {"monthly_report": "mail_monthly_report", "stock_alert": "mail_stock_alert"}   # kind -> column
MAIL_CHOICE = "mail_choice"      # event name in auth_events


@dataclass(frozen=True)
class Recipient:
    account_id: int
    email: str
    tenant_id: str
    language: str | None         # the account's own choice; None: the tenant's default

    def __repr__(self) -> str:   # an address is personal data: never in a log line or a traceback
        return f"Recipient(account_id={self.account_id}, tenant_id={self.tenant_id!r})"


def subscriptions(account_id: int) -> dict[str, bool]:
    """kind -> opted in, for one account (all False for an unknown one)."""
    with connect() as con:
        row = con.execute(f"SELECT {', '.join(KINDS.values())} FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return {kind: bool(row and row[i]) for i, kind in enumerate(KINDS)}


def subscribe(account_id: int, kind: str, on: bool, *, now: datetime | None = None) -> None:
    """Opt a manager in to (or out of) one kind of mail."""
    if kind not in KINDS:
        raise AccountError(f"unknown mail; choose one of {', '.join(KINDS)}")
    with connect() as con, _write(con):
        row = con.execute("SELECT role FROM accounts WHERE id = ? AND disabled_at IS NULL", (account_id,)).fetchone()
        if row is None or row[0] != "manager":
            raise AccountError("only an active manager account receives these mails")
        con.execute(f"UPDATE accounts SET {KINDS[kind]} = ? WHERE id = ?", (int(on), account_id))
        _event(con, now or users.clock(), MAIL_CHOICE, account_id=account_id, detail=f"{kind}={'on' if on else 'off'}")


def recipients(kind: str) -> list[Recipient]:
    """Everyone who opted in to `kind`: active managers with a tenant, oldest account first."""
    if kind not in KINDS:
        raise AccountError(f"unknown mail; choose one of {', '.join(KINDS)}")
    _, enc_key = _subkeys()
    with connect() as con:
        rows = con.execute(f"SELECT id, email_enc, tenant_id, language FROM accounts WHERE {KINDS[kind]} = 1 "
                           "AND role = 'manager' AND tenant_id IS NOT NULL AND disabled_at IS NULL ORDER BY id"
                           ).fetchall()
    return [Recipient(i, _decrypt(enc_key, enc), tenant, lang if lang in LANGUAGES else None)
            for i, enc, tenant, lang in rows]
