"""The mails managers opt in to, sent through a real SMTP server (aiosmtpd on 127.0.0.1) by the
Dagster jobs the schedules launch: only to those who opted in, one message per reader in their
language, figures equal to the marts, attachments that open, and no person in them."""
from __future__ import annotations

import io
import socket
from datetime import datetime
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from dagster import DagsterInstance
from openpyxl import load_workbook
from pypdf import PdfReader

from dashboards.data import periods
from dashboards.i18n import Lang
from pipelines.settings import TIMEZONE
from tests.dashboards.conftest import PASSWORD, login, serving_sql


class Inbox:
    """What the SMTP server received: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], object]] = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def inbox(smtp_server, dash, monkeypatch):
    box, port = smtp_server
    box.mails.clear()
    monkeypatch.setenv("MIRA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MIRA_SMTP_PORT", str(port))
    monkeypatch.setenv("MIRA_SMTP_SECURITY", "none")
    monkeypatch.setenv("MIRA_SMTP_FROM", "rapport@mira.example")
    return box


_made: dict[str, int] = {}


def manager(email: str, tenant: str, language: str | None, *kinds: str) -> int:
    """A manager account (made once per session) opted in to exactly `kinds`."""
    from pipelines.accounts import mail, users

    if email not in _made:
        _made[email] = users.add_user(email, "manager", tenant, password=PASSWORD)
        if language:
            users.set_language(_made[email], language)
    for kind in mail.KINDS:
        mail.subscribe(_made[email], kind, kind in kinds)
    return _made[email]


def _no_person(dash, tenant: str, text: str) -> None:
    pseudonyms = serving_sql(tenant, "SELECT user_pseudonym FROM marts.dim_users WHERE tenant_id = ?", [tenant])
    assert len(pseudonyms) > 0
    for p in pseudonyms["user_pseudonym"]:
        assert p[:8] not in text


def _body(msg) -> str:
    return "\n".join(part.get_content() for part in msg.walk() if part.get_content_type() in ("text/plain", "text/html"))


def _attachment(msg, suffix: str) -> bytes:
    [part] = [p for p in msg.iter_attachments() if p.get_filename().endswith(suffix)]
    return part.get_content()


def test_monthly_report_goes_to_the_managers_who_opted_in_in_their_language(dash, inbox):
    from pipelines.mail.assets import monthly_report_job, monthly_run_config

    t = dash.tenant_a
    manager("maandrapport@example.com", t, "nl", "monthly_report")
    manager("rapport.mensuel@example.com", t, "fr", "monthly_report")
    manager("alleen.alarm@example.com", t, "nl", "stock_alert")               # not this mail
    manager("geen.mail@example.com", t, None)                                 # nothing
    first, last = [pd.Timestamp(x).date() for x in serving_sql(t, """SELECT min(stock_date), max(stock_date)
        FROM marts.fct_stock_levels_daily WHERE tenant_id = ?""", [t]).iloc[0]]
    month = periods.default_report_month(first, last)
    instance = DagsterInstance.ephemeral()
    result = monthly_report_job.execute_in_process(run_config=monthly_run_config(month), instance=instance)
    assert result.success
    to = sorted(r for rcpt, _ in inbox.mails for r in rcpt)
    assert to == ["maandrapport@example.com", "rapport.mensuel@example.com"]
    value = serving_sql(t, """SELECT sum(consumed_value) FROM marts.fct_material_usage_daily
        WHERE tenant_id = ? AND usage_date BETWEEN ? AND ?""", [t, month, periods.month_end(month)]).iloc[0, 0]
    for rcpt, msg in inbox.mails:
        lang = Lang("nl" if rcpt == ["maandrapport@example.com"] else "fr")
        assert msg["To"] == rcpt[0]                                  # one reader per message
        assert lang._("Consumption report {month}", month=lang.month(month)) in msg["Subject"]
        body = _body(msg)
        assert lang.money(value) in body
        _no_person(dash, t, body)
        pdf = PdfReader(io.BytesIO(_attachment(msg, ".pdf")))
        text = pdf.pages[0].extract_text()
        assert lang.money(value).replace("\u202f", " ").replace("\xa0", " ") in text.replace("\xa0", " ")
        _no_person(dash, t, text)
    # the run's log names tenants and counts, never an address
    logged = " ".join(e.user_message for e in instance.all_logs(result.run_id))
    assert "@example.com" not in logged and "sent 2 mails" in logged


def test_daily_stock_alert_lists_what_is_low_and_attaches_the_purchase_proposal(dash, inbox):
    from pipelines.mail.assets import stock_alert_job

    t = dash.tenant_a
    for email in ("maandrapport@example.com", "rapport.mensuel@example.com", "geen.mail@example.com"):
        manager(email, t, None)                                      # opted out now
    manager("alleen.alarm@example.com", t, "nl", "stock_alert")
    truth = serving_sql(t, """SELECT count(*) FILTER (is_below_minimum) AS m,
               count(*) FILTER (is_below_reorder_level AND NOT is_below_minimum) AS r,
               count(*) FILTER (suggested_order_qty > 0) AS lines
        FROM marts.rpt_reorder_suggestions WHERE tenant_id = ?""", [t]).iloc[0]
    assert truth.m + truth.r > 0
    assert stock_alert_job.execute_in_process().success
    [(rcpt, msg)] = inbox.mails
    assert rcpt == ["alleen.alarm@example.com"]
    nl = Lang("nl")
    assert str(msg["Subject"]).strip().startswith(nl._("Low stock: {minimum} below minimum, {level} below reorder level - {tenant}",
                                          minimum=nl.integer(truth.m), level=nl.integer(truth.r), tenant="")[:-1].strip())
    _no_person(dash, t, _body(msg))
    sheet = load_workbook(io.BytesIO(_attachment(msg, ".xlsx"))).worksheets[0]
    rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
    header = next(i for i, r in enumerate(rows) if sum(v is not None for v in r) > 3)
    assert len(rows) - header - 1 == truth.lines
    numbers = [c for c in sheet.iter_rows(min_row=header + 2, max_row=header + 2)][0]
    assert any(isinstance(c.value, (int, float)) and c.number_format != "General" for c in numbers)


def test_a_mail_run_without_an_smtp_server_fails_saying_why_without_addresses(dash, inbox, monkeypatch):
    from pipelines.mail.assets import stock_alert_job

    manager("alleen.alarm@example.com", dash.tenant_a, "nl", "stock_alert")
    monkeypatch.delenv("MIRA_SMTP_HOST")
    result = stock_alert_job.execute_in_process(raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("send_stock_alert").user_failure_data.description
    assert failure.endswith("asked for the stock alert, but no SMTP server is configured (MIRA_SMTP_HOST)")
    assert "@" not in failure
    assert not inbox.mails


def test_schedules_send_last_month_on_the_first_and_alerts_on_working_days():
    from dagster import build_schedule_context

    from pipelines.mail.assets import monthly_report_schedule, stock_alert_schedule

    tz = ZoneInfo(TIMEZONE)
    tick = datetime(2027, 1, 1, 7, 0, tzinfo=tz)
    [request] = monthly_report_schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=tick)).run_requests
    assert request.run_config["ops"]["send_monthly_report"]["config"]["month"] == "2026-12"
    assert monthly_report_schedule.cron_schedule == "0 7 1 * *"
    assert stock_alert_schedule.cron_schedule == "30 6 * * 1-5"
    assert monthly_report_schedule.execution_timezone == stock_alert_schedule.execution_timezone == TIMEZONE


def test_a_manager_opts_in_from_the_sidebar(dash):
    from pipelines.accounts import mail

    account = manager("zijbalk@example.com", dash.tenant_a, None)
    at = login("zijbalk@example.com")
    at.toggle(key="mail_stock_alert").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert mail.subscriptions(account) == {"monthly_report": False, "stock_alert": True}
    assert [r.account_id for r in mail.recipients("stock_alert")].count(account) == 1
