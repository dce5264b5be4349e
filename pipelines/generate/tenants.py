"""Demo customers: Belgian (some Dutch and Luxembourg) companies and municipalities.

A tenant's sector and language steer its catalogue, project names and people, so the five
default tenants look like five different businesses rather than one business copied five
times. Sector and language are not landing fields (the tenants contract has none); they only
shape the generated data.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from faker import Faker

from . import schema

SECTORS = ("construction", "installation", "maritime", "public sector", "facility services")
_SECTOR_P = np.array([0.3, 0.28, 0.1, 0.16, 0.16])

_LEGAL_FORMS = {"nv", "bv", "cv", "vof", "commv", "srl", "sa", "sc", "sprl", "sarl", "scrl"}
_STOPWORDS = {"en", "et", "and", "de", "la", "le", "du", "des", "van", "der", "den"}

_NL_WORDS = {
    "construction": ["Bouwbedrijf", "Bouwwerken", "Aannemingen", "Renovatie"],
    "installation": ["Elektro", "Technieken", "Installaties", "Sanitair"],
    "maritime": ["Scheepsherstellingen", "Marine Services", "Scheepswerf"],
    "facility services": ["Facility", "Gebouwbeheer", "Techniek & Onderhoud"],
}
_FR_WORDS = {
    "construction": ["Constructions", "Entreprise générale", "Rénovation"],
    "installation": ["Électricité", "Techniques", "Chauffage & Sanitaire"],
    "maritime": ["Chantier naval", "Marine Services", "Réparations navales"],
    "facility services": ["Multiservices", "Facility Services", "Maintenance"],
}
_NL_PUBLIC = ["Stad {city}", "Gemeente {city}", "OCMW {city}"]
_FR_PUBLIC = ["Ville de {city}", "Commune de {city}", "CPAS de {city}"]
_LU_CITIES = ["Esch-sur-Alzette", "Differdange", "Dudelange", "Ettelbruck", "Diekirch", "Wiltz",
              "Echternach", "Remich", "Mersch", "Grevenmacher", "Pétange", "Sanem"]
_NL_CITIES = ["Breda", "Tilburg", "Eindhoven", "Roosendaal", "Bergen op Zoom", "Terneuzen",
              "Vlissingen", "Middelburg", "Maastricht", "Venlo", "Goes", "Oosterhout"]
_TLD = {"BE": "be", "NL": "nl", "LU": "lu"}


@dataclass
class TenantProfile:
    index: int
    tenant_id: str
    name: str
    country: str
    language: str            # "nl" or "fr": people's names, notes, street names
    sector: str
    status: str
    subscribed_at: int       # day numbers (see rhythm)
    terminated_at: int | None
    first_day: int           # first day with movements
    last_day: int            # last day with movements; also the "as of" date of the export
    size: float              # relative size (mean 1 over the tenants)
    domain: str
    city: str | None         # a municipality's own town (public sector), else None
    costs_on_all: bool       # does this tenant's platform export unit_cost on every movement?
    seed: int

    def rng(self, stream: int) -> np.random.Generator:
        """Independent, reproducible streams per tenant and per purpose."""
        return np.random.default_rng([self.seed, self.index, stream])


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", ascii_fold(text).lower()).strip("-")


_LEGAL_SUFFIX = re.compile(r"\s+(NV|BV|B\.V\.|CV|VOF|CommV|SRL|SA|SC|SARL|SPRL|SCRL)$")


def tenant_slug(name: str, max_len: int = 40) -> str:
    tokens = [t for t in slugify(_LEGAL_SUFFIX.sub("", name.strip())).split("-") if t]
    while len(tokens) > 1 and tokens[-1] in _LEGAL_FORMS:
        tokens.pop()
    out = ""
    for t in tokens:
        cand = f"{out}-{t}" if out else t
        if len(cand) > max_len:
            break
        out = cand
    if not out:
        out = (tokens[0] if tokens else "tenant")[:max_len]
    if len(out) < 2:
        out = (out + "-co")[:max_len]
    return out


def _company_name(fake: Faker, rng: np.random.Generator, sector: str, country: str, language: str) -> tuple[str, str | None]:
    """Returns (name, city for a municipality or None)."""
    nl, fr = fake["nl_BE"], fake["fr_BE"]
    if sector == "public sector":
        if country == "NL":
            city = _NL_CITIES[rng.integers(len(_NL_CITIES))]
            return f"Gemeente {city}", city
        if country == "LU":
            city = _LU_CITIES[rng.integers(len(_LU_CITIES))]
            return f"Commune de {city}", city
        city = nl.city()
        tpl = (_NL_PUBLIC if language == "nl" else _FR_PUBLIC)[rng.integers(3)]
        return tpl.format(city=city), city
    if language == "nl":
        suffix = "B.V." if country == "NL" else ["NV", "BV", "BV", "CommV"][rng.integers(4)]
        if rng.random() < 0.5:
            name = nl.company()
            if country == "NL":
                name = re.sub(r"\s+(NV|BV|CV|VOF|CommV)$", " B.V.", name)
            return name, None
        words = _NL_WORDS[sector]
        return f"{words[rng.integers(len(words))]} {nl.last_name()} {suffix}", None
    # Faker's fr_BE has people but no companies: build French-Belgian names from its surnames.
    suffix = ["SRL", "SA", "SRL", "SC"][rng.integers(4)]
    if country == "LU":
        suffix = ["SARL", "SA"][rng.integers(2)]
    r = rng.random()
    if r < 0.3:
        return f"{fr.last_name()}-{fr.last_name()} {suffix}", None
    if r < 0.45:
        return f"{fr.last_name()} & Fils {suffix}", None
    words = _FR_WORDS[sector]
    return f"{words[rng.integers(len(words))]} {fr.last_name()} {suffix}", None


def make_tenants(n: int, seed: int, window_first: int, end_day: int, days: int, fake: Faker) -> list[TenantProfile]:
    rng = np.random.default_rng(seed)
    fake.seed_instance(seed)
    sectors = list(rng.permutation(SECTORS)) if n >= len(SECTORS) else []
    sectors += list(rng.choice(SECTORS, size=max(0, n - len(sectors)), p=_SECTOR_P))
    sectors = [str(s) for s in sectors[:n]]
    countries = [str(c) for c in rng.choice(["BE", "NL", "LU"], size=n, p=[0.78, 0.13, 0.09])]
    if n >= 5 and all(c == "BE" for c in countries):
        countries[int(rng.integers(1, n))] = "NL"
    terminated = int(rng.integers(n)) if n >= 2 else -1
    sizes = np.clip(rng.lognormal(0.0, 0.35, size=n), 0.4, 2.0)
    sizes = sizes / sizes.mean() if n >= 2 else np.ones(1)

    tenants: list[TenantProfile] = []
    used_ids: set[str] = set()
    used_domains: set[str] = set()
    for i in range(n):
        country = countries[i]
        language = "nl" if country == "NL" else "fr" if country == "LU" else ("nl" if rng.random() < 0.6 else "fr")
        sector = sectors[i]
        name, city = _company_name(fake, rng, sector, country, language)

        base = tenant_slug(name)
        tid, k = base, 2
        while tid in used_ids:
            suffix = f"-{k}"
            tid = tenant_slug(base, 40 - len(suffix)) + suffix
            k += 1
        used_ids.add(tid)

        tld = _TLD[country]
        if city is not None:
            domain = f"{slugify(city)}.{tld}"
        else:
            tokens = [t for t in tid.split("-") if t not in _STOPWORDS and t not in _LEGAL_FORMS] or [tid]
            domain = f"{'-'.join(tokens[:2])}.{tld}"
        if domain in used_domains:
            domain = f"{tid}.{tld}"
        used_domains.add(domain)

        terminated_at = None
        first_day, last_day = window_first, end_day
        if i == terminated:
            status = "terminated"
            offset = min(120 + int(rng.integers(-10, 11)), days // 3)
            terminated_at = end_day - offset
            last_day = terminated_at
            subscribed_at = window_first - int(rng.integers(200, 1500))
        elif n >= 3 and rng.random() < 0.15:
            status = "trial"
            subscribed_at = max(window_first, end_day - int(rng.integers(20, 46)))
            first_day = min(subscribed_at + 3, end_day)
        else:
            status = "active"
            subscribed_at = window_first - int(rng.integers(30, 1500))

        tenants.append(TenantProfile(
            index=i, tenant_id=tid, name=name, country=country, language=language, sector=sector,
            status=status, subscribed_at=subscribed_at, terminated_at=terminated_at,
            first_day=first_day, last_day=last_day, size=float(sizes[i]), domain=domain, city=city,
            costs_on_all=bool(rng.random() < 0.5), seed=seed,
        ))
    schema.require_allowed("tenants", "subscription_status", {t.status for t in tenants})
    return tenants
