"""Languages and formats: every marked string is translated, no page shows a string nobody
marked, the language is chosen per user and kept with the account, and numbers, amounts and
dates follow the reader's conventions."""
from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import pytest

from dashboards.i18n import Lang, currency_for, default_language
from tests.dashboards.conftest import PASSWORD, login, open_page, serving_sql

REPO = Path(__file__).resolve().parents[2]
TENANT_PAGES = ("consumption", "stock", "tools", "insights")
PLACEHOLDER = re.compile(r"\{(\w*)\}")


# -- the catalogues -----------------------------------------------------------------------------------

def _catalogue(lang: str):
    from babel.messages.pofile import read_po

    from dashboards.i18n.catalogue import po_path

    with open(po_path(lang), "rb") as fh:
        return read_po(fh, locale=lang)


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_every_marked_string_has_a_translation_with_the_same_fields(lang):
    from dashboards.i18n.extract import template

    wanted = [m.id for m in template() if m.id]
    assert len(wanted) > 250
    catalogue = _catalogue(lang)
    problems = []
    for msgid in wanted:
        found = catalogue.get(msgid)
        strings = found.string if found is not None and isinstance(found.string, tuple) else \
            (found.string,) if found is not None else ("",)
        if found is None or found.fuzzy or not all(strings):
            problems.append(f"untranslated: {msgid!r}")
            continue
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        want = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != want:
                problems.append(f"fields differ: {ids[0]!r} -> {text!r}")
    assert not problems, "\n".join(problems[:20]) + "\n(run `python -m dashboards.i18n.extract`, then translate)"


_SHOWN = {"title", "header", "subheader", "caption", "info", "warning", "error", "success", "metric", "button",
          "download_button", "selectbox", "radio", "slider", "toggle", "date_input", "text_input", "markdown",
          "form_submit_button", "multiselect", "number_input", "checkbox", "expander", "tabs", "Page"}
_ALLOWED_LITERALS = {"mira-analytics"}


def _literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"[A-Za-z]{2}", node.value):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant)) or "f-string"
    return None


def test_no_page_passes_unmarked_text_to_the_screen():
    """Text reaches the screen through Streamlit calls and chart titles: none of them may get a
    string literal (or an f-string) that the catalogues cannot see."""
    found = []
    for path in sorted((REPO / "dashboards").rglob("*.py")):
        if "i18n" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            owner = getattr(node.func.value, "id", "") if isinstance(node.func, ast.Attribute) else ""
            if owner in ("log", "logger", "logging", "warnings"):
                continue                      # the server's log is for ops, in English
            args = list(node.args[:1]) if name in _SHOWN else []
            args += [k.value for k in node.keywords if k.arg in ("title", "label", "help", "placeholder")]
            for arg in args:
                text = _literal_text(arg)
                if text and text not in _ALLOWED_LITERALS:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text[:60]!r}")
    assert not found, "\n".join(found)


# -- what a page shows, in Dutch and French -----------------------------------------------------------

def _visible(at) -> list[str]:
    """The texts a reader sees (not the tenant's own data): titles, labels, captions, messages,
    options of fixed choices, table headers, chart axis and legend titles."""
    import json

    out = [e.value for kind in ("title", "subheader", "caption", "info", "success", "warning", "error")
           for e in getattr(at, kind)]
    out += [m.label for m in at.metric]
    out += [w.label for kind in ("selectbox", "radio", "slider", "toggle", "date_input", "text_input", "button")
            for w in getattr(at, kind)]
    out += [o for r in at.radio for o in r.options]
    out += [b.proto.label for b in at.get("download_button")]
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        out += [c.get("label", "") for c in config.values() if isinstance(c, dict)]
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)

        def titles(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "title" and isinstance(value, str):
                        out.append(value)
                    titles(value)
            elif isinstance(node, list):
                for value in node:
                    titles(value)
        titles({k: v for k, v in spec.items() if k not in ("datasets", "data", "config")})
    return [t for t in out if t]


def english_only_words() -> set[str]:
    """Words of the English message ids that no Dutch or French translation uses."""
    from dashboards.i18n.extract import template

    def words(text: str) -> set[str]:
        return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", PLACEHOLDER.sub(" ", text))}

    english = set()
    for m in template():
        for text in (m.id if isinstance(m.id, tuple) else (m.id,)):
            english |= words(text)
    translated = set()
    for lang in ("nl", "fr"):
        for m in _catalogue(lang):
            for text in (m.string if isinstance(m.string, tuple) else (m.string,)):
                translated |= words(text or "")
    return english - translated


def _data_words(tenant: str) -> set[str]:
    """The tenant's own words (names of materials, places, projects, categories, units): data,
    not interface, whatever language they are in."""
    text = " ".join(str(v) for sql in (
        "SELECT material_name, category, unit FROM marts.dim_materials WHERE tenant_id = ?",
        "SELECT location_name, location_kind FROM marts.dim_locations WHERE tenant_id = ?",
        "SELECT project_name FROM marts.dim_projects WHERE tenant_id = ?",
        "SELECT tenant_name FROM marts.dim_tenants WHERE tenant_id = ?")
        for row in serving_sql(tenant, sql, [tenant]).itertuples(index=False) for v in row if v is not None)
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}


@pytest.fixture(scope="module")
def reader(dash):
    """A manager of tenant A who has not chosen a language (the shared accounts read English)."""
    from pipelines.accounts import users

    email = "lezer.lecteur@example.com"
    users.add_user(email, "manager", dash.tenant_a, password=PASSWORD)
    return email


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_every_page_speaks_the_readers_language(dash, reader, lang):
    from dashboards.i18n import catalogue

    catalogue.MISSING.clear()
    english = english_only_words() - _data_words(dash.tenant_a)
    msgids = {m.id for m in _catalogue(lang) if m.id and not isinstance(m.id, tuple) and m.string != m.id}
    at = login(reader)
    at.selectbox(key="ui_language").set_value(lang).run()
    problems = []
    for page in TENANT_PAGES:
        if page != "consumption":
            open_page(at, page)
        assert not at.exception, [e.value for e in at.exception]
        for text in _visible(at):
            if text in msgids:
                problems.append(f"{page}: untranslated {text!r}")
            leaked = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)} & english
            if leaked:
                problems.append(f"{page}: English word(s) {sorted(leaked)} in {text[:80]!r}")
    assert not problems, "\n".join(sorted(set(problems))[:30])
    assert not {m for lg, m in catalogue.MISSING if lg == lang}


def test_language_defaults_from_the_tenant_and_the_choice_stays_with_the_account(dash):
    from pipelines.accounts import users

    reader = "nieuw.nouveau@example.com"         # has never chosen
    users.add_user(reader, "manager", dash.tenant_a, password=PASSWORD)

    country = serving_sql(dash.tenant_a, "SELECT country_code FROM marts.dim_tenants WHERE tenant_id = ?",
                          [dash.tenant_a]).iloc[0, 0]
    expected = default_language(country)
    at = login(reader)
    assert at.selectbox(key="ui_language").value == expected
    other = "fr" if expected != "fr" else "nl"
    at.selectbox(key="ui_language").set_value(other).run()
    account_id = at.session_state["_mira_session"]["account"].id
    assert users.get_language(account_id) == other
    again = login(reader)                       # a new session opens in the chosen language
    assert again.selectbox(key="ui_language").value == other
    assert again.title[0].value == Lang(other)._("Consumption")
    users.set_language(account_id, "en")
    assert login(reader).title[0].value == "Consumption"


def test_default_language_rules():
    assert default_language("BE") == "nl"
    assert default_language("BE", "fr-BE") == "fr"
    assert default_language("BE", "de-DE") == "nl"
    assert default_language("LU") == "fr" and default_language("NL", "fr-FR") == "nl"
    assert default_language("DE", "fr-FR") == "fr" and default_language(None, None) == "en"
    assert default_language("BE", "fr-BE", tenant_choice="en") == "en"
    assert currency_for("BE") == currency_for("NL") == "EUR"
    assert currency_for("CH") == "CHF" and currency_for(None) == "EUR"


# -- formats ------------------------------------------------------------------------------------------

def test_belgian_and_english_formats():
    nl, fr, en = Lang("nl"), Lang("fr"), Lang("en")
    assert nl.money(1352.6) == "€\xa01.352,60"
    assert fr.money(1352.6) == "1\u202f352,60\xa0€"
    assert en.money(1352.6) == "€1,352.60"
    assert nl.number(1234567.891) == "1.234.567,89" and en.number(1234567.891) == "1,234,567.89"
    assert nl.date(date(2026, 11, 3)) == fr.date(date(2026, 11, 3)) == "03/11/2026"
    assert nl.month(date(2026, 11, 1)) == "november 2026" and fr.month(date(2026, 11, 1)) == "novembre 2026"
    assert nl.money(None) == "" and nl.number(float("nan")) == ""
    assert nl.change(110, 100) == "+10,0%" and en.change(90, 100) == "-10.0%" and nl.change(1, 0) is None
    assert Lang("nl", "CHF").money(5) == "CHF\xa05,00"


@pytest.mark.parametrize("lang,amount", [("nl", r"€\xa0\d{1,3}(\.\d{3})*,\d{2}"),
                                         ("fr", r"\d{1,3}(\u202f\d{3})*,\d{2}\xa0€")])
def test_amounts_on_screen_are_euros_in_belgian_format(dash, reader, lang, amount):
    at = login(reader)
    at.selectbox(key="ui_language").set_value(lang).run()
    at.date_input[0].set_value((date(2026, 10, 1), date(2026, 10, 31))).run()
    [value] = [m.value for m in at.metric if m.label == Lang(lang)._("Consumption value")]
    assert re.fullmatch(amount, value), value
    truth = serving_sql(dash.tenant_a, """SELECT sum(consumed_value) FROM marts.fct_material_usage_daily
        WHERE tenant_id = ? AND usage_date BETWEEN DATE '2026-10-01' AND DATE '2026-10-31'""", [dash.tenant_a]).iloc[0, 0]
    assert value == Lang(lang).money(truth)
    caption = " ".join(c.value for c in at.caption)
    assert "01/09/2026" in caption and "30/09/2026" in caption
    open_page(at, "stock")
    assert re.fullmatch(amount, [m.value for m in at.metric][0])
