"""What a user reads, in their language (Dutch, French or English) and their formats.

One way to translate: `_("English text", name=value)`, in the session's language, or
`lang._(...)` where a language is passed explicitly (downloads, the PDF, charts: code that runs
without a Streamlit session). The English text is the message id; `{name}` fields are filled
after translation, so a translator can move them. `N_("...")` marks a module-level constant for
extraction; it is translated where it is shown (`_(CONSTANT)`).

The catalogues are gettext files, one per language (locales/<lang>/LC_MESSAGES/messages.po),
compiled in memory when first used (catalogue.py): no compiled .mo file is committed. English
needs no catalogue. tests/dashboards/test_i18n.py fails when a marked string lacks a Dutch or
French translation, and when a page shows a string nobody marked.

Numbers, dates and amounts go through Babel with Belgian conventions in nl and fr (dd/mm/yyyy,
decimal comma, a thousands separator, the tenant's currency on every amount); English keeps the
decimal point (en_GB, so dates still read dd/mm/yyyy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from babel import numbers as babel_numbers
from babel.dates import format_date, format_datetime

from dashboards.i18n import catalogue

LANGUAGES = {"nl": "Nederlands", "fr": "Français", "en": "English"}
DEFAULT = "en"
BABEL_LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "en": "en_GB"}
# The languages a tenant of a country reads, most common first (Belgium: Dutch, then French).
COUNTRY_LANGUAGES = {"BE": ("nl", "fr"), "NL": ("nl",), "LU": ("fr",), "FR": ("fr",)}
DEFAULT_CURRENCY = "EUR"
SESSION_KEY = "_mira_lang"


def N_(message: str) -> str:
    """Marks a constant for the catalogues; translated later, where it is shown."""
    return message


def blank(value: object) -> bool:
    """None, NaN, NaT or pandas NA: shown (and exported) as an empty cell."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Lang:
    """A language and the currency of the tenant being looked at: everything a page, a
    download or the PDF needs to speak to its reader."""
    code: str = DEFAULT
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if self.code not in LANGUAGES:
            raise ValueError(f"unknown language {self.code!r}")

    # -- text -------------------------------------------------------------------------------------

    def _(self, message: str, /, **fields) -> str:
        text = catalogue.gettext(self.code, message)
        return text.format(**fields) if fields else text

    def n_(self, singular: str, plural: str, n: int, /, **fields) -> str:
        text = catalogue.ngettext(self.code, singular, plural, n)
        return text.format(n=n, **fields)

    @property
    def locale(self) -> str:
        return BABEL_LOCALES[self.code]

    @property
    def belgian(self) -> bool:
        """nl and fr: semicolon CSV with decimal commas (what a Belgian Excel opens)."""
        return self.code in ("nl", "fr")

    # -- numbers ----------------------------------------------------------------------------------

    def number(self, value: object, decimals: int = 2, empty: str = "") -> str:
        if blank(value):
            return empty
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return babel_numbers.format_decimal(float(value), format=pattern, locale=self.locale,
                                            decimal_quantization=True)

    def integer(self, value: object, empty: str = "") -> str:
        return self.number(value, 0, empty)

    def money(self, value: object, empty: str = "") -> str:
        """An amount with the tenant's currency sign, in the reader's convention."""
        if blank(value):
            return empty
        return babel_numbers.format_currency(float(value), self.currency, locale=self.locale)

    def percent(self, value: object, decimals: int = 0, empty: str = "") -> str:
        if blank(value):
            return empty
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
        return babel_numbers.format_percent(float(value), format=pattern, locale=self.locale)

    def change(self, current: object, previous: object) -> str | None:
        """+12,3% against the previous figure (None when there is nothing to compare with)."""
        if blank(current) or blank(previous) or float(previous) == 0:
            return None
        ratio = (float(current) - float(previous)) / abs(float(previous))
        if math.isinf(ratio) or math.isnan(ratio):
            return None
        sign = "+" if ratio > 0 else ""
        return sign + self.percent(ratio, 1)

    @property
    def currency_symbol(self) -> str:
        return babel_numbers.get_currency_symbol(self.currency, locale=self.locale)

    @property
    def decimal_sign(self) -> str:
        return babel_numbers.get_decimal_symbol(self.locale)

    @property
    def group_sign(self) -> str:
        return babel_numbers.get_group_symbol(self.locale)

    # -- dates ------------------------------------------------------------------------------------

    def date(self, value: object, empty: str = "") -> str:
        """dd/mm/yyyy in every language (English too: the readers are in Belgium)."""
        if blank(value):
            return empty
        return format_date(pd.Timestamp(value).date(), "dd/MM/yyyy", locale=self.locale)

    def datetime(self, value: object, empty: str = "") -> str:
        if blank(value):
            return empty
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("Europe/Brussels")
        return format_datetime(ts.to_pydatetime().replace(tzinfo=None), "dd/MM/yyyy HH:mm", locale=self.locale)

    def month(self, value: object) -> str:
        """November 2026 / november 2026 / novembre 2026."""
        return format_date(pd.Timestamp(value).date(), "LLLL y", locale=self.locale)

    def month_short(self, value: object) -> str:
        return format_date(pd.Timestamp(value).date(), "LLL y", locale=self.locale)

    def day_short(self, value: object) -> str:
        """A day on a chart axis: weekday and date (the year is in the period picked)."""
        return format_date(pd.Timestamp(value).date(), "EEE dd/MM", locale=self.locale)

    def week_short(self, value: object) -> str:
        return self._("week of {day}", day=format_date(pd.Timestamp(value).date(), "dd/MM/yy", locale=self.locale))

    def period(self, start: date, end: date) -> str:
        return self._("{start} to {end}", start=self.date(start), end=self.date(end))


def currency_for(country: str | None) -> str:
    """The tenant's currency, from its country (Babel's territory data); euro when unknown."""
    if country:
        try:
            found = babel_numbers.get_territory_currencies(str(country).upper(), date.today())
        except Exception:
            found = []
        if found:
            return found[0]
    return DEFAULT_CURRENCY


def default_language(country: str | None, browser: str | None = None, tenant_choice: str | None = None) -> str:
    """A user who has not chosen reads: the tenant's own choice, else the tenant's country's
    language (in Belgium the browser's language decides between Dutch and French), else the
    browser's language if we have it, else English."""
    if tenant_choice in LANGUAGES:
        return tenant_choice
    browser_lang = (browser or "").replace("_", "-").split("-")[0].lower()
    spoken = COUNTRY_LANGUAGES.get(str(country or "").upper(), ())
    if spoken:
        return browser_lang if browser_lang in spoken else spoken[0]
    return browser_lang if browser_lang in LANGUAGES else DEFAULT


def current() -> Lang:
    """The session's language (set by the app shell each run); English outside a session."""
    try:
        import streamlit as st

        lang = st.session_state.get(SESSION_KEY)
    except Exception:
        lang = None
    return lang if isinstance(lang, Lang) else Lang()


def set_current(lang: Lang) -> None:
    import streamlit as st

    st.session_state[SESSION_KEY] = lang


def _(message: str, /, **fields) -> str:
    """Translate into the session's language (see the module's docstring)."""
    return current()._(message, **fields)


def n_(singular: str, plural: str, n: int, /, **fields) -> str:
    return current().n_(singular, plural, n, **fields)


def now_text(lang: Lang) -> str:
    return lang.datetime(datetime.now().astimezone())
