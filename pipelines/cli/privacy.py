"""`mira privacy ...`: data-subject requests from the controller (the tenant), from the command line.

Each command records the request in the vault and runs its Dagster job in this process, recorded
in the instance under MIRA_HOME so ops see it in the UI. The job's run config carries only the
request id: user ids, names, emails and new values stay in the vault. A request that stops midway
is finished by `mira privacy resume ID` or by running the same command again.

Errors are one line and exit code 1 (console's error policy: RequestError and CannotOpen are
user errors as they are; a failed run is reported with its Dagster run id); `mira --debug
privacy ...` shows the traceback. Heavy imports (Dagster) happen inside the commands: this module
is imported by every `mira` invocation.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from pipelines.cli.console import Group, fail, out, plain

privacy_app = typer.Typer(cls=Group, add_completion=False, no_args_is_help=True,
                          help="Data-subject rights (export, rectify, erase, restrict), and privacy housekeeping.")

_TENANT = typer.Option(..., "--tenant", help="The controller's tenant id.")
_USER = typer.Option(..., "--user", help="The person's user id in the operational platform.")
_BY = typer.Option(None, "--requested-by", help="Who asked (default: your login name); kept in the audit log.")


@dataclasses.dataclass
class RequestRun:
    request_id: str
    run_id: str
    success: bool
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    error: str | None = None


def run_request(request_id: str) -> RequestRun:
    """Run a recorded request's job in this process, recorded in the Dagster instance under MIRA_HOME."""
    from pipelines import runs
    from pipelines.privacy import rights
    from pipelines.privacy.assets import JOBS, run_config

    request = rights.load_request(request_id)
    outcome = runs.execute(JOBS[request.kind], run_config(request_id))
    after = rights.load_request(request_id)
    error = None if outcome.success else (outcome.error or "see the Dagster UI")
    return RequestRun(request_id, outcome.run_id, outcome.success, after.counts, error)


def _submit_and_run(kind: str, tenant: str, user: str, **kw) -> None:
    from pipelines.privacy import rights

    _run(rights.submit(kind, tenant, user, **kw))


def _run(request_id: str) -> None:
    from pipelines.privacy import rights

    outcome = run_request(request_id)
    if not outcome.success:
        fail(f"{outcome.error} (Dagster run {outcome.run_id})")
    request = rights.load_request(request_id)
    plain(f"request {request_id} ({request.kind}, tenant {request.tenant_id}): done, Dagster run {outcome.run_id}")
    if outcome.counts:
        table = Table("table", "rows")
        for name, n in sorted(outcome.counts.items()):
            table.add_row(name, str(n))
        out.print(table)
    if request.kind == "export":
        from pipelines.settings import get_settings

        plain(f"export: {rights.export_dir(get_settings(), request)}")


@privacy_app.command("export")
def export_(
    tenant: str = _TENANT,
    user: str = _USER,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder to write into (default: "
                                       "MIRA_HOME/exports/<request id>, created mode 0700)."),
    requested_by: Optional[str] = _BY,
) -> None:
    """Access and portability: everything held on one person, as JSON and CSV.

    Identity (vault), movements, usage and every other row under their pseudonym, for the
    controller; the person is named by their user id in the files, not by the pseudonym."""
    _submit_and_run("export", tenant, user, out_dir=out, requested_by=requested_by)


@privacy_app.command("rectify")
def rectify(
    tenant: str = _TENANT,
    user: str = _USER,
    field: str = typer.Option(..., "--field", help="first_name, last_name or email."),
    value: str = typer.Option(..., "--value", help="The corrected value ('-': read it from stdin)."),
    requested_by: Optional[str] = _BY,
) -> None:
    """Rectification: correct an identity field (first_name, last_name, email) in the vault.

    Identities live in the vault only; the warehouse holds pseudonyms and needs no change."""
    if value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    _submit_and_run("rectify", tenant, user, field_name=field, value=value, requested_by=requested_by)


@privacy_app.command("erase")
def erase(
    tenant: str = _TENANT,
    user: str = _USER,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation (asked on a terminal only)."),
    requested_by: Optional[str] = _BY,
) -> None:
    """Erasure: the person is removed everywhere; totals stay unchanged.

    Identity deleted from the vault; their warehouse rows re-keyed to a random token; landing
    files purged; a tombstone keeps replays and restores from bringing them back; the published
    snapshots rebuilt."""
    if not yes and sys.stdin.isatty():
        typer.confirm(f"Erase user {user} of tenant {tenant}? This cannot be undone", abort=True)
    _submit_and_run("erase", tenant, user, requested_by=requested_by)


@privacy_app.command("restrict")
def restrict(tenant: str = _TENANT, user: str = _USER, requested_by: Optional[str] = _BY) -> None:
    """Restriction, and objection (handled the same way): hide the person until lifted.

    Their rows are kept (totals unchanged) but they leave every published mart and dashboard
    that shows individuals, until `mira privacy unrestrict`."""
    _submit_and_run("restrict", tenant, user, requested_by=requested_by)


@privacy_app.command("unrestrict")
def unrestrict(tenant: str = _TENANT, user: str = _USER, requested_by: Optional[str] = _BY) -> None:
    """Lift a restriction (or objection): the person is shown again from now on."""
    _submit_and_run("unrestrict", tenant, user, requested_by=requested_by)


@privacy_app.command("resume")
def resume(request_id: str = typer.Argument(..., help="The id printed when the request was made.")) -> None:
    """Finish a request that stopped midway (each step done is skipped)."""
    _run(request_id)


@privacy_app.command("requests")
def requests(limit: int = typer.Option(50, min=1, help="How many, newest first.")) -> None:
    """The audit log of requests: who asked, when, status, rows per table (no personal data)."""
    import json

    from pipelines.privacy import rights

    table = Table("kind", "tenant", "requested by", "requested at", "status", "rows")
    table.add_column("request", no_wrap=True)
    for r in rights.audit_log(limit=limit):
        counts = json.loads(r["row_counts"]) if r["row_counts"] else {}
        table.add_row(r["kind"], r["tenant_id"], r["requested_by"] or "", f"{r['requested_at']:%Y-%m-%d %H:%M}",
                      r["status"], str(sum(counts.values())), r["request_id"])
    out.print(table)
