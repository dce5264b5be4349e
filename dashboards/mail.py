"""The mails managers opt in to, written like the dashboards, in the reader's language and
formats: the monthly consumption report (the Consumption page's PDF attached) and the daily
low-stock alert (the Stock page's purchase proposal attached as Excel). pipelines/mail sends
them; this module only writes them, from the same queries the pages run, so a mail never says
something the dashboards do not.

No person appears in a mail: no name, no pseudonym, no role label. Mail leaves the platform and
is forwarded and archived where neither the tenant's choice to show names nor the audit of each
view of them can follow; materials, places, projects and amounts are what a manager acts on.
Text from the tenants' own systems (material and place names) is escaped in the HTML part.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pandas as pd

from dashboards import downloads
from dashboards.data import common, consumption, periods, stock
from dashboards.downloads import Title
from dashboards.i18n import Lang, N_, currency_for, default_language
from dashboards.report_pdf import compared_note, monthly_report

ALERT_LINES = 25       # per list; the rest is counted and left to the Stock page
NO_SUPPLIER_WORD = N_("(no supplier)")


@dataclass(frozen=True)
class Envelope:
    sender: str
    to: str
    dashboard_url: str


def reader_lang(tenant_id: str, choice: str | None, tenant_choice: str | None) -> Lang:
    """The language a manager reads (their own choice, else the tenant's, else its country's)
    and the tenant's currency, as the dashboards would open for them."""
    info = common.tenant_info(tenant_id)
    country = None if info.empty else info.iloc[0]["country_code"]
    return Lang(choice or default_language(country, None, tenant_choice), currency_for(country))


def tenant_name(tenant_id: str) -> str:
    info = common.tenant_info(tenant_id)
    return tenant_id if info.empty else str(info.iloc[0]["tenant_name"])


def _message(envelope: Envelope, subject: str, text: str, body_html: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = envelope.sender
    msg["To"] = envelope.to
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=envelope.sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"       # no out-of-office replies to a robot
    msg.set_content(text)
    msg.add_alternative(f"<html><body style=\"font-family: sans-serif\">{body_html}</body></html>", subtype="html")
    return msg


def _footer(lang: Lang, envelope: Envelope, which: str) -> tuple[str, str]:
    text = lang._("You receive this mail because you asked for the {mail} in the dashboards ({url}); you can "
                  "turn it off there, in the sidebar.", mail=which, url=envelope.dashboard_url)
    return text, f"<p style=\"color:#777;font-size:small\">{html.escape(text)}</p>"


# -- the monthly report ---------------------------------------------------------------------------

def monthly_report_mail(tenant_id: str, month: date, lang: Lang, envelope: Envelope) -> EmailMessage | None:
    """The month's report for one reader, or None when the tenant's data does not reach the month."""
    _ = lang._
    bounds = consumption.data_bounds(tenant_id)
    start, end = periods.month_start(month), periods.month_end(month)
    if bounds is None or bounds[0] > end or bounds[1] < start:
        return None
    cover = periods.month_cover(start, *bounds)
    totals = consumption.consumption_totals(tenant_id, start, end).iloc[0]
    name = tenant_name(tenant_id)
    prev, last_year = periods.previous_period(start, end), periods.same_period_last_year(start, end)
    notes = [compared_note(lang, p, bounds[0]) for p in (prev, last_year)]

    def compared(label_month: date, value: float, note: str | None) -> str:
        if note == _("no data"):
            return _("{month}: no data", month=lang.month(label_month))
        change = lang.change(totals["value"], value)
        return f"{lang.month(label_month)}: {lang.money(value)}" + (f" ({change})" if change else "") + \
            (f" ({note})" if note else "")

    lines = [
        _("Consumption value: {value}", value=lang.money(totals["value"])),
        _("Previous period, {compared}", compared=compared(prev[0], totals["previous_value"], notes[0])),
        _("Same month last year, {compared}", compared=compared(last_year[0], totals["last_year_value"], notes[1])),
        _("Movements: {count}", count=lang.integer(totals["movements"])),
    ]
    if cover.partial:
        lines.append(_("Partial month: data from {first} to {last}.", first=lang.date(cover.data_from),
                       last=lang.date(cover.data_to)))
    title = _("Consumption report {month}", month=lang.month(start))
    intro = _("The consumption report of {tenant} for {month} is attached (PDF).", tenant=name,
              month=lang.month(start))
    foot_text, foot_html = _footer(lang, envelope, _("monthly report"))
    text = "\n".join([intro, "", *lines, "", foot_text])
    body = (f"<h2>{html.escape(title)}</h2><p>{html.escape(intro)}</p><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + f"</ul>{foot_html}")
    msg = _message(envelope, f"{title} - {name}", text, body)
    msg.add_attachment(monthly_report(tenant_id, start, name, lang=lang), maintype="application", subtype="pdf",
                       filename=downloads.file_stem(_("consumption report")) + f"_{start:%Y-%m}.pdf")
    return msg


# -- the low-stock alert ----------------------------------------------------------------------------

def low_stock(tenant_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(below minimum, below the reorder level only): the Stock page's suggested orders, split."""
    orders = stock.reorder_suggestions(tenant_id)
    if orders.empty:
        return orders, orders
    below_min = orders[orders["is_below_minimum"]]
    return below_min, orders[orders["is_below_reorder_level"] & ~orders["is_below_minimum"]]


def stock_alert_mail(tenant_id: str, lang: Lang, envelope: Envelope) -> EmailMessage | None:
    """Today's low stock for one reader, or None when nothing is below its reorder level."""
    _ = lang._
    below_min, below_level = low_stock(tenant_id)
    if below_min.empty and below_level.empty:
        return None
    name = tenant_name(tenant_id)
    cover = stock.days_of_cover(tenant_id)
    as_of = pd.Timestamp(cover["as_of_date"].max()).date() if not cover.empty else None
    subject = _("Low stock: {minimum} below minimum, {level} below reorder level - {tenant}",
                minimum=lang.integer(len(below_min)), level=lang.integer(len(below_level)), tenant=name)
    intro = _("Stock of {tenant} as of {day}: what is below its minimum (the safety stock is being eaten) and what "
              "is below its reorder level (an order is due). The purchase proposal per supplier is attached.",
              tenant=name, day=lang.date(as_of))
    heads = [_("Material"), _("Warehouse"), _("On hand"), _("Minimum stock"), _("Reorder level"), _("Suggested order"),
             _("Supplier")]
    text_parts, html_parts = [intro], [f"<p>{html.escape(intro)}</p>"]
    for heading, rows in ((_("Below minimum stock"), below_min), (_("Below reorder level"), below_level)):
        if rows.empty:
            continue
        cells = [[str(r.material), str(r.warehouse), _qty(lang, r.quantity_on_hand, r.unit), _qty(lang, r.min_stock, r.unit),
                  _qty(lang, r.reorder_level, r.unit), _qty(lang, r.suggested_order_qty, r.unit),
                  r.supplier if isinstance(r.supplier, str) else _(NO_SUPPLIER_WORD)]
                 for r in rows.head(ALERT_LINES).itertuples()]
        more = len(rows) - ALERT_LINES
        tail = [lang.n_("and {n} more on the Stock page.", "and {n} more on the Stock page.", more)] if more > 0 else []
        text_parts += ["", f"{heading} ({lang.integer(len(rows))})"] + [" | ".join(c) for c in cells] + tail
        html_parts.append(f"<h3>{html.escape(heading)} ({lang.integer(len(rows))})</h3>" + _html_table(heads, cells)
                          + "".join(f"<p>{html.escape(t)}</p>" for t in tail))
    foot_text, foot_html = _footer(lang, envelope, _("daily low-stock alert"))
    msg = _message(envelope, subject, "\n".join(text_parts + ["", foot_text]), "".join(html_parts) + foot_html)
    proposal = stock.purchase_proposal(tenant_id)
    proposal = proposal.assign(supplier=[_(NO_SUPPLIER_WORD) if s == stock.NO_SUPPLIER else s
                                         for s in proposal["supplier"]])
    title = Title(_("Purchase proposal"), name, None, as_of)
    msg.add_attachment(downloads.to_xlsx(proposal, lang, title), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=title.file_name("xlsx"))
    return msg


def _qty(lang: Lang, value: object, unit: object) -> str:
    return lang.number(value, empty="-") + (f" {unit}" if isinstance(unit, str) else "")


def _html_table(heads: list[str], rows: list[list[str]]) -> str:
    cell = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left"
    head = "".join(f"<th style=\"{cell}\">{html.escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td style=\"{cell}\">{html.escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table style=\"border-collapse:collapse\"><tr>{head}</tr>{body}</table>"
