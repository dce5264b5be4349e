"""What every page shares: the role check and error handling around it, tables with their
downloads, people shown as labels (or, when the tenant allows it, names), headers and numbers
in the reader's language.

Tables on screen show the columns that matter (so nothing is cut off at 1400 px) under their
names in words, formatted by Babel through a pandas Styler: Streamlit shows the Styler's text
and still sorts by the number underneath. The downloads carry every column.

A widget whose options are words carries the language in its key (`cons_dimension@nl`): the
browser keeps a selectbox's or radio's choice as the option's text, so after a change of
language the old language's text stayed chosen on screen ("October 2026" on a Dutch page); a
new key starts from the default in the new language.
"""
from __future__ import annotations

import logging
import uuid
from typing import Callable

import pandas as pd
import streamlit as st

from dashboards import auth, downloads
from dashboards.auth import PageContext
from dashboards.columns import DATE, DATETIME, FLAG, INTEGER, MONEY, PERCENT, QUANTITY, TEXT, VALUES, column
from dashboards.downloads import Title
from dashboards.i18n import Lang, _
from pipelines.serving.files import ServingUnavailable

log = logging.getLogger(__name__)


def run_page(page: str, render: Callable[[PageContext], None]) -> None:
    """Check the role, then render; problems are shown in words, never as a traceback."""
    try:
        ctx = auth.require(page)
        render(ctx)
    except ServingUnavailable as exc:
        st.warning(_(str(exc)))
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("page %s failed (ref %s)", page, ref)
        st.error(_("This page could not be shown because of an unexpected problem (reference {ref}). "
                   "Try again in a minute; if it persists, give ops the reference.", ref=ref))


def _formatter(kind: str, lang: Lang):
    if kind == MONEY:
        return lang.money
    if kind == INTEGER:
        return lang.integer
    if kind == PERCENT:
        return lambda v: lang.percent(v, 1)
    if kind == DATE:
        return lang.date
    if kind == DATETIME:
        return lang.datetime
    if kind == "days":
        return lambda v: lang.number(v, 1)
    if kind == "rate":
        return lambda v: lang.number(v, 3)
    if kind == QUANTITY:
        return lang.number
    return lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def screen_frame(df: pd.DataFrame, lang: Lang):
    """(Styler with the reader's formats and blank empty cells, column_config with headers)."""
    config = {}
    formats = {}
    for name in df.columns:
        col = column(name)
        label = lang._(col.label)
        if col.kind == FLAG:
            config[name] = st.column_config.CheckboxColumn(label)
        elif name == "link":
            config[name] = st.column_config.LinkColumn(label, display_text=lang._("open run"))
        else:
            config[name] = st.column_config.Column(label)
            formats[name] = _formatter(col.kind, lang)
    return df.style.format(formats, na_rep=""), config


def table(ctx: PageContext, df: pd.DataFrame, title: Title, key: str, *, show: list[str] | None = None,
          download_df: pd.DataFrame | None = None, height: int | str = "auto") -> None:
    """A table (the `show` columns, all by default) and its CSV and Excel downloads (every
    column of `download_df` when the screen shows more than may leave it, e.g. names)."""
    lang = ctx.lang
    shown = df[[c for c in show if c in df.columns]] if show else df
    # Streamlit draws a missing text value as a grey "None" whatever the Styler says: blank it
    text = [c for c in shown.columns if column(c).kind == TEXT and shown[c].dtype == object]
    if text:
        shown = shown.assign(**{c: shown[c].where(shown[c].notna(), "") for c in text})
    styler, config = screen_frame(shown, lang)
    st.dataframe(styler, hide_index=True, width="stretch", column_config=config, height=height)
    downloads.buttons(download_df if download_df is not None else df, title, key, lang)


def translate_values(df: pd.DataFrame, lang: Lang, *columns: str) -> pd.DataFrame:
    """Words the data holds (a location's kind, a role) in the reader's language."""
    out = df.copy()
    for name in columns:
        if name in out.columns:
            out[name] = [lang._(VALUES[v]) if isinstance(v, str) and v in VALUES else v for v in out[name]]
    return out


def people(ctx: PageContext, df: pd.DataFrame, page: str, *, pseudonym_col: str = "user_pseudonym",
           role_col: str = "role", label_col: str = "person") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(for the screen, for downloads): the pseudonym replaced by a label such as "Technician 4F2A".

    On screen only, names replace labels when the viewer is a manager of this very tenant and the
    tenant chose to let its managers see names; they are read from the vault now (never cached,
    never in a serving file or a download) and the view is audited."""
    labelled = data_labels(df, pseudonym_col, role_col, label_col, ctx.lang)
    download = labelled.drop(columns=[pseudonym_col])
    if df.empty or not ctx.names_allowed_role:
        return download, download
    from pipelines.serving import files as serving

    try:
        if not serving.names_visible(ctx.tenant_id):
            return download, download
        names = serving.lookup_names(ctx.tenant_id, sorted(set(df[pseudonym_col].dropna())))
    except ServingUnavailable as exc:
        st.caption(_(str(exc)))
        return download, download
    except Exception:
        log.exception("names lookup failed")
        st.caption(_("Names are unavailable right now; pseudonymous labels are shown instead."))
        return download, download
    serving.audit_names_view(ctx.account.id, ctx.tenant_id, page, len(names))
    screen = labelled.copy()
    screen[label_col] = [names.get(p) or lab for p, lab in zip(labelled[pseudonym_col], labelled[label_col])]
    return screen.drop(columns=[pseudonym_col]), download


def data_labels(df: pd.DataFrame, pseudonym_col: str, role_col: str, label_col: str, lang: Lang) -> pd.DataFrame:
    from dashboards.data.common import add_user_labels

    def role_title(role: object) -> str:
        word = lang._(VALUES[role]) if isinstance(role, str) and role in VALUES else (role or lang._("user"))
        return str(word)[:1].upper() + str(word)[1:]

    out = add_user_labels(df, pseudonym_col, role_col, label_col, role_title=role_title)
    cols = [label_col] + [c for c in out.columns if c not in (label_col, role_col)]
    return out[cols]


def source_caption(ctx: PageContext) -> None:
    if ctx.source == "analyst":
        st.caption(_("Tenant {tenant} from the pseudonymised analyst snapshot: people appear as role and "
                     "pseudonym only.", tenant=ctx.tenant_id))


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


def chart_and_table(ctx: PageContext, heading: str, frame: pd.DataFrame, message: str, chart, title: Title, key: str,
                    **table_args) -> None:
    """A section: its chart and table, or the empty state."""
    st.subheader(heading)
    if not empty(frame, message):
        st.altair_chart(chart(frame, ctx.lang), width="stretch")
        table(ctx, frame, title, key, **table_args)

