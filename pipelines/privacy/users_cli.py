"""`mira users add|list|disable`: dashboard accounts from the command line.

The password is read from stdin, never from an argument (arguments end up in shell history and
in `ps`). Errors are one line and exit code 1; they leave through SystemExit rather than
typer.Exit because `mira`'s main() runs click with standalone_mode=False, where typer.Exit's
code would be returned and dropped.
"""
from __future__ import annotations

import sqlite3
import sys
from contextlib import contextmanager
from typing import Iterator, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipelines.privacy import accounts
from pipelines.privacy.keys import KeyProblem

users_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Dashboard accounts: add, list, disable (argon2 password hashes).")
_err = Console(stderr=True)
_out = Console()


def _fail(message: str) -> NoReturn:
    _err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(1)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except (accounts.AccountError, KeyProblem) as exc:
        _fail(str(exc))
    except sqlite3.Error as exc:
        _fail(f"accounts database {accounts.accounts_path()}: {exc}")


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_password() -> str:
    """Prompt twice with hidden input on a terminal; otherwise take the first line of stdin."""
    if _stdin_is_tty():
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        _fail("no password on stdin (pipe one line, or run in a terminal to be prompted)")
    return password


@users_app.command("add")
def add(
    email: str = typer.Option(..., "--email", help="The person's email (stored encrypted)."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(accounts.ROLES)}."),
    tenant: Optional[str] = typer.Option(None, "--tenant", help="The tenant of a manager account (managers only)."),
) -> None:
    """Add an account; the password comes from stdin (prompted twice, hidden, on a terminal)."""
    with _one_line_errors():
        accounts.validate_new_account(email, role, tenant)    # before asking for a password
        if accounts.email_taken(email):
            raise accounts.AccountError("an account with this email already exists")
        password = _read_password()
        account_id = accounts.add_user(email, role, tenant, password=password, client="cli")
    where = f", tenant {tenant}" if tenant else ""
    _out.print(f"added account {account_id} ({role}{where})", markup=False, highlight=False)


@users_app.command("list")
def list_() -> None:
    """Every account: email, role, tenant, status, created."""
    with _one_line_errors():
        rows = accounts.list_users()
    if not rows:
        _out.print("no accounts yet (add one with `mira users add`)", markup=False, highlight=False)
        return
    # Fold, never truncate: an email cut short with "…" would read as another address. Piped
    # output (grep, a file) gets the table's natural width, so each account stays on one line.
    table = Table()
    table.add_column("email", overflow="fold")
    table.add_column("role", no_wrap=True)
    table.add_column("tenant", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    for r in rows:
        table.add_row(*(Text(v) for v in (r.email, r.role, r.tenant or "", r.status,
                                           r.created.strftime("%Y-%m-%d %H:%M"))))
    console = _out
    if not _out.is_terminal:
        natural = _out.measure(table, options=_out.options.update_width(10_000)).maximum
        console = Console(width=max(_out.width, natural))
    console.print(table)


@users_app.command("disable")
def disable(email: str = typer.Option(..., "--email", help="The account's email.")) -> None:
    """Disable an account: it can no longer log in (kept for the audit trail)."""
    with _one_line_errors():
        account_id = accounts.disable_user(email, client="cli")
    _out.print(f"disabled account {account_id}", markup=False, highlight=False)


@users_app.command("names")
def names(
    tenant: str = typer.Option(..., "--tenant", help="The tenant (controller) whose choice this is."),
    show: Optional[bool] = typer.Option(None, "--show/--hide", help="Let the tenant's own managers see names "
                                        "instead of pseudonymous labels (looked up at render time, audited)."),
) -> None:
    """Show or set whether a tenant's managers see people's names on its dashboards (default: hidden)."""
    from pipelines import serving

    with _one_line_errors():
        try:
            if show is not None:
                serving.set_names_visible(tenant, show)
            visible = serving.names_visible(tenant)
        except ValueError:
            raise accounts.AccountError("not a valid tenant id") from None
    _out.print(f"tenant {tenant}: names {'shown to its managers' if visible else 'hidden (pseudonymous labels)'}",
               markup=False, highlight=False)


DEMO_DOMAIN = "demo.mira.invalid"


@users_app.command("demo")
def demo() -> None:
    """DEMO ONLY: one account per role (a manager for the first tenant published), with random
    passwords printed once. Existing demo accounts are left as they are."""
    import secrets

    from pipelines.serving import TENANTS_DIR
    from pipelines.settings import get_settings

    tenants = sorted(p.stem for p in (get_settings().serving_dir / TENANTS_DIR).glob("*.duckdb"))
    if not tenants:
        _fail("no tenant is published yet: run `mira run` first")
    wanted = [("manager", tenants[0]), ("analyst", None), ("ops", None), ("privacy_officer", None)]
    lines = []
    with _one_line_errors():
        for role, tenant in wanted:
            email = f"{role.replace('_', '.')}@{DEMO_DOMAIN}"
            if accounts.email_taken(email):
                lines.append(f"{email}  {role}  {tenant or '-'}  (exists, unchanged)")
                continue
            password = secrets.token_urlsafe(12)
            accounts.add_user(email, role, tenant, password=password, client="cli-demo")
            lines.append(f"{email}  {role}  {tenant or '-'}  {password}")
    # Plain lines, never a table: a password cut to the terminal's width would be useless.
    _out.print("DEMO accounts (passwords shown once; use `mira users add` for real ones):", highlight=False)
    for line in lines:
        _out.print("  " + line, markup=False, highlight=False, soft_wrap=True)
