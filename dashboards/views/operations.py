"""Operations: per tenant freshness and last ingest, rows quarantined by rule with the reasons,
the last failures (step and error class) and runs with their status, links into the Dagster UI.
Counts only: no business or personal data."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboards.auth import PageContext
from dashboards.data import operations
from dashboards.downloads import Title
from dashboards.i18n import _, n_
from dashboards.layout import table
from pipelines.settings import get_settings

STALE_HOURS = 26      # the marts' freshness checks fail after 26 h too


def render(ctx: PageContext) -> None:
    url = get_settings().dagster_url
    lang = ctx.lang
    st.title(_("Operations"))
    links = [(_("overview"), "/overview"), (_("runs"), "/runs"),
             (_("failed runs"), f"/runs?q%5B0%5D={quote('status:FAILURE')}"), (_("assets"), "/assets"),
             (_("sensors and schedules"), "/automation")]
    st.markdown(_("Dagster UI") + ": " + " · ".join(f"[{label}]({url}{path})" for label, path in links))
    published = operations.ops_published()
    freshness = operations.ops_freshness()
    if freshness.empty:
        st.info(_("No data yet: run `mira run` (or drop files in the landing folder for the sensor)."))
        return
    when = published.iloc[0]["published_at"] if not published.empty else None
    if when is not None and not pd.isna(when):
        st.caption(_("Figures as of the last publish: {when}", when=lang.datetime(when)))

    now = datetime.now(timezone.utc)
    fresh = freshness.copy()
    fresh["hours_since_ingest"] = [
        None if pd.isna(v) else round((now - pd.Timestamp(v).tz_convert("UTC")).total_seconds() / 3600, 1)
        for v in fresh["last_ingest_at"]]
    fresh["stale"] = [h is None or h > STALE_HOURS for h in fresh["hours_since_ingest"]]

    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Tenants"), lang.integer(len(fresh)))
    m2.metric(_("Stale (> {hours} h)", hours=STALE_HOURS), lang.integer(int(fresh["stale"].sum())))
    m3.metric(_("Rows quarantined"), lang.integer(int(fresh["rows_quarantined"].fillna(0).sum())))
    m4.metric(_("Files rejected"), lang.integer(int(fresh["files_rejected"].fillna(0).sum())))

    st.subheader(_("Freshness per tenant"))
    table(ctx, fresh, Title(_("Freshness")), "dl_freshness")

    st.subheader(_("Quarantined rows by rule"))
    quarantine = operations.ops_quarantine()
    if quarantine.empty:
        st.success(_("No row has been quarantined."))
    else:
        table(ctx, quarantine, Title(_("Quarantine by rule")), "dl_quarantine")

    st.subheader(_("Last failures"))
    failures = operations.ops_failures(20)
    if failures.empty:
        st.success(_("No failed run in the last runs recorded."))
    else:
        st.error(n_("{n} failed run among the runs recorded.", "{n} failed runs among the runs recorded.",
                    len(failures)))
        failures = failures.assign(link=[_run_link(url, r) for r in failures["run_id"]])
        table(ctx, failures, Title(_("Failures")), "dl_failures", download_df=failures.drop(columns=["link"]))
        st.caption(_("Each failure shows the step that failed and the class of its error; the message itself "
                     "(which can quote data) stays in the Dagster UI: open the run."))

    st.subheader(_("Last runs"))
    runs = operations.ops_runs(20)
    if runs.empty:
        st.info(_("No run recorded yet: run `mira run`."))
    else:
        runs = runs.assign(link=[_run_link(url, r) for r in runs["run_id"]])
        table(ctx, runs, Title(_("Runs")), "dl_runs", download_df=runs.drop(columns=["link"]))


def _run_link(url: str, run_id: object) -> str:
    return f"{url}/runs/{quote(str(run_id), safe='')}"
