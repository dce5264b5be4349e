"""`mira users add|list|disable|names|demo`: dashboard accounts from the command line.

The password is read from stdin, never from an argument (arguments end up in shell history and
in `ps`). Errors are one line and exit code 1 (console's error policy: AccountError and KeyProblem
are user errors as they are; a broken accounts database is named here).
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipelines.accounts import users as accounts
from pipelines.accounts.store import AccountsUnavailable
from pipelines.cli.console import Group, fail, out, plain

users_app = typer.Typer(cls=Group, add_completion=False, no_args_is_help=True,
                        help="Dashboard accounts: add, list, disable (argon2 password hashes).")


@contextmanager
def _accounts_db() -> Iterator[None]:
    try:
        yield
    except AccountsUnavailable as exc:
        fail(str(exc))


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
        fail("no password on stdin (pipe one line, or run in a terminal to be prompted)")
    return password


@users_app.command("add")
def add(
    email: str = typer.Option(..., "--email", help="The person's email (stored encrypted)."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(accounts.ROLES)}."),
    tenant: Optional[str] = typer.Option(None, "--tenant", help="The tenant of a manager account (managers only)."),
) -> None:
    """Add an account; the password comes from stdin (prompted twice, hidden, on a terminal)."""
    with _accounts_db():
        accounts.validate_new_account(email, role, tenant)    # before asking for a password
        if accounts.email_taken(email):
            fail("an account with this email already exists")
        password = _read_password()
        account_id = accounts.add_user(email, role, tenant, password=password, client="cli")
    where = f", tenant {tenant}" if tenant else ""
    out.print(f"added account {account_id} ({role}{where})", markup=False, highlight=False)


@users_app.command("list")
def list_() -> None:
    """Every account: email, role, tenant, status, created."""
    with _accounts_db():
        rows = accounts.list_users()
    if not rows:
        out.print("no accounts yet (add one with `mira users add`)", markup=False, highlight=False)
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
    console = out
    if not out.is_terminal:
        natural = out.measure(table, options=out.options.update_width(10_000)).maximum
        console = Console(width=max(out.width, natural))
    console.print(table)


@users_app.command("disable")
def disable(email: str = typer.Option(..., "--email", help="The account's email.")) -> None:
    """Disable an account: it can no longer log in (kept for the audit trail)."""
    with _accounts_db():
        account_id = accounts.disable_user(email, client="cli")
    out.print(f"disabled account {account_id}", markup=False, highlight=False)


@users_app.command("names")
def names(
    tenant: str = typer.Option(..., "--tenant", help="The tenant (controller) whose choice this is."),
    show: Optional[bool] = typer.Option(None, "--show/--hide", help="Let the tenant's own managers see names "
                                        "instead of pseudonymous labels (looked up at render time, audited)."),
) -> None:
    """Show or set whether a tenant's managers see people's names on its dashboards (default: hidden)."""
    from pipelines.accounts.tenants import names_visible, set_names_visible

    with _accounts_db():
        try:
            if show is not None:
                set_names_visible(tenant, show)
            visible = names_visible(tenant)
        except ValueError:
            fail("not a valid tenant id")
    out.print(f"tenant {tenant}: names {'shown to its managers' if visible else 'hidden (pseudonymous labels)'}",
              markup=False, highlight=False)


DEMO_DOMAIN = "demo.mira.invalid"


@users_app.command("demo")
def demo() -> None:
    """DEMO ONLY: one account per role (a manager for the first tenant published), with random
    passwords printed once. Existing demo accounts are left as they are."""
    import secrets

    from pipelines.serving.files import TENANTS_DIR
    from pipelines.settings import get_settings

    tenants = sorted(p.stem for p in (get_settings().serving_dir / TENANTS_DIR).glob("*.duckdb"))
    if not tenants:
        fail("no tenant is published yet: run `mira run` first")
    wanted = [("manager", tenants[0]), ("analyst", None), ("ops", None), ("privacy_officer", None)]
    lines = []
    with _accounts_db():
        for role, tenant in wanted:
            email = f"{role.replace('_', '.')}@{DEMO_DOMAIN}"
            if accounts.email_taken(email):
                lines.append(f"{email}  {role}  {tenant or '-'}  (exists, unchanged)")
                continue
            password = secrets.token_urlsafe(12)
            accounts.add_user(email, role, tenant, password=password, client="cli-demo")
            lines.append(f"{email}  {role}  {tenant or '-'}  {password}")
    # Plain lines, never a table: a password cut to the terminal's width would be useless.
    out.print("DEMO accounts (passwords shown once; use `mira users add` for real ones):", highlight=False)
    for line in lines:
        plain("  " + line)
