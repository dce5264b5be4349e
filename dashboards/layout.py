"""What every page shares: the role check and error handling around it, tables with their
downloads, people shown as labels (or, when the tenant allows it, names), number formats."""
from __future__ import annotations

import logging
import uuid
from typing import Callable

import pandas as pd
import streamlit as st

from dashboards import auth, downloads
from dashboards.auth import PageContext
from pipelines.serving.files import ServingUnavailable

log = logging.getLogger(__name__)


def run_page(page: str, render: Callable[[PageContext], None]) -> None:
    """Check the role, then render; problems are shown in words, never as a traceback."""
    try:
        ctx = auth.require(page)
        render(ctx)
    except ServingUnavailable as exc:
        st.warning(str(exc))
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("page %s failed (ref %s)", page, ref)
        st.error(f"This page could not be shown because of an unexpected problem (reference {ref}). "
                 "Try again in a minute; if it persists, give ops the reference.")


def fmt_number(value: object, decimals: int = 2) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{float(value):,.{decimals}f}"


def delta_text(current: float, previous: float) -> str | None:
    if previous is None or pd.isna(previous) or float(previous) == 0:
        return None
    return f"{(float(current) - float(previous)) / abs(float(previous)) * 100:+.1f}%"


def table(df: pd.DataFrame, name: str, key: str, *, download_df: pd.DataFrame | None = None,
          column_config: dict | None = None, height: int | str = "auto") -> None:
    """A table and its CSV and Excel downloads (of `download_df` when the screen shows more than
    may leave it, e.g. names)."""
    st.dataframe(df, hide_index=True, width="stretch", column_config={**default_columns(df), **(column_config or {})},
                 height=height)
    downloads.buttons(download_df if download_df is not None else df, name, key)


def default_columns(df: pd.DataFrame) -> dict:
    """Dates as dates, timestamps to the minute, amounts with two decimals."""
    config = {}
    for col in df.columns:
        dtype = df[col].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            config[col] = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z")
        elif pd.api.types.is_datetime64_dtype(dtype):
            values = df[col].dropna()
            if values.empty or (values == values.dt.normalize()).all():
                config[col] = st.column_config.DateColumn(format="YYYY-MM-DD")
            else:
                config[col] = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
        elif pd.api.types.is_float_dtype(dtype):
            config[col] = st.column_config.NumberColumn(format="%.2f")
    return config


def people(ctx: PageContext, df: pd.DataFrame, page: str, *, pseudonym_col: str = "user_pseudonym",
           role_col: str = "role", label_col: str = "person") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(for the screen, for downloads): the pseudonym replaced by a label such as "Technician 4F2A".

    On screen only, names replace labels when the viewer is a manager of this very tenant and the
    tenant chose to let its managers see names; they are read from the vault now (never cached,
    never in a serving file or a download) and the view is audited."""
    labelled = data_labels(df, pseudonym_col, role_col, label_col)
    download = labelled.drop(columns=[pseudonym_col])
    if df.empty or not ctx.names_allowed_role:
        return download, download
    from pipelines.serving import files as serving

    try:
        if not serving.names_visible(ctx.tenant_id):
            return download, download
        names = serving.lookup_names(ctx.tenant_id, sorted(set(df[pseudonym_col].dropna())))
    except ServingUnavailable as exc:
        st.caption(str(exc))
        return download, download
    except Exception:
        log.exception("names lookup failed")
        st.caption("Names are unavailable right now; pseudonymous labels are shown instead.")
        return download, download
    serving.audit_names_view(ctx.account.id, ctx.tenant_id, page, len(names))
    screen = labelled.copy()
    screen[label_col] = [names.get(p) or lab for p, lab in zip(labelled[pseudonym_col], labelled[label_col])]
    return screen.drop(columns=[pseudonym_col]), download


def data_labels(df: pd.DataFrame, pseudonym_col: str, role_col: str, label_col: str) -> pd.DataFrame:
    from dashboards.data.common import add_user_labels

    out = add_user_labels(df, pseudonym_col, role_col, label_col)
    cols = [label_col] + [c for c in out.columns if c not in (label_col, role_col)]
    return out[cols]


def source_caption(ctx: PageContext) -> None:
    if ctx.source == "analyst":
        st.caption(f"Tenant `{ctx.tenant_id}` from the pseudonymised analyst snapshot: people appear as "
                   "role and pseudonym only.")


def page_header(ctx: PageContext, title: str, queries):
    """The page's title and, for analysts, where the figures come from. Returns (queries, tenant,
    source): a page's queries always take the tenant from the login (ctx), never from a widget."""
    st.title(title)
    source_caption(ctx)
    return queries, ctx.tenant_id, ctx.source


def empty(frame: pd.DataFrame, message: str) -> bool:
    """Show what to do instead of an empty table; True when there was nothing to show."""
    if frame.empty:
        st.info(message)
    return frame.empty


def chart_and_table(title: str, frame: pd.DataFrame, message: str, chart, name: str, key: str, **table_args) -> None:
    """A section: its chart and table, or the empty state."""
    st.subheader(title)
    if not empty(frame, message):
        st.altair_chart(chart(frame), width="stretch")
        table(frame, name, key, **table_args)
