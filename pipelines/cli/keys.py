"""`mira keys rotate` and `mira privacy scan`: key rotation and the leak scanner, from the shell.

A new master key is read from stdin, never from an argument (arguments land in shell history
and in `ps`); nothing here prints a key. RotationError and KeyProblem are user errors
(console.USER_FACING).
"""
from __future__ import annotations

import sys

import typer

from pipelines.cli.console import Group, fail, out

keys_app = typer.Typer(cls=Group, add_completion=False, no_args_is_help=True,
                       help="Encryption keys: rotate the master key (every file re-encrypted).")


@keys_app.command("rotate")
def rotate_command() -> None:
    """Re-encrypt every file under a new master key. With MIRA_MASTER_KEY set, pipe the new key on
    stdin, then put it in your secret store; with the demo key, a new one is made and stored."""
    from pipelines.privacy.rotate import rotate
    from pipelines.settings import get_settings

    settings = get_settings()
    new_key = None
    if settings.master_key:
        if sys.stdin.isatty():
            new_key = typer.prompt("New master key", hide_input=True, confirmation_prompt=True)
        else:
            new_key = sys.stdin.readline().strip()
        if not new_key:
            fail("no new master key on stdin")
    report = rotate(new_key, settings)
    for rel, rows in report.files.items():
        out.print(f"re-encrypted {rel}: {rows:,} rows", highlight=False)
    out.print(f"re-encrypted {report.accounts} account emails", highlight=False)
    if report.demo_key_replaced:
        out.print("the demo key under MIRA_HOME/secrets was replaced", highlight=False)
    else:
        out.print("done: set MIRA_MASTER_KEY to the new key in your secret store before the next run",
                  style="bold")


def scan_command() -> None:
    """Search every file under MIRA_HOME (outside the vault, landing zone and controller exports)
    for the names, emails and user ids the vault knows. Exit code 1 when anything is found."""
    from pipelines.privacy.scan import scan_home

    hits, scanned = scan_home()
    for hit in hits:
        out.print(f"LEAK {hit.kind}: {hit.place}", markup=False, highlight=False)
    out.print(f"{scanned} files scanned, {len(hits)} hits", highlight=False)
    if hits:
        raise typer.Exit(1)     # a finding, not an error: the hits are the output
