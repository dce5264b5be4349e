"""`mira privacy retention|backup|backups|restore` (and `mira backup`, `mira restore`).

Output is counts per place: never a tenant id or name (a retired tenant's id must not reappear in
a terminal log of its own deletion), never a person. Errors are one line and exit code 1 (as in
users_cli: `mira` runs click with standalone_mode=False).
"""
from __future__ import annotations

from typing import NoReturn, Optional

import typer
from rich.console import Console

_err = Console(stderr=True)
_out = Console()


def _fail(message: str) -> NoReturn:
    _err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(1)


def _plain(text: str) -> None:
    _out.print(text, markup=False, highlight=False, soft_wrap=True)


def _counts(title: str, counts: dict[str, int]) -> None:
    _plain(title)
    for k in sorted(counts):
        _plain(f"  {k}: {counts[k]}")


def retention_command(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Apply the policy as of this day (YYYY-MM-DD); "
                                        "default today. For tests and audits."),
) -> None:
    """Apply the retention policy now (what the daily_retention schedule runs), then check it."""
    from pipelines.privacy.retention import parse_as_of, run_retention_job
    from pipelines.privacy.retired import RetiredListProblem

    try:
        day = parse_as_of(as_of)
    except ValueError as exc:
        _fail(str(exc))
    try:
        res = run_retention_job(day)
    except RetiredListProblem as exc:
        _fail(str(exc))
    _plain(f"retention run {res['run_id']}: {'succeeded' if res['success'] else 'FAILED'}"
           + (f" (as of {day.isoformat()})" if day else ""))
    _counts("deleted:", res["report"])
    late = {k: v for k, v in res["overdue"].items() if v}
    if res["check_passed"] is not None:
        _plain(f"check nothing_past_retention: {'passed' if res['check_passed'] else 'FAILED'}")
        if late:
            _counts("still past retention:", late)
    if not res["success"]:
        _fail(f"retention run {res['run_id']} failed: {res['failure'] or 'see the Dagster UI'}")
    if res["check_passed"] is False:
        _fail("something older than the policy allows is still present (counts above)")


def backup_command() -> None:
    """Encrypted backup of the warehouse and the vault; backups past the retention period are deleted."""
    from pipelines.privacy.backup import BackupError, create_backup

    try:
        b = create_backup()
    except BackupError as exc:
        _fail(str(exc))
    _plain(f"backup {b.id}")
    for name, meta in sorted(b.files.items()):
        _plain(f"  {name}: {len(meta['tables'])} tables, {meta['rows']} rows")


def backups_command() -> None:
    """List the backups (id, creation time, rows per file)."""
    from pipelines.privacy.backup import list_backups

    found = list_backups()
    if not found:
        _plain("no backups")
    for b in found:
        _plain(f"{b.id}  {b.created_at.isoformat(timespec='seconds')}  " + ", ".join(f"{n}: {m['rows']} rows" for n, m in sorted(b.files.items())))


def restore_command(
    backup_id: Optional[str] = typer.Argument(None, help="Backup id (default: the latest); see `mira privacy backups`."),
) -> None:
    """Restore the warehouse and the vault from a backup, then re-apply erasures and retention (stop `mira serve` first)."""
    from pipelines.privacy.backup import BackupError, restore_backup
    from pipelines.privacy.retired import RetiredListProblem

    try:
        report = restore_backup(backup_id)
    except (BackupError, RetiredListProblem) as exc:
        _fail(str(exc))
    _counts("restored:", report)
