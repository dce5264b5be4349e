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
from dashboards.layout import table
from pipelines.settings import get_settings

STALE_HOURS = 26      # the marts' freshness checks fail after 26 h too


def render(ctx: PageContext) -> None:
    url = get_settings().dagster_url
    st.title("Operations")
    st.markdown(f"Dagster UI: [overview]({url}/overview) · [runs]({url}/runs) · "
                f"[failed runs]({url}/runs?q%5B0%5D={quote('status:FAILURE')}) · [assets]({url}/assets) · "
                f"[sensors and schedules]({url}/automation)")
    published = operations.ops_published()
    freshness = operations.ops_freshness()
    if freshness.empty:
        st.info("No data yet: run `mira run` (or drop files in the landing folder for the sensor).")
        return
    when = published.iloc[0]["published_at"] if not published.empty else None
    if when is not None and not pd.isna(when):
        st.caption(f"Figures as of the last publish: {pd.Timestamp(when):%Y-%m-%d %H:%M %Z}")

    now = datetime.now(timezone.utc)
    fresh = freshness.copy()
    fresh["hours_since_ingest"] = [
        None if pd.isna(v) else round((now - pd.Timestamp(v).tz_convert("UTC")).total_seconds() / 3600, 1)
        for v in fresh["last_ingest_at"]]
    fresh["stale"] = [h is None or h > STALE_HOURS for h in fresh["hours_since_ingest"]]

    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Tenants", f"{len(fresh):,}")
    m2.metric(f"Stale (> {STALE_HOURS} h)", f"{int(fresh['stale'].sum()):,}")
    m3.metric("Rows quarantined", f"{int(fresh['rows_quarantined'].fillna(0).sum()):,}")
    m4.metric("Files rejected", f"{int(fresh['files_rejected'].fillna(0).sum()):,}")

    st.subheader("Freshness per tenant")
    table(fresh, "freshness", "dl_freshness",
          column_config={"stale": st.column_config.CheckboxColumn()})

    st.subheader("Quarantined rows by rule")
    quarantine = operations.ops_quarantine()
    if quarantine.empty:
        st.success("No row has been quarantined.")
    else:
        table(quarantine, "quarantine by rule", "dl_quarantine")

    st.subheader("Last failures")
    failures = operations.ops_failures(20)
    if failures.empty:
        st.success("No failed run in the last runs recorded.")
    else:
        st.error(f"{len(failures)} failed run{'s' if len(failures) != 1 else ''} among the runs recorded.")
        failures = failures.assign(link=[_run_link(url, r) for r in failures["run_id"]])
        table(failures, "failures", "dl_failures", download_df=failures.drop(columns=["link"]),
              column_config={"link": st.column_config.LinkColumn("Dagster", display_text="open run")})
        st.caption("Each failure shows the step that failed and the class of its error; the message itself "
                   "(which can quote data) stays in the Dagster UI: open the run.")

    st.subheader("Last runs")
    runs = operations.ops_runs(20)
    if runs.empty:
        st.info("No run recorded yet: run `mira run`.")
    else:
        runs = runs.assign(link=[_run_link(url, r) for r in runs["run_id"]])
        cfg = {"link": st.column_config.LinkColumn("Dagster", display_text="open run")}
        table(runs, "runs", "dl_runs", column_config=cfg, download_df=runs.drop(columns=["link"]))


def _run_link(url: str, run_id: object) -> str:
    return f"{url}/runs/{quote(str(run_id), safe='')}"
