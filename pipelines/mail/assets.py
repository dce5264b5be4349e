"""Dagster side of the mails: one job and one schedule each, on the customers' clock.

- `mail_monthly_report`, scheduled on the 1st of the month at 07:00 (after the nightly build has
  taken in the month's last day): last month's report to every manager who opted in. The month
  is in the run config (YYYY-MM; the schedule sets the month before its tick), so a run retried
  later, or launched from the UI with another month, sends the month it names.
- `mail_stock_alert`, scheduled on working days (Monday to Friday) at 06:30, before the day's
  first orders: what is below its minimum or reorder level, to every manager who opted in.

Neither touches the warehouse (they read the tenants' published serving files), so neither runs
in the warehouse pool. A run logs tenants and counts, never an address.
"""
from datetime import date, datetime

from dagster import (
    Config,
    DefaultScheduleStatus,
    Definitions,
    Failure,
    OpExecutionContext,
    RunRequest,
    ScheduleEvaluationContext,
    in_process_executor,
    job,
    op,
    schedule,
)
from pydantic import Field

from pipelines.mail import send
from pipelines.settings import TIMEZONE

MONTHLY_JOB, ALERT_JOB = "mail_monthly_report", "mail_stock_alert"
MONTHLY_OP, ALERT_OP = "send_monthly_report", "send_stock_alert"


class MonthlyReportConfig(Config):
    month: str = Field(default="", description="YYYY-MM; empty: the month before today")


def _report(context: OpExecutionContext, outcome: send.Outcome) -> dict:
    context.log.info(f"sent {outcome.total} mails to managers of {len(outcome.sent)} tenants"
                     + "".join(f"; {t}: nothing sent ({why})" for t, why in sorted(outcome.skipped.items())))
    if outcome.failed:
        raise Failure(description="mail failed for " + ", ".join(f"{t} ({e})" for t, e in sorted(outcome.failed.items())),
                      metadata={"sent": outcome.total})
    return {"sent": outcome.total, "tenants": len(outcome.sent)}


def _month(text: str) -> date:
    if not text:
        return send.previous_month(date.today())
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise Failure(description=f"month must be YYYY-MM, got {text!r}") from None


@op(name=MONTHLY_OP, description="Writes last month's consumption report (PDF attached) to each opted-in manager.")
def send_monthly_report(context: OpExecutionContext, config: MonthlyReportConfig) -> dict:
    month = _month(config.month)
    try:
        return _report(context, send.send_monthly_reports(month))
    except send.MailFailed as exc:
        raise Failure(description=str(exc)) from None


@op(name=ALERT_OP, description="Writes today's low-stock alert (purchase proposal attached) to each opted-in manager.")
def send_stock_alert(context: OpExecutionContext) -> dict:
    try:
        return _report(context, send.send_stock_alerts())
    except send.MailFailed as exc:
        raise Failure(description=str(exc)) from None


@job(name=MONTHLY_JOB, executor_def=in_process_executor,
     description="The monthly consumption report by mail to the managers who opted in (MIRA_SMTP_*).")
def monthly_report_job():
    send_monthly_report()


@job(name=ALERT_JOB, executor_def=in_process_executor,
     description="The daily low-stock alert by mail to the managers who opted in (MIRA_SMTP_*).")
def stock_alert_job():
    send_stock_alert()


def monthly_run_config(month: date) -> dict:
    return {"ops": {MONTHLY_OP: {"config": {"month": f"{month:%Y-%m}"}}}}


@schedule(name="monthly_report_mail", job=monthly_report_job, cron_schedule="0 7 1 * *",
          execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
          description="On the 1st at 07:00, after the nightly build: last month's report to the managers who opted in.")
def monthly_report_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    month = send.previous_month(context.scheduled_execution_time.date())
    return RunRequest(run_key=f"{month:%Y-%m}", run_config=monthly_run_config(month))


@schedule(name="daily_stock_alert_mail", job=stock_alert_job, cron_schedule="30 6 * * 1-5",
          execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
          description="Working days at 06:30: what is below its minimum or reorder level, to the managers who opted in.")
def stock_alert_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    return RunRequest(run_key=f"{context.scheduled_execution_time:%Y-%m-%d}")


def defs() -> Definitions:
    return Definitions(jobs=[monthly_report_job, stock_alert_job],
                       schedules=[monthly_report_schedule, stock_alert_schedule])
