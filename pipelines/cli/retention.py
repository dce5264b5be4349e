"""`mira privacy retention|backup|backups|restore` (and `mira backup`, `mira restore`).

Output is counts per place: never a tenant id or name (a retired tenant's id must not reappear in
a terminal log of its own deletion), never a person. Errors are one line and exit code 1
(console's error policy: BackupError and RetiredListProblem are user errors as they are).
The commands are registered on `mira privacy` and `mira` by app.py.
"""
from __future__ import annotations

from datetime import date
from typing import Optional

import typer

from pipelines.cli.console import fail, plain


def _counts(title: str, counts: dict[str, int]) -> None:
    plain(title)
    for k in sorted(counts):
        plain(f"  {k}: {counts[k]}")


def run_retention_job(as_of: date | None = None) -> dict:
    """Run the `retention` Dagster job in this process, recorded in the instance under MIRA_HOME
    (what `mira privacy retention` does, so ops see the run and the check in the UI).
    Returns {"run_id", "success", "failure", "report": counts, "check_passed", "overdue": counts}."""
    from pipelines import runs

    runs.prepare_dagster_home()         # absolute MIRA_HOME before the code location is loaded
    from pipelines.definitions import defs
    from pipelines.privacy.assets import RETENTION_CHECK, RETENTION_KEY, retention_run_config

    run_config = retention_run_config(as_of.isoformat() if as_of else None)
    run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    outcome = runs.execute(defs.resolve_job_def("retention"), run_config)
    result = outcome.result
    report: dict[str, int] = {}
    for node in ("purge_expired", "privacy__retention"):
        try:
            report.update(result.output_for_node(node))
        except Exception:      # the step failed: the run's failure says why
            pass
    check = next((e for e in result.get_asset_check_evaluations()
                  if e.asset_key == RETENTION_KEY and e.check_name == RETENTION_CHECK), None)
    overdue_counts = {}
    if check is not None:
        overdue_counts = {k: v.value for k, v in check.metadata.items() if isinstance(v.value, int)}
    return {"run_id": outcome.run_id, "success": outcome.success, "failure": outcome.failure or None,
            "report": report, "check_passed": None if check is None else check.passed,
            "overdue": overdue_counts}


def retention_command(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Apply the policy as of this day (YYYY-MM-DD); "
                                        "default today. For tests and audits."),
) -> None:
    """Apply the retention policy now (what the daily_retention schedule runs), then check it."""
    from pipelines.privacy.retention import parse_as_of

    try:
        day = parse_as_of(as_of)
    except ValueError as exc:
        fail(str(exc))
    res = run_retention_job(day)
    plain(f"retention run {res['run_id']}: {'succeeded' if res['success'] else 'FAILED'}"
          + (f" (as of {day.isoformat()})" if day else ""))
    _counts("deleted:", res["report"])
    late = {k: v for k, v in res["overdue"].items() if v}
    if res["check_passed"] is not None:
        plain(f"check nothing_past_retention: {'passed' if res['check_passed'] else 'FAILED'}")
        if late:
            _counts("still past retention:", late)
    if not res["success"]:
        fail(f"retention run {res['run_id']} failed: {res['failure'] or 'see the Dagster UI'}")
    if res["check_passed"] is False:
        fail("something older than the policy allows is still present (counts above)")


def backup_command() -> None:
    """Encrypted backup of the warehouse and the vault; backups past the retention period are deleted."""
    from pipelines.privacy.backup import create_backup

    b = create_backup()
    plain(f"backup {b.id}")
    for name, meta in sorted(b.files.items()):
        plain(f"  {name}: {len(meta['tables'])} tables, {meta['rows']} rows")


def backups_command() -> None:
    """List the backups (id, creation time, rows per file)."""
    from pipelines.privacy.backup import list_backups

    found = list_backups()
    if not found:
        plain("no backups")
    for b in found:
        plain(f"{b.id}  {b.created_at.isoformat(timespec='seconds')}  "
              + ", ".join(f"{n}: {m['rows']} rows" for n, m in sorted(b.files.items())))


def restore_command(
    backup_id: Optional[str] = typer.Argument(None, help="Backup id (default: the latest); see `mira privacy backups`."),
) -> None:
    """Restore the warehouse and the vault from a backup, then re-apply erasures and retention (stop `mira serve` first)."""
    from pipelines.privacy.restore import restore_backup

    _counts("restored:", restore_backup(backup_id))
