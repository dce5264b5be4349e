"""Retention: what the privacy statement promises to forget, forgotten on schedule.

- policy.py: the moments one as-of date gives, and everything deleted by age (logs, GX results,
  alert lines, quarantine rows, processed landing files, exports, Dagster runs, login events,
  backups);
- tenants.py: a tenant past MIRA_TENANT_RETENTION_DAYS after its subscription ended is retired,
  and every trace of it goes;
- here: the whole policy (`apply_retention`) and its check (`overdue`, all zero when up to date).
"""
from __future__ import annotations

from collections import Counter
from datetime import date

from pipelines.accounts import tenants as account_tenants
from pipelines.ingest.retired import RetiredTenants
from pipelines.privacy import backup
from pipelines.privacy.retention.policy import (
    Policy, aged_exports, files_older, old_alert_lines, old_runs, parse_as_of, processed_landing_files,
    purge_aged, purge_expired_files, quarantine_old,
)
from pipelines.privacy.retention.tenants import expired_tenants, present_tenants, retire_tenants, tenant_presence
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import connect

__all__ = ["Policy", "apply_retention", "overdue", "parse_as_of", "purge_aged", "purge_expired_files",
           "retire_tenants"]


def overdue(settings: Settings | None = None, as_of: date | None = None, instance=None) -> dict[str, int]:
    """Counts of everything older than the policy allows; all zero when retention is up to date."""
    settings = settings or get_settings()
    policy = Policy.make(settings, as_of)
    retired = RetiredTenants.load(settings)
    due = {t for t, _, _ in expired_tenants(settings, policy)}
    due |= retired.listed(present_tenants(settings)) if len(retired) else set()
    counts = Counter()
    counts["tenants_past_retention"] = len(due)
    counts.update(tenant_presence(settings, sorted(due)))
    counts["log_files"] = len(files_older([settings.log_dir], policy.log_cutoff))
    counts["gx_files"] = len(files_older([settings.gx_dir], policy.log_cutoff))
    counts["alert_lines"] = old_alert_lines(settings, policy.log_cutoff)
    if settings.warehouse_path.exists():
        with connect(settings=settings, read_only=True) as con:
            counts["quarantine_rows"] = quarantine_old(con, policy.log_cutoff, delete=False)
    counts["landing_files"] = len(processed_landing_files(settings, policy))
    counts["export_folders"] = len(aged_exports(settings, policy))
    if instance is not None:
        counts["dagster_runs"] = len(old_runs(instance, policy.log_cutoff))
    counts["auth_events"] = account_tenants.count_auth_events_before(settings, policy.log_cutoff)
    counts["backups"] = len(backup.expired_backups(settings, policy.backup_cutoff))
    return {k: int(counts[k]) for k in sorted(counts)}


def apply_retention(settings: Settings | None = None, as_of: date | None = None, instance=None,
                    files: bool = True) -> dict[str, int]:
    """The whole policy: retired tenants, then everything past its age. Counts per place."""
    settings = settings or get_settings()
    report = Counter(retire_tenants(settings, as_of, instance))
    report.update(purge_aged(settings, as_of, instance, files=files))
    return {k: int(report[k]) for k in sorted(report)}


