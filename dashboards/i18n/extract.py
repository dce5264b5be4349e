"""Update the catalogues from the code: `python -m dashboards.i18n.extract`.

Finds every string marked with `_`, `N_` or `n_` under dashboards/ (Babel's extractor), adds
the new ones to each language's messages.po with an empty translation, marks the ones no longer
used as obsolete, and keeps every translation already made. Then translate the empty entries
(tests/dashboards/test_i18n.py lists them until every one is done).
"""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from dashboards.i18n import LANGUAGES
from dashboards.i18n.catalogue import DOMAIN, po_path

ROOT = Path(__file__).resolve().parents[1]            # dashboards/
KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}
METHOD_MAP = [("**.py", "python")]


def template() -> Catalog:
    """Every marked message of the dashboards, as an untranslated catalogue."""
    catalog = Catalog(project="mira-analytics", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map=METHOD_MAP, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def update(lang: str, pot: Catalog) -> int:
    """Merge `pot` into the language's catalogue; returns how many messages lack a translation."""
    path = po_path(lang)
    if path.exists():
        with open(path, "rb") as fh:
            catalog = read_po(fh, locale=lang, domain=DOMAIN)
    else:
        catalog = Catalog(locale=lang, domain=DOMAIN, project="mira-analytics")
    catalog.update(pot, no_fuzzy_matching=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=False, include_previous=False,
                 ignore_obsolete=True, no_location=True)
    return sum(1 for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string))


def main() -> int:
    pot = template()
    for lang in LANGUAGES:
        if lang != "en":
            print(f"{lang}: {update(lang, pot)} messages to translate in {po_path(lang)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
