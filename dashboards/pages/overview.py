"""Overview: what the pipeline has ingested and total consumption value per month."""
import altair as alt
import streamlit as st

from dashboards import data

st.title("mira-analytics")
st.caption("Ingestion and consumption overview, all tenants aggregated. Tenant dashboards with login come next.")

try:
    overview = data.ingestion_overview()
    monthly = data.monthly_consumption_value()
except data.DataUnavailable as exc:
    st.info(str(exc))
    st.stop()

st.subheader("Ingested")
st.dataframe(overview, hide_index=True, width="stretch")

st.subheader("Consumption value per month")
if monthly.empty:
    st.info("No consumption yet: issues and scrap movements appear here once ingested.")
else:
    chart = alt.Chart(monthly).mark_bar().encode(
        x=alt.X("yearmonth(month):O", title="month"),
        y=alt.Y("value:Q", title="value at cost"),
        tooltip=[alt.Tooltip("yearmonth(month):T", title="month"), alt.Tooltip("value:Q", format=",.2f")],
    )
    st.altair_chart(chart, width="stretch")
