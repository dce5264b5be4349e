"""The gettext catalogues, read from their .po files and compiled in memory on first use.

Why not committed .mo files: a compiled file beside its source goes stale the day someone edits
the .po and forgets to compile; compiling ~300 messages takes milliseconds, once per process.
A message missing from a catalogue falls back to English and is remembered in `MISSING`, so
the tests (and the server's log) can tell.
"""
from __future__ import annotations

import gettext as _gettext
import io
import logging
import threading
from functools import lru_cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
MISSING: set[tuple[str, str]] = set()     # (language, message id) asked for but not translated
_lock = threading.Lock()
log = logging.getLogger(__name__)


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalogue of `lang` (English: none, the message ids are English)."""
    path = po_path(lang)
    if lang == "en" or not path.exists():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(path, "rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def _known(lang: str, key: object) -> bool:
    found = translations(lang)
    return isinstance(found, _gettext.GNUTranslations) and key in found._catalog   # noqa: SLF001


def _missed(lang: str, message: str) -> None:
    with _lock:
        if (lang, message) in MISSING:
            return
        MISSING.add((lang, message))
    log.warning("no %s translation for a message of %d characters", lang, len(message))


def gettext_(lang: str, message: str) -> str:
    if lang == "en" or not message:
        return message
    if not _known(lang, message):
        _missed(lang, message)
        return message
    return translations(lang).gettext(message)


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    if lang == "en":
        return singular if n == 1 else plural
    if not _known(lang, (singular, 0)):
        _missed(lang, singular)
        return singular if n == 1 else plural
    return translations(lang).ngettext(singular, plural, n)


gettext = gettext_   # noqa: F811  the name callers use (catalogue.gettext)
