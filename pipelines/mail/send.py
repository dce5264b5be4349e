"""Who gets which mail, and the SMTP conversation.

Per kind of mail: the managers who opted in (pipelines.accounts.mail), grouped by tenant; per
tenant and language the mail is written once (dashboards/mail.py, from the tenant's own serving
file, read-only) and addressed to each of them, one message per recipient (no one sees
another's address). A tenant with nothing to say (no data for the month, nothing low in stock)
gets nothing. One tenant's failure does not stop the others; the run reports it and fails at
the end, so the failure alert fires.

Logs and errors name tenants and counts, never an address: a manager's email is personal data.
SMTP settings come from pipelines.settings (MIRA_SMTP_*); without a server nothing is sent, and
a run that had someone to write to fails saying so.
"""
from __future__ import annotations

import smtplib
import ssl
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Callable

from pipelines.accounts import mail as subscriptions
from pipelines.accounts.tenants import tenant_language
from pipelines.settings import SMTP_SECURITY, Settings, Smtp, get_settings

MONTHLY_REPORT, STOCK_ALERT = "monthly_report", "stock_alert"
TIMEOUT_S = 30


class MailFailed(RuntimeError):
    """Mail could not be sent; the message names tenants and counts, never an address."""


@dataclass
class Outcome:
    sent: dict[str, int] = field(default_factory=dict)          # tenant -> messages sent
    skipped: dict[str, str] = field(default_factory=dict)        # tenant -> why nothing was sent
    failed: dict[str, str] = field(default_factory=dict)         # tenant -> error class

    @property
    def total(self) -> int:
        return sum(self.sent.values())


def previous_month(today: date) -> date:
    """The month the report on `today` is about: the calendar month before."""
    first = today.replace(day=1)
    return (first.replace(year=first.year - 1, month=12) if first.month == 1 else first.replace(month=first.month - 1))


def send_monthly_reports(month: date, settings: Settings | None = None) -> Outcome:
    from dashboards import mail as content

    return _send(MONTHLY_REPORT, lambda tenant, lang, env: content.monthly_report_mail(tenant, month, lang, env),
                 settings, nothing=f"no data for {month:%Y-%m}")


def send_stock_alerts(settings: Settings | None = None) -> Outcome:
    from dashboards import mail as content

    return _send(STOCK_ALERT, content.stock_alert_mail, settings, nothing="nothing below its reorder level")


def _send(kind: str, write: Callable, settings: Settings | None, nothing: str) -> Outcome:
    from dashboards import mail as content

    settings = settings or get_settings()
    outcome = Outcome()
    by_tenant = defaultdict(list)
    for recipient in subscriptions.recipients(kind):
        by_tenant[recipient.tenant_id].append(recipient)
    if not by_tenant:
        return outcome
    if settings.smtp is None:
        raise MailFailed(f"{sum(map(len, by_tenant.values()))} managers of {len(by_tenant)} tenants asked for the "
                         f"{kind.replace('_', ' ')}, but no SMTP server is configured (MIRA_SMTP_HOST)")
    with _Connection(settings.smtp) as smtp:
        for tenant, readers in sorted(by_tenant.items()):
            try:
                default = tenant_language(tenant)
                written: dict[str, EmailMessage | None] = {}
                sent = 0
                for reader in readers:
                    lang = content.reader_lang(tenant, reader.language, default)
                    if lang.code not in written:
                        envelope = content.Envelope(settings.smtp.sender, "", settings.dashboard_url)
                        written[lang.code] = write(tenant, lang, envelope)
                    message = written[lang.code]
                    if message is None:
                        continue
                    del message["To"], message["Message-ID"]
                    message["To"] = reader.email
                    message["Message-ID"] = make_msgid(domain=settings.smtp.sender.rpartition("@")[2] or None)
                    smtp.send(message, reader.email)
                    sent += 1
                if sent:
                    outcome.sent[tenant] = sent
                else:
                    outcome.skipped[tenant] = nothing
            except MailFailed:
                raise                  # the server itself: no other tenant would fare better
            except Exception as exc:   # the next tenant still gets its mail
                outcome.failed[tenant] = type(exc).__name__
    return outcome


class _Connection:
    """One SMTP session for a run's messages, opened on first use."""

    def __init__(self, smtp: Smtp) -> None:
        if smtp.security not in SMTP_SECURITY:
            raise MailFailed(f"MIRA_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}")
        self.config = smtp
        self.client: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        c = self.config
        try:
            if c.security == "ssl":
                client = smtplib.SMTP_SSL(c.host, c.port, timeout=TIMEOUT_S, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(c.host, c.port, timeout=TIMEOUT_S)
                if c.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
            if c.user:
                client.login(c.user, c.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise MailFailed(f"cannot reach the SMTP server {c.host}:{c.port} ({type(exc).__name__})") from None
        return client

    def send(self, message: EmailMessage, to: str) -> None:
        if self.client is None:
            self.client = self._open()
        self.client.send_message(message, from_addr=self.config.sender, to_addrs=[to])

    def __enter__(self) -> "_Connection":
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                pass
